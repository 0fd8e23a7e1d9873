package docx

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

const (
	nsW   = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
	nsR   = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	nsWP  = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
	nsA   = "http://schemas.openxmlformats.org/drawingml/2006/main"
	nsPic = "http://schemas.openxmlformats.org/drawingml/2006/picture"
)

// esc writes s escaped for XML text and attribute values; characters XML
// 1.0 cannot carry become U+FFFD.
func esc(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s))
}

func (d *Document) documentXML() []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, `<w:document xmlns:w="%s" xmlns:r="%s" xmlns:wp="%s" xmlns:a="%s" xmlns:pic="%s"><w:body>`, nsW, nsR, nsWP, nsA, nsPic)
	b.Write(d.body.Bytes())
	p := d.Page
	b.WriteString(`<w:sectPr>`)
	if d.PageNumbers {
		b.WriteString(`<w:footerReference w:type="default" r:id="rIdFooter1"/>`)
	}
	fmt.Fprintf(&b, `<w:pgSz w:w="%d" w:h="%d"/><w:pgMar w:top="%d" w:right="%d" w:bottom="%d" w:left="%d" w:header="%d" w:footer="%d" w:gutter="0"/>`,
		p.Width, p.Height, p.Top, p.Right, p.Bottom, p.Left, p.Header, p.Footer)
	b.WriteString(`<w:docGrid w:type="linesAndChars" w:linePitch="579" w:charSpace="1186"/></w:sectPr></w:body></w:document>`)
	return b.Bytes()
}

func (d *Document) relsXML() []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	b.WriteString(`<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>`)
	b.WriteString(`<Relationship Id="rIdSettings" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/>`)
	b.WriteString(`<Relationship Id="rIdFonts" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/fontTable" Target="fontTable.xml"/>`)
	if d.PageNumbers {
		b.WriteString(`<Relationship Id="rIdFooter1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/>`)
	}
	for i := range d.images {
		fmt.Fprintf(&b, `<Relationship Id="rIdImage%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/image%d.png"/>`, i+1, i+1)
	}
	b.WriteString(`</Relationships>`)
	return b.Bytes()
}

func (d *Document) coreXML() []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)
	b.WriteString(`<dc:title>`)
	esc(&b, d.Title)
	b.WriteString(`</dc:title><dc:creator>`)
	esc(&b, d.Creator)
	b.WriteString(`</dc:creator>`)
	if !d.Created.IsZero() {
		t := d.Created.UTC().Format(time.RFC3339)
		fmt.Fprintf(&b, `<dcterms:created xsi:type="dcterms:W3CDTF">%s</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">%s</dcterms:modified>`, t, t)
	}
	b.WriteString(`</cp:coreProperties>`)
	return b.Bytes()
}

const appXML = xml.Header + `<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>rectify</Application></Properties>`

// footerXML centres "— n —" in 四号 宋体.
const footerXML = xml.Header + `<w:ftr xmlns:w="` + nsW + `"><w:p><w:pPr><w:jc w:val="center"/></w:pPr>` +
	`<w:r><w:rPr><w:rFonts w:ascii="宋体" w:hAnsi="宋体" w:eastAsia="宋体"/><w:sz w:val="28"/></w:rPr><w:t xml:space="preserve">— </w:t></w:r>` +
	`<w:r><w:rPr><w:rFonts w:ascii="宋体" w:hAnsi="宋体" w:eastAsia="宋体"/><w:sz w:val="28"/></w:rPr><w:fldChar w:fldCharType="begin"/></w:r>` +
	`<w:r><w:rPr><w:rFonts w:ascii="宋体" w:hAnsi="宋体" w:eastAsia="宋体"/><w:sz w:val="28"/></w:rPr><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>` +
	`<w:r><w:rPr><w:rFonts w:ascii="宋体" w:hAnsi="宋体" w:eastAsia="宋体"/><w:sz w:val="28"/></w:rPr><w:fldChar w:fldCharType="end"/></w:r>` +
	`<w:r><w:rPr><w:rFonts w:ascii="宋体" w:hAnsi="宋体" w:eastAsia="宋体"/><w:sz w:val="28"/></w:rPr><w:t xml:space="preserve"> —</w:t></w:r></w:p></w:ftr>`

var alignVal = map[Align]string{AlignBoth: "both", AlignLeft: "left", AlignCenter: "center", AlignRight: "right"}

// writeParagraph writes p; extra, when given, is raw run XML written after
// p's runs (an image).
func writeParagraph(b *bytes.Buffer, p Paragraph, extra []byte) {
	b.WriteString(`<w:p><w:pPr>`)
	if p.KeepNext {
		b.WriteString(`<w:keepNext/>`)
	}
	if p.PageBreak {
		b.WriteString(`<w:pageBreakBefore/>`)
	}
	if p.Bottom != nil {
		fmt.Fprintf(b, `<w:pBdr><w:bottom w:val="single" w:sz="%d" w:space="1" w:color="%s"/></w:pBdr>`, p.Bottom.Size, colorOr(p.Bottom.Color))
	}
	switch {
	case p.LineTwips > 0:
		fmt.Fprintf(b, `<w:spacing w:before="%d" w:after="%d" w:line="%d" w:lineRule="exact"/>`, p.SpaceBefore, p.SpaceAfter, p.LineTwips)
	case p.LineTwips < 0: // single, for tables and images
		fmt.Fprintf(b, `<w:spacing w:before="%d" w:after="%d" w:line="240" w:lineRule="auto"/>`, p.SpaceBefore, p.SpaceAfter)
	case p.SpaceBefore > 0 || p.SpaceAfter > 0:
		fmt.Fprintf(b, `<w:spacing w:before="%d" w:after="%d"/>`, p.SpaceBefore, p.SpaceAfter)
	}
	if p.FirstLineChars > 0 || p.RightChars > 0 {
		fmt.Fprintf(b, `<w:ind w:firstLineChars="%d" w:rightChars="%d"/>`, p.FirstLineChars*100, p.RightChars*100)
	}
	fmt.Fprintf(b, `<w:jc w:val="%s"/></w:pPr>`, alignVal[p.Align])
	for _, r := range p.Runs {
		writeRun(b, r)
	}
	b.Write(extra)
	b.WriteString(`</w:p>`)
}

