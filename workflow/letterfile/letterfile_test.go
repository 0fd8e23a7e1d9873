package letterfile_test

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/letterfile"
)

// documentText unzips a .docx and returns document.xml and the text of its
// w:t elements joined by "|".
func documentText(t *testing.T, data []byte) (string, string) {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	for _, f := range z.File {
		if f.Name != "word/document.xml" {
			continue
		}
		r, _ := f.Open()
		raw, _ := io.ReadAll(r)
		r.Close()
		var texts []string
		dec := xml.NewDecoder(bytes.NewReader(raw))
		in := false
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("document.xml is not well-formed: %v", err)
			}
			switch v := tok.(type) {
			case xml.StartElement:
				in = v.Name.Local == "t"
			case xml.CharData:
				if in {
					texts = append(texts, string(v))
				}
			case xml.EndElement:
				in = false
			}
		}
		return string(raw), strings.Join(texts, "|")
	}
	t.Fatal("no word/document.xml")
	return "", ""
}

func doc() *workflow.LetterDoc {
	at := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)
	due := time.Date(2026, 12, 13, 15, 59, 59, 0, time.UTC)
	dl1 := time.Date(2026, 10, 31, 15, 59, 59, 0, time.UTC)
	return &workflow.LetterDoc{
		Letter: &workflow.Letter{ID: "7", State: workflow.LetterIssued, Kind: workflow.KindSupervision, ToUnit: "fuliang",
			ProblemIDs: []string{"1", "2"}, Demands: "一是立即整改；\n二是举一反三 <全面排查> & 建立台账。", ReplyDue: &due,
			Year: 2026, Number: 7, DocNo: "景长江办督〔2026〕7号", IssuedAt: &at},
		Problems: []*workflow.Problem{
			{ID: "1", Code: "JDZ-2026-0001", Title: "污水直排 A&B <排口>", Deadline: &dl1, State: workflow.StateRectifying},
			{ID: "2", Code: "JDZ-2026-0002", Title: "垃圾堆放", State: workflow.StateAssigned},
		},
		Unit: "浮梁县人民政府", Office: workflow.DefaultLetterOffice,
		Head: workflow.ChainHead{Seq: 42, Hash: strings.Repeat("ab", 32)}, Now: at,
	}
}

// TestDocx: the letter parsed back holds its number, addressee, every
// problem's code and title (escaped), days overdue, demands, reply deadline,
// issuing office, date and audit head, in the fonts documents use.
func TestDocx(t *testing.T) {
	var b bytes.Buffer
	if err := letterfile.Docx(&b, letterfile.Compose(doc())); err != nil {
		t.Fatal(err)
	}
	raw, text := documentText(t, b.Bytes())
	for _, want := range []string{
		workflow.DefaultLetterOffice, "景长江办督〔2026〕7号", "浮梁县人民政府：", "关于督促整改2个生态环境问题的督办函",
		"JDZ-2026-0001", "JDZ-2026-0002", "污水直排 A&B <排口>", "2026年10月31日", "33天", "未逾期",
		"一是立即整改；", "二是举一反三 <全面排查> & 建立台账。", "请于2026年12月13日前将整改落实情况书面回复",
		"2026年12月3日", "账本审计链头：42:" + strings.Repeat("ab", 32),
		"一、问题清单", "二、督办要求", "三、回复要求",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the document lacks %q; text: %s", want, text)
		}
	}
	for _, want := range []string{`w:eastAsia="方正小标宋简体"`, `w:eastAsia="仿宋_GB2312"`, `w:eastAsia="黑体"`, `<w:color w:val="FF0000"/>`,
		`<w:pgSz w:w="11906" w:h="16838"/>`, `A&amp;B &lt;排口&gt;`} {
		if !strings.Contains(raw, want) {
			t.Errorf("document.xml lacks %s", want)
		}
	}
}

func TestComposeDraftAndKinds(t *testing.T) {
	d := doc()
	d.Letter.DocNo, d.Letter.Number, d.Letter.State, d.Letter.IssuedAt = "", 0, workflow.LetterDraft, nil
	d.Letter.Kind = workflow.KindInterview
	d.Problems = d.Problems[:1]
	l := letterfile.Compose(d)
	if !l.Draft || !strings.Contains(l.DocNo, "草稿") || l.Title != "关于就“污水直排 A&B <排口>”问题整改进行约谈的通知" {
		t.Errorf("a draft interview notice: %+v", l)
	}
}
