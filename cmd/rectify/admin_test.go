package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// columns returns the terminal column where each field of line starts,
// fields being separated by two or more spaces; a Han character or a
// fullwidth form takes two columns (counted here without the code's
// width table).
func columns(line string) []int {
	var starts []int
	col, spaces := 0, 2
	for _, r := range line {
		if r == ' ' {
			spaces++
		} else {
			if spaces >= 2 {
				starts = append(starts, col)
			}
			spaces = 0
		}
		if unicode.Is(unicode.Han, r) || (r >= 0xFF01 && r <= 0xFF60) || (r >= 0x3000 && r <= 0x303F) {
			col += 2
		} else {
			col++
		}
	}
	return starts
}

// TestUnitsAligned: rectify units lines its columns up on a terminal,
// where a Chinese name takes two columns a character, and pads no line's
// end.
func TestUnitsAligned(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rectify.db")
	run(t, "seed", "--db", db)
	out := run(t, "units", "--db", db)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	head := columns(lines[0])
	if len(head) != 4 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("the header: %q", lines[0])
	}
	for _, l := range lines[1:] {
		got := columns(l)
		if len(got) < 3 || !slices.Equal(got, head[:len(got)]) {
			t.Errorf("%q starts its columns at %v, the header at %v", l, got, head)
		}
		if strings.HasSuffix(l, " ") {
			t.Errorf("%q ends with spaces", l)
		}
	}
	if !strings.Contains(out, "浮梁县") || len(lines) < 30 {
		t.Errorf("rectify units:\n%s", out)
	}
}

// TestDisplayWidth: CJK characters and fullwidth punctuation take two
// columns, combining marks none.
func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{
		"": 0, "fuliang": 7, "浮梁县": 6, "中铁南昌局公司景德镇站": 22, "（市、区）": 10, "e\u0301": 1, "ＡＢ": 4, "a b": 3,
	} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
	var out bytes.Buffer
	tb := &table{}
	tb.row("ID", "NAME", "PARENT")
	tb.row("fuliang", "浮梁县", "jdz")
	tb.row("city-eeb", "市生态环境局", "")
	if err := tb.write(&out); err != nil {
		t.Fatal(err)
	}
	want := "ID        NAME          PARENT\n" +
		"fuliang   浮梁县        jdz\n" +
		"city-eeb  市生态环境局\n"
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestSeedSays: rectify seed says what it did in a sentence, the first time
// and again on a seeded database.
func TestSeedSays(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rectify.db")
	first, again := run(t, "seed", "--db", db), run(t, "seed", "--db", db)
	for _, out := range []string{first, again} {
		if strings.ContainsAny(out, "{}") || !strings.HasPrefix(out, "seed data of 景长江办字〔2021〕1号: ") || !strings.HasSuffix(out, ".\n") {
			t.Errorf("rectify seed prints %q, not a sentence", out)
		}
	}
	if !strings.Contains(first, " problems logged, 1 of them assigned") {
		t.Errorf("the first seed: %q", first)
	}
	if !strings.Contains(again, "were logged already and are left as they are") {
		t.Errorf("seeding again: %q", again)
	}
}

// TestUserAddFlags: rectify user add says which flag is missing or wrong,
// --role unit without --unit in so many words, before it opens the
// database (none is created).
func TestUserAddFlags(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rectify.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "unit", "--unit", "浮梁县"}, "--name is required"},
		{[]string{"--name", "浮梁李", "--unit", "浮梁县"}, `--role "": one of admin, bureau, unit, inspector, viewer`},
		{[]string{"--name", "浮梁李", "--role", "county", "--unit", "浮梁县"}, `--role "county"`},
		{[]string{"--name", "浮梁李", "--role", "unit"}, "--role unit needs --unit"},
		{[]string{"--name", "局办王", "--role", "bureau"}, "--unit is required"},
	} {
		var out, errb bytes.Buffer
		err := Main(context.Background(), append([]string{"user", "add", "--db", db}, tc.args...), Env{Stdout: &out, Stderr: &errb})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("user add %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused user add created the database")
	}
}
