package ledgerfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow"
)

// headerSearch is how many rows from the top may hold the header (a
// workbook often has a title row or two above it).
const headerSearch = 10

// titleRunes bounds a title derived from the description.
const titleRunes = 40

// Row is one problem read from an imported file, unit names resolved to
// unit ids. It is assigned (LeadUnit and Deadline set) when the file gives
// both 牵头单位 and 整改时限.
type Row struct {
	Row              int              `json:"row"`            // the row number in the sheet or CSV file (header row: 1 usually)
	Code             string           `json:"code,omitempty"` // 问题编号, if given
	Title            string           `json:"title"`          // 问题名称, or derived from the description
	Description      string           `json:"description"`
	Source           workflow.Source  `json:"source"`
	SourceRef        string           `json:"source_ref,omitempty"`
	CountyID         string           `json:"county_id"`
	WorkPoint        int              `json:"work_point,omitempty"`
	Location         string           `json:"location,omitempty"`
	LeadUnit         string           `json:"lead_unit,omitempty"`
	CooperatingUnits []string         `json:"cooperating_units,omitempty"`
	Requirements     string           `json:"requirements,omitempty"`
	Deadline         *time.Time       `json:"deadline,omitempty"`
	Position         *workflow.LatLng `json:"position,omitempty"` // 经纬度, WGS-84
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
	sum := sha256.Sum256([]byte(r.identityText()))
	return hex.EncodeToString(sum[:])
}

// identityText is what the identity hashes.
func (r *Row) identityText() string {
	title := ""
	if r.TitleGiven {
		title = r.Title
	}
	return identityText(r.SourceRef, r.Description, title)
}

func identityText(sourceRef, description, title string) string {
	return strings.TrimSpace(sourceRef) + "\x00" + strings.TrimSpace(description) + "\x00" + strings.TrimSpace(title)
}

// NewProblem returns what CreateProblem takes to log the row's problem.
func (r *Row) NewProblem() workflow.NewProblem {
	np := workflow.NewProblem{Title: r.Title, Description: r.Description, Source: r.Source, CountyID: r.CountyID,
		WorkPoint: r.WorkPoint, SourceRef: r.SourceRef, Location: r.Location, DedupeKey: r.DedupeKey()}
	if r.Position != nil {
		lat, lng := r.Position.Lat, r.Position.Lng
		np.Position = &workflow.PositionInput{Lat: &lat, Lng: &lng, Datum: workflow.DatumWGS84}
	}
	return np
}

// Assignment returns the parameters of the row's assign trigger.
func (r *Row) Assignment() workflow.Params {
	d := *r.Deadline
	return workflow.Params{LeadUnit: r.LeadUnit, CooperatingUnits: slices.Clone(r.CooperatingUnits),
		Deadline: &d, Requirements: r.Requirements}
}

// RowError says what is wrong with one cell (or one column, or the file):
// Row is the sheet's or file's row number (1 for the file as a whole),
// Column the column's name as in Columns ("" when no column is at fault),
// Rule the rule broken (a workflow.Reason; switch on it, never on Reason,
// the English text), Value the cell's text when it is the culprit (an
// unknown unit or source).
type RowError struct {
	Row    int             `json:"row"`
	Column string          `json:"column,omitempty"`
	Rule   workflow.Reason `json:"rule,omitempty"`
	Value  string          `json:"value,omitempty"`
	Reason string          `json:"reason"`
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
	// Clock measures ReadBudget; nil means the system clock.
	Clock workflow.Clock
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
		"经纬度": ColPosition, "坐标": ColPosition, "经纬度坐标": ColPosition,
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

func parseSource(s string) (workflow.Source, workflow.Reason, string) {
	s = strings.Join(strings.Fields(s), "")
	try := []string{s}
	for _, suf := range sourceSuffixes {
		if t, ok := strings.CutSuffix(s, suf); ok && t != "" {
			try = append(try, t)
		}
	}
	for _, t := range try {
		if src, ok := sourceNames[t]; ok {
			return src, "", ""
		}
	}
	for _, t := range try {
		if slices.Contains(ambiguousSources, t) {
			return "", workflow.ReasonAmbiguousSource, fmt.Sprintf("source %q is ambiguous: write 中央生态环境保护督察 or 省级生态环境保护督察", s)
		}
	}
	names := make([]string, len(workflow.Sources))
	for i, x := range workflow.Sources {
		names[i] = x.Label()
	}
	return "", workflow.ReasonUnknownValue, fmt.Sprintf("unknown source %q; one of %s", s, strings.Join(names, "、"))
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
