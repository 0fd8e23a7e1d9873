package photocheck

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Defaults of a Site's tolerances.
const (
	// DefaultMaxDistance is how far from the problem's location, in metres,
	// a photo may be taken before it is flagged.
	DefaultMaxDistance = 1000.0
	// DefaultClockSlack is how much later than its upload a photo's capture
	// time may be before it is flagged: camera clocks drift, and a phone
	// set to another time zone without an offset tag reads hours off.
	DefaultClockSlack = 10 * time.Minute
)

// Site is what a photo is checked against: the problem's context and the
// upload. Zero fields skip their check.
type Site struct {
	Assigned    time.Time        // when the problem was assigned (交办)
	Uploaded    time.Time        // when the file was uploaded
	Location    *workflow.LatLng // the problem's location (WGS-84)
	MaxDistance float64          // metres; 0 is DefaultMaxDistance
	ClockSlack  time.Duration    // 0 is DefaultClockSlack
}

// Flags returns the flags of a photo's facts checked against s, in a fixed
// order: what its decoding found, then its capture time, position, software
// and missing or bad metadata. A file that is no JPEG, PNG or WebP gets none:
// these checks do not cover it. Near duplicates come from NearFlags.
func Flags(f Facts, s Site) []workflow.Flag {
	if errors.Is(f.Err, ErrUnsupported) {
		return nil
	}
	var out []workflow.Flag
	if f.Err != nil {
		out = append(out, uncheckedFlag(f))
	}
	return append(out, MetadataFlags(f.Metadata, s)...)
}

// uncheckedFlag explains why a photo could not be compared with others.
func uncheckedFlag(f Facts) workflow.Flag {
	text := "图片已损坏或格式异常，无法解码，未能与其他照片比对"
	switch {
	case errors.Is(f.Err, ErrTooLarge):
		text = fmt.Sprintf("图片过大（%d×%d 像素），超出检查上限，未能与其他照片比对", f.Width, f.Height)
	case errors.Is(f.Err, ErrTimeout):
		text = "图片解码超时，未能与其他照片比对"
	}
	return workflow.Flag{Code: workflow.FlagUnchecked, Text: text}
}

// MetadataFlags returns the flags of what a photo says about itself,
// checked against s.
func MetadataFlags(m Metadata, s Site) []workflow.Flag {
	var out []workflow.Flag
	add := func(code workflow.FlagCode, format string, args ...any) {
		out = append(out, workflow.Flag{Code: code, Text: fmt.Sprintf(format, args...)})
	}
	if !m.Captured.IsZero() {
		zone := ""
		if !m.CapturedOffset {
			zone = "（照片未记录时区，按北京时间计）"
		}
		slack := s.ClockSlack
		if slack <= 0 {
			slack = DefaultClockSlack
		}
		switch {
		case !s.Assigned.IsZero() && m.Captured.Before(s.Assigned):
			c, a := showTimes(m.Captured, s.Assigned)
			add(workflow.FlagCapturedBeforeAssigned, "拍摄时间 %s 早于交办时间 %s%s", c, a, zone)
		case !s.Uploaded.IsZero() && m.Captured.After(s.Uploaded.Add(slack)):
			c, u := showTimes(m.Captured, s.Uploaded)
			add(workflow.FlagCapturedAfterUpload, "拍摄时间 %s 晚于上传时间 %s%s", c, u, zone)
		}
	}
	if m.Position != nil && s.Location != nil {
		limit := s.MaxDistance
		if limit <= 0 {
			limit = DefaultMaxDistance
		}
		if d := workflow.Distance(*m.Position, *s.Location); d > limit {
			add(workflow.FlagFarFromSite, "拍摄位置距问题位置约 %s（允许 %s）", showDistance(d), showLimit(limit))
		}
	}
	if name := EditingProgram(m.Software); name != "" {
		add(workflow.FlagEdited, "经 %s 处理", m.Software)
	}
	if !m.HasCapture() {
		add(workflow.FlagNoCaptureInfo, "无拍摄信息：照片不含拍摄时间、设备和位置（截图、转存或编辑后常见）")
	}
	if len(m.Bad) > 0 {
		add(workflow.FlagBadMetadata, "拍摄信息异常：%s", strings.Join(m.Bad, "；"))
	}
	return out
}

// showTimes formats a and b in Asia/Shanghai: dates if they differ in the
// day, else dates with hours and minutes.
func showTimes(a, b time.Time) (string, string) {
	a, b = a.In(workflow.Shanghai), b.In(workflow.Shanghai)
	layout := "2006-01-02"
	if a.Format(layout) == b.Format(layout) {
		layout = "2006-01-02 15:04"
	}
	return a.Format(layout), b.Format(layout)
}

// showDistance formats a distance in metres: 米 rounded to 10 under 2 km
// (so that 1,020 m is not shown as the 1.0 km it exceeds), else 公里 with
// one decimal.
func showDistance(m float64) string {
	if m < 2000 {
		return fmt.Sprintf("%d 米", int(math.Round(m/10)*10))
	}
	return fmt.Sprintf("%.1f 公里", m/1000)
}

// showLimit formats a distance limit: 米 under 1 km, else 公里 as short as
// it goes (1 公里, 1.5 公里).
func showLimit(m float64) string {
	if m < 1000 {
		return fmt.Sprintf("%d 米", int(math.Round(m)))
	}
	return strconv.FormatFloat(m/1000, 'f', -1, 64) + " 公里"
}

// editors are programs that alter pictures, as they write themselves into
// the Software tag (lowercase substrings). Camera firmware and phone
// operating systems (e.g. "iOS 17.2", "MediaTek Camera Application",
// "HDR+ 1.0") are not among them.
var editors = []string{
	"photoshop", "lightroom", "gimp", "snapseed", "meitu", "美图", "picsart", "pixelmator",
	"affinity photo", "paint.net", "photoscape", "醒图", "xingtu", "canva", "luminar",
	"capture one", "acdsee", "fotor", "photodirector", "polarr", "泼辣修图", "光影魔术手",
	"neo imaging", "facetune", "picasa", "darktable", "rawtherapee", "vsco",
}

// EditingProgram returns the editor named in a Software tag, "" if it
// names none.
func EditingProgram(software string) string {
	s := strings.ToLower(software)
	for _, e := range editors {
		if strings.Contains(s, e) {
			return e
		}
	}
	return ""
}

// Match is a stored photo near a new one, as an index lookup found it.
type Match struct {
	ProblemID   string
	ProblemCode string
	SHA256      string
	Round       int // the stored item's Evidence.Round
	Distance    int
}

// NearFlags returns one near-duplicate flag per match, nearest first as
// given. problemID is the problem the new photo is for: a match in that
// problem is named by its round.
func NearFlags(problemID string, matches []Match) []workflow.Flag {
	out := make([]workflow.Flag, 0, len(matches))
	for _, m := range matches {
		text := fmt.Sprintf("与问题 %s 的佐证材料相似（汉明距离 %d）", m.ProblemCode, m.Distance)
		if m.ProblemID == problemID {
			text = fmt.Sprintf("与本问题第 %d 次提交的佐证材料相似（汉明距离 %d）", m.Round+1, m.Distance)
		}
		out = append(out, workflow.Flag{Code: workflow.FlagNearDuplicate, Text: text, Similar: &workflow.SimilarEvidence{
			ProblemID: m.ProblemID, ProblemCode: m.ProblemCode, SHA256: m.SHA256, Round: m.Round, Distance: m.Distance,
		}})
	}
	return out
}
