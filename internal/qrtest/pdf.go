package qrtest

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/color"
	"strings"
)

// PDFImage is an image XObject as a PDF holds it: its dictionary entries
// (without /Type, /Subtype and /Length) and its stream's bytes.
type PDFImage struct {
	Dict   string
	Stream []byte
}

// PDF builds a one-page document whose page draws the images, with a
// correct cross-reference table: what an issuer's PDF is to a reader,
// without an issuer's layout.
func PDF(images ...PDFImage) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	var xobjects, content strings.Builder
	for i := range images {
		fmt.Fprintf(&xobjects, "/I%d %d 0 R ", i, 5+i)
		fmt.Fprintf(&content, "q 100 0 0 100 %d 0 cm /I%d Do Q\n", 100*i, i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << " + xobjects.String() + ">> >> /Contents 4 0 R >>")
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len(), content.String()))
	for _, im := range images {
		obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image %s /Length %d >>\nstream\n%s\nendstream", im.Dict, len(im.Stream), im.Stream))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// PDFGray is a w×h 8-bit DeviceGray image XObject with the pixels px
// gives, deflated.
func PDFGray(w, h int, px func(x, y int) byte) PDFImage {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, w)
	for y := range h {
		for x := range row {
			row[x] = px(x, y)
		}
		zw.Write(row)
	}
	zw.Close()
	return PDFImage{fmt.Sprintf("/Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", w, h), z.Bytes()}
}

// PDFOf is PDFGray of an image.
func PDFOf(img image.Image) PDFImage {
	b := img.Bounds()
	return PDFGray(b.Dx(), b.Dy(), func(x, y int) byte {
		return color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
	})
}
