package verifier

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// FuzzVerifyText runs arbitrary text through every stage: no panic, a
// reason for every failed stage, and never "valid" without a trusted signer.
func FuzzVerifyText(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(testdata.Dir(f, "dgc"), "*", "2DCode", "[Rr]aw", "*.json"))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var vec struct {
			Prefix string `json:"PREFIX"`
		}
		if json.Unmarshal(raw, &vec) == nil && vec.Prefix != "" {
			f.Add(vec.Prefix)
		}
	}
	v := New(nil)
	f.Fuzz(func(t *testing.T, text string) {
		r := v.VerifyText(context.Background(), text)
		if r.Valid {
			t.Fatal("valid without any trusted DSC")
		}
		failed := map[Stage]bool{}
		for _, reason := range r.Reasons {
			failed[reason.Stage] = true
			if reason.Code == "" || reason.Message == "" {
				t.Fatalf("empty reason %+v", reason)
			}
		}
		for _, s := range stageOrder {
			if (r.Stages.Get(s) == Fail) != failed[s] {
				t.Fatalf("stage %s is %s but reasons are %v", s, r.Stages.Get(s), r.Reasons)
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzVerifyFrame feeds arbitrary bytes to the picture stage as a live
// frame: nothing is trusted, so the answer can only be invalid, with
// reasons, and never a panic.
func FuzzVerifyFrame(f *testing.F) {
	for _, b := range testdata.SmallPhotos(f) {
		f.Add(b)
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if r := New(nil, WithFrameBudget(50*time.Millisecond)).VerifyFrame(ctx, data); r.Valid || len(r.Reasons) == 0 {
			t.Fatalf("live frame: valid %v, reasons %v", r.Valid, r.Reasons)
		}
	})
}
