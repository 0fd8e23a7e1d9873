// Package letterfile lays out a supervision letter (督办函, 提醒函, 约谈通知)
// as an official document in the essentials of GB/T 9704-2012: the issuing
// office's mark in red over a red line, the document number, the title, the
// addressee, a body listing each problem (code, title, deadline, days
// overdue), the demands, the reply deadline, the issuing office and date,
// and the audit head the letter was printed at. Compose gives the text once;
// Docx writes it as an editable Word document, and the web page prints the
// same text.
package letterfile

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/internal/docx"
)

// Letter is a letter's text, composed once for the document and the page.
type Letter struct {
	Office    string // 发文机关
	DocNo     string // 发文字号 (草稿: no number yet)
	Draft     bool
	Title     string
	Addressee string // 主送机关, with its colon
	Opening   string
	Rows      []Row
	Demands   []string // paragraphs
	ReplyLine string
	Date      string // 成文日期, 2026年12月3日
	Head      string // the audit head, SEQ:HASH
	State     string // the letter's state, in Chinese
	Reply     *workflow.Reply
}

// Row is one problem the letter names.
type Row struct {
	Seq         int
	Code        string
	Title       string
	Deadline    string
	DaysOverdue int
}

// Column names of the problem table.
var Columns = []string{"序号", workflow.LabelCode, workflow.LabelTitle, workflow.LabelDeadline, workflow.LabelDaysOverdue}

// Headings of the body.
const (
	HeadingProblems = "一、问题清单"
	HeadingDemands  = "二、督办要求"
	HeadingReply    = "三、回复要求"
)

// Compose returns the text of d's letter.
func Compose(d *workflow.LetterDoc) *Letter {
	l := d.Letter
	out := &Letter{Office: d.Office, DocNo: l.DocNo, Addressee: d.Unit + "：", Head: d.Head.String(), State: l.State.Label(), Reply: l.Reply}
	if l.DocNo == "" {
		out.Draft, out.DocNo = true, "（草稿，签发时编号）"
	}
	subject := fmt.Sprintf("%d个生态环境问题", len(d.Problems))
	if len(d.Problems) == 1 {
		subject = "“" + d.Problems[0].Title + "”问题"
	}
	switch l.Kind {
	case workflow.KindReminder:
		out.Title = "关于提醒加快整改" + subject + "的提醒函"
	case workflow.KindInterview:
		out.Title = "关于就" + subject + "整改进行约谈的通知"
	default:
		out.Title = "关于督促整改" + subject + "的督办函"
	}
	overdue := 0
	for i, p := range d.Problems {
		r := Row{Seq: i + 1, Code: p.Code, Title: p.Title, Deadline: "未定"}
		r.DaysOverdue, _, _ = p.DaysOverdue(d.Now)
		if p.Deadline != nil {
			r.Deadline = DateCN(*p.Deadline)
		}
		if r.DaysOverdue > 0 {
			overdue++
		}
		out.Rows = append(out.Rows, r)
	}
	out.Opening = fmt.Sprintf("经查，你单位负责整改的%d个生态环境问题", len(d.Problems))
	if overdue > 0 {
		out.Opening += fmt.Sprintf("中，%d个已超过整改时限仍未完成整改", overdue)
	} else {
		out.Opening += "整改进展滞后"
	}
	out.Opening += "。根据长江经济带生态环境问题整改工作要求，现将有关事项函告如下。"
	for _, para := range strings.Split(l.Demands, "\n") {
		if para = strings.TrimSpace(para); para != "" {
			out.Demands = append(out.Demands, para)
		}
	}
	if l.ReplyDue != nil {
		out.ReplyLine = "请于" + DateTimeCN(*l.ReplyDue) + "前将整改落实情况书面回复" + d.Office + "，并附相关佐证材料。"
	}
	at := d.Now
	if l.IssuedAt != nil {
		at = *l.IssuedAt
	}
	out.Date = DateCN(at)
	return out
}

// DateCN is t's date in Asia/Shanghai as documents write it: 2026年12月3日.
func DateCN(t time.Time) string {
	s := t.In(workflow.Shanghai)
	return strconv.Itoa(s.Year()) + "年" + strconv.Itoa(int(s.Month())) + "月" + strconv.Itoa(s.Day()) + "日"
}

// DateTimeCN is DateCN with the time of day unless it is the end of the day
// (23:59:59, a date's due time).
func DateTimeCN(t time.Time) string {
	s := t.In(workflow.Shanghai)
	if s.Hour() == 23 && s.Minute() == 59 || s.Hour() == 0 && s.Minute() == 0 {
		return DateCN(t)
	}
	return DateCN(t) + s.Format("15:04")
}

