package photocheck

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxEXIF bounds the EXIF structure read: a JPEG's APP1 segment cannot hold
// more than 64 KiB; PNG and WebP chunks could, and are refused past this.
const maxEXIF = 256 << 10

// maxIFDEntries bounds the entries of one IFD (real ones have tens).
const maxIFDEntries = 1000

// Tags kept for the EXIF library, by IFD; every other entry is blanked by
// keptTags before the library reads the structure.
const (
	tagMake              = 0x010F
	tagModel             = 0x0110
	tagSoftware          = 0x0131
	tagExifIFD           = 0x8769
	tagGPSIFD            = 0x8825
	tagDateTimeOriginal  = 0x9003
	tagDateTimeDigitized = 0x9004
	tagOffsetOriginal    = 0x9011
	tagOffsetDigitized   = 0x9012
	tagGPSLatitudeRef    = 0x0001
	tagGPSLatitude       = 0x0002
	tagGPSLongitudeRef   = 0x0003
	tagGPSLongitude      = 0x0004
)

type ifdKind int

const (
	ifdRoot ifdKind = iota
	ifdExif
	ifdGPS
)

var keptTags = map[ifdKind]map[uint16]bool{
	ifdRoot: {tagMake: true, tagModel: true, tagSoftware: true, tagExifIFD: true, tagGPSIFD: true},
	ifdExif: {tagDateTimeOriginal: true, tagDateTimeDigitized: true, tagOffsetOriginal: true, tagOffsetDigitized: true},
	ifdGPS:  {tagGPSLatitudeRef: true, tagGPSLatitude: true, tagGPSLongitudeRef: true, tagGPSLongitude: true},
}

// typeSizes are the bytes of one unit of each TIFF field type (1-12).
var typeSizes = [13]int64{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8}

var errNotTIFF = errors.New("no TIFF header")

// sanitizeTIFF returns a copy of the EXIF structure tiff in which only the
// entries the checks read survive, every one of them inside the structure:
// any other entry, one whose value lies outside, and an IFD pointer to an
// IFD already walked get the invalid type 0, which the EXIF library skips
// without reading; IFD0's link to IFD1 (the thumbnail) is cut. The library
// allocates what an entry's count or a thumbnail's length claims, up to
// 4 GiB (TestHostileEXIFStructures measures it without this pass); after it,
// it never reads outside the data. An error means even IFD0 is unreadable.
func sanitizeTIFF(tiff []byte) ([]byte, error) {
	if len(tiff) > maxEXIF {
		return nil, fmt.Errorf("EXIF of %d bytes, more than %d", len(tiff), maxEXIF)
	}
	if len(tiff) < 8 {
		return nil, errNotTIFF
	}
	var bo binary.ByteOrder
	switch string(tiff[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return nil, errNotTIFF
	}
	out := append([]byte(nil), tiff...)
	w := tiffWalk{b: out, bo: bo, seen: map[uint32]bool{}}
	ifd0 := bo.Uint32(out[4:])
	if err := w.ifd(ifd0, ifdRoot); err != nil {
		return nil, err
	}
	return out, nil
}

type tiffWalk struct {
	b    []byte
	bo   binary.ByteOrder
	seen map[uint32]bool
}

// ifd checks the IFD at off and the child IFDs it points to, blanking what
// the library must not read, and cuts its link to a next IFD.
func (w *tiffWalk) ifd(off uint32, kind ifdKind) error {
	if w.seen[off] || len(w.seen) >= 8 {
		return fmt.Errorf("IFD at %d visited twice or too many IFDs", off)
	}
	w.seen[off] = true
	if int64(off)+2 > int64(len(w.b)) {
		return fmt.Errorf("IFD at %d outside the %d bytes of EXIF", off, len(w.b))
	}
	n := int64(w.bo.Uint16(w.b[off:]))
	end := int64(off) + 2 + 12*n
	if n > maxIFDEntries || end+4 > int64(len(w.b)) {
		return fmt.Errorf("IFD at %d with %d entries does not fit", off, n)
	}
	w.bo.PutUint32(w.b[end:], 0) // no next IFD
	for i := range n {
		e := w.b[int64(off)+2+12*i : int64(off)+2+12*i+12]
		tag, typ := w.bo.Uint16(e), w.bo.Uint16(e[2:])
		count, val := int64(w.bo.Uint32(e[4:])), w.bo.Uint32(e[8:])
		ok := keptTags[kind][tag] && typ >= 1 && typ <= 12
		if ok {
			size := count * typeSizes[typ]
			ok = size <= 4 || int64(val)+size <= int64(len(w.b))
		}
		if ok && (tag == tagExifIFD || tag == tagGPSIFD) {
			child := ifdExif
			if tag == tagGPSIFD {
				child = ifdGPS
			}
			ok = count == 1 && typ == 4 && w.ifd(val, child) == nil
		}
		if !ok {
			w.bo.PutUint16(e[2:], 0)
		}
	}
	return nil
}
