package photocheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

// pngHeader returns a PNG signature and IHDR for a w×h 8-bit RGBA image,
// followed by one empty IDAT and IEND: only the header is real.
func pngHeader(w, h uint32) []byte {
	chunk := func(b []byte, typ string, data []byte) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		b = append(b, typ...)
		b = append(b, data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	b := chunk(slices.Clone(pngMagic), "IHDR", ihdr)
	b = chunk(b, "IDAT", nil)
	return chunk(b, "IEND", nil)
}

// allocated returns how many bytes fn allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecompressionBombsRefusedFromTheHeader(t *testing.T) {
	c := NewChecker(Limits{})
	ctx := context.Background()
	// 100,000 × 100,000 announced in a PNG of a few dozen bytes.
	var err error
	if n := allocated(func() { _, _, err = c.Decode(ctx, pngHeader(100000, 100000)) }); n > 1<<20 {
		t.Errorf("refusing the PNG header allocated %d bytes", n)
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("PNG bomb: %v", err)
	}
	// A real JPEG whose frame header is rewritten to 60,000 × 60,000.
	j := encodeJPEG(t, scene(2, 320, 240), 80)
	sof := bytes.Index(j, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(j[sof+5:], 60000)
	binary.BigEndian.PutUint16(j[sof+7:], 60000)
	if _, _, err := c.Decode(ctx, j); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("JPEG bomb: %v", err)
	}
	// A real, fully decodable PNG over a lowered limit: 2000×2000 grey, a
	// few KiB compressed, 4 MB decoded. Refused without decoding it.
	big := image.NewGray(image.Rect(0, 0, 2000, 2000))
	small := NewChecker(Limits{MaxPixels: 1_000_000})
	data := encodePNG(t, big)
	if n := allocated(func() { _, _, err = small.Decode(ctx, data) }); n > 1<<20 || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("decodable bomb: %v after allocating %d bytes", err, n)
	}
	// Over the byte limit instead: 600×600 RGBA is 1.4 MB decoded.
	if _, _, err := NewChecker(Limits{MaxBytes: 1 << 20}).Decode(ctx, pngHeader(600, 600)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("byte limit: %v", err)
	}
	f, _ := c.Analyze(ctx, pngHeader(100000, 100000))
	if got := Flags(f, Site{}); len(got) != 2 || got[0].Text != "图片过大（100000×100000 像素），超出检查上限，未能与其他照片比对" {
		t.Fatalf("flags of a bomb: %+v", got)
	}
}

func TestDecodedBytesEstimate(t *testing.T) {
	cfg := image.Config{ColorModel: color.YCbCrModel, Width: 4000, Height: 3000}
	px := int64(12_000_000)
	if got := decodedBytes(container{format: FormatJPEG, components: 3}, cfg, px); got != 3*px {
		t.Errorf("baseline JPEG: %d", got)
	}
	// A progressive JPEG keeps 4 bytes a sample and component until the end.
	if got := decodedBytes(container{format: FormatJPEG, components: 3, progressive: true}, cfg, px); got != 15*px {
		t.Errorf("progressive JPEG: %d", got)
	}
	if got := decodedBytes(container{format: FormatPNG, interlaced: true}, image.Config{ColorModel: color.NRGBA64Model}, px); got != 16*px {
		t.Errorf("interlaced 16-bit PNG: %d", got)
	}
}

