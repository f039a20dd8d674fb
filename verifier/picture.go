package verifier

import (
	"context"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/qrscan"
)

// VerifyImage reads the QR code in an image (PNG, JPEG, GIF, WebP) and
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
	found, err := qrscan.Read(ctx, data, qrscan.Options{Mode: mode, Budget: budget, Accept: hcert.IsDCCText})
	if err != nil {
		r.fail(StagePicture, codeFor(err, CodeQRNotFound), err.Error())
		return r
	}
	r.pass(StagePicture)
	v.verifyText(ctx, r, found.Text)
	return r
}
