package briefingfile

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow"
)

// ContentTypeXLSX is the media type of WriteXLSX's workbook.
const ContentTypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// WriteXLSX writes b as a workbook: one sheet per table of Tables, each
// headed by the briefing's title, period and Head line; whole numbers as
// numbers; the weekly trend with a line chart.
func WriteXLSX(w io.Writer, b *workflow.Briefing) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	for i, t := range Tables(b) {
		name := t.Title
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return err
		}
		if err := writeTable(f, st, name, b, t); err != nil {
			return err
		}
		if t.Title == TitleTrend && len(t.Rows) > 0 {
			if err := trendChart(f, name, len(t.Rows)); err != nil {
				return err
			}
		}
	}
	f.SetActiveSheet(0)
	_, err = f.WriteTo(w)
	return err
}

// headRows are the rows above each table: title, period and Head.
const headRows = 3

func writeTable(f *excelize.File, st *styles, sheet string, b *workflow.Briefing, t Table) error {
	last, _ := excelize.ColumnNumberToName(max(len(t.Columns), 1))
	for i, line := range []string{b.Title + "·" + t.Title, "通报期间：" + Period(b), Head(b)} {
		cell := "A" + strconv.Itoa(i+1)
		if err := f.SetCellStr(sheet, cell, line); err != nil {
			return err
		}
		if err := f.MergeCell(sheet, cell, last+strconv.Itoa(i+1)); err != nil {
			return err
		}
		style := st.note
		if i == 0 {
			style = st.title
		}
		if err := f.SetCellStyle(sheet, cell, cell, style); err != nil {
			return err
		}
	}
	row := headRows + 1
	for j, c := range t.Columns {
		cell, _ := excelize.CoordinatesToCellName(j+1, row)
		if err := f.SetCellStr(sheet, cell, c); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, cell, cell, st.header); err != nil {
			return err
		}
		width := 12.0
		if strings.Contains(c, "名称") || c == "单位" || c == "报送事项" || c == workflow.LabelRound || c == "函件" {
			width = 30
		}
		col, _ := excelize.ColumnNumberToName(j + 1)
		if err := f.SetColWidth(sheet, col, col, width); err != nil {
			return err
		}
	}
	for i, r := range t.Rows {
		for j, v := range r {
			cell, _ := excelize.CoordinatesToCellName(j+1, row+1+i)
			var err error
			if n, nerr := strconv.Atoi(v); nerr == nil && !strings.HasPrefix(v, "+") {
				err = f.SetCellInt(sheet, cell, int64(n))
			} else {
				err = f.SetCellStr(sheet, cell, v)
			}
			if err != nil {
				return err
			}
			if err := f.SetCellStyle(sheet, cell, cell, st.text); err != nil {
				return err
			}
		}
	}
	note := t.Note
	if len(t.Rows) == 0 && note == "" {
		note = "无。"
	}
	if note != "" {
		cell := "A" + strconv.Itoa(row+len(t.Rows)+1)
		if err := f.SetCellStr(sheet, cell, note); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, cell, cell, st.note); err != nil {
			return err
		}
	}
	return f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: row, TopLeftCell: "A" + strconv.Itoa(row+1), ActivePane: "bottomLeft"})
}

// trendChart draws the trend sheet's n weeks as lines of open and overdue.
func trendChart(f *excelize.File, sheet string, n int) error {
	first, last := headRows+2, headRows+1+n
	series := func(col string) excelize.ChartSeries {
		return excelize.ChartSeries{
			Name:       fmt.Sprintf("'%s'!$%s$%d", sheet, col, headRows+1),
			Categories: fmt.Sprintf("'%s'!$A$%d:$A$%d", sheet, first, last),
			Values:     fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sheet, col, first, col, last),
		}
	}
	return f.AddChart(sheet, "E5", &excelize.Chart{
		Type:      excelize.Line,
		Series:    []excelize.ChartSeries{series("B"), series("C")},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "未办结和逾期问题逐周走势"}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 720, Height: 360},
	})
}

type styles struct{ title, note, header, text int }

func newStyles(f *excelize.File) (*styles, error) {
	border := []excelize.Border{
		{Type: "left", Color: "BFBFBF", Style: 1}, {Type: "right", Color: "BFBFBF", Style: 1},
		{Type: "top", Color: "BFBFBF", Style: 1}, {Type: "bottom", Color: "BFBFBF", Style: 1},
	}
	var s styles
	for _, d := range []struct {
		id    *int
		style excelize.Style
	}{
		{&s.title, excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}, Alignment: &excelize.Alignment{Horizontal: "center"}}},
		{&s.note, excelize.Style{Alignment: &excelize.Alignment{WrapText: false}}},
		{&s.header, excelize.Style{Border: border, Font: &excelize.Font{Bold: true},
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
			Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}}},
		{&s.text, excelize.Style{Border: border, Alignment: &excelize.Alignment{Vertical: "top", WrapText: true}}},
	} {
		id, err := f.NewStyle(&d.style)
		if err != nil {
			return nil, err
		}
		*d.id = id
	}
	return &s, nil
}
