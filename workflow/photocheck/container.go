package photocheck

import (
	"bytes"
	"encoding/binary"
)

// Format is an image format the checks decode.
type Format string

// Formats decoded. Anything else is not a photo to these checks.
const (
	FormatJPEG Format = "jpeg"
	FormatPNG  Format = "png"
	FormatWebP Format = "webp"
)

// container is what the checks read from a file's structure before decoding
// it: the format, what makes its decoder need more memory than the image,
// and the raw EXIF (a TIFF structure) if the file carries one.
type container struct {
	format      Format
	progressive bool // a progressive JPEG keeps every DCT coefficient until the end
	components  int  // JPEG colour components
	interlaced  bool // an Adam7 PNG decodes each pass into its own image
	exif        []byte
}

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	exifMagic = []byte("Exif\x00\x00")
)

// sniff returns the container of data, or ok false for a format the checks
// do not decode. It only walks segment and chunk headers, each bounded by
// len(data), so it is linear in the file and never allocates the payloads.
func sniff(data []byte) (c container, ok bool) {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return sniffJPEG(data), true
	case bytes.HasPrefix(data, pngMagic):
		return sniffPNG(data), true
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return sniffWebP(data), true
	}
	return container{}, false
}

// sniffJPEG walks the marker segments up to the first scan.
func sniffJPEG(data []byte) container {
	c := container{format: FormatJPEG}
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return c
		}
		m := data[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) { // no length
			i += 2
			continue
		}
		if m == 0xD9 || m == 0xDA { // end of image, start of scan
			return c
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return c
		}
		seg := data[i+4 : i+2+n]
		switch {
		case m == 0xE1 && c.exif == nil && bytes.HasPrefix(seg, exifMagic):
			c.exif = seg[len(exifMagic):]
		case isSOF(m) && len(seg) >= 6:
			c.progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE
			c.components = int(seg[5])
		}
		i += 2 + n
	}
	return c
}

// isSOF reports whether m is a start-of-frame marker (not DHT, JPG or DAC).
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// sniffPNG walks the chunks for the header's interlace method and eXIf.
func sniffPNG(data []byte) container {
	c := container{format: FormatPNG}
	for i := len(pngMagic); i+8 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		end := int64(i) + 8 + n
		if end+4 > int64(len(data)) {
			return c
		}
		body := data[i+8 : end]
		switch typ {
		case "IHDR":
			if len(body) >= 13 {
				c.interlaced = body[12] == 1
			}
		case "eXIf":
			if c.exif == nil {
				c.exif = body
			}
		case "IEND":
			return c
		}
		i = int(end) + 4 // CRC
	}
	return c
}

// sniffWebP walks the RIFF chunks for an EXIF chunk.
func sniffWebP(data []byte) container {
	c := container{format: FormatWebP}
	for i := 12; i+8 <= len(data); {
		n := int64(binary.LittleEndian.Uint32(data[i+4:]))
		end := int64(i) + 8 + n
		if end > int64(len(data)) {
			return c
		}
		if string(data[i:i+4]) == "EXIF" && c.exif == nil {
			// Some writers keep the JPEG APP1 prefix.
			c.exif = bytes.TrimPrefix(data[i+8:end], exifMagic)
		}
		i = int(end + n%2) // chunks are padded to an even size
	}
	return c
}
