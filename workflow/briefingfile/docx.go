package briefingfile

import (
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/internal/docx"
)

// ContentTypeDOCX is the media type of WriteDOCX's document.
const ContentTypeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

// Office is the issuing office printed at the head and foot of a briefing.
const Office = "景德镇市推动长江经济带发展领导小组办公室"

// red is the colour of the office mark and its line (GB/T 9704).
const red = "C00000"

// numbered are the headings' Chinese ordinals.
var numbered = []string{"一", "二", "三", "四", "五", "六", "七", "八", "九"}

// WriteDOCX writes b as an official document (GB/T 9704 layout, through
// workflow/internal/docx): the office mark in red over a red line, the
// title, a paragraph of the main figures, each part of Tables under a
// numbered heading (the trend and the counties' overdue counts also as PNG
// charts), the office and date, and the Head line.
func WriteDOCX(w io.Writer, b *workflow.Briefing) error {
	d := docx.New()
	d.PageNumbers = true
	d.Title, d.Creator, d.Created = b.Title, Office, b.MadeAt
	body := func(text string) docx.Paragraph {
		return docx.Paragraph{Runs: []docx.Run{{Text: text, Font: docx.FontBody, Size: docx.SizeNo3}}, FirstLineChars: 2}
	}
	heading := func(i int, text string) docx.Paragraph {
		return docx.Paragraph{Runs: []docx.Run{{Text: numbered[i] + "、" + text, Font: docx.FontHeading, Size: docx.SizeNo3}},
			FirstLineChars: 2, KeepNext: true, SpaceBefore: 120}
	}
	caption := func(text string) docx.Paragraph {
		return docx.Paragraph{Runs: []docx.Run{{Text: text, Font: docx.FontKai, Size: docx.SizeSmallNo4}}, Align: docx.AlignCenter}
	}
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: Office, Font: docx.FontTitle, Size: markSize(Office), Color: red}},
		Align: docx.AlignCenter, LineTwips: 900, Bottom: &docx.Border{Color: red, Size: 18}})
	d.Add(docx.Paragraph{})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: b.Title, Font: docx.FontTitle, Size: docx.SizeNo2}}, Align: docx.AlignCenter, LineTwips: 700})
	d.Add(docx.Paragraph{})
	d.Add(body(Summary(b)))

	tables := Tables(b)
	part := 0
	section := func(t Table) {
		d.Add(heading(part, t.Title))
		part++
		if len(t.Rows) > 0 {
			d.AddTable(docTable(t, d.Page.TextWidth()))
		} else if t.Note == "" {
			d.Add(body("无。"))
		}
		if t.Note != "" {
			d.Add(docx.Paragraph{Runs: []docx.Run{{Text: t.Note, Font: docx.FontKai, Size: docx.SizeSmallNo4}}, FirstLineChars: 2})
		}
	}
	section(tables[0])
	// The trend, as a chart and its table.
	d.Add(heading(part, TitleTrend))
	part++
	trend, err := TrendPNG(b.Trend)
	if err != nil {
		return err
	}
	if err := d.AddImage(docx.Image{PNG: trend, WidthMM: 150, HeightMM: 70, Description: "未办结和逾期问题逐周走势", Align: docx.AlignCenter}); err != nil {
		return err
	}
	d.Add(caption(TrendCaption(b)))
	// The counties: the overdue chart above the ranking.
	var values []float64
	var texts, labels []string
	for _, r := range b.Counties {
		values, texts, labels = append(values, float64(r.Overdue)), append(texts, strconv.Itoa(r.Overdue)), append(labels, r.Label)
	}
	if len(values) > 0 {
		img, err := RankPNG(values, texts, 0, false)
		if err != nil {
			return err
		}
		d.Add(heading(part, TitleCounties))
		part++
		if err := d.AddImage(docx.Image{PNG: img, WidthMM: 150, Description: "逾期问题数（按县市区）", Align: docx.AlignCenter}); err != nil {
			return err
		}
		d.Add(caption(RankCaption("逾期问题数", labels)))
		t := tables[1]
		d.AddTable(docTable(t, d.Page.TextWidth()))
		d.Add(docx.Paragraph{Runs: []docx.Run{{Text: t.Note, Font: docx.FontKai, Size: docx.SizeSmallNo4}}, FirstLineChars: 2})
	} else {
		section(tables[1])
	}
	for _, t := range tables[2:6] {
		section(t)
	}
	d.Add(docx.Paragraph{}, docx.Paragraph{})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: Office, Font: docx.FontBody, Size: docx.SizeNo3}}, Align: docx.AlignRight, RightChars: 2})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: Date(b.MadeAt), Font: docx.FontBody, Size: docx.SizeNo3}}, Align: docx.AlignRight, RightChars: 4})
	d.Add(docx.Paragraph{})
	d.Add(docx.Paragraph{Runs: []docx.Run{{Text: Head(b), Font: docx.FontBody, Size: docx.SizeNo5}}, Align: docx.AlignLeft})
	return d.Write(w)
}

