// Package docx writes editable Word documents (.docx, Office Open XML) the
// way Chinese government documents are laid out: A4 pages with the margins
// of GB/T 9704-2012, East-Asian fonts named as such documents name them
// (方正小标宋简体 for titles, 仿宋_GB2312 for the body, 黑体 for headings,
// 楷体_GB2312), each with fallbacks in the font table for machines that lack
// them, paragraphs of runs, tables and embedded PNG images.
//
// The fixed parts of the package (content types, styles, settings, font
// table) are an embedded template; the document part is written here with
// every caller's text escaped for XML. Nothing else is needed: no maintained
// free Go library writes .docx.
package docx

import (
	"archive/zip"
	"bytes"
	"embed"
	"fmt"
	"io"
	"time"
)

//go:embed template/*.xml
var template embed.FS

// Font names an East-Asian font and the Latin font used beside it.
type Font struct {
	EastAsia string
	Latin    string
}

// The fonts of government documents. The font table of every document
// names fallbacks for each (宋体, 仿宋, SimHei, 楷体).
var (
	FontTitle   = Font{EastAsia: "方正小标宋简体", Latin: "Times New Roman"}
	FontBody    = Font{EastAsia: "仿宋_GB2312", Latin: "Times New Roman"}
	FontHeading = Font{EastAsia: "黑体", Latin: "Times New Roman"}
	FontKai     = Font{EastAsia: "楷体_GB2312", Latin: "Times New Roman"}
	FontSong    = Font{EastAsia: "宋体", Latin: "Times New Roman"}
)

// Font sizes in half-points, by their Chinese names.
const (
	SizeNo1      = 52 // 一号, 26 pt
	SizeNo2      = 44 // 二号, 22 pt: titles
	SizeSmallNo2 = 36 // 小二, 18 pt
	SizeNo3      = 32 // 三号, 16 pt: body
	SizeNo4      = 28 // 四号, 14 pt: page numbers
	SizeSmallNo4 = 24 // 小四, 12 pt
	SizeNo5      = 21 // 五号, 10.5 pt: tables
)

// Align is a paragraph's alignment.
type Align int

// Alignments; the zero value justifies both edges, as bodies are set.
const (
	AlignBoth Align = iota
	AlignLeft
	AlignCenter
	AlignRight
)

// Run is text in one font, size and colour. Newlines in Text become line
// breaks and tabs become tab characters.
type Run struct {
	Text  string
	Font  Font   // zero: the document default (仿宋_GB2312)
	Size  int    // half-points; zero: the document default (三号)
	Bold  bool   //
	Color string // RRGGBB; empty: automatic
}

// Border is a line under or over a paragraph.
type Border struct {
	Color string // RRGGBB
	Size  int    // eighths of a point
}

// Paragraph is one paragraph of runs.
type Paragraph struct {
	Runs  []Run
	Align Align
	// FirstLineChars indents the first line by that many characters (2 for
	// body paragraphs).
	FirstLineChars int
	// LineTwips is an exact line height in twips; zero: the document
	// default (28.95 pt, 22 lines to the page).
	LineTwips int
	// SpaceBefore and SpaceAfter are in twips.
	SpaceBefore, SpaceAfter int
	// RightChars indents the right edge by that many characters.
	RightChars int
	Bottom     *Border
	KeepNext   bool
	PageBreak  bool // start on a new page
}

// Cell is a table cell: paragraphs, an optional fill and a span.
type Cell struct {
	Paragraphs []Paragraph
	Fill       string // RRGGBB
	Span       int    // columns spanned; zero or one: one
}

// TextCell is a cell of one paragraph of one run.
func TextCell(text string, font Font, size int, align Align) Cell {
	return Cell{Paragraphs: []Paragraph{{Runs: []Run{{Text: text, Font: font, Size: size}}, Align: align, LineTwips: -1}}}
}

// Table is a grid with single black borders.
type Table struct {
	Widths     []int // column widths in twips
	Rows       [][]Cell
	HeaderRows int // rows repeated at the top of each page
}

// Image is a PNG shown inline in its own paragraph.
type Image struct {
	PNG []byte
	// WidthMM and HeightMM give the printed size; when both are zero the
	// image is shown at 96 dpi, shrunk to the text width.
	WidthMM, HeightMM float64
	Description       string
	Align             Align
}

