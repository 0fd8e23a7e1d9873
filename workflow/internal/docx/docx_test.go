package docx

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"
)

// unzip returns every part of a .docx by name, each checked to be
// well-formed XML when it is XML.
func unzip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	parts := map[string][]byte{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		parts[f.Name] = b
		if strings.HasSuffix(f.Name, ".xml") || strings.HasSuffix(f.Name, ".rels") {
			dec := xml.NewDecoder(bytes.NewReader(b))
			for {
				if _, err := dec.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%s is not well-formed XML: %v", f.Name, err)
				}
			}
		}
	}
	return parts
}

// texts returns the text of every w:t in a document part, in order.
func texts(t *testing.T, doc []byte) []string {
	t.Helper()
	var out []string
	dec := xml.NewDecoder(bytes.NewReader(doc))
	in := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			in = v.Name.Space == nsW && v.Name.Local == "t"
		case xml.CharData:
			if in {
				out = append(out, string(v))
			}
		case xml.EndElement:
			in = false
		}
	}
}

func smallPNG(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDocumentPartsAndEscaping(t *testing.T) {
	d := New()
	d.Title = `督办函 <1> & "x"`
	d.Creator = "景德镇市生态环境局"
	d.Created = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	d.PageNumbers = true
	hostile := "a<b>&c\"d'e</w:t></w:r>\x01f"
	d.Add(Paragraph{Runs: []Run{{Text: "关于督办的函", Font: FontTitle, Size: SizeNo2}}, Align: AlignCenter})
	d.Add(Paragraph{Runs: []Run{{Text: "一、问题", Font: FontHeading}}, FirstLineChars: 2})
	d.Add(Paragraph{Runs: []Run{{Text: hostile}, {Text: "第一行\n第二行\t制表", Bold: true, Color: "FF0000"}}, FirstLineChars: 2})
	d.AddTable(Table{Widths: []int{1000, 3000}, HeaderRows: 1, Rows: [][]Cell{
		{TextCell("编号", FontHeading, SizeNo5, AlignCenter), TextCell("标题", FontHeading, SizeNo5, AlignCenter)},
		{TextCell("JDZ-1", FontBody, SizeNo5, AlignLeft), TextCell("<污水>", FontBody, SizeNo5, AlignLeft)},
		{{Span: 2}},
	}})
	if err := d.AddImage(Image{PNG: smallPNG(t, 400, 200), WidthMM: 100, Description: `图 "1"`}); err != nil {
		t.Fatal(err)
	}
	data, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	parts := unzip(t, data)
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/_rels/document.xml.rels",
		"word/styles.xml", "word/settings.xml", "word/fontTable.xml", "word/footer1.xml", "word/media/image1.png", "docProps/core.xml", "docProps/app.xml"} {
		if _, ok := parts[name]; !ok {
			t.Errorf("part %s missing", name)
		}
	}
	doc := string(parts["word/document.xml"])
	got := strings.Join(texts(t, parts["word/document.xml"]), "|")
	for _, want := range []string{"关于督办的函", "一、问题", "a<b>&c\"d'e</w:t></w:r>\uFFFDf", "第一行", "第二行", "制表", "JDZ-1", "<污水>"} {
		if !strings.Contains(got, want) {
			t.Errorf("text %q not in the document: %s", want, got)
		}
	}
	for _, want := range []string{
		`w:eastAsia="方正小标宋简体"`, `w:eastAsia="黑体"`, `<w:sz w:val="44"/>`, `<w:jc w:val="center"/>`,
		`<w:br/>`, `<w:tab/>`, `<w:color w:val="FF0000"/>`, `w:firstLineChars="200"`,
		`<w:pgSz w:w="11906" w:h="16838"/>`, `w:top="2098"`, `w:left="1587"`, `w:right="1474"`, `w:bottom="1984"`,
		`<w:gridSpan w:val="2"/>`, `<w:tblHeader/>`, `r:embed="rIdImage1"`, `cx="3600000" cy="1800000"`,
		`descr="图 &#34;1&#34;"`, `r:id="rIdFooter1"`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document.xml lacks %s", want)
		}
	}
	if !strings.Contains(string(parts["word/_rels/document.xml.rels"]), `Target="media/image1.png"`) {
		t.Error("the image has no relationship")
	}
	fonts := string(parts["word/fontTable.xml"])
	for _, want := range []string{`w:name="仿宋_GB2312"><w:altName w:val="仿宋"/>`, `w:name="方正小标宋简体"><w:altName w:val="华文中宋"/>`, `w:name="黑体"><w:altName w:val="SimHei"/>`} {
		if !strings.Contains(fonts, want) {
			t.Errorf("font table lacks the fallback %s", want)
		}
	}
	if !strings.Contains(string(parts["word/styles.xml"]), `w:eastAsia="仿宋_GB2312"`) {
		t.Error("the default body font is not 仿宋_GB2312")
	}
	if !strings.Contains(string(parts["docProps/core.xml"]), "督办函 &lt;1&gt; &amp; &#34;x&#34;") {
		t.Errorf("title not escaped: %s", parts["docProps/core.xml"])
	}
}

func TestImageRefusedAndSized(t *testing.T) {
	d := New()
	if err := d.AddImage(Image{PNG: []byte("GIF89a not a png")}); !errors.Is(err, ErrNotPNG) {
		t.Fatalf("a GIF was taken: %v", err)
	}
	if _, err := d.Bytes(); !errors.Is(err, ErrNotPNG) {
		t.Fatalf("the document was written after a refused image: %v", err)
	}
	// Too wide for the page: shrunk to the text width (156 mm), aspect kept.
	cx, cy := imageExtent(4000, 2000, 0, 0, A4().TextWidth())
	if want := int64(A4().TextWidth() * emuPerTwip); cx != want || cy < want/2 || cy > want/2+1 {
		t.Errorf("extent %d×%d, want %d×%d", cx, cy, want, want/2)
	}
	if cx, cy := imageExtent(100, 50, 0, 0, A4().TextWidth()); cx != 952500 || cy != 476250 {
		t.Errorf("96 dpi extent %d×%d", cx, cy)
	}
	if cx, cy := imageExtent(100, 50, 0, 20, A4().TextWidth()); cx != 1440000 || cy != 720000 {
		t.Errorf("height-only extent %d×%d", cx, cy)
	}
}

func TestA4Margins(t *testing.T) {
	p := A4()
	if tw := p.TextWidth(); tw != MM(210)-MM(28)-MM(26) || tw < MM(156)-1 || tw > MM(156)+1 {
		t.Errorf("text width %d twips, want 156 mm", tw)
	}
	if th := p.Height - p.Top - p.Bottom; th < MM(225)-1 || th > MM(225)+1 {
		t.Errorf("text height %d twips, want 225 mm", th)
	}
}

func TestHexColorRefusesInjection(t *testing.T) {
	for in, want := range map[string]string{"FF0000": "FF0000", `FF"/><x`: "auto", "red": "auto", "GG0000": "auto"} {
		if got := hexColor(in); got != want {
			t.Errorf("hexColor(%q) = %q", in, got)
		}
	}
}
