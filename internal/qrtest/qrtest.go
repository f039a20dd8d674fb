// Package qrtest draws QR codes for tests: one code at a given module size,
// and several side by side as one picture.
package qrtest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/draw"
	"image/png"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Image renders text as a QR code with px pixels per module.
func Image(t *testing.T, text string, px int) image.Image {
	t.Helper()
	w := qrcode.NewQRCodeWriter()
	probe, err := w.Encode(text, gozxing.BarcodeFormat_QR_CODE, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := w.Encode(text, gozxing.BarcodeFormat_QR_CODE, probe.GetWidth()*px, probe.GetWidth()*px, nil)
	if err != nil {
		t.Fatal(err)
	}
	return bm
}

// SideBySide pastes images left to right on white.
func SideBySide(imgs ...image.Image) []byte {
	w, h := 0, 0
	for _, im := range imgs {
		w += im.Bounds().Dx()
		h = max(h, im.Bounds().Dy())
	}
	canvas := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	x := 0
	for _, im := range imgs {
		draw.Draw(canvas, im.Bounds().Add(image.Pt(x, 0)), im, im.Bounds().Min, draw.Src)
		x += im.Bounds().Dx()
	}
	var buf bytes.Buffer
	png.Encode(&buf, canvas)
	return buf.Bytes()
}

// PNGHeader is a PNG that is all header: IHDR with the given size, bit
// depth and colour type, a text chunk of pad bytes, IEND. DecodeConfig
// reads it; decoding its pixels fails.
func PNGHeader(w, h uint32, depth, colorType byte, pad int) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, colorType
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, PNGChunk("IHDR", ihdr)...)
	if pad > 0 {
		b = append(b, PNGChunk("tEXt", append([]byte("Comment\x00"), bytes.Repeat([]byte("x"), pad)...))...)
	}
	return append(b, PNGChunk("IEND", nil)...)
}

// PNGChunk is one PNG chunk: length, type, data and CRC.
func PNGChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(append(b, typ...), data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}
