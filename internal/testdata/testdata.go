// Package testdata locates the shared EU test vectors and photo corpus for
// tests. They live in ../shared/testdata beside the repository and are read
// in place, never copied into the repository.
package testdata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of shared/testdata/<sub>. It looks at
// $GREENPASS_TESTDATA, then walks up from the working directory to a folder
// that has shared/testdata beside it. A test that needs the vectors fails
// (not skips) when they are missing: CI must never pass by not looking.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	if d := os.Getenv("GREENPASS_TESTDATA"); d != "" {
		return filepath.Join(d, sub)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "testdata")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return filepath.Join(cand, sub)
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("shared/testdata not found above %s; set GREENPASS_TESTDATA", wd)
		}
	}
}

// SmallPhotos are two small photos of the corpus: fuzz seeds that still
// decode as images and keep each run short.
func SmallPhotos(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{"small1.5px/BE_png_1.png", "small2px/AT_png_1.png"} {
		if b, err := os.ReadFile(filepath.Join(Dir(t, "photos"), name)); err == nil {
			out = append(out, b)
		}
	}
	return out
}
