package verifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/pdfimage"
	"github.com/greenpass-dcc/greenpass/qrscan"
)

// IsPicture reports whether data is an image or a PDF document: input for
// VerifyImage, not text.
func IsPicture(data []byte) bool {
	return qrscan.IsImage(data) || pdfimage.IsPDF(data)
}

// VerifyImage reads the QR code in an image (PNG, JPEG, GIF, WebP) or in
// the images of a PDF document (a certificate's printable PDF) and
// verifies the DCC it holds. It looks hard: blurred, small, noisy and tilted
// codes in photos are worth the scan budget.
func (v *Verifier) VerifyImage(ctx context.Context, data []byte) *Result {
	return v.verifyPicture(ctx, data, qrscan.Photo)
}

// VerifyFrame is VerifyImage for one frame of a live camera, within the
// frame budget: it goes on to the costlier filters only when the frame shows
// a code it could not read at once, so a frame without a code (most of them,
// while the camera is pointed) or with another code costs a few
// milliseconds, not the scan budget. The camera's next frame is the retry.
func (v *Verifier) VerifyFrame(ctx context.Context, data []byte) *Result {
	return v.verifyPicture(ctx, data, qrscan.Frame)
}

func (v *Verifier) verifyPicture(ctx context.Context, data []byte, mode qrscan.Mode) *Result {
	r := &Result{ValidatedAt: v.now().UTC(), Reasons: []Reason{}}
	for _, s := range stageOrder {
		r.Stages.set(s, Skipped)
	}
	budget := v.scanBudget
	if mode == qrscan.Frame {
		budget = v.frameBudget
	}
	opts := qrscan.Options{Mode: mode, Budget: budget, Accept: hcert.IsDCCText}
	var text string
	var err error
	if pdfimage.IsPDF(data) {
		text, err = readPDF(ctx, data, opts)
	} else {
		var found qrscan.Found
		found, err = qrscan.Read(ctx, data, opts)
		text = found.Text
	}
	if err != nil {
		r.fail(StagePicture, codeFor(err, CodeQRNotFound), err.Error())
		return r
	}
	r.pass(StagePicture)
	v.verifyText(ctx, r, text)
	return r
}

// readPDF scans the images of a PDF for the DCC, within one scan budget
// for all of them (each image's first pass always runs). As in one image,
// two different certificates are ErrMultiple: the verifier does not guess
// which one the person means; a code that is no DCC is returned only when
// no DCC was found.
func readPDF(ctx context.Context, data []byte, opts qrscan.Options) (string, error) {
	imgs, err := pdfimage.Images(ctx, data)
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(opts.TimeBudget())
	var text, other string
	unreadable := 0
	for _, im := range imgs {
		opts.Budget = max(time.Until(deadline), time.Nanosecond)
		found, err := qrscan.Read(ctx, im.Data, opts)
		switch {
		case errors.Is(err, qrscan.ErrImageFormat), errors.Is(err, qrscan.ErrImageTooLarge):
			unreadable++ // a format or size the scanner does not take: the other images may hold the code
		case err != nil && !errors.Is(err, qrscan.ErrNotFound):
			return "", err
		case err != nil:
		case !opts.Accept(found.Text):
			other = found.Text
		case text == "":
			text = found.Text
		case found.Text != text:
			return "", fmt.Errorf("%w: the PDF's images hold two", qrscan.ErrMultiple)
		}
	}
	if text == "" && other != "" {
		return other, nil // another code only: the text stages say what it is
	}
	if text == "" {
		return "", fmt.Errorf("%w in the PDF's %d images (%d of them unreadable)", qrscan.ErrNotFound, len(imgs), unreadable)
	}
	return text, nil
}