// Page is the page size and margins in twips (1/20 pt, 1/1440 inch).
type Page struct {
	Width, Height            int
	Top, Bottom, Left, Right int
	Header, Footer           int
}

// MM converts millimetres to twips.
func MM(mm float64) int { return int(mm*1440/25.4 + 0.5) }

// A4 is an A4 page with the margins of GB/T 9704-2012: top 37 mm, left 28
// mm, a 156 × 225 mm text area (so right 26 mm and bottom 35 mm).
func A4() Page {
	return Page{
		Width: MM(210), Height: MM(297),
		Top: MM(37), Bottom: MM(35), Left: MM(28), Right: MM(26),
		Header: MM(15), Footer: MM(28) - MM(7),
	}
}

// TextWidth is the width between the margins in twips.
func (p Page) TextWidth() int { return p.Width - p.Left - p.Right }

// Document is a document being built. Its zero value is not ready: use New.
type Document struct {
	Page Page
	// PageNumbers puts "— n —" in 四号 宋体 at the foot of every page.
	PageNumbers bool
	// Title, Creator and Created fill the document's properties.
	Title, Creator string
	Created        time.Time

	body   bytes.Buffer
	images [][]byte
	err    error
}

// New returns an empty document on an A4 page with GB/T 9704 margins.
func New() *Document { return &Document{Page: A4()} }

// Add appends paragraphs.
func (d *Document) Add(ps ...Paragraph) {
	for _, p := range ps {
		writeParagraph(&d.body, p, nil)
	}
}

// Text appends one paragraph of one run.
func (d *Document) Text(text string, font Font, size int, align Align) {
	d.Add(Paragraph{Runs: []Run{{Text: text, Font: font, Size: size}}, Align: align})
}

// AddTable appends a table; a paragraph follows it as Word requires
// between adjacent tables.
func (d *Document) AddTable(t Table) {
	writeTable(&d.body, t)
}

// AddImage appends a PNG image in its own paragraph. A file that is not a
// PNG is refused (and the document keeps the error for Write).
func (d *Document) AddImage(img Image) error {
	w, h, err := pngSize(img.PNG)
	if err != nil {
		d.err = err
		return err
	}
	cx, cy := imageExtent(w, h, img.WidthMM, img.HeightMM, d.Page.TextWidth())
	d.images = append(d.images, img.PNG)
	n := len(d.images)
	var run bytes.Buffer
	writeDrawing(&run, n, cx, cy, img.Description)
	writeParagraph(&d.body, Paragraph{Align: img.Align, LineTwips: -1}, run.Bytes())
	return nil
}

// Write writes the .docx archive.
func (d *Document) Write(w io.Writer) error {
	if d.err != nil {
		return d.err
	}
	z := zip.NewWriter(w)
	files := []struct {
		name string
		data []byte
	}{
		{"[Content_Types].xml", mustTemplate("content_types.xml")},
		{"_rels/.rels", mustTemplate("package_rels.xml")},
		{"docProps/core.xml", d.coreXML()},
		{"docProps/app.xml", []byte(appXML)},
		{"word/document.xml", d.documentXML()},
		{"word/_rels/document.xml.rels", d.relsXML()},
		{"word/styles.xml", mustTemplate("styles.xml")},
		{"word/settings.xml", mustTemplate("settings.xml")},
		{"word/fontTable.xml", mustTemplate("fontTable.xml")},
	}
	if d.PageNumbers {
		files = append(files, struct {
			name string
			data []byte
		}{"word/footer1.xml", []byte(footerXML)})
	}
	for i, img := range d.images {
		files = append(files, struct {
			name string
			data []byte
		}{fmt.Sprintf("word/media/image%d.png", i+1), img})
	}
	for _, f := range files {
		fw, err := z.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: d.modified()})
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return z.Close()
}

// Bytes returns the .docx archive.
func (d *Document) Bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := d.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (d *Document) modified() time.Time {
	if d.Created.IsZero() {
		return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return d.Created.UTC()
}

func mustTemplate(name string) []byte {
	b, err := template.ReadFile("template/" + name)
	if err != nil {
		panic("docx: template part missing: " + name)
	}
	return b
}
