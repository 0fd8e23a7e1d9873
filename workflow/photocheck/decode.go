package photocheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"time"

	"golang.org/x/image/webp"
)

// Errors of a bounded decode; wrapped with the specifics, test with errors.Is.
var (
	// ErrUnsupported: not a JPEG, PNG or WebP file.
	ErrUnsupported = errors.New("not a JPEG, PNG or WebP image")
	// ErrTooLarge: the header announces more pixels, or a larger decoded
	// image, than the limits allow; nothing past the header was decoded.
	ErrTooLarge = errors.New("image too large to check")
	// ErrCorrupt: truncated or malformed, including a decoder that panicked.
	ErrCorrupt = errors.New("image damaged or malformed")
	// ErrTimeout: the decode did not finish within Limits.Timeout, waiting
	// for a slot included.
	ErrTimeout = errors.New("image check timed out")
)

// Limits bound the work of checking one image. The zero value of a field
// takes its default.
type Limits struct {
	// MaxPixels refuses an image whose header announces more pixels
	// (default 40,000,000: a 48-megapixel phone's 12 MP binned output and
	// a full-frame 24 MP camera fit; its 48 MP full mode does not).
	MaxPixels int64
	// MaxBytes refuses an image whose decoder would allocate more, as
	// estimated from the header (see decodedBytes); default 256 MiB.
	MaxBytes int64
	// Timeout bounds one check, the wait for a slot included (default 20 s).
	Timeout time.Duration
	// Slots is how many decodes run at once (default 2). With MaxBytes it
	// bounds the memory of all checks: Slots × MaxBytes.
	Slots int
}

// DefaultLimits are the limits a zero Limits stands for.
var DefaultLimits = Limits{MaxPixels: 40_000_000, MaxBytes: 256 << 20, Timeout: 20 * time.Second, Slots: 2}

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultLimits.MaxPixels
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultLimits.Timeout
	}
	if l.Slots <= 0 {
		l.Slots = DefaultLimits.Slots
	}
	return l
}

// Checker decodes and analyses images within its Limits. It is safe for
// concurrent use; one Checker per process shares the decode slots.
type Checker struct {
	lim   Limits
	slots chan struct{}
}

// NewChecker returns a Checker with lim (zero fields take their defaults).
func NewChecker(lim Limits) *Checker {
	lim = lim.withDefaults()
	return &Checker{lim: lim, slots: make(chan struct{}, lim.Slots)}
}

// Limits returns the limits in force.
func (c *Checker) Limits() Limits { return c.lim }

// Decode decodes data, a JPEG, PNG or WebP file, within the limits: the
// header is read first and an image over MaxPixels or MaxBytes is refused
// before any pixel is decoded; the decode runs in one of Slots, reads its
// input through ctx (a cancelled or timed-out decode fails at its next read)
// and is abandoned at Timeout; a panicking decoder becomes ErrCorrupt.
func (c *Checker) Decode(ctx context.Context, data []byte) (image.Image, Format, error) {
	d, err := run(c, ctx, func(ctx context.Context) (decoded, error) { return c.decode(ctx, data) })
	return d.img, d.format, err
}

// decoded is the outcome of decode: what the header said, and the image.
type decoded struct {
	format Format
	cfg    image.Config
	img    image.Image
}

