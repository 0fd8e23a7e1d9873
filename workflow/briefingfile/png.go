package briefingfile

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strconv"

	"github.com/jdz-eco/rectify/workflow"
)

// Charts as PNG images for documents, drawn with the standard library's
// image packages: lines, bars and the figures in a small built-in digit
// font (Chinese labels go in the document's caption beside the image).

// Colours of the charts.
var (
	colorOpen    = color.RGBA{0x2b, 0x6c, 0xb0, 0xff} // 未办结
	colorOverdue = color.RGBA{0xc5, 0x30, 0x30, 0xff} // 逾期
	colorAxis    = color.RGBA{0x55, 0x55, 0x55, 0xff}
	colorGrid    = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	colorRate    = color.RGBA{0x2f, 0x85, 0x5a, 0xff}
)

// Chart sizes in pixels (printed at about 150 mm wide).
const (
	pngWidth  = 1200
	pngHeight = 560
	pngMargin = 80
)

type canvas struct{ img *image.RGBA }

func newCanvas(w, h int) *canvas {
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h))}
	draw.Draw(c.img, c.img.Bounds(), image.White, image.Point{}, draw.Src)
	return c
}

func (c *canvas) rect(x0, y0, x1, y1 int, col color.Color) {
	draw.Draw(c.img, image.Rect(x0, y0, x1, y1), image.NewUniform(col), image.Point{}, draw.Src)
}

// line draws a line w pixels thick (Bresenham, a square pen).
func (c *canvas) line(x0, y0, x1, y1, w int, col color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		c.rect(x0-w/2, y0-w/2, x0-w/2+w, y0-w/2+w, col)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

// glyphs are 3 × 5 bitmaps of the characters figures need, a row per
// string, '#' set.
var glyphs = map[rune][5]string{
	'0': {"###", "#.#", "#.#", "#.#", "###"}, '1': {".#.", "##.", ".#.", ".#.", "###"},
	'2': {"###", "..#", "###", "#..", "###"}, '3': {"###", "..#", "###", "..#", "###"},
	'4': {"#.#", "#.#", "###", "..#", "..#"}, '5': {"###", "#..", "###", "..#", "###"},
	'6': {"###", "#..", "###", "#.#", "###"}, '7': {"###", "..#", "..#", "..#", "..#"},
	'8': {"###", "#.#", "###", "#.#", "###"}, '9': {"###", "#.#", "###", "..#", "###"},
	'.': {"...", "...", "...", "...", ".#."}, '%': {"#.#", "..#", ".#.", "#..", "#.#"},
	'-': {"...", "...", "###", "...", "..."},
}

// text draws s in the digit font, each dot scale pixels, with its top-left
// corner at x, y; right aligns it to end at x instead. Unknown characters
// are skipped.
func (c *canvas) text(s string, x, y, scale int, right bool, col color.Color) {
	width := len(s) * 4 * scale
	if right {
		x -= width
	}
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			continue
		}
		for row, bits := range g {
			for i, b := range bits {
				if b == '#' {
					c.rect(x+i*scale, y+row*scale, x+(i+1)*scale, y+(row+1)*scale, col)
				}
			}
		}
		x += 4 * scale
	}
}

func (c *canvas) png() ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, c.img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TrendPNG draws the weekly trend: open problems in blue, overdue in red,
// over a shared scale with its figures on the left; the first and last
// weeks' dates belong in the caption (TrendCaption).
func TrendPNG(points []workflow.TrendPoint) ([]byte, error) {
	c := newCanvas(pngWidth, pngHeight)
	left, right, top, bottom := pngMargin, pngWidth-30, 30, pngHeight-40
	c.line(left, bottom, right, bottom, 2, colorAxis)
	c.line(left, top, left, bottom, 2, colorAxis)
	if len(points) == 0 {
		return c.png()
	}
	most := 1
	for _, p := range points {
		most = max(most, p.Open, p.Overdue)
	}
	y := func(v int) int { return bottom - v*(bottom-top)/most }
	x := func(i int) int {
		if len(points) == 1 {
			return (left + right) / 2
		}
		return left + i*(right-left)/(len(points)-1)
	}
	for _, v := range []int{most / 2, most} {
		c.line(left+2, y(v), right, y(v), 1, colorGrid)
	}
	for _, v := range []int{0, most / 2, most} {
		c.text(strconv.Itoa(v), left-12, y(v)-10, 4, true, colorAxis)
	}
	for i := range points {
		c.line(x(i), bottom, x(i), bottom+8, 2, colorAxis)
	}
	for _, s := range []struct {
		col color.Color
		v   func(workflow.TrendPoint) int
	}{{colorOpen, func(p workflow.TrendPoint) int { return p.Open }}, {colorOverdue, func(p workflow.TrendPoint) int { return p.Overdue }}} {
		for i := range points {
			if i > 0 {
				c.line(x(i-1), y(s.v(points[i-1])), x(i), y(s.v(points[i])), 5, s.col)
			}
			c.rect(x(i)-6, y(s.v(points[i]))-6, x(i)+6, y(s.v(points[i]))+6, s.col)
		}
	}
	return c.png()
}

// RankPNG draws one horizontal bar per value, top to bottom in order, each
// with its text (a count or a rate) at its end; values are scaled to full
// (0: the largest). The labels belong in the caption (RankCaption).
func RankPNG(values []float64, texts []string, full float64, rate bool) ([]byte, error) {
	const barH, gap = 36, 18
	h := max(2*gap+len(values)*(barH+gap), 120)
	c := newCanvas(pngWidth, h)
	left, right := 30, pngWidth-200
	c.line(left, gap/2, left, h-gap/2, 2, colorAxis)
	if full <= 0 {
		for _, v := range values {
			full = max(full, v)
		}
	}
	col := colorOverdue
	if rate {
		col = colorRate
	}
	for i, v := range values {
		y := gap + i*(barH+gap)
		w := 0
		if full > 0 {
			w = int(v / full * float64(right-left))
		}
		if v > 0 && w < 3 {
			w = 3
		}
		c.rect(left, y, left+w, y+barH, col)
		c.text(texts[i], left+w+16, y+barH/2-10, 4, false, colorAxis)
	}
	return c.png()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sign(n int) int {
	switch {
	case n > 0:
		return 1
	case n < 0:
		return -1
	}
	return 0
}
