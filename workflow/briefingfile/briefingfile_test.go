package briefingfile_test

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/briefingfile"
)

func sample() *workflow.Briefing {
	rate := 0.5
	to := time.Date(2026, 11, 30, 15, 59, 59, 999999999, time.UTC)
	row := func(key, label string, total, overdue int) workflow.BriefingRank {
		return workflow.BriefingRank{StatsRow: workflow.StatsRow{Key: key, Label: label, Total: total, Open: total - 1, Overdue: overdue,
			ClosedRectified: 1, CompletionRate: &rate}, OverdueRank: 1, CompletionRank: 1}
	}
	return &workflow.Briefing{
		Period: workflow.PeriodWeek, Title: "生态环境问题整改工作周通报（2026年11月24日至2026年11月30日）",
		From: to.AddDate(0, 0, -7).Add(time.Nanosecond), To: to, MadeAt: to.Add(-time.Hour), AuditHead: "42:" + strings.Repeat("ab", 32),
		Head:     workflow.ChainHead{Seq: 42, Hash: strings.Repeat("ab", 32), At: to.Add(-2 * time.Hour)},
		End:      workflow.StatsRow{Total: 10, Open: 6, Overdue: 3, ClosedRectified: 4, CompletionRate: &rate},
		Changes:  workflow.BriefingChange{New: 2, Closed: 1, Overdue: -1},
		Counties: []workflow.BriefingRank{row("fuliang", "浮梁县", 6, 2), row("leping", "乐平市", 4, 1)},
		Flagged: []workflow.FlaggedItem{{ID: "7", Code: "JDZ-2026-0007", Title: "河道<采砂>&堆放", County: "浮梁县", LeadUnit: "浮梁县",
			Level: workflow.LevelRed, Deadline: to.AddDate(0, -2, 0), DaysOverdue: 45}},
		LateReports: []workflow.LateReport{{Round: "1", Title: "十一月调度", Due: to, Item: "河道采砂", Unit: "浮梁县", Status: workflow.ReportMissing}},
		Trend:       []workflow.TrendPoint{{At: to.AddDate(0, 0, -7), Open: 5, Overdue: 4}, {At: to, Open: 6, Overdue: 3}},
	}
}

// TestDOCXParsesBack reads the document back: a zip whose document part is
// well-formed XML holding the title, every part's heading, the escaped
// problem title, the audit head, and two PNG charts that decode.
func TestDOCXParsesBack(t *testing.T) {
	var buf bytes.Buffer
	if err := briefingfile.WriteDOCX(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	images := 0
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case f.Name == "word/document.xml":
			doc = string(data)
		case strings.HasPrefix(f.Name, "word/media/"):
			if _, err := png.Decode(bytes.NewReader(data)); err != nil {
				t.Errorf("%s: %v", f.Name, err)
			}
			images++
		}
	}
	if images != 2 {
		t.Errorf("%d images, want 2", images)
	}
	var text strings.Builder
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("document.xml: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
		}
	}
	// The head printed is one rectify audit verify --expect-heads finds.
	heads, err := workflow.ParseHeadList(strings.NewReader(text.String()))
	if err != nil || len(heads) != 1 || heads[0].Seq != 42 || heads[0].Hash != strings.Repeat("ab", 32) {
		t.Errorf("heads in the document: %v, %v", heads, err)
	}
	for _, want := range []string{briefingfile.Office, "生态环境问题整改工作周通报", "一、总体情况", "二、逐周走势", "三、县（市、区）排名",
		"四、牵头单位排名", "五、红牌和挂牌督办问题", "六、调度逾期报送", "七、督办函未回复", "河道<采砂>&堆放", "逾期未报送",
		"审计链头 42:" + strings.Repeat("ab", 32), "台账共有问题10个", "自上而下依次为浮梁县、乐平市", "台账尚未记录督办函。"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("document lacks %q", want)
		}
	}
}

func TestChartsDrawTheirFigures(t *testing.T) {
	data, err := briefingfile.TrendPNG(sample().Trend)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	blue, red := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			switch {
			case r>>8 == 0x2b && g>>8 == 0x6c && bl>>8 == 0xb0:
				blue++
			case r>>8 == 0xc5 && g>>8 == 0x30 && bl>>8 == 0x30:
				red++
			}
		}
	}
	if blue < 1000 || red < 1000 {
		t.Errorf("trend: %d blue and %d red pixels", blue, red)
	}
	// Bars are as long as their values: the second half the first.
	data, err = briefingfile.RankPNG([]float64{4, 2}, []string{"4", "2"}, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	img, _ = png.Decode(bytes.NewReader(data))
	length := func(y int) int {
		n := 0
		for x := 0; x < img.Bounds().Max.X; x++ {
			if r, _, _, _ := img.At(x, y).RGBA(); r>>8 == 0xc5 {
				n++
			}
		}
		return n
	}
	if a, b := length(18+18), length(18+36+18+18); a == 0 || b*2 < a-4 || b*2 > a+4 {
		t.Errorf("bars %d and %d pixels long", a, b)
	}
}
