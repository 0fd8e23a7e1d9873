// Package briefingfile writes a briefing (通报, workflow.Briefing) as the
// people who read it get it: its tables in Chinese (Tables), an .xlsx
// workbook with one sheet per table (WriteXLSX), and its charts as PNG
// images (TrendPNG, RankPNG) for documents. It reads only the briefing.
package briefingfile

import (
	"strconv"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Table is one part of a briefing as rows of text under a title.
type Table struct {
	Title   string
	Columns []string
	Rows    [][]string
	Note    string // shown under the table (e.g. what a figure means)
	// Problems names the problem (its id) of each row when the rows are
	// problems, for pages to link them.
	Problems []string
}

// Sheet titles, in the order Tables gives them.
const (
	TitleSummary   = "总体情况"
	TitleCounties  = "县（市、区）排名"
	TitleLeadUnits = "牵头单位排名"
	TitleFlagged   = "红牌和挂牌督办问题"
	TitleLate      = "调度逾期报送"
	TitleLetters   = "督办函未回复"
	TitleTrend     = "逐周走势"
)

// Percent renders a rate (0 to 1) as 87.5%, and nil as —.
func Percent(r *float64) string {
	if r == nil {
		return "—"
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + "%"
}

// Date renders t's day in Asia/Shanghai (2026年12月1日).
func Date(t time.Time) string { return t.In(workflow.Shanghai).Format("2006年1月2日") }

// DateTime renders t in Asia/Shanghai to the minute.
func DateTime(t time.Time) string { return t.In(workflow.Shanghai).Format("2006-01-02 15:04") }

// Signed renders a change with its sign (+3, −2, 0).
func Signed(n int) string {
	switch {
	case n > 0:
		return "+" + strconv.Itoa(n)
	case n < 0:
		return "−" + strconv.Itoa(-n)
	}
	return "0"
}

// Head is the line every briefing carries: when it was made and the audit
// chain's head then (workflow.HeadLine), which whoever keeps the briefing
// may later check with rectify audit verify --expect-heads.
func Head(b *workflow.Briefing) string {
	return "制发时间：" + DateTime(b.MadeAt) + "　" + workflow.HeadLine(b.Head)
}

// Period renders the period's dates.
func Period(b *workflow.Briefing) string { return Date(b.From) + "至" + Date(b.To) }

// Tables returns b's parts in order: the summary, the two rankings, the red
// and listed problems, the late reports, the unanswered letters and the
// weekly trend.
func Tables(b *workflow.Briefing) []Table {
	itoa := strconv.Itoa
	e, s, c := b.End, b.Start, b.Changes
	summary := Table{Title: TitleSummary, Columns: []string{"指标", "期初", "期末", "本期变化"},
		Rows: [][]string{
			{"问题总数", itoa(s.Total), itoa(e.Total), "新增 " + itoa(c.New)},
			{"未办结", itoa(s.Open), itoa(e.Open), Signed(e.Open - s.Open)},
			{"已销号", itoa(s.ClosedRectified), itoa(e.ClosedRectified), Signed(c.Closed)},
			{"已撤销", itoa(s.Dismissed), itoa(e.Dismissed), Signed(c.Dismissed)},
			{"逾期未办结", itoa(s.Overdue), itoa(e.Overdue), Signed(c.Overdue)},
			{"整改完成率", Percent(s.CompletionRate), Percent(e.CompletionRate), ""},
			{"按时完成率", Percent(s.OnTimeRate), Percent(e.OnTimeRate), ""},
		},
		Note: "期初为" + DateTime(b.From.Add(-time.Nanosecond)) + "，期末为" + DateTime(b.To) + "台账所载数据；本期变化为期末与期初之差（已销号问题重新打开、逾期问题办结均计入）。",
	}
	rank := func(title string, rows []workflow.BriefingRank) Table {
		t := Table{Title: title, Columns: []string{"逾期排名", "单位", "问题总数", "未办结", "逾期", "本期逾期变化", "已销号", "整改完成率", "完成率排名"},
			Note: "按逾期问题数从多到少排列；整改完成率 = 已销号 ÷（问题总数 − 撤销）。"}
		for _, r := range rows {
			t.Rows = append(t.Rows, []string{itoa(r.OverdueRank), r.Label, itoa(r.Total), itoa(r.Open), itoa(r.Overdue),
				Signed(r.NewOverdue), itoa(r.ClosedRectified), Percent(r.CompletionRate), itoa(r.CompletionRank)})
		}
		return t
	}
	flagged := Table{Title: TitleFlagged, Columns: []string{workflow.LabelSeq, workflow.LabelCode, workflow.LabelTitle,
		workflow.LabelCounty, workflow.LabelLeadUnit, workflow.LabelDeadline, "逾期天数", workflow.LabelLevel}}
	for i, f := range b.Flagged {
		flagged.Rows = append(flagged.Rows, []string{itoa(i + 1), f.Code, f.Title, f.County, f.LeadUnit,
			f.Deadline.In(workflow.Shanghai).Format(time.DateOnly), itoa(f.DaysOverdue), f.Level.Label()})
		flagged.Problems = append(flagged.Problems, f.ID)
	}
	if b.FlaggedMore > 0 {
		flagged.Note = "另有" + itoa(b.FlaggedMore) + "个问题未列出。"
	}
	late := Table{Title: TitleLate, Columns: []string{workflow.LabelSeq, workflow.LabelRound, workflow.LabelDue, "报送事项", "责任单位", "报送情况"}}
	for i, r := range b.LateReports {
		late.Rows = append(late.Rows, []string{itoa(i + 1), r.Title, DateTime(r.Due), r.Item, r.Unit, workflow.ReportStatusLabel(r.Status, true)})
	}
	letters := Table{Title: TitleLetters, Columns: []string{workflow.LabelSeq, "函件", "收函单位", "发函时间", "回复期限"}}
	for i, l := range b.Letters {
		letters.Rows = append(letters.Rows, []string{itoa(i + 1), l.Title, l.Unit, DateTime(l.SentAt), DateTime(l.DueAt)})
	}
	switch {
	case !b.LettersKept:
		letters.Note = "台账尚未记录督办函。"
	case len(b.Letters) == 0:
		letters.Note = "期末无未回复的督办函。"
	}
	trend := Table{Title: TitleTrend, Columns: []string{"周末日期", "未办结", "逾期未办结"}}
	for _, p := range b.Trend {
		trend.Rows = append(trend.Rows, []string{p.At.In(workflow.Shanghai).Format(time.DateOnly), itoa(p.Open), itoa(p.Overdue)})
	}
	return []Table{summary, rank(TitleCounties, b.Counties), rank(TitleLeadUnits, b.LeadUnits), flagged, late, letters, trend}
}
