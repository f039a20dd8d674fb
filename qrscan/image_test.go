package qrscan

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/qrtest"
)

// Inspect decides from the header alone: decoded size, pixel count, bytes,
// and whether the file could hold what it declares.
func TestInspect(t *testing.T) {
	var small bytes.Buffer
	png.Encode(&small, image.NewRGBA(image.Rect(0, 0, 40, 30)))
	for _, tc := range []struct {
		name    string
		data    []byte
		err     error
		decoded int64
	}{
		{"a small RGBA picture", small.Bytes(), nil, 40 * 30 * 4},
		{"a 12-megapixel 8-bit RGB photo", qrtest.PNGHeader(4000, 3000, 8, 2, 1000), nil, 4000 * 3000 * 4},
		{"16-bit RGBA under the pixel cap, 320 MB decoded (the bomb)", qrtest.PNGHeader(6320, 6320, 16, 6, 300_000), ErrImageTooLarge, 0},
		{"over the pixel cap", qrtest.PNGHeader(8000, 8000, 8, 0, 300_000), ErrImageTooLarge, 0},
		{"a header declaring more than its bytes hold", qrtest.PNGHeader(6320, 6320, 16, 6, 0), ErrImageFormat, 0},
		{"GIF89a-not-really", []byte("GIF89a-not-really"), ErrImageFormat, 0},
		{"zero pixels", qrtest.PNGHeader(0, 10, 8, 0, 0), ErrImageFormat, 0},
		{"not an image", []byte("hello"), ErrImageFormat, 0},
		{"too many bytes", make([]byte, MaxImageBytes+1), ErrImageTooLarge, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Inspect(tc.data)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Inspect = %+v, %v; want %v", h, err, tc.err)
			}
			if tc.err == nil && (h.DecodedBytes != tc.decoded || h.ScanBytes <= h.DecodedBytes) {
				t.Fatalf("decoded %d (want %d), scan %d", h.DecodedBytes, tc.decoded, h.ScanBytes)
			}
		})
	}
}
