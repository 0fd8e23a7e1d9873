package main

import (
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// table prints rows in columns aligned by display width: a CJK character
// (East Asian wide or fullwidth) takes two columns of a terminal, as
// text/tabwriter, which counts runes, does not know.
type table struct {
	rows [][]string
}

// row adds a row of cells.
func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the rows, each column two spaces wider than its widest
// cell; the last cell of a row is not padded.
func (t *table) write(w io.Writer) error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		last := len(r) - 1
		for last >= 0 && r[last] == "" {
			last--
		}
		for i := 0; i <= last; i++ {
			b.WriteString(r[i])
			if i < last {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(r[i])+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// displayWidth is the number of terminal columns s takes: two for East
// Asian wide and fullwidth characters, none for combining marks and
// controls, one for the rest (ambiguous ones included, as most terminals
// show them outside CJK locales).
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.IsControl(r) || r == '\u200b':
		case isWide(r):
			n += 2
		default:
			n++
		}
	}
	return n
}

// isWide reports whether r takes two columns.
func isWide(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}
