package photocheck

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"slices"

	"github.com/jdz-eco/rectify/workflow"
)

// exifSpec is the EXIF a test writes into a photo; empty fields are left out.
type exifSpec struct {
	make, model, software string
	original, offset      string // DateTimeOriginal, OffsetTimeOriginal
	gps                   *workflow.LatLng
	bigEndian             bool
}

// byteOrder reads and appends in one byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// tiffEntry is one IFD entry: its value bytes are written in place when
// they fit in 4 bytes, else after the IFD.
type tiffEntry struct {
	tag, typ uint16
	count    uint32
	data     []byte
}

func asciiEntry(tag uint16, s string) tiffEntry {
	return tiffEntry{tag: tag, typ: 2, count: uint32(len(s) + 1), data: append([]byte(s), 0)}
}

// ifdBytes is the size of an IFD with its out-of-line values.
func ifdBytes(es []tiffEntry) int {
	n := 2 + 12*len(es) + 4
	for _, e := range es {
		if len(e.data) > 4 {
			n += len(e.data) + len(e.data)%2
		}
	}
	return n
}

// buildEXIF returns the EXIF (TIFF) structure of s: IFD0 with the camera
// and software and the pointers, the Exif IFD with the capture time, the
// GPS IFD with the position. Written by hand so that the tests do not read
// back what the library under test wrote.
func buildEXIF(s exifSpec) []byte {
	var bo byteOrder = binary.LittleEndian
	if s.bigEndian {
		bo = binary.BigEndian
	}
	u32 := func(v uint32) []byte { return bo.AppendUint32(nil, v) }
	var ifd0, exifIFD, gpsIFD []tiffEntry
	for _, f := range []struct {
		tag uint16
		v   string
	}{{tagMake, s.make}, {tagModel, s.model}, {tagSoftware, s.software}} {
		if f.v != "" {
			ifd0 = append(ifd0, asciiEntry(f.tag, f.v))
		}
	}
	if s.original != "" {
		exifIFD = append(exifIFD, asciiEntry(tagDateTimeOriginal, s.original))
	}
	if s.offset != "" {
		exifIFD = append(exifIFD, asciiEntry(tagOffsetOriginal, s.offset))
	}
	if s.gps != nil {
		lat, lng := s.gps.Lat, s.gps.Lng
		latRef, lngRef := "N", "E"
		if lat < 0 {
			lat, latRef = -lat, "S"
		}
		if lng < 0 {
			lng, lngRef = -lng, "W"
		}
		gpsIFD = []tiffEntry{
			{tag: 0, typ: 1, count: 4, data: []byte{2, 3, 0, 0}}, // GPSVersionID 2.3
			asciiEntry(tagGPSLatitudeRef, latRef), {tag: tagGPSLatitude, typ: 5, count: 3, data: dms(bo, lat)},
			asciiEntry(tagGPSLongitudeRef, lngRef), {tag: tagGPSLongitude, typ: 5, count: 3, data: dms(bo, lng)},
		}
	}
	// Offsets: the header, IFD0, then the Exif and GPS IFDs.
	off0 := 8
	offExif := off0 + ifdBytes(ifd0) + 24 // the two pointers, not yet in ifd0
	offGPS := offExif + ifdBytes(exifIFD)
	ifd0 = append(ifd0, tiffEntry{tag: tagExifIFD, typ: 4, count: 1, data: u32(uint32(offExif))})
	if s.gps != nil {
		ifd0 = append(ifd0, tiffEntry{tag: tagGPSIFD, typ: 4, count: 1, data: u32(uint32(offGPS))})
	} else {
		ifd0 = append(ifd0, tiffEntry{tag: 0x0112, typ: 3, count: 1, data: bo.AppendUint16(nil, 1)}) // Orientation, to keep the size
	}
	out := []byte("II*\x00")
	if s.bigEndian {
		out = []byte("MM\x00*")
	}
	out = bo.AppendUint32(out, uint32(off0))
	out = appendIFD(out, bo, ifd0)
	out = appendIFD(out, bo, exifIFD)
	if s.gps != nil {
		out = appendIFD(out, bo, gpsIFD)
	}
	return out
}

// appendIFD appends the IFD es (sorted by tag, as TIFF wants) at the end of
// b, its out-of-line values after it, with no next IFD.
func appendIFD(b []byte, bo byteOrder, es []tiffEntry) []byte {
	es = slices.Clone(es)
	slices.SortFunc(es, func(x, y tiffEntry) int { return int(x.tag) - int(y.tag) })
	start := len(b)
	data := start + 2 + 12*len(es) + 4
	b = bo.AppendUint16(b, uint16(len(es)))
	var tail []byte
	for _, e := range es {
		b = bo.AppendUint16(b, e.tag)
		b = bo.AppendUint16(b, e.typ)
		b = bo.AppendUint32(b, e.count)
		if len(e.data) <= 4 {
			b = append(b, e.data...)
			b = append(b, make([]byte, 4-len(e.data))...)
			continue
		}
		b = bo.AppendUint32(b, uint32(data+len(tail)))
		tail = append(tail, e.data...)
		if len(e.data)%2 == 1 {
			tail = append(tail, 0)
		}
	}
	b = bo.AppendUint32(b, 0)
	return append(b, tail...)
}

// dms returns deg as three rationals: degrees, minutes, seconds/10000.
func dms(bo byteOrder, deg float64) []byte {
	d := math.Floor(deg)
	m := math.Floor((deg - d) * 60)
	s := math.Round(((deg-d)*60 - m) * 60 * 10000)
	var b []byte
	for _, r := range [][2]uint32{{uint32(d), 1}, {uint32(m), 1}, {uint32(s), 10000}} {
		b = bo.AppendUint32(b, r[0])
		b = bo.AppendUint32(b, r[1])
	}
	return b
}

// withJPEGEXIF returns the JPEG j with an APP1 segment holding tiff right
// after its start-of-image marker.
func withJPEGEXIF(j, tiff []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := append([]byte{0xFF, 0xD8, 0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(seg)+2))...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

// withPNGEXIF returns the PNG p with an eXIf chunk holding tiff after IHDR.
func withPNGEXIF(p, tiff []byte) []byte {
	ihdrEnd := 8 + 8 + 13 + 4
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(tiff)))
	chunk = append(chunk, "eXIf"...)
	chunk = append(chunk, tiff...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(append([]byte("eXIf"), tiff...)))
	return append(append(slices.Clone(p[:ihdrEnd]), chunk...), p[ihdrEnd:]...)
}

// withWebPEXIF returns the simple-format (VP8) WebP w of size wd×ht as an
// extended one (VP8X) with an EXIF chunk holding tiff after the image.
func withWebPEXIF(w []byte, wd, ht int, tiff []byte) []byte {
	vp8x := []byte("VP8X")
	vp8x = binary.LittleEndian.AppendUint32(vp8x, 10)
	vp8x = append(vp8x, 0x08, 0, 0, 0) // the EXIF flag
	vp8x = append(vp8x, byte(wd-1), byte((wd-1)>>8), byte((wd-1)>>16), byte(ht-1), byte((ht-1)>>8), byte((ht-1)>>16))
	ex := []byte("EXIF")
	ex = binary.LittleEndian.AppendUint32(ex, uint32(len(tiff)))
	ex = append(ex, tiff...)
	if len(tiff)%2 == 1 {
		ex = append(ex, 0)
	}
	body := append(append(append([]byte("WEBP"), vp8x...), w[12:]...), ex...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}