// Red is the red of the issuing office's mark and line.
const Red = "FF0000"

// Docx writes the letter as a .docx document to w.
func Docx(w io.Writer, l *Letter) error {
	d := docx.New()
	d.Title, d.Creator, d.PageNumbers = l.Title, l.Office, true
	body := func(text string, indent int) docx.Paragraph {
		return docx.Paragraph{Runs: []docx.Run{{Text: text, Font: docx.FontBody, Size: docx.SizeNo3}}, FirstLineChars: indent}
	}
	// The issuing office's mark, red, over a red line; the number under it
	// on the right (the letter form of GB/T 9704).
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: l.Office, Font: docx.FontTitle, Size: markSize(l.Office), Color: Red}},
		Align: docx.AlignCenter, LineTwips: 900, Bottom: &docx.Border{Color: Red, Size: 18}})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: l.DocNo, Font: docx.FontBody, Size: docx.SizeNo3}}, Align: docx.AlignRight, SpaceBefore: 120})
	d.Add(docx.Paragraph{})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: l.Title, Font: docx.FontTitle, Size: docx.SizeNo2}}, Align: docx.AlignCenter, LineTwips: 700})
	d.Add(docx.Paragraph{})
	d.Add(body(l.Addressee, 0))
	d.Add(body(l.Opening, 2))
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: HeadingProblems, Font: docx.FontHeading, Size: docx.SizeNo3}}, FirstLineChars: 2, KeepNext: true})
	tw := d.Page.TextWidth()
	widths := []int{tw * 8 / 100, tw * 22 / 100, tw * 38 / 100, tw * 18 / 100, 0}
	widths[4] = tw - widths[0] - widths[1] - widths[2] - widths[3]
	t := docx.Table{Widths: widths, HeaderRows: 1}
	var head []docx.Cell
	for _, c := range Columns {
		head = append(head, docx.TextCell(c, docx.FontHeading, docx.SizeSmallNo4, docx.AlignCenter))
	}
	t.Rows = append(t.Rows, head)
	for _, r := range l.Rows {
		days := "未逾期"
		if r.DaysOverdue > 0 {
			days = strconv.Itoa(r.DaysOverdue) + "天"
		}
		t.Rows = append(t.Rows, []docx.Cell{
			docx.TextCell(strconv.Itoa(r.Seq), docx.FontBody, docx.SizeSmallNo4, docx.AlignCenter),
			docx.TextCell(r.Code, docx.FontBody, docx.SizeSmallNo4, docx.AlignCenter),
			docx.TextCell(r.Title, docx.FontBody, docx.SizeSmallNo4, docx.AlignLeft),
			docx.TextCell(r.Deadline, docx.FontBody, docx.SizeSmallNo4, docx.AlignCenter),
			docx.TextCell(days, docx.FontBody, docx.SizeSmallNo4, docx.AlignCenter),
		})
	}
	d.AddTable(t)
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: HeadingDemands, Font: docx.FontHeading, Size: docx.SizeNo3}}, FirstLineChars: 2, KeepNext: true})
	for _, p := range l.Demands {
		d.Add(body(p, 2))
	}
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: HeadingReply, Font: docx.FontHeading, Size: docx.SizeNo3}}, FirstLineChars: 2, KeepNext: true})
	d.Add(body(l.ReplyLine, 2))
	d.Add(docx.Paragraph{}, docx.Paragraph{})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: l.Office, Font: docx.FontBody, Size: docx.SizeNo3}}, Align: docx.AlignRight, RightChars: 2})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: l.Date, Font: docx.FontBody, Size: docx.SizeNo3}}, Align: docx.AlignRight, RightChars: 4})
	d.Add(docx.Paragraph{})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: "账本审计链头：" + l.Head, Font: docx.FontBody, Size: docx.SizeNo5}}, Align: docx.AlignLeft,
		LineTwips: -1, SpaceBefore: 240})
	return d.Write(w)
}

// markSize fits the issuing office's mark on one line: at most 二号 (22 pt).
func markSize(office string) int {
	n := len([]rune(office))
	if n == 0 {
		return docx.SizeNo2
	}
	textPt := 156 * 72 / 25.4
	size := int(textPt/float64(n+1)) * 2
	return max(min(size, docx.SizeNo2), docx.SizeSmallNo4)
}
