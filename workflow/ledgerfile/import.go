package ledgerfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/jdz-eco/rectify/workflow"
)

// Limits of an imported file.
const (
	MaxFileSize = 32 << 20 // bytes
	MaxRows     = 100000   // problems
	// headerSearch is how many rows from the top may hold the header (a
	// workbook often has a title row or two above it).
	headerSearch = 10
	// titleRunes bounds a title derived from the description.
	titleRunes = 40
)

// Row is one problem read from an imported file, unit names resolved to
// unit ids. It is assigned (LeadUnit and Deadline set) when the file gives
// both 牵头单位 and 整改时限.
type Row struct {
	Row              int             `json:"row"`            // the row number in the sheet or CSV file (header row: 1 usually)
	Code             string          `json:"code,omitempty"` // 问题编号, if given
	Title            string          `json:"title"`          // 问题名称, or derived from the description
	Description      string          `json:"description"`
	Source           workflow.Source `json:"source"`
	SourceRef        string          `json:"source_ref,omitempty"`
	CountyID         string          `json:"county_id"`
	WorkPoint        int             `json:"work_point,omitempty"`
	Location         string          `json:"location,omitempty"`
	LeadUnit         string          `json:"lead_unit,omitempty"`
	CooperatingUnits []string        `json:"cooperating_units,omitempty"`
	Requirements     string          `json:"requirements,omitempty"`
	Deadline         *time.Time      `json:"deadline,omitempty"`
	// TitleGiven is set when Title is the file's 问题名称, not derived from
	// the description; a given title is part of the row's identity.
	TitleGiven bool `json:"title_given"`
}

// Assigned reports whether the row gives a lead unit and a deadline.
func (r *Row) Assigned() bool { return r.LeadUnit != "" && r.Deadline != nil }

// A row's identity is its 来源文件 and 问题描述 and, when the file gives one,
// its 问题名称: one document may name several problems in the same words
// (the seed plan's seven tailings ponds share their description) and then
// only the title tells them apart.

// DedupeKey makes creating the row's problem idempotent: "import:" and the
// SHA-256 of 来源文件, 问题描述 and the given 问题名称 (empty when the file has
// none).
func (r *Row) DedupeKey() string { return "import:" + r.identity() }

func (r *Row) identity() string {
	title := ""
	if r.TitleGiven {
		title = r.Title
	}
	return identity(r.SourceRef, r.Description, title)
}

func identity(sourceRef, description, title string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(sourceRef) + "\x00" + strings.TrimSpace(description) + "\x00" + strings.TrimSpace(title)))
	return hex.EncodeToString(sum[:])
}

// contentKey is the identity without a title: what a row without 问题名称
// matches an existing problem on.
func contentKey(sourceRef, description string) string { return identity(sourceRef, description, "") }

// NewProblem returns what CreateProblem takes to log the row's problem.
func (r *Row) NewProblem() workflow.NewProblem {
	return workflow.NewProblem{Title: r.Title, Description: r.Description, Source: r.Source, CountyID: r.CountyID,
		WorkPoint: r.WorkPoint, SourceRef: r.SourceRef, Location: r.Location, DedupeKey: r.DedupeKey()}
}

// Assignment returns the parameters of the row's assign trigger.
func (r *Row) Assignment() workflow.Params {
	d := *r.Deadline
	return workflow.Params{LeadUnit: r.LeadUnit, CooperatingUnits: slices.Clone(r.CooperatingUnits),
		Deadline: &d, Requirements: r.Requirements}
}

