// Package render turns an issued certificate into what people handle: the
// QR code as a PNG image and a printable A4 PDF. The QR code follows the
// HCERT recommendation (alphanumeric mode, error correction level Q) with
// the 4-module quiet zone that the 2021 printouts lacked.
package render

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"
)

// QuietZone is the white margin around the symbol, in modules (ISO/IEC
// 18004 asks for four).
const QuietZone = 4

// Matrix is a QR symbol: Size×Size modules, true for dark.
type Matrix struct {
	Size    int
	modules []bool
}

// Dark reports whether module (x, y) is dark.
func (m *Matrix) Dark(x, y int) bool { return m.modules[y*m.Size+x] }

// Encode makes the QR symbol for text at error correction level Q.
func Encode(text string) (*Matrix, error) {
	code, err := encoder.Encoder_encodeWithoutHint(text, decoder.ErrorCorrectionLevel_Q)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	bm := code.GetMatrix()
	n := bm.GetWidth()
	m := &Matrix{Size: n, modules: make([]bool, n*n)}
	for y := range n {
		for x := range n {
			m.modules[y*n+x] = bm.Get(x, y) == 1
		}
	}
	return m, nil
}

// Image draws the symbol with scale pixels per module and the quiet zone.
func (m *Matrix) Image(scale int) *image.Paletted {
	side := (m.Size + 2*QuietZone) * scale
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y := range m.Size {
		for x := range m.Size {
			if !m.Dark(x, y) {
				continue
			}
			x0, y0 := (x+QuietZone)*scale, (y+QuietZone)*scale
			for dy := range scale {
				row := img.Pix[(y0+dy)*img.Stride+x0:]
				for dx := range scale {
					row[dx] = 1
				}
			}
		}
	}
	return img
}

// PNG is the QR code of text as a PNG image, scale pixels per module.
func PNG(text string, scale int) ([]byte, error) {
	if scale < 1 || scale > 32 {
		return nil, fmt.Errorf("render: scale %d outside 1–32", scale)
	}
	m, err := Encode(text)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, m.Image(scale)); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}
