package verifier_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/tdcheck"
	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// TestEUVectors scores every expectation of the shared EU test data
// (internal/tdcheck has the semantics); the known upstream faults are set
// aside with their reason, and an entry that starts to agree fails the test
// so that the list stays true.
func TestEUVectors(t *testing.T) {
	root := testdata.Dir(t, "dgc")
	files, err := tdcheck.Files(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("found only %d vectors under %s", len(files), root)
	}
	checked, skipped := 0, 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			vec, err := tdcheck.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(vec.Expected) == 0 {
				t.Skip("no EXPECTEDRESULTS")
			}
			outcomes, res, err := tdcheck.Run(context.Background(), vec)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outcomes {
				if o.Skipped != "" {
					t.Logf("skip %s: %s", o.Key, o.Skipped)
					continue
				}
				if why, known := tdcheck.KnownIssues[rel+":"+o.Key]; known {
					if o.Agrees() {
						t.Errorf("%s is listed as a known issue (%s) but now agrees: remove it from the list", o.Key, why)
					}
					t.Logf("skip %s: %s", o.Key, why)
					skipped++
					continue
				}
				checked++
				if !o.Agrees() {
					t.Errorf("%s: got %v, want %v (%s) — %s; reasons %v", o.Key, o.Got, o.Want, vec.TestCtx.Description, o.Detail, res.Reasons)
				}
			}
		})
	}
	t.Logf("%d files, %d expectations checked, %d skipped as known-inconsistent", len(files), checked, skipped)
}