// RowError says what is wrong with one cell (or one column, or the file):
// Row is the sheet's or file's row number (1 for the file as a whole),
// Column the column's name as in Columns ("" when no column is at fault).
type RowError struct {
	Row    int    `json:"row"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Reason)
	}
	return fmt.Sprintf("row %d, column %s: %s", e.Row, e.Column, e.Reason)
}

// Lookup resolves the names a ledger file uses.
type Lookup struct {
	// Unit returns the id of the unit a cell names (所在县, 牵头单位, 配合单位).
	Unit func(name string) (id string, ok bool)
	// WorkPoints, if set, are checked against and let a file name a work point
	// by its title as well as by its number (7, 第7条, 第七条 …).
	WorkPoints []workflow.WorkPoint
}

// UnitResolver returns a Lookup.Unit that knows units by id and exact name,
// then asks aliases (e.g. seeds.ResolveUnit: 市工信局 → city-industry), if
// not nil, for an id among units.
func UnitResolver(units []workflow.Unit, aliases func(string) (string, bool)) func(string) (string, bool) {
	byName := make(map[string]string, 2*len(units))
	for _, u := range units {
		byName[u.ID] = u.ID
	}
	for _, u := range units {
		byName[u.Name] = u.ID
	}
	return func(name string) (string, bool) {
		name = strings.TrimSpace(name)
		if id, ok := byName[name]; ok {
			return id, true
		}
		if aliases != nil {
			if id, ok := aliases(name); ok {
				if _, known := byName[id]; known {
					return id, true
				}
			}
		}
		return "", false
	}
}

// headerAliases maps the column names people write (normalized) to Columns.
var headerAliases = func() map[string]string {
	m := map[string]string{
		"编号": ColCode, "来源": ColSource, "问题来源类型": ColSource, "来源文号": ColSourceRef, "文件来源": ColSourceRef,
		"问题内容": ColDescription, "存在问题": ColDescription, "问题详情": ColDescription,
		"所在县": ColCounty, "县（市、区）": ColCounty, "所在县市区": ColCounty, "县市区": ColCounty, "所在地区": ColCounty, "属地": ColCounty,
		"责任单位": ColLeadUnit, "牵头责任单位": ColLeadUnit, "协同单位": ColCooperating, "配合责任单位": ColCooperating,
		"整改目标": ColRequirements, "完成时限": ColDeadline, "整改期限": ColDeadline,
		"问题标题": ColTitle, "标题": ColTitle, "位置": ColLocation, "地点": ColLocation,
	}
	for _, c := range Columns {
		m[normalizeHeader(c)] = c
	}
	return m
}()

// sourceNames maps the names of the sources (and the usual short forms) to sources.
var sourceNames = func() map[string]workflow.Source {
	m := map[string]workflow.Source{
		"生态环境警示片": workflow.SourceWarningFilm, "长江经济带生态环境警示片": workflow.SourceWarningFilm,
		"全省生态环境警示片": workflow.SourceWarningFilm, "警示片披露": workflow.SourceWarningFilm,
		"中央环保督察": workflow.SourceCentralInspection, "中央环境保护督察": workflow.SourceCentralInspection,
		"中央生态环保督察": workflow.SourceCentralInspection, "中央督察": workflow.SourceCentralInspection,
		"中央第二轮环保督察": workflow.SourceCentralInspection, "中央第二轮生态环境保护督察": workflow.SourceCentralInspection,
		"省生态环境保护督察": workflow.SourceProvincialInspection, "省级环保督察": workflow.SourceProvincialInspection,
		"省环保督察": workflow.SourceProvincialInspection, "省级环境保护督察": workflow.SourceProvincialInspection,
		"省生态环保督察": workflow.SourceProvincialInspection, "省级督察": workflow.SourceProvincialInspection,
		"省督察":  workflow.SourceProvincialInspection,
		"审计发现": workflow.SourceAudit, "审计整改": workflow.SourceAudit,
		"自查发现": workflow.SourceSelfInspection, "自查自纠": workflow.SourceSelfInspection,
		"其它": workflow.SourceOther,
	}
	for _, s := range workflow.Sources {
		m[s.Label()] = s
		m[string(s)] = s
	}
	return m
}()

// ambiguousSources name an inspection without saying whose.
var ambiguousSources = []string{"环保督察", "督察", "生态环境保护督察", "环境保护督察", "生态环保督察"}

// sourceSuffixes are dropped from a source cell that does not match as is:
// 中央环保督察反馈问题 is 中央环保督察.
var sourceSuffixes = []string{"反馈问题", "交办问题", "披露问题", "发现问题", "问题"}

func parseSource(s string) (workflow.Source, string) {
	s = strings.Join(strings.Fields(s), "")
	try := []string{s}
	for _, suf := range sourceSuffixes {
		if t, ok := strings.CutSuffix(s, suf); ok && t != "" {
			try = append(try, t)
		}
	}
	for _, t := range try {
		if src, ok := sourceNames[t]; ok {
			return src, ""
		}
	}
	for _, t := range try {
		if slices.Contains(ambiguousSources, t) {
			return "", fmt.Sprintf("source %q is ambiguous: write 中央生态环境保护督察 or 省级生态环境保护督察", s)
		}
	}
	names := make([]string, len(workflow.Sources))
	for i, x := range workflow.Sources {
		names[i] = x.Label()
	}
	return "", fmt.Sprintf("unknown source %q; one of %s", s, strings.Join(names, "、"))
}

var (
	dateText     = regexp.MustCompile(`^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?$`)
	workPointRef = regexp.MustCompile(`^第?\s*([0-9]+|[一二三四五六七八九十]+)\s*(?:[条项点]|$|[\s、.．:：])`)
)

// parseDate reads a date cell: an Excel date number (a date cell read raw),
// 2021-12-31, 2021/12/31, 2021.12.31 or 2021年12月31日, optionally with a time
// (2021-12-31 18:00), or RFC 3339. A date without a time of day (or at
// 00:00:00) means the end of that day in Asia/Shanghai, as deadlines do.
func parseDate(s string, date1904 bool) (time.Time, error) {
	bad := fmt.Errorf("%q is not a date (2021-12-31, 2021/12/31 or 2021年12月31日)", s)
	s = strings.TrimSpace(s)
	var t time.Time
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 1 || math.IsInf(f, 0) || math.IsNaN(f) {
			return t, bad
		}
		x, err := excelize.ExcelDateToTime(f, date1904)
		if err != nil {
			return t, bad
		}
		x = x.Round(time.Second)
		t = time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), 0, workflow.Shanghai)
	} else if m := dateText.FindStringSubmatch(s); m != nil {
		n := make([]int, 6)
		for i := range n {
			n[i], _ = strconv.Atoi(m[i+1])
		}
		t = time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], 0, workflow.Shanghai)
		if t.Year() != n[0] || int(t.Month()) != n[1] || t.Day() != n[2] || n[3] > 23 || n[4] > 59 || n[5] > 59 {
			return time.Time{}, bad
		}
	} else if x, err := time.Parse(time.RFC3339, s); err == nil {
		t = x.In(workflow.Shanghai).Truncate(time.Second)
		if t.Year() < 2000 || t.Year() > 2100 {
			return time.Time{}, fmt.Errorf("%q is out of range", s)
		}
		return t.UTC(), nil
	} else {
		return t, bad
	}
	if t.Year() < 2000 || t.Year() > 2100 {
		return time.Time{}, fmt.Errorf("%q is out of range (years 2000 to 2100)", s)
	}
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return workflow.EndOfDay(t), nil
	}
	return t.UTC(), nil
}

var chineseDigits = map[rune]int{'一': 1, '二': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}

// chineseNumber reads 一 … 九十九.
func chineseNumber(s string) (int, bool) {
	r := []rune(s)
	switch {
	case len(r) == 1 && r[0] == '十':
		return 10, true
	case len(r) == 1:
		n, ok := chineseDigits[r[0]]
		return n, ok
	}
	i := slices.Index(r, '十')
	if i < 0 || i != len(r)-1 && i != len(r)-2 || i > 1 {
		return 0, false
	}
	tens, ones := 1, 0
	if i == 1 {
		var ok bool
		if tens, ok = chineseDigits[r[0]]; !ok {
			return 0, false
		}
	}
	if i == len(r)-2 {
		var ok bool
		if ones, ok = chineseDigits[r[len(r)-1]]; !ok {
			return 0, false
		}
	}
	return tens*10 + ones, true
}

func parseWorkPoint(s string, byTitle map[string]int) (int, bool) {
	if n, ok := byTitle[s]; ok {
		return n, true
	}
	m := workPointRef.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	if n, err := strconv.Atoi(m[1]); err == nil {
		return n, n > 0
	}
	return chineseNumber(m[1])
}

// splitUnits splits a list of unit names: 、，,；; / and white space.
func splitUnits(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return strings.ContainsRune("、，,；;/／ \t\r\n\u3000", r)
	})
}

// deriveTitle makes a title of a description: its first sentence (or line),
// at most titleRunes characters.
func deriveTitle(desc string) string {
	s := strings.TrimSpace(desc)
	if i := strings.IndexAny(s, "。；;！!？?\n"); i > 0 {
		s = s[:i]
	}
	s = strings.TrimRight(strings.TrimSpace(s), "，,、：: \t")
	if utf8.RuneCountInString(s) > titleRunes {
		s = string([]rune(s)[:titleRunes-1]) + "…"
	}
	return s
}

// decodeText returns the text of a CSV file: UTF-8 (a BOM dropped), UTF-16
// with a BOM, or else GB18030 (which includes GBK and GB2312).
func decodeText(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
		if !utf8.Valid(b) {
			return "", errors.New("the file starts with a UTF-8 byte order mark but is not valid UTF-8")
		}
		return string(b), nil
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		out, _, err := transform.Bytes(unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder(), b)
		if err != nil {
			return "", fmt.Errorf("the file is not valid UTF-16: %v", err)
		}
		return string(out), nil
	case utf8.Valid(b):
		return string(b), nil
	}
	out, _, err := transform.Bytes(simplifiedchinese.GB18030.NewDecoder(), b)
	if err != nil {
		return "", fmt.Errorf("the file is neither UTF-8 nor GB18030: %v", err)
	}
	return string(out), nil
}

// readCSV returns the records of a CSV file (comma or, if the first line has
// more tabs than commas, tab separated) and their row numbers.
func readCSV(data []byte) ([][]string, []int, *RowError) {
	text, err := decodeText(data)
	if err != nil {
		return nil, nil, &RowError{Row: 1, Reason: err.Error()}
	}
	first, _, _ := strings.Cut(text, "\n")
	cr := csv.NewReader(strings.NewReader(text))
	if strings.Count(first, "\t") > strings.Count(first, ",") {
		cr.Comma = '\t'
	}
	cr.FieldsPerRecord = -1
	var recs [][]string
	var nums []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := len(recs) + 1
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			return nil, nil, &RowError{Row: len(recs) + 1, Reason: fmt.Sprintf("bad CSV (line %d): %v", line, err)}
		}
		recs = append(recs, rec)
		nums = append(nums, len(recs))
		if len(recs) > MaxRows+headerSearch {
			return nil, nil, &RowError{Row: len(recs), Reason: fmt.Sprintf("more than %d rows", MaxRows)}
		}
	}
	return recs, nums, nil
}

// readXLSX returns the rows of the sheet 「整改台账」 (or the first sheet),
// cells raw (a date cell is its date number), and whether the workbook
// counts dates from 1904.
func readXLSX(data []byte) ([][]string, []int, bool, *RowError) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: 16 * MaxFileSize})
	if err != nil {
		return nil, nil, false, &RowError{Row: 1, Reason: fmt.Sprintf("not an .xlsx workbook: %v", err)}
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, nil, false, &RowError{Row: 1, Reason: "the workbook has no sheet"}
	}
	sheet := sheets[0]
	if slices.Contains(sheets, SheetLedger) {
		sheet = SheetLedger
	}
	rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, nil, false, &RowError{Row: 1, Reason: fmt.Sprintf("cannot read sheet %s: %v", sheet, err)}
	}
	if len(rows) > MaxRows+headerSearch {
		return nil, nil, false, &RowError{Row: len(rows), Reason: fmt.Sprintf("more than %d rows", MaxRows)}
	}
	nums := make([]int, len(rows))
	for i := range rows {
		nums[i] = i + 1
	}
	var date1904 bool
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		date1904 = *props.Date1904
	}
	return rows, nums, date1904, nil
}

// Import reads a ledger file of kind KindXLSX (the sheet 「整改台账」, or the
// first sheet) or KindCSV (UTF-8 with or without BOM, UTF-16 with BOM, or
// GB18030/GBK; comma or tab separated). Columns are found by their header
// (one of the first rows; spaces and ASCII or full-width parentheses do not
// matter; usual variants such as 责任单位 and 完成时限 accepted), in any
// order; only 问题描述, 问题来源 and 所在县（市、区） are required. Export-only
// columns (序号, 整改方案, 原定时限, 当前状态 …) and unknown ones are ignored.
//
// Each row becomes a Row: units by name through lk.Unit, sources by their
// Chinese names and usual short forms (中央环保督察, 省环保督察 …; a bare
// 环保督察 is refused as ambiguous), 工作要点 by number (7, 第7条, 第七条) or,
// with lk.WorkPoints, by title; dates as date cells or text (see parseDate);
// 配合单位 split on 、 and commas; the title from 问题名称 or else the
// description's first sentence. 牵头单位 and 整改时限 go together (both make
// the problem assigned); 配合单位 and 整改要求 need them.
//
// Every problem found is a RowError: a missing required column (at the
// header's row, 1 when there is no header), an empty required cell, an
// unknown unit, source or work point, an unparseable date, a row that
// repeats an earlier one's 来源文件 and 问题描述 (and 问题名称, when given;
// see Row.DedupeKey) or 问题编号. Rows holds the
// rows without error; import nothing unless errs is empty. Blank rows are
// skipped. The whole file is read into memory (at most MaxFileSize).
func Import(r io.Reader, kind string, lk Lookup) (rows []Row, errs []RowError) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, []RowError{{Row: 1, Reason: "cannot read the file: " + err.Error()}}
	}
	if len(data) > MaxFileSize {
		return nil, []RowError{{Row: 1, Reason: fmt.Sprintf("the file is larger than %d MB", MaxFileSize>>20)}}
	}
	var (
		recs     [][]string
		nums     []int
		date1904 bool
		rerr     *RowError
	)
	switch kind {
	case KindXLSX:
		recs, nums, date1904, rerr = readXLSX(data)
	case KindCSV:
		recs, nums, rerr = readCSV(data)
	default:
		return nil, []RowError{{Row: 1, Reason: fmt.Sprintf("unknown file kind %q; xlsx or csv", kind)}}
	}
	if rerr != nil {
		return nil, []RowError{*rerr}
	}
	return parseRecords(recs, nums, date1904, lk)
}

func parseRecords(recs [][]string, nums []int, date1904 bool, lk Lookup) ([]Row, []RowError) {
	var errs []RowError
	// The header is the first of the top rows naming a required column.
	header := -1
	for i := 0; i < len(recs) && i < headerSearch && header < 0; i++ {
		for _, cell := range recs[i] {
			if slices.Contains(Required, headerAliases[normalizeHeader(cell)]) {
				header = i
				break
			}
		}
	}
	headerRow := 1
	cols := map[string]int{}
	if header >= 0 {
		headerRow = nums[header]
		for j, cell := range recs[header] {
			c, ok := headerAliases[normalizeHeader(cell)]
			if !ok {
				continue
			}
			if _, dup := cols[c]; dup {
				errs = append(errs, RowError{Row: headerRow, Column: c, Reason: fmt.Sprintf("the column appears twice (as %q)", strings.TrimSpace(cell))})
				continue
			}
			cols[c] = j
		}
	}
	for _, c := range Required {
		if _, ok := cols[c]; !ok {
			errs = append(errs, RowError{Row: headerRow, Column: c, Reason: "required column is missing"})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	byTitle := map[string]int{}
	known := map[int]bool{}
	for _, wp := range lk.WorkPoints {
		byTitle[wp.Title] = wp.Number
		known[wp.Number] = true
	}
	unit := lk.Unit
	if unit == nil {
		unit = func(string) (string, bool) { return "", false }
	}
	var rows []Row
	seen := map[string]int{}  // content key → row
	codes := map[string]int{} // 问题编号 → row
	for i := header + 1; i < len(recs); i++ {
		rec, n := recs[i], nums[i]
		get := func(c string) string {
			j, ok := cols[c]
			if !ok || j >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[j])
		}
		blank := true
		for _, j := range cols {
			if j < len(rec) && strings.TrimSpace(rec[j]) != "" {
				blank = false
				break
			}
		}
		if blank {
			continue
		}
		var rowErrs []RowError
		fail := func(col, format string, args ...any) {
			rowErrs = append(rowErrs, RowError{Row: n, Column: col, Reason: fmt.Sprintf(format, args...)})
		}
		row := Row{Row: n, Code: get(ColCode), Description: get(ColDescription), SourceRef: get(ColSourceRef),
			Location: get(ColLocation), Requirements: get(ColRequirements), Title: get(ColTitle)}
		if row.Description == "" {
			fail(ColDescription, "问题描述 is required")
		}
		if row.Title == "" {
			row.Title = deriveTitle(row.Description)
		} else {
			row.TitleGiven = true
		}
		if s := get(ColSource); s == "" {
			fail(ColSource, "问题来源 is required")
		} else if src, why := parseSource(s); why != "" {
			fail(ColSource, "%s", why)
		} else {
			row.Source = src
		}
		if s := get(ColCounty); s == "" {
			fail(ColCounty, "所在县（市、区） is required")
		} else if id, ok := unit(s); !ok {
			fail(ColCounty, "unknown unit %q", s)
		} else {
			row.CountyID = id
		}
		if s := get(ColWorkPoint); s != "" {
			wp, ok := parseWorkPoint(s, byTitle)
			switch {
			case !ok:
				fail(ColWorkPoint, "%q is not a work point number (7, 第7条) or title", s)
			case len(known) > 0 && !known[wp]:
				fail(ColWorkPoint, "unknown work point %d", wp)
			default:
				row.WorkPoint = wp
			}
		}
		lead := get(ColLeadUnit)
		if lead != "" {
			if id, ok := unit(lead); !ok {
				fail(ColLeadUnit, "unknown unit %q", lead)
			} else {
				row.LeadUnit = id
			}
		}
		coop := get(ColCooperating)
		for _, name := range splitUnits(coop) {
			if id, ok := unit(name); !ok {
				fail(ColCooperating, "unknown unit %q", name)
			} else {
				row.CooperatingUnits = append(row.CooperatingUnits, id)
			}
		}
		deadline := get(ColDeadline)
		if deadline != "" {
			if d, err := parseDate(deadline, date1904); err != nil {
				fail(ColDeadline, "%v", err)
			} else {
				row.Deadline = &d
			}
		}
		switch {
		case lead != "" && deadline == "":
			fail(ColDeadline, "整改时限 is required with 牵头单位 (together they assign the problem)")
		case lead == "" && deadline != "":
			fail(ColLeadUnit, "牵头单位 is required with 整改时限 (together they assign the problem)")
		case lead == "" && coop != "":
			fail(ColCooperating, "配合单位 needs 牵头单位 and 整改时限")
		case lead == "" && row.Requirements != "":
			fail(ColRequirements, "整改要求 needs 牵头单位 and 整改时限")
		}
		if row.Description != "" {
			k := row.identity()
			if first, dup := seen[k]; dup && row.TitleGiven {
				fail(ColDescription, "duplicate of row %d (same 来源文件, 问题描述 and 问题名称)", first)
			} else if dup {
				fail(ColDescription, "duplicate of row %d (same 来源文件 and 问题描述)", first)
			} else {
				seen[k] = n
			}
		}
		if row.Code != "" {
			if first, dup := codes[row.Code]; dup {
				fail(ColCode, "问题编号 %s is also on row %d", row.Code, first)
			} else {
				codes[row.Code] = n
			}
		}
		if len(rowErrs) > 0 {
			errs = append(errs, rowErrs...)
			continue
		}
		rows = append(rows, row)
	}
	return rows, errs
}
