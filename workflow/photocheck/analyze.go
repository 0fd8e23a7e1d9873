package photocheck

import (
	"context"
	"fmt"
)

// Facts is what the checks extract from one file.
type Facts struct {
	Format        Format
	Width, Height int // from the header; 0 if it cannot be read
	// Hash is the perceptual hash, valid when Err is nil.
	Hash Hash
	// Err says why the image was not hashed: ErrUnsupported, ErrTooLarge,
	// ErrCorrupt or ErrTimeout, wrapped with the specifics.
	Err      error
	Metadata Metadata
}

// Analyze reads the metadata of data and, within the limits, decodes and
// hashes it. Damaged, hostile or oversized files are facts, not failures:
// the only error is the caller's context ending.
func (c *Checker) Analyze(ctx context.Context, data []byte) (Facts, error) {
	type hashed struct {
		d decoded
		h Hash
	}
	r, err := run(c, ctx, func(ctx context.Context) (hashed, error) {
		d, err := c.decode(ctx, data)
		if err != nil {
			return hashed{d: d}, err
		}
		h, err := PHash(d.img)
		d.img = nil
		if err != nil {
			return hashed{d: d}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return hashed{d: d, h: h}, nil
	})
	if ctx.Err() != nil {
		return Facts{}, ctx.Err()
	}
	return Facts{Format: r.d.format, Width: r.d.cfg.Width, Height: r.d.cfg.Height, Hash: r.h, Err: err,
		Metadata: ReadMetadata(data)}, nil
}