func TestDamagedImagesAreErrorsNotPanics(t *testing.T) {
	c := NewChecker(Limits{})
	ctx := context.Background()
	webpLossy, _ := os.ReadFile("testdata/video-001.lossy.webp")
	webpLossless, _ := os.ReadFile("testdata/gopher-doc.8bpp.lossless.webp")
	files := map[string][]byte{
		"jpeg": encodeJPEG(t, scene(4, 320, 240), 80), "png": encodePNG(t, scene(4, 200, 150)),
		"webp lossy": webpLossy, "webp lossless": webpLossless,
	}
	r := rand.New(rand.NewPCG(7, 7))
	for name, file := range files {
		if _, _, err := c.Decode(ctx, file); err != nil {
			t.Fatalf("%s: the intact file: %v", name, err)
		}
		for _, cut := range []int{len(file) / 3, len(file) / 2, len(file) - 10} {
			if _, _, err := c.Decode(ctx, file[:cut]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s cut at %d: %v", name, cut, err)
			}
		}
		for range rounds(150) {
			b := slices.Clone(file)
			for range 1 + r.IntN(10) {
				b[r.IntN(len(b))] = byte(r.UintN(256))
			}
			f, err := c.Analyze(ctx, b)
			if err != nil || (f.Err != nil && !errors.Is(f.Err, ErrCorrupt) && !errors.Is(f.Err, ErrUnsupported) && !errors.Is(f.Err, ErrTooLarge)) {
				t.Fatalf("%s mutated: %v %v", name, err, f.Err)
			}
		}
	}
	var g bytes.Buffer
	if err := gif.Encode(&g, image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black}), nil); err != nil {
		t.Fatal(err)
	}
	f, err := c.Analyze(ctx, g.Bytes())
	if err != nil || !errors.Is(f.Err, ErrUnsupported) || Flags(f, site) != nil {
		t.Fatalf("a GIF is outside the checks: %v %v %v", err, f.Err, Flags(f, site))
	}
}

func TestRunBoundsPanicsTimeAndSlots(t *testing.T) {
	c := NewChecker(Limits{Slots: 1, Timeout: time.Hour})
	ctx := context.Background()
	if _, err := run(c, ctx, func(context.Context) (int, error) { panic("hostile input") }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a panic: %v", err)
	}
	// The caller gives up on a decode that hangs: run returns at once, the
	// slot stays taken until the decode really ends.
	release, ended := make(chan struct{}), make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		<-ended
		cancel()
	}()
	_, err := run(c, cctx, func(context.Context) (int, error) {
		close(ended)
		<-release
		return 1, nil
	})
	if !errors.Is(err, context.Canceled) || len(c.slots) != 1 {
		t.Fatalf("abandoned decode: %v, %d slots taken", err, len(c.slots))
	}
	// While it hangs, another check times out waiting for the slot.
	short := &Checker{lim: Limits{Timeout: time.Millisecond}, slots: c.slots}
	if _, err := run(short, ctx, func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, ErrTimeout) {
		t.Fatalf("waiting for the slot: %v", err)
	}
	close(release)
	for len(c.slots) != 0 {
		runtime.Gosched()
	}
	if v, err := run(c, ctx, func(context.Context) (int, error) { return 2, nil }); v != 2 || err != nil {
		t.Fatalf("after the release: %v %v", v, err)
	}
	// A decoder reading after its context ended fails at that read.
	done, stop := context.WithCancel(ctx)
	stop()
	if _, err := decodeImage(FormatPNG, &ctxReader{ctx: done, r: bytes.NewReader(encodePNG(t, scene(1, 320, 240)))}); !errors.Is(err, context.Canceled) {
		t.Fatalf("decoder after cancel: %v", err)
	}
}

// FuzzAnalyze feeds anything to the whole check: it returns facts, never
// panics, and hashes only what it decoded.
func FuzzAnalyze(f *testing.F) {
	j := encodeJPEG(f, scene(5, 320, 240), 60)
	f.Add(j)
	f.Add(withJPEGEXIF(j, buildEXIF(honest)))
	f.Add(encodePNG(f, scene(5, 320, 240)))
	f.Add(pngHeader(100000, 100000))
	for _, name := range []string{"testdata/video-001.lossy.webp", "testdata/gopher-doc.8bpp.lossless.webp"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	c := NewChecker(Limits{MaxPixels: 4_000_000})
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := c.Analyze(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		if facts.Err != nil && facts.Hash != 0 {
			t.Fatalf("a hash beside the error %v", facts.Err)
		}
		Flags(facts, site)
	})
}
