package qrscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // GIF input
	_ "image/jpeg" // JPEG input
	_ "image/png"  // PNG input
	"net/http"
	"strings"

	_ "golang.org/x/image/webp" // WebP input
)

// Limits on images, checked from the header before any pixel is decoded.
// MaxDecodedBytes counts what decoding allocates (width × height × bytes
// per pixel of the colour model): a 16-bit RGBA picture of 40 megapixels
// would take 320 MB, a phone's 12-megapixel JPEG takes 36 MB.
const (
	MaxImageBytes   = 20 << 20
	MaxImagePixels  = 40_000_000
	MaxDecodedBytes = 64 << 20
	// maxPixelsPerByte bounds how many pixels one byte of a real image
	// holds: deflate and LZW reach about 1,000 to 3,000 (a 1-bit PNG
	// eight times that); a header declaring more describes pixels its
	// file cannot contain.
	maxPixelsPerByte = 25_000
	// scanBytesPerPixel is what a scan holds at its peak per pixel of the
	// working image: the filtered images it keeps (as it is, inverted,
	// sharpened, twice the size: 7 bytes), the largest pass's and the
	// finder correlation's 13 bytes a pixel. Measured on noise, where every
	// pass runs: 42 bytes a pixel at 400², 800² and 1600² while passes
	// upscaled ×3 (then sharpened: 36 bytes); since they went, 27 at 800²
	// and at 346², the largest image whose double the restorations search
	// (TestScanStaysWithinItsWeight). The weight is left where it was.
	scanBytesPerPixel = 48
	// scanFixedBytes is what a scan holds whatever the image's size: the
	// restorations' equations and spectra grow with the code's version,
	// not with the picture, and gozxing's structures with neither. Peaks
	// measured with every reading running (an Accept that takes nothing):
	// 2.3–2.7 MB for version-22 codes of 0.8 to 2 px per module in images
	// of 94² to 234², 6.3 MB for a version-40 code at 1 px per module
	// (189²), where the per-pixel weight gave 0.4 to 2.7 MB
	// (TestScanStaysWithinItsWeight).
	scanFixedBytes = 6 << 20
	// MaxScanBytes is the most one scan holds, what Inspect's ScanBytes
	// reaches at the limits.
	MaxScanBytes = MaxDecodedBytes + MaxImagePixels + scanBytesPerPixel*maxWorkingSide*maxWorkingSide + scanFixedBytes
)

// Errors callers branch on.
var (
	ErrImageTooLarge = errors.New("image too large")
	ErrImageFormat   = errors.New("unsupported or corrupt image")
	ErrNotFound      = errors.New("no QR code found")
	// ErrMultiple: the image shows more than one code the caller accepts
	// (two certificates), and the scanner will not guess which one the
	// person means.
	ErrMultiple = errors.New("image holds more than one certificate")
)

// IsImage reports whether data looks like an image this package reads.
func IsImage(data []byte) bool {
	return strings.HasPrefix(http.DetectContentType(data), "image/")
}

// Header is what an image's header declares.
type Header struct {
	Format        string // png, jpeg, gif, webp
	Width, Height int
	// DecodedBytes is what decoding the pixels allocates, and ScanBytes
	// what a scan of them holds at most (the decoded image, its grey copy
	// and the working images of the passes).
	DecodedBytes, ScanBytes int64
}

// Inspect reads an image's header only and checks it against the limits:
// ErrImageTooLarge past the byte, pixel or decoded-size limit,
// ErrImageFormat for what is no image this package reads, or declares
// more pixels than its bytes could hold.
func Inspect(data []byte) (Header, error) {
	if len(data) > MaxImageBytes {
		return Header{}, fmt.Errorf("%w: %d bytes, at most %d", ErrImageTooLarge, len(data), MaxImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Header{}, fmt.Errorf("%w: %v", ErrImageFormat, err)
	}
	h := Header{Format: format, Width: cfg.Width, Height: cfg.Height}
	px := int64(cfg.Width) * int64(cfg.Height)
	switch {
	case cfg.Width <= 0 || cfg.Height <= 0:
		return h, fmt.Errorf("%w: %s of %d×%d pixels", ErrImageFormat, format, cfg.Width, cfg.Height)
	case px > int64(len(data))*maxPixelsPerByte:
		return h, fmt.Errorf("%w: the %s header declares %d×%d pixels in %d bytes", ErrImageFormat, format, cfg.Width, cfg.Height, len(data))
	case px > MaxImagePixels:
		return h, fmt.Errorf("%w: %d×%d pixels, at most %d", ErrImageTooLarge, cfg.Width, cfg.Height, MaxImagePixels)
	}
	h.DecodedBytes = px * int64(bytesPerPixel(cfg.ColorModel))
	if h.DecodedBytes > MaxDecodedBytes {
		return h, fmt.Errorf("%w: %d×%d pixels of %d bytes decode to %d MB, at most %d MB", ErrImageTooLarge,
			cfg.Width, cfg.Height, bytesPerPixel(cfg.ColorModel), h.DecodedBytes>>20, MaxDecodedBytes>>20)
	}
	ww, wh := scaledSize(cfg.Width, cfg.Height, workingScale(cfg.Width, cfg.Height))
	working := int64(ww) * int64(wh)
	h.ScanBytes = h.DecodedBytes + px + scanBytesPerPixel*working + scanFixedBytes
	return h, nil
}

// bytesPerPixel is what the standard decoders allocate per pixel for a
// colour model; unknown models count as the widest.
func bytesPerPixel(m color.Model) int {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// Read decodes an image within the size limits and scans it.
func Read(ctx context.Context, data []byte, opts Options) (Found, error) {
	img, err := Decode(data)
	if err != nil {
		return Found{}, err
	}
	return Scan(ctx, img, opts)
}

// Decode decodes an image (PNG, JPEG, GIF, WebP) after Inspect passed its
// header.
func Decode(data []byte) (image.Image, error) {
	h, err := Inspect(data)
	if err != nil {
		return nil, err
	}
	if h.Format == "png" {
		if img, ok := decodeGrayPNG(data); ok {
			return img, nil // the common case, at about twice image/png's speed (png.go)
		}
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrImageFormat, h.Format, err)
	}
	return img, nil
}
