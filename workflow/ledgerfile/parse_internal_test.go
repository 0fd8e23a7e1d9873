package ledgerfile

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func TestParseDate(t *testing.T) {
	end := func(s string) string {
		d, err := workflow.ParseDeadline(s)
		if err != nil {
			panic(err)
		}
		return d.Format(time.RFC3339)
	}
	cases := []struct{ in, want string }{
		{"2021-12-31", end("2021-12-31")},
		{"2021/12/31", end("2021-12-31")},
		{"2021/1/5", end("2021-01-05")},
		{"2021.12.31", end("2021-12-31")},
		{"2021年12月31日", end("2021-12-31")},
		{"2021年 9月 30日", end("2021-09-30")},
		{"2021-12-31 18:30", "2021-12-31T10:30:00Z"},
		{"2021-12-31T18:30:00+08:00", "2021-12-31T10:30:00Z"},
		{"44561", end("2021-12-31")},                 // a date cell read raw
		{"44561.999988425923", end("2021-12-31")},    // exported: 23:59:59
		{"44469.6458333333", "2021-09-30T07:30:00Z"}, // 15:30 in Shanghai
		{"2021-02-30", ""}, {"2021-13-01", ""}, {"2021-12-31 25:00", ""}, {"下月底", ""}, {"1899-12-31", ""},
		{"0", ""}, {"-5", ""}, {"", ""}, {"NaN", ""},
	}
	for _, c := range cases {
		got, err := parseDate(c.in, false)
		if c.want == "" {
			if err == nil {
				t.Errorf("parseDate(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339) != c.want {
			t.Errorf("parseDate(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestParseWorkPointAndSource(t *testing.T) {
	titles := map[string]int{"深入推进尾矿库污染治理": 7}
	for in, want := range map[string]int{"7": 7, "第7条": 7, "第7条 深入推进尾矿库污染治理": 7, "第七条": 7, "十": 10, "第十五条": 15,
		"二十五": 25, "7. 深入推进": 7, "深入推进尾矿库污染治理": 7, "第7条深入推进": 7, "abc": 0, "第十十条": 0, "7abc": 0, "0": 0} {
		got, ok := parseWorkPoint(in, titles)
		if got != want || ok != (want != 0) {
			t.Errorf("parseWorkPoint(%q) = %d %v, want %d", in, got, ok, want)
		}
	}
	for in, want := range map[string]workflow.Source{
		"警示片": workflow.SourceWarningFilm, "中央生态环境保护督察": workflow.SourceCentralInspection, "中央环保督察": workflow.SourceCentralInspection,
		"中央 环保督察 反馈问题": workflow.SourceCentralInspection, "省级生态环境保护督察": workflow.SourceProvincialInspection,
		"省环保督察": workflow.SourceProvincialInspection, "审计": workflow.SourceAudit, "自查": workflow.SourceSelfInspection,
		"其他": workflow.SourceOther, "其它": workflow.SourceOther, "central_inspection": workflow.SourceCentralInspection,
		"环保督察": "", "督察问题": "", "媒体曝光": "",
	} {
		got, rule, why := parseSource(in)
		wantRule := workflow.Reason("")
		switch in {
		case "环保督察", "督察问题":
			wantRule = workflow.ReasonAmbiguousSource
		case "媒体曝光":
			wantRule = workflow.ReasonUnknownValue
		}
		if got != want || (want == "") != (why != "") || rule != wantRule {
			t.Errorf("parseSource(%q) = %q %q %q, want %q %q", in, got, rule, why, want, wantRule)
		}
	}
}

// decodeText reads a one-cell CSV file as an import does.
func decodeText(b []byte) (string, error) {
	c, err := openCSV(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return "", err
	}
	var out string
	err = c.rows(context.Background(), func(_ int, cells []string) error {
		out = strings.Join(cells, ",")
		return nil
	})
	return out, err
}

func TestDecodeTextAndTitles(t *testing.T) {
	if s, err := decodeText([]byte{0xEF, 0xBB, 0xBF, 'a'}); err != nil || s != "a" {
		t.Errorf("BOM: %q %v", s, err)
	}
	if _, err := decodeText([]byte{0xEF, 0xBB, 0xBF, 0xC4, 0xE3}); err == nil {
		t.Error("a BOM on GBK bytes was accepted")
	}
	if s, err := decodeText([]byte{0xC4, 0xE3, 0xBA, 0xC3}); err != nil || s != "你好" {
		t.Errorf("GBK: %q %v", s, err)
	}
	if s, err := decodeText([]byte{0xFF, 0xFE, 0x60, 0x4F, 0x7D, 0x59}); err != nil || s != "你好" {
		t.Errorf("UTF-16LE: %q %v", s, err)
	}
	for in, want := range map[string]string{
		"浮梁县某矿山生态修复滞后，\n边坡裸露。": "浮梁县某矿山生态修复滞后",
		"短。": "短",
		"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三": "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九…",
	} {
		if got := deriveTitle(in); got != want {
			t.Errorf("deriveTitle(%q) = %q, want %q", in, got, want)
		}
	}
}