func colorOr(c string) string {
	if c == "" {
		return "auto"
	}
	return hexColor(c)
}

// hexColor keeps only a six-digit hex colour; anything else is "auto".
func hexColor(c string) string {
	if len(c) != 6 {
		return "auto"
	}
	for _, r := range c {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return "auto"
		}
	}
	return c
}

func writeRun(b *bytes.Buffer, r Run) {
	b.WriteString(`<w:r><w:rPr>`)
	if r.Font != (Font{}) {
		b.WriteString(`<w:rFonts w:ascii="`)
		esc(b, r.Font.Latin)
		b.WriteString(`" w:hAnsi="`)
		esc(b, r.Font.Latin)
		b.WriteString(`" w:eastAsia="`)
		esc(b, r.Font.EastAsia)
		b.WriteString(`" w:hint="eastAsia"/>`)
	}
	if r.Bold {
		b.WriteString(`<w:b/><w:bCs/>`)
	}
	if r.Color != "" {
		fmt.Fprintf(b, `<w:color w:val="%s"/>`, hexColor(r.Color))
	}
	if r.Size > 0 {
		fmt.Fprintf(b, `<w:sz w:val="%d"/><w:szCs w:val="%d"/>`, r.Size, r.Size)
	}
	b.WriteString(`</w:rPr>`)
	for i, line := range strings.Split(r.Text, "\n") {
		if i > 0 {
			b.WriteString(`<w:br/>`)
		}
		for j, part := range strings.Split(line, "\t") {
			if j > 0 {
				b.WriteString(`<w:tab/>`)
			}
			if part == "" {
				continue
			}
			b.WriteString(`<w:t xml:space="preserve">`)
			esc(b, strings.TrimSuffix(part, "\r"))
			b.WriteString(`</w:t>`)
		}
	}
	b.WriteString(`</w:r>`)
}

func writeTable(b *bytes.Buffer, t Table) {
	total := 0
	for _, w := range t.Widths {
		total += w
	}
	fmt.Fprintf(b, `<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="%d" w:type="dxa"/><w:jc w:val="center"/><w:tblLayout w:type="fixed"/></w:tblPr><w:tblGrid>`, total)
	for _, w := range t.Widths {
		fmt.Fprintf(b, `<w:gridCol w:w="%d"/>`, w)
	}
	b.WriteString(`</w:tblGrid>`)
	for i, row := range t.Rows {
		b.WriteString(`<w:tr>`)
		if i < t.HeaderRows {
			b.WriteString(`<w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>`)
		} else {
			b.WriteString(`<w:trPr><w:cantSplit/></w:trPr>`)
		}
		col := 0
		for _, c := range row {
			span := max(c.Span, 1)
			w := 0
			for k := col; k < col+span && k < len(t.Widths); k++ {
				w += t.Widths[k]
			}
			col += span
			fmt.Fprintf(b, `<w:tc><w:tcPr><w:tcW w:w="%d" w:type="dxa"/>`, w)
			if span > 1 {
				fmt.Fprintf(b, `<w:gridSpan w:val="%d"/>`, span)
			}
			if c.Fill != "" {
				fmt.Fprintf(b, `<w:shd w:val="clear" w:color="auto" w:fill="%s"/>`, hexColor(c.Fill))
			}
			b.WriteString(`<w:vAlign w:val="center"/></w:tcPr>`)
			if len(c.Paragraphs) == 0 {
				b.WriteString(`<w:p/>`) // a cell must hold a paragraph
			}
			for _, p := range c.Paragraphs {
				writeParagraph(b, p, nil)
			}
			b.WriteString(`</w:tc>`)
		}
		b.WriteString(`</w:tr>`)
	}
	b.WriteString(`</w:tbl><w:p><w:pPr><w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/></w:pPr></w:p>`)
}

func writeDrawing(b *bytes.Buffer, n int, cx, cy int64, descr string) {
	fmt.Fprintf(b, `<w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="%d" cy="%d"/><wp:docPr id="%d" name="图片 %d" descr="`, cx, cy, n, n)
	esc(b, descr)
	fmt.Fprintf(b, `"/><wp:cNvGraphicFramePr><a:graphicFrameLocks noChangeAspect="1"/></wp:cNvGraphicFramePr><a:graphic><a:graphicData uri="%s"><pic:pic><pic:nvPicPr><pic:cNvPr id="%d" name="image%d.png"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="rIdImage%d"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="%d" cy="%d"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>`,
		nsPic, n, n, n, cx, cy)
}
