package pdfimage

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"runtime"
	"strings"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/qrtest"
)

func TestImages(t *testing.T) {
	checker := func(x, y int) byte { return byte(255 * ((x/4 + y/4) % 2)) }
	one := qrtest.PDF(qrtest.PDFGray(40, 30, checker))
	imgs, err := Images(context.Background(), one)
	if err != nil || len(imgs) != 1 {
		t.Fatalf("Images: %d images, %v", len(imgs), err)
	}
	got, err := png.Decode(bytes.NewReader(imgs[0].Data))
	if err != nil || imgs[0].Format != "png" || imgs[0].Page != 1 {
		t.Fatalf("image %q on page %d: %v", imgs[0].Format, imgs[0].Page, err)
	}
	if b := got.Bounds(); b.Dx() != 40 || b.Dy() != 30 {
		t.Fatalf("image %v, want 40×30", b)
	}
	for _, p := range []image.Point{{0, 0}, {5, 1}, {9, 9}, {39, 29}} {
		want := color.Gray{checker(p.X, p.Y)}
		if c := color.GrayModel.Convert(got.At(p.X, p.Y)); c != want {
			t.Errorf("pixel %v is %v, want %v", p, c, want)
		}
	}

	many := make([]qrtest.PDFImage, MaxImages+4)
	for i := range many {
		// Different pixels each: the reader merges identical images.
		many[i] = qrtest.PDFGray(8, 8, func(x, y int) byte { return byte(i) })
	}
	if imgs, err := Images(context.Background(), qrtest.PDF(many...)); err != nil || len(imgs) != MaxImages {
		t.Errorf("%d images in the document: took %d (%v), want the first %d", len(many), len(imgs), err, MaxImages)
	}

	if imgs, err := Images(context.Background(), qrtest.PDF()); err != nil || len(imgs) != 0 {
		t.Errorf("document without images: %d, %v", len(imgs), err)
	}
}

// The attacker's documents: each is refused with the error callers branch
// on, without a panic and without allocating what its declarations ask for.
func TestImagesRefuses(t *testing.T) {
	// 20,000 × 20,000 pixels (400 MB) in a stream of a few hundred KB.
	bomb := qrtest.PDF(qrtest.PDFGray(20_000, 20_000, func(x, y int) byte { return 0 }))
	// A small stream claiming to be that large.
	liar := qrtest.PDF(qrtest.PDFImage{Dict: "/Width 100000 /Height 100000 /ColorSpace /DeviceRGB /BitsPerComponent 8", Stream: []byte("xyz")})
	deep := []byte("%PDF-1.7\n1 0 obj\n" + strings.Repeat("[", 100_000) + "\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"not a PDF", []byte("GIF89a"), ErrNotPDF},
		{"empty", nil, ErrNotPDF},
		{"over the byte limit", append([]byte("%PDF-1.7\n"), make([]byte, MaxBytes)...), ErrTooLarge},
		{"header only", []byte("%PDF-1.7\n"), ErrUnreadable},
		{"nested arrays", deep, ErrUnreadable},
		{"decompression bomb", bomb, ErrTooLarge},
		{"dimensions its stream cannot hold", liar, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			imgs, err := Images(context.Background(), tc.data)
			runtime.ReadMemStats(&after)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			if tc.want == nil && len(imgs) != 0 {
				t.Errorf("%d images taken out", len(imgs))
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*MaxMemory {
				t.Errorf("allocated %d MB", alloc>>20)
			}
		})
	}
}

func TestImagesCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Images(ctx, qrtest.PDF(qrtest.PDFGray(8, 8, func(x, y int) byte { return 0 }))); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}
