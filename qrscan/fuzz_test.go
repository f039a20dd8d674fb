package qrscan

import (
	"context"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// FuzzRead feeds arbitrary bytes to Read, as a photo and as a live frame:
// image decoding, the size checks and every pass must fail cleanly, never
// panic.
func FuzzRead(f *testing.F) {
	// Small seeds keep each run short: a mutated image that still decodes is
	// scanned by every pass until the deadline.
	for _, b := range testdata.SmallPhotos(f) {
		f.Add(b)
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		for _, opts := range []Options{
			{Mode: Photo, Budget: 50 * time.Millisecond},
			{Mode: Frame, Budget: 50 * time.Millisecond},
			// A caller that accepts nothing: every reading runs, the soft
			// reading and the restorations too.
			{Mode: Photo, Budget: 50 * time.Millisecond, Accept: func(string) bool { return false }},
		} {
			found, err := Read(ctx, data, opts)
			if err == nil && found.Text == "" {
				t.Fatal("no error and no text")
			}
		}
	})
}
