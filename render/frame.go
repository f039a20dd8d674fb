package render

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
)

// CameraFrame is a camera-like frame of width×height pixels showing the QR
// code of text: the symbol, as large as fits in 60 % of the shorter side,
// on a grey background with sensor noise, lit unevenly, JPEG-compressed
// (quality 85) — what a checkpoint's phone sends. seed makes the noise
// repeatable.
func CameraFrame(text string, width, height int, seed uint64) ([]byte, image.Image, error) {
	if width < 64 || height < 64 || width > 8000 || height > 8000 {
		return nil, nil, fmt.Errorf("render: frame %d×%d outside 64–8000", width, height)
	}
	m, err := Encode(text)
	if err != nil {
		return nil, nil, err
	}
	side := m.Size + 2*QuietZone
	scale := min(width, height) * 6 / 10 / side
	if scale < 1 {
		return nil, nil, fmt.Errorf("render: a %d-module code does not fit a %d×%d frame", side, width, height)
	}
	frame := image.NewRGBA(image.Rect(0, 0, width, height))
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for y := range height {
		for x := range width {
			// A light falloff from the top left and some noise.
			v := 150 - 40*(x+y)/(width+height) + rng.IntN(9) - 4
			frame.Set(x, y, color.RGBA{uint8(v), uint8(v), uint8(v + 4), 255})
		}
	}
	code := m.Image(scale)
	at := image.Pt((width-code.Bounds().Dx())/2, (height-code.Bounds().Dy())/2)
	draw.Draw(frame, code.Bounds().Add(at), code, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, frame, &jpeg.Options{Quality: 85}); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), frame, nil
}