// decode does the work of Decode inside a slot; on an error, what it read
// of the header is returned with it.
func (c *Checker) decode(ctx context.Context, data []byte) (decoded, error) {
	ct, ok := sniff(data)
	if !ok {
		return decoded{}, ErrUnsupported
	}
	d := decoded{format: ct.format}
	cfg, err := decodeConfig(ct.format, bytes.NewReader(data))
	if err != nil {
		return d, fmt.Errorf("%w: %s header: %v", ErrCorrupt, ct.format, err)
	}
	d.cfg = cfg
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return d, fmt.Errorf("%w: %s header gives %d×%d pixels", ErrCorrupt, ct.format, cfg.Width, cfg.Height)
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	if px > c.lim.MaxPixels {
		return d, fmt.Errorf("%w: %d×%d is %d pixels, more than %d", ErrTooLarge, cfg.Width, cfg.Height, px, c.lim.MaxPixels)
	}
	if b := decodedBytes(ct, cfg, px); b > c.lim.MaxBytes {
		return d, fmt.Errorf("%w: decoding %d×%d would take about %d MiB, more than %d", ErrTooLarge, cfg.Width, cfg.Height, b>>20, c.lim.MaxBytes>>20)
	}
	img, err := decodeImage(ct.format, &ctxReader{ctx: ctx, r: bytes.NewReader(data)})
	if err != nil {
		if ctx.Err() != nil {
			return d, ctx.Err()
		}
		return d, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	d.img = img
	return d, nil
}

func decodeConfig(f Format, r io.Reader) (image.Config, error) {
	switch f {
	case FormatJPEG:
		return jpeg.DecodeConfig(r)
	case FormatPNG:
		return png.DecodeConfig(r)
	default:
		return webp.DecodeConfig(r)
	}
}

func decodeImage(f Format, r io.Reader) (image.Image, error) {
	switch f {
	case FormatJPEG:
		return jpeg.Decode(r)
	case FormatPNG:
		return png.Decode(r)
	default:
		return webp.Decode(r)
	}
}

// decodedBytes estimates, from the header, the most the decoder allocates:
// the image in its colour model's bytes per pixel, plus the coefficients a
// progressive JPEG keeps (4 bytes a sample and component, ignoring
// subsampling), plus the per-pass images of an interlaced PNG; a WebP is
// taken at 8 bytes a pixel (the lossless decoder keeps ARGB words beside
// the image).
func decodedBytes(ct container, cfg image.Config, px int64) int64 {
	per := int64(8)
	switch cfg.ColorModel {
	case color.GrayModel, color.AlphaModel:
		per = 1
	case color.Gray16Model, color.Alpha16Model:
		per = 2
	case color.YCbCrModel:
		per = 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		per = 4
	}
	if _, ok := cfg.ColorModel.(color.Palette); ok {
		per = 1
	}
	switch {
	case ct.format == FormatJPEG && ct.progressive:
		per += 4 * int64(max(ct.components, 1))
	case ct.format == FormatJPEG && ct.components == 4:
		per += 4 // CMYK goes through a second image
	case ct.format == FormatPNG && ct.interlaced:
		per *= 2
	case ct.format == FormatWebP:
		per = 8
	}
	return px * per
}

// run calls fn in a slot of c, within the timeout, turning a panic into
// ErrCorrupt. The slot is held until fn really returns, even after run gave
// up waiting for it, so that abandoned decodes still count against Slots;
// fn's result reaches the caller only through a channel, so an abandoned
// fn writes nothing the caller reads.
func run[T any](c *Checker, ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	var zero T
	tctx, cancel := context.WithTimeout(ctx, c.lim.Timeout)
	defer cancel()
	select {
	case c.slots <- struct{}{}:
	case <-tctx.Done():
		return zero, c.doneErr(ctx, "waiting for a decode slot")
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-c.slots }()
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("%w: the decoder failed: %v", ErrCorrupt, r)}
			}
		}()
		v, err := fn(tctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && tctx.Err() != nil && ctx.Err() == nil {
			return r.v, c.doneErr(ctx, "decoding")
		}
		return r.v, r.err
	case <-tctx.Done():
		return zero, c.doneErr(ctx, "decoding")
	}
}

// doneErr is the error of a check stopped by its context: the caller's own
// error if the caller gave up, else ErrTimeout.
func (c *Checker) doneErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s took more than %s", ErrTimeout, what, c.lim.Timeout)
}

// ctxReader fails every read once its context is done, which stops a
// decoder at its next read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
