package docx

import (
	"bytes"
	"errors"
	"image/png"
)

// ErrNotPNG refuses an image that is not a PNG.
var ErrNotPNG = errors.New("docx: the image is not a PNG")

// emuPerTwip converts twips to English Metric Units (914400 to the inch).
const emuPerTwip = 635

// pngSize returns a PNG's pixel size.
func pngSize(data []byte) (int, int, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, ErrNotPNG
	}
	return cfg.Width, cfg.Height, nil
}

// imageExtent is the printed size in EMU: the asked size (one side given
// keeps the aspect), or 96 dpi, and never wider than the text.
func imageExtent(w, h int, wmm, hmm float64, textTwips int) (int64, int64) {
	const emuPerMM = 36000
	var cx, cy float64
	switch {
	case wmm > 0 && hmm > 0:
		cx, cy = wmm*emuPerMM, hmm*emuPerMM
	case wmm > 0:
		cx = wmm * emuPerMM
		cy = cx * float64(h) / float64(w)
	case hmm > 0:
		cy = hmm * emuPerMM
		cx = cy * float64(w) / float64(h)
	default:
		cx, cy = float64(w)*9525, float64(h)*9525 // 96 dpi
	}
	if maxW := float64(textTwips * emuPerTwip); cx > maxW {
		cy = cy * maxW / cx
		cx = maxW
	}
	return int64(cx + 0.5), int64(cy + 0.5)
}
