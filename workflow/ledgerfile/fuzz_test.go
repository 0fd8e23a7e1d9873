package ledgerfile_test

import (
	"archive/zip"
	"bytes"
	"context"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// Fuzz targets for the importers: go test -fuzz FuzzImportCSV (or
// FuzzImportXLSX) ./workflow/ledgerfile. Their seeds, in code and in
// testdata/fuzz, run as ordinary tests.

var fuzzLookup = ledgerfile.Lookup{Unit: ledgerfile.UnitResolver(seeds.Units(), seeds.ResolveUnit), WorkPoints: seeds.WorkPoints()}

// scanTwice reads data twice: an import reads a file up to three times and
// must find the same rows each time.
func scanTwice(t *testing.T, data []byte, kind string) ([]ledgerfile.Row, []ledgerfile.RowError) {
	var runs [2][]ledgerfile.Row
	var errs [2][]ledgerfile.RowError
	for i := range runs {
		errs[i] = ledgerfile.Scan(context.Background(), bytes.NewReader(data), int64(len(data)), kind, fuzzLookup, func(r *ledgerfile.Row) error {
			runs[i] = append(runs[i], *r)
			return nil
		})
	}
	if !reflect.DeepEqual(runs[0], runs[1]) || !reflect.DeepEqual(errs[0], errs[1]) {
		t.Fatalf("two readings differ:\n%v %v\n%v %v", runs[0], errs[0], runs[1], errs[1])
	}
	return runs[0], errs[0]
}

// checkReading checks what any reading must hold: errors name a row and
// give a reason, at most MaxErrors and one more; a file without errors
// gives rows that have what a problem needs, within the bounds.
func checkReading(t *testing.T, rows []ledgerfile.Row, errs []ledgerfile.RowError) {
	if len(errs) > ledgerfile.MaxErrors+1 {
		t.Fatalf("%d errors listed", len(errs))
	}
	for _, e := range errs {
		if e.Row < 1 || e.Reason == "" {
			t.Fatalf("error %+v", e)
		}
	}
	if len(errs) > 0 {
		return
	}
	if len(rows) > ledgerfile.MaxRows {
		t.Fatalf("%d rows", len(rows))
	}
	prev := 0
	for _, r := range rows {
		switch {
		case r.Row <= prev:
			t.Fatalf("row %d after %d", r.Row, prev)
		case r.Description == "" || r.Source == "" || r.CountyID == "" || r.Title == "":
			t.Fatalf("row %+v lacks what a problem needs", r)
		case (r.LeadUnit == "") != (r.Deadline == nil):
			t.Fatalf("row %+v has one of 牵头单位 and 整改时限", r)
		case !utf8.ValidString(r.Description) || len(r.Description) > ledgerfile.MaxCellBytes:
			t.Fatalf("row %d: description of %d bytes", r.Row, len(r.Description))
		}
		prev = r.Row
	}
}

func FuzzImportCSV(f *testing.F) {
	f.Add([]byte(goodCSV))
	f.Add(ledgerCSV(3))
	f.Add([]byte("\xEF\xBB\xBF问题描述,问题来源,所在县（市、区）\n\"多行\n描述\",自查,浮梁县\n"))
	f.Add([]byte("问题描述\t问题来源\t所在县(市、区)\t牵头单位\t整改时限\n某问题。\t审计\t乐平市\t乐平市\t2021年12月31日\n"))
	f.Add([]byte("\xFF\xFE\x5F\x95\x98\x98"))
	f.Add([]byte("问题描述,问题来源,所在县（市、区）\n\"unterminated,自查,浮梁县\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, errs := scanTwice(t, data, ledgerfile.KindCSV)
		checkReading(t, rows, errs)
	})
}

// workbookOf is a workbook whose sheet's sheetData holds sheet and whose
// shared strings table holds sst.
func workbookOf(sheet, sst []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name string, parts ...[]byte) {
		w, _ := zw.Create(name)
		for _, p := range parts {
			w.Write(p)
		}
	}
	put("xl/workbook.xml", []byte(`<workbook xmlns:r="r"><workbookPr date1904="0"/><sheets><sheet name="整改台账" r:id="rId1"/></sheets></workbook>`))
	put("xl/_rels/workbook.xml.rels", []byte(`<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="x/sharedStrings" Target="sharedStrings.xml"/></Relationships>`))
	put("xl/worksheets/sheet1.xml", []byte(`<worksheet><sheetData>`), sheet, []byte(`</sheetData></worksheet>`))
	put("xl/sharedStrings.xml", []byte(`<sst>`), sst, []byte(`</sst>`))
	zw.Close()
	return buf.Bytes()
}

func FuzzImportXLSX(f *testing.F) {
	header := `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="inlineStr"><is><t>牵头单位</t></is></c><c r="E1" t="inlineStr"><is><t>整改时限</t></is></c></row>`
	sst := `<si><t>问题描述</t></si><si><r><rPr><b/></rPr><t>问题</t></r><r><t>来源</t></r></si><si><t>所在县（市、区）</t><rPh><t>ケン</t></rPh></si><si><t>浮梁县</t></si>`
	f.Add([]byte(header+`<row r="2"><c r="A2" t="inlineStr"><is><t>某矿山生态修复滞后。</t></is></c><c r="B2" t="inlineStr"><is><t>自查</t></is></c><c r="C2" t="s"><v>3</v></c><c r="D2" t="s"><v>3</v></c><c r="E2"><v>44561</v></c></row>`), []byte(sst))
	f.Add([]byte(header+`<row><c t="inlineStr"><is><t>甲&amp;乙</t></is></c><c t="str"><v>审计</v></c><c t="s"><v>3</v></c></row>`), []byte(sst))
	f.Add([]byte(header+`<row r="3"><c r="XFD3"><v>1</v></c></row>`), []byte(sst))
	f.Add([]byte(header+`<row r="2"><c r="A2" t="s"><v>99</v></c></row>`), []byte(sst))
	f.Add([]byte(`<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[问题描述]]></t></is></c></row><!-- x -->`), []byte(``))
	f.Fuzz(func(t *testing.T, sheet, sst []byte) {
		data := workbookOf(sheet, sst)
		rows, errs := scanTwice(t, data, ledgerfile.KindXLSX)
		checkReading(t, rows, errs)
		// The same bytes as CSV, and the zip cut short, read without harm.
		if len(data) > 40 {
			_, errs := scanTwice(t, data[:len(data)/2], ledgerfile.KindXLSX)
			if len(errs) == 0 {
				t.Fatal("half a workbook read without error")
			}
		}
	})
}
