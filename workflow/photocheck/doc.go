// Package photocheck examines evidence photos for the inspector (防虚假整改):
// what a photo says about itself (EXIF capture time, GPS position, editing
// software, missing metadata), a perceptual hash to find near duplicates,
// and the flags all this becomes, as data with a plain Chinese explanation.
// Flags inform; they never refuse an upload.
//
// Dependencies run one way: photocheck imports workflow (positions, the
// Flag type, Asia/Shanghai) and the image decoders; workflow never imports
// photocheck, so the domain links no decoder. The service reaches the
// checks through workflow.PhotoChecker, which Checker implements (report.go)
// and cmd/rectify wires in. The near-duplicate index's key layout is
// store/internal/nearindex, which only the stores use. Nothing here touches
// storage or HTTP.
//
// Bounds: a file is sniffed by its magic bytes (JPEG, PNG, WebP; anything
// else is not checked). Its header is read first and an image over
// Limits.MaxPixels (40 megapixels) or whose decoder would allocate more than
// Limits.MaxBytes (256 MiB, estimated from the header's colour model,
// progressive JPEG and interlaced PNG included) is refused before a pixel is
// decoded. At most Limits.Slots (2) decodes run at once, each until
// Limits.Timeout (20 s): together at most Slots × MaxBytes of decoded
// images. A decode past its deadline fails at its next read of the input,
// and its slot stays taken until it really ends. Decoder panics become
// ErrCorrupt. EXIF is read from at most 256 KiB, through a pass that keeps
// only the dozen tags used and drops any entry pointing outside the data
// (tiff.go), and under recover.
package photocheck
