package photocheck

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	xdraw "golang.org/x/image/draw"
)

// scene draws a synthetic outdoor photo of a rectification site: a sky
// gradient with clouds, hills on the horizon, textured ground, a pond, a few
// buildings and trees, and sensor noise. Every seed gives a different photo of
// the same kind of scene: the same composition, colours and horizon band,
// other shapes in other places, as two photos of similar sites would be.
func scene(seed uint64, w, h int) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	horizon := int(float64(h) * (0.40 + 0.10*r.Float64()))
	// Sky: blue at the top to pale at the horizon.
	for y := 0; y < horizon; y++ {
		t := float64(y) / float64(horizon)
		c := color.RGBA{uint8(90 + 120*t), uint8(140 + 90*t), uint8(220 + 25*t), 255}
		draw.Draw(img, image.Rect(0, y, w, y+1), image.NewUniform(c), image.Point{}, draw.Src)
	}
	for range 3 + r.IntN(4) {
		cx, cy := r.IntN(w), r.IntN(max(horizon/2, 1))
		fillEllipse(img, cx, cy, w/10+r.IntN(w/8), h/30+r.IntN(h/20), color.RGBA{240, 240, 245, 255}, 0.7)
	}
	// Hills: overlapping triangles along the horizon.
	for range 2 + r.IntN(3) {
		cx, peak, half := r.IntN(w), horizon-h/12-r.IntN(h/8), w/6+r.IntN(w/4)
		g := uint8(80 + r.IntN(40))
		fillTriangle(img, image.Pt(cx-half, horizon), image.Pt(cx, peak), image.Pt(cx+half, horizon), color.RGBA{60, g, 70, 255})
	}
	// Ground: earth tones with coarse texture.
	ground := color.RGBA{uint8(120 + r.IntN(30)), uint8(105 + r.IntN(30)), 70, 255}
	draw.Draw(img, image.Rect(0, horizon, w, h), image.NewUniform(ground), image.Point{}, draw.Src)
	for range 400 {
		x, y := r.IntN(w), horizon+r.IntN(h-horizon)
		d := r.IntN(30) - 15
		c := color.RGBA{clamp8(int(ground.R) + d), clamp8(int(ground.G) + d), clamp8(int(ground.B) + d), 255}
		fillEllipse(img, x, y, 4+r.IntN(w/30), 2+r.IntN(h/60), c, 1)
	}
	// A pond (a tailings pond, a drain) and buildings, trees.
	fillEllipse(img, w/5+r.IntN(3*w/5), horizon+(h-horizon)/3+r.IntN((h-horizon)/3), w/8+r.IntN(w/6), h/14+r.IntN(h/12), color.RGBA{70, 100, 95, 255}, 1)
	for range 1 + r.IntN(4) {
		bw, bh := w/20+r.IntN(w/10), h/10+r.IntN(h/6)
		x, y := r.IntN(w-bw), horizon-bh+r.IntN(h/20)
		v := uint8(150 + r.IntN(80))
		draw.Draw(img, image.Rect(x, y, x+bw, y+bh), image.NewUniform(color.RGBA{v, v - 10, v - 20, 255}), image.Point{}, draw.Src)
		for wy := y + bh/8; wy < y+bh-bh/8; wy += bh / 5 {
			draw.Draw(img, image.Rect(x+bw/6, wy, x+bw-bw/6, wy+bh/14), image.NewUniform(color.RGBA{50, 60, 80, 255}), image.Point{}, draw.Src)
		}
	}
	for range 3 + r.IntN(6) {
		x, y := r.IntN(w), horizon+r.IntN((h-horizon)/2)
		s := h/25 + r.IntN(h/12)
		draw.Draw(img, image.Rect(x-s/8, y, x+s/8, y+s), image.NewUniform(color.RGBA{90, 60, 40, 255}), image.Point{}, draw.Src)
		fillEllipse(img, x, y, s/2, s/2, color.RGBA{40, uint8(90 + r.IntN(60)), 40, 255}, 1)
	}
	// Sensor noise.
	for i := range img.Pix {
		if i%4 == 3 {
			continue
		}
		img.Pix[i] = clamp8(int(img.Pix[i]) + int(r.NormFloat64()*6))
	}
	return img
}

func clamp8(v int) uint8 { return uint8(min(max(v, 0), 255)) }

// fillEllipse blends c into the ellipse at (cx, cy) with radii rx, ry.
func fillEllipse(img *image.RGBA, cx, cy, rx, ry int, c color.RGBA, alpha float64) {
	b := img.Bounds().Intersect(image.Rect(cx-rx, cy-ry, cx+rx+1, cy+ry+1))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dx, dy := float64(x-cx)/float64(rx), float64(y-cy)/float64(ry)
			if dx*dx+dy*dy <= 1 {
				blend(img, x, y, c, alpha)
			}
		}
	}
}

// fillTriangle paints the triangle a, b, c.
func fillTriangle(img *image.RGBA, a, b, c image.Point, col color.RGBA) {
	box := image.Rect(min(a.X, b.X, c.X), min(a.Y, b.Y, c.Y), max(a.X, b.X, c.X)+1, max(a.Y, b.Y, c.Y)+1).Intersect(img.Bounds())
	edge := func(p, q, r image.Point) int { return (q.X-p.X)*(r.Y-p.Y) - (q.Y-p.Y)*(r.X-p.X) }
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			p := image.Pt(x, y)
			e1, e2, e3 := edge(a, b, p), edge(b, c, p), edge(c, a, p)
			if (e1 >= 0 && e2 >= 0 && e3 >= 0) || (e1 <= 0 && e2 <= 0 && e3 <= 0) {
				blend(img, x, y, col, 1)
			}
		}
	}
}

func blend(img *image.RGBA, x, y int, c color.RGBA, alpha float64) {
	i := img.PixOffset(x, y)
	for k, v := range [3]uint8{c.R, c.G, c.B} {
		img.Pix[i+k] = uint8(math.Round(float64(img.Pix[i+k])*(1-alpha) + float64(v)*alpha))
	}
}

// encodeJPEG returns img as a JPEG of the given quality.
func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encodePNG returns img as a PNG.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// resized returns img scaled to width w (keeping the aspect) with Catmull-Rom,
// as phone apps and messengers shrink photos.
func resized(img image.Image, w int) *image.RGBA {
	b := img.Bounds()
	h := b.Dy() * w / b.Dx()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// cropped returns img with frac of its width and of its height cut off,
// half on each side.
func cropped(img image.Image, frac float64) *image.RGBA {
	b := img.Bounds()
	dx, dy := int(float64(b.Dx())*frac/2), int(float64(b.Dy())*frac/2)
	r := image.Rect(b.Min.X+dx, b.Min.Y+dy, b.Max.X-dx, b.Max.Y-dy)
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), img, r.Min, draw.Src)
	return dst
}

// croppedEdge returns img with frac of its width cut off the right edge and
// frac of its height off the bottom.
func croppedEdge(img image.Image, frac float64) *image.RGBA {
	b := img.Bounds()
	r := image.Rect(b.Min.X, b.Min.Y, b.Max.X-int(float64(b.Dx())*frac), b.Max.Y-int(float64(b.Dy())*frac))
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), img, r.Min, draw.Src)
	return dst
}

// rounds returns n, or n/8 (at least 1) under the race detector.
func rounds(n int) int {
	if raceEnabled {
		return max(n/8, 1)
	}
	return n
}