// Summary is the briefing's opening paragraph: the main figures in words.
func Summary(b *workflow.Briefing) string {
	itoa := strconv.Itoa
	e, c := b.End, b.Changes
	return "截至" + Date(b.To) + "，台账共有问题" + itoa(e.Total) + "个，其中未办结" + itoa(e.Open) + "个（逾期" + itoa(e.Overdue) +
		"个，红牌和挂牌督办" + itoa(len(b.Flagged)+b.FlaggedMore) + "个），已销号" + itoa(e.ClosedRectified) + "个，撤销" + itoa(e.Dismissed) +
		"个，整改完成率" + Percent(e.CompletionRate) + "。" + Period(b) + "，新增问题" + itoa(c.New) + "个，销号" + Signed(c.Closed) +
		"个，撤销" + Signed(c.Dismissed) + "个，逾期问题" + Signed(c.Overdue) + "个；调度逾期报送和未报送" + itoa(len(b.LateReports)) + "项。"
}

// TrendCaption says what the trend chart shows and over which weeks.
func TrendCaption(b *workflow.Briefing) string {
	if len(b.Trend) == 0 {
		return "图：未办结和逾期问题逐周走势（暂无问题）"
	}
	return "图：未办结（蓝）和逾期（红）问题逐周走势，" + Date(b.Trend[0].At) + "至" + Date(b.Trend[len(b.Trend)-1].At) + "，每周末一点"
}

// RankCaption names a bar chart's bars from the top.
func RankCaption(what string, labels []string) string {
	s := "图：" + what + "，自上而下依次为"
	for i, l := range labels {
		if i > 0 {
			s += "、"
		}
		s += l
	}
	return s
}

// docTable lays t out across width twips, columns weighted by their
// longest text, in 五号.
func docTable(t Table, width int) docx.Table {
	weights := make([]int, len(t.Columns))
	for j, c := range t.Columns {
		weights[j] = max(utf8.RuneCountInString(c), 2)
		for _, r := range t.Rows {
			weights[j] = max(weights[j], min(utf8.RuneCountInString(r[j]), 24))
		}
	}
	sum := 0
	for _, w := range weights {
		sum += w
	}
	out := docx.Table{HeaderRows: 1}
	for _, w := range weights {
		out.Widths = append(out.Widths, width*w/sum)
	}
	var head []docx.Cell
	for _, c := range t.Columns {
		cell := docx.TextCell(c, docx.FontHeading, docx.SizeNo5, docx.AlignCenter)
		head = append(head, cell)
	}
	out.Rows = append(out.Rows, head)
	for _, r := range t.Rows {
		var row []docx.Cell
		for _, v := range r {
			row = append(row, docx.TextCell(v, docx.FontSong, docx.SizeNo5, docx.AlignCenter))
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

// markSize fits the office mark on one line: 二号 for short names, smaller
// for long ones.
func markSize(s string) int {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return docx.SizeNo2
	}
	size := 2 * 156 * 72 / 25 / n // half-points for n characters across 156 mm
	return max(min(size, docx.SizeNo2), docx.SizeSmallNo4)
}
