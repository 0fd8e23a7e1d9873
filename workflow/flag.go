package workflow

// FlagCode names what a check of an evidence item found for the inspector
// to weigh. The checks live in workflow/photocheck; the codes and the Flag
// type live here so that evidence and the verify acknowledgement can carry
// them without the domain importing image decoders.
type FlagCode string

// Flag codes.
const (
	FlagCapturedBeforeAssigned FlagCode = "captured_before_assigned" // 拍摄时间早于交办时间
	FlagCapturedAfterUpload    FlagCode = "captured_after_upload"    // 拍摄时间晚于上传时间
	FlagFarFromSite            FlagCode = "far_from_site"            // 拍摄位置远离问题位置
	FlagEdited                 FlagCode = "edited"                   // 经修图软件处理
	FlagNoCaptureInfo          FlagCode = "no_capture_info"          // 无拍摄信息
	FlagBadMetadata            FlagCode = "bad_metadata"             // 拍摄信息损坏或不可信
	FlagNearDuplicate          FlagCode = "near_duplicate"           // 与其他佐证材料相似
	FlagUnchecked              FlagCode = "unchecked"                // 图片无法解码或过大，未作比对
)

// Flag is one finding about an evidence item: a reason for the inspector to
// look closer, never a refusal of the upload.
type Flag struct {
	Code FlagCode `json:"code"`
	// Text explains the finding in Chinese with its specifics, e.g.
	// 拍摄位置距问题位置约 3.1 公里.
	Text string `json:"text"`
	// Similar is the other evidence item a near duplicate resembles.
	Similar *SimilarEvidence `json:"similar,omitempty"`
}

// SimilarEvidence points a near-duplicate flag at the item it resembles.
type SimilarEvidence struct {
	ProblemID   string `json:"problem_id"`
	ProblemCode string `json:"problem_code"`
	SHA256      string `json:"sha256"`
	Round       int    `json:"round"`    // the other item's Evidence.Round
	Distance    int    `json:"distance"` // Hamming distance of the perceptual hashes
}
