// Package pdfimage takes the raster images out of a PDF document, within
// limits, so that the QR code of a certificate's PDF (greenpass's own, or
// another issuer's that embeds the code as an image) can be scanned like a
// photo of it. It reads PDFs with pdfcpu, whose resource limits bound
// every allocation the document's declarations drive; it knows nothing of
// QR codes or certificates.
package pdfimage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// Limits on a document. A certificate's PDF is one or two pages with one
// code; the limits leave room for a scan of a printout (one large image a
// page) and refuse what no certificate needs.
const (
	MaxBytes = 20 << 20
	// MaxImages is how many images are taken out, in page order; the
	// rest are not decoded.
	MaxImages = 16
	// MaxImagePixels and MaxImageBytes bound one image, MaxDecodeBytes
	// one decoded stream (an image's pixels, a page's content).
	MaxImagePixels = 40_000_000
	MaxImageBytes  = 64 << 20
	MaxDecodeBytes = 64 << 20
	// MaxMemory is what reading one document may hold at most, for
	// callers that budget memory: the document, one decoded stream and
	// the images kept.
	MaxMemory = MaxBytes + MaxDecodeBytes + 2*MaxImageBytes
)

// Errors callers branch on.
var (
	ErrNotPDF     = errors.New("not a PDF document")
	ErrTooLarge   = errors.New("PDF too large")
	ErrUnreadable = errors.New("unreadable PDF")
)

// Image is one raster image of the document, encoded in Format (png,
// jpg, tif, …) as pdfcpu renders it from its stream.
type Image struct {
	Page   int
	Format string
	Data   []byte
}

// IsPDF reports whether data starts as a PDF file does.
func IsPDF(data []byte) bool {
	return bytes.HasPrefix(data, []byte("%PDF-"))
}

// errEnough stops the extraction once MaxImages are taken.
var errEnough = errors.New("enough images")

// Images returns the document's raster images in page order, at most
// MaxImages. Images that pdfcpu cannot render (an unsupported filter or
// colour space) are skipped; a document it cannot read at all, or whose
// declarations pass a limit, is an error.
func Images(ctx context.Context, data []byte) (imgs []Image, err error) {
	// pdfcpu turns its own failures into errors; anything else that
	// panics on a hostile document is an unreadable document here, not a
	// crashed server.
	defer func() {
		if r := recover(); r != nil {
			imgs, err = nil, fmt.Errorf("%w: the reader failed: %v", ErrUnreadable, r)
		}
	}()
	if !IsPDF(data) {
		return nil, ErrNotPDF
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxBytes)
	}
	conf := model.NewStatelessConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.UnsupportedResourcePolicy = model.UnsupportedResourceSkip
	conf.Limits = model.ResourceLimits{
		MaxInputBytes:        MaxBytes,
		MaxObjectBytes:       4 << 20,
		MaxStreamBytes:       MaxBytes,
		MaxDecodeBytes:       MaxDecodeBytes,
		MaxImagePixels:       MaxImagePixels,
		MaxImageBytes:        MaxImageBytes,
		MaxObjectCount:       100_000,
		MaxObjectStreamCount: 10_000,
		MaxObjectStreamFirst: 1 << 20,
		MaxXRefEntries:       100_000,
		MaxRecursionDepth:    32,
	}
	var out []Image
	var size int64
	err = api.ExtractImages(ctx, bytes.NewReader(data), nil, func(img model.Image, _ bool, _ int) error {
		if len(out) == MaxImages {
			return errEnough
		}
		b, err := io.ReadAll(io.LimitReader(img, MaxImageBytes+1))
		if err != nil {
			return err
		}
		if size += int64(len(b)); len(b) > MaxImageBytes || size > 2*MaxImageBytes {
			return fmt.Errorf("%w: the images hold more than %d MB", ErrTooLarge, 2*MaxImageBytes>>20)
		}
		out = append(out, Image{Page: img.PageNr, Format: img.FileType, Data: b})
		return nil
	}, conf)
	var unsupported *api.UnsupportedResourceError
	switch {
	case err == nil, errors.Is(err, errEnough), errors.As(err, &unsupported):
		return out, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, ErrTooLarge):
		return nil, err
	case errors.Is(err, filter.ErrDecodeLimitExceeded):
		return nil, fmt.Errorf("%w: a stream decodes to more than %d MB", ErrTooLarge, MaxDecodeBytes>>20)
	}
	return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
}
