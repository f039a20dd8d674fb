package pdfimage

import (
	"context"
	"errors"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/qrtest"
)

// FuzzImages: any bytes give images within the limits or one of the
// package's errors, never a panic.
func FuzzImages(f *testing.F) {
	f.Add(qrtest.PDF(qrtest.PDFGray(8, 8, func(x, y int) byte { return byte(x * y) })))
	f.Add(qrtest.PDF())
	f.Add([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		imgs, err := Images(context.Background(), data)
		if err != nil && !errors.Is(err, ErrNotPDF) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnreadable) {
			t.Fatalf("error outside the package's: %v", err)
		}
		if len(imgs) > MaxImages {
			t.Fatalf("%d images", len(imgs))
		}
		for _, im := range imgs {
			if len(im.Data) > MaxImageBytes {
				t.Fatalf("image of %d bytes", len(im.Data))
			}
		}
	})
}
