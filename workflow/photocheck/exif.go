package photocheck

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"

	"github.com/jdz-eco/rectify/workflow"
)

// Metadata is what a photo says about itself in its EXIF. Nothing in it is
// trusted: values that cannot be true are left out and named in Bad.
type Metadata struct {
	// EXIF is true when the file carries an EXIF structure at all.
	EXIF bool
	// Captured is the capture time (DateTimeOriginal, else
	// DateTimeDigitized), zero if none is readable. CapturedOffset says it
	// came with its own UTC offset (OffsetTimeOriginal); without one it is
	// read as Asia/Shanghai time.
	Captured       time.Time
	CapturedOffset bool
	// Position is the GPS position (WGS-84, as GPS receivers give it), nil
	// if none or none readable.
	Position *workflow.LatLng
	// Software is the Software tag, the program that last wrote the file;
	// Make and Model name the camera.
	Software, Make, Model string
	// Bad lists, in plain words, what the EXIF holds that cannot be read or
	// cannot be true: a damaged structure, a date that is no date.
	Bad []string
}

// HasCapture reports whether the photo carries any capture metadata: a
// capture time, a position, or the camera's make or model.
func (m Metadata) HasCapture() bool {
	return !m.Captured.IsZero() || m.Position != nil || m.Make != "" || m.Model != ""
}

// earliestCapture is the earliest capture time believed; older dates are
// a camera's clock never set (or a lie) and are reported in Bad.
var earliestCapture = time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC)

// ReadMetadata reads the EXIF of a JPEG (APP1), PNG (eXIf) or WebP (EXIF
// chunk) file. It never fails: a file without EXIF gives a zero Metadata,
// a damaged one says so in Bad. Only the tags listed in tiff.go are read.
func ReadMetadata(data []byte) Metadata {
	c, ok := sniff(data)
	if !ok || c.exif == nil {
		return Metadata{}
	}
	return readEXIF(c.exif)
}

// readEXIF reads the metadata of the EXIF (TIFF) structure tiff.
func readEXIF(tiff []byte) (m Metadata) {
	m.EXIF = true
	clean, err := sanitizeTIFF(tiff)
	if err != nil {
		m.Bad = append(m.Bad, "EXIF 结构损坏")
		return m
	}
	defer func() {
		if r := recover(); r != nil {
			m = Metadata{EXIF: true, Bad: []string{"EXIF 结构损坏"}}
		}
	}()
	tags, _, err := exif.GetFlatExifData(clean, nil)
	if err != nil {
		m.Bad = append(m.Bad, "EXIF 结构损坏")
		return m
	}
	byID := map[[2]uint16]exif.ExifTag{}
	for _, t := range tags {
		byID[[2]uint16{ifdOf(t.IfdPath), t.TagId}] = t
	}
	text := func(ifd, tag uint16) string {
		if s, ok := byID[[2]uint16{ifd, tag}].Value.(string); ok {
			return cleanText(s)
		}
		return ""
	}
	m.Make, m.Model, m.Software = text(0, tagMake), text(0, tagModel), text(0, tagSoftware)
	raw, offset := text(1, tagDateTimeOriginal), text(1, tagOffsetOriginal)
	if raw == "" {
		raw, offset = text(1, tagDateTimeDigitized), text(1, tagOffsetDigitized)
	}
	if raw != "" {
		if t, withOffset, err := parseEXIFTime(raw, offset); err != nil {
			m.Bad = append(m.Bad, err.Error())
		} else {
			m.Captured, m.CapturedOffset = t, withOffset
		}
	}
	if _, ok := byID[[2]uint16{2, tagGPSLatitude}]; ok {
		p, err := gpsPosition(byID[[2]uint16{2, tagGPSLatitude}].Value, text(2, tagGPSLatitudeRef),
			byID[[2]uint16{2, tagGPSLongitude}].Value, text(2, tagGPSLongitudeRef))
		if err != nil {
			m.Bad = append(m.Bad, err.Error())
		} else if p != nil {
			m.Position = p
		}
	}
	return m
}

// ifdOf maps the library's IFD paths to 0 (IFD0), 1 (Exif) and 2 (GPS).
func ifdOf(path string) uint16 {
	switch path {
	case "IFD":
		return 0
	case "IFD/Exif":
		return 1
	case "IFD/GPSInfo":
		return 2
	}
	return 99
}

// cleanText trims an ASCII tag at its first NUL, drops control characters
// and bounds it to 100 characters, so that it can be shown as it is.
func cleanText(s string) string {
	s, _, _ = strings.Cut(s, "\x00")
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 100 {
		s = string([]rune(s)[:100]) + "…"
	}
	return s
}

// parseEXIFTime parses an EXIF date ("2006:01:02 15:04:05") with its offset
// tag ("+08:00"); without a valid offset the time is Asia/Shanghai's.
func parseEXIFTime(raw, offset string) (time.Time, bool, error) {
	loc, withOffset := workflow.Shanghai, false
	if o, err := time.Parse("-07:00", offset); err == nil {
		_, secs := o.Zone()
		if secs >= -14*3600 && secs <= 14*3600 {
			loc, withOffset = time.FixedZone(offset, secs), true
		}
	}
	t, err := time.ParseInLocation("2006:01:02 15:04:05", raw, loc)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("拍摄时间“%s”不是有效的日期", raw)
	}
	if t.Before(earliestCapture) {
		return time.Time{}, false, fmt.Errorf("拍摄时间“%s”早于 %d 年，不可信", raw, earliestCapture.Year())
	}
	return t, withOffset, nil
}

// gpsPosition reads a GPS position from the degrees-minutes-seconds
// rationals and their N/S, E/W references. No position at all (0, 0 is
// what receivers without a fix write) gives nil and no error.
func gpsPosition(lat any, latRef string, lng any, lngRef string) (*workflow.LatLng, error) {
	la, okLa := degrees(lat)
	lo, okLo := degrees(lng)
	if !okLa || !okLo {
		return nil, fmt.Errorf("GPS 位置无法读取")
	}
	switch strings.ToUpper(latRef) {
	case "N":
	case "S":
		la = -la
	default:
		return nil, fmt.Errorf("GPS 纬度方向“%s”无效", latRef)
	}
	switch strings.ToUpper(lngRef) {
	case "E":
	case "W":
		lo = -lo
	default:
		return nil, fmt.Errorf("GPS 经度方向“%s”无效", lngRef)
	}
	if la == 0 && lo == 0 {
		return nil, nil
	}
	p, err := workflow.NewLatLng(la, lo, workflow.DatumWGS84)
	if err != nil {
		return nil, fmt.Errorf("GPS 位置（纬度 %.6f，经度 %.6f）超出范围", la, lo)
	}
	return &p, nil
}

// degrees sums three rationals (degrees, minutes, seconds).
func degrees(v any) (float64, bool) {
	r, ok := v.([]exifcommon.Rational)
	if !ok || len(r) != 3 {
		return 0, false
	}
	d := 0.0
	for i, scale := range []float64{1, 60, 3600} {
		if r[i].Denominator == 0 {
			return 0, false
		}
		d += float64(r[i].Numerator) / float64(r[i].Denominator) / scale
	}
	return d, true
}
