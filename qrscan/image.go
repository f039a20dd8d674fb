package qrscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // GIF input
	_ "image/jpeg" // JPEG input
	_ "image/png"  // PNG input
	"net/http"
	"strings"

	_ "golang.org/x/image/webp" // WebP input
)

// Limits on images, checked from the header before any pixel is decoded.
const (
	MaxImageBytes  = 20 << 20
	MaxImagePixels = 40_000_000
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

// Read decodes an image within the size limits and scans it.
func Read(ctx context.Context, data []byte, opts Options) (Found, error) {
	img, err := Decode(data)
	if err != nil {
		return Found{}, err
	}
	return Scan(ctx, img, opts)
}

// Decode decodes an image (PNG, JPEG, GIF, WebP) after checking its byte
// size and, from the header alone, its pixel count.
func Decode(data []byte) (image.Image, error) {
	if len(data) > MaxImageBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrImageTooLarge, len(data), MaxImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImageFormat, err)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > MaxImagePixels {
		return nil, fmt.Errorf("%w: %d×%d pixels, at most %d", ErrImageTooLarge, cfg.Width, cfg.Height, MaxImagePixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrImageFormat, format, err)
	}
	return img, nil
}
