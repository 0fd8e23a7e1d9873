package ledgerfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jdz-eco/rectify/workflow"
)

// refusal is a bound or format error of a file, worded for its sender.
type refusal struct {
	rule   workflow.Reason
	reason string
}

func (r *refusal) Error() string { return r.reason }

func refuse(rule workflow.Reason, format string, args ...any) error {
	return &refusal{rule, fmt.Sprintf(format, args...)}
}

// meter counts the bytes decompressed from one workbook, all parts together,
// against maxDecodedBytes.
type meter struct{ n int64 }

func (m *meter) add(n int) error {
	m.n += int64(n)
	if m.n > maxDecodedBytes {
		return refuse(workflow.ReasonContentTooLarge, "the workbook decompresses to more than %d MiB", maxDecodedBytes>>20)
	}
	return nil
}

// cappedReader reads a zip entry, refusing more bytes than its header
// declares or than limit (a zip's headers can lie; archive/zip checks the
// declared size too), counting them on m.
type cappedReader struct {
	r     io.Reader
	name  string
	left  int64
	m     *meter
	limit int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a lie from the end of the entry.
		var b [1]byte
		if n, err := c.r.Read(b[:]); n > 0 || err != nil && err != io.EOF {
			return 0, refuse(workflow.ReasonContentTooLarge, "the part %s of the workbook is larger than %d bytes", c.name, c.limit)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if merr := c.m.add(n); merr != nil {
		return n, merr
	}
	return n, err
}

// tokenInput feeds an xml.Decoder byte by byte (it implements io.ByteReader,
// which the decoder then uses instead of a buffer of its own), so that it can
// refuse a token longer than maxToken: the decoder would otherwise hold a
// text run, comment or tag of any length in memory. mark is called after
// each token. Every pollEvery bytes it checks ctx.
type tokenInput struct {
	r    *bufio.Reader
	ctx  context.Context
	pos  int64
	stop int64 // pos at which the current token is too long
	poll int64
	err  error
}

const pollEvery = 1 << 16

func newTokenInput(ctx context.Context, r io.Reader) *tokenInput {
	t := &tokenInput{r: bufio.NewReaderSize(r, 32<<10), ctx: ctx}
	t.mark()
	return t
}

// mark starts a new token.
func (t *tokenInput) mark() { t.stop = t.pos + maxToken }

func (t *tokenInput) ReadByte() (byte, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.pos >= t.stop {
		t.err = refuse(workflow.ReasonContentTooLarge, "the sheet holds a cell, tag or comment larger than %d KiB (a cell is at most %d KiB)", maxToken>>10, MaxCellBytes>>10)
		return 0, t.err
	}
	if t.pos >= t.poll {
		t.poll = t.pos + pollEvery
		if err := t.ctx.Err(); err != nil {
			t.err = err
			return 0, err
		}
	}
	b, err := t.r.ReadByte()
	if err != nil {
		t.err = err
		return 0, err
	}
	t.pos++
	return b, nil
}

func (t *tokenInput) Read(p []byte) (int, error) {
	// The decoder uses ReadByte; Read is there for io.Reader only.
	if len(p) == 0 {
		return 0, nil
	}
	b, err := t.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}

// cause returns the error that stopped t, if any: a refusal or the context's
// end, which explain a decoder's error better than the decoder does.
func (t *tokenInput) cause(err error) error {
	var r *refusal
	if t.err != nil && (errors.As(t.err, &r) || t.ctx.Err() != nil) {
		return t.err
	}
	return err
}
