package verifier

import (
	"bytes"
	"cmp"
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

// Errors of the picture stage.
var (
	ErrImageTooLarge = errors.New("image too large")
	ErrImageFormat   = errors.New("unsupported or corrupt image")
	ErrQRNotFound    = errors.New("no QR code found")
)

// IsImage reports whether data looks like an image this package reads.
func IsImage(data []byte) bool {
	return strings.HasPrefix(http.DetectContentType(data), "image/")
}

// VerifyImage reads the QR code in an image (PNG, JPEG, GIF, WebP) and
// verifies the DCC it holds. It looks hard: blurred, small, noisy and tilted
// codes in photos are worth the scan budget.
func (v *Verifier) VerifyImage(ctx context.Context, data []byte) *Result {
	return v.verifyPicture(ctx, data, scanPhoto)
}

// VerifyFrame is VerifyImage for one frame of a live camera, within the
// frame budget: it goes on to the costlier filters only when the frame shows
// a code it could not read at once, so a frame without a code (most of them,
// while the camera is pointed) or with another code costs a few
// milliseconds, not the scan budget. The camera's next frame is the retry.
func (v *Verifier) VerifyFrame(ctx context.Context, data []byte) *Result {
	return v.verifyPicture(ctx, data, scanFrame)
}

func (v *Verifier) verifyPicture(ctx context.Context, data []byte, mode scanMode) *Result {
	r := &Result{ValidatedAt: v.now().UTC(), Reasons: []Reason{}}
	for _, s := range stageOrder {
		r.Stages.set(s, Skipped)
	}
	budget := v.scanBudget
	if mode == scanFrame {
		budget = cmp.Or(v.frameBudget, DefaultFrameBudget)
	}
	if budget <= 0 {
		budget = DefaultQRBudget
	}
	img, err := DecodeImage(data)
	var text string
	if err == nil {
		text, err = scanQR(ctx, img, budget, mode)
	}
	if err != nil {
		r.fail(StagePicture, codeFor(err, CodeQRNotFound), err.Error())
		return r
	}
	r.pass(StagePicture)
	v.verifyText(ctx, r, text)
	return r
}

// ReadQR decodes an image within the size limits and returns the text of the
// QR code in it.
func ReadQR(ctx context.Context, data []byte) (string, error) {
	img, err := DecodeImage(data)
	if err != nil {
		return "", err
	}
	return scanQR(ctx, img, DefaultQRBudget, scanPhoto)
}

// DecodeImage decodes an image after checking its byte size and, from the
// header alone, its pixel count.
func DecodeImage(data []byte) (image.Image, error) {
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
