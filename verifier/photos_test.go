package verifier

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// photoCase is one image of the photo corpus with the text its code holds.
type photoCase struct {
	class, file, want string
}

func loadPhotoCorpus(t testing.TB) []photoCase {
	t.Helper()
	dir := testdata.Dir(t, "photos")
	expected := map[string]string{}
	readTSV(t, filepath.Join(dir, "expected.tsv"), func(f []string) { expected[f[0]] = f[1] })
	var cases []photoCase
	readTSV(t, filepath.Join(dir, "manifest.tsv"), func(f []string) {
		want, ok := expected[f[2]]
		if !ok {
			t.Fatalf("manifest source %s has no expected text", f[2])
		}
		cases = append(cases, photoCase{class: f[0], file: filepath.Join(dir, f[1]), want: want})
	})
	return cases
}

func readTSV(t testing.TB, path string, row func([]string)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for first := true; sc.Scan(); first = false {
		if first {
			continue // header
		}
		if fields := strings.Split(sc.Text(), "\t"); len(fields) >= 2 {
			row(fields)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// photoRatchet is the per-class share of the corpus greenpass reads exactly.
// It only goes up: lower it and the change is a regression.
var photoRatchet = map[string]float64{}

func TestPhotoCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("photo corpus: skipped with -short")
	}
	cases := loadPhotoCorpus(t)
	type tally struct{ n, ok int }
	byClass := map[string]*tally{}
	start := time.Now()
	for _, c := range cases {
		tl := byClass[c.class]
		if tl == nil {
			tl = &tally{}
			byClass[c.class] = tl
		}
		tl.n++
		data, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		text, err := ReadQR(context.Background(), data)
		if err == nil && text == c.want {
			tl.ok++
		}
	}
	classes := make([]string, 0, len(byClass))
	total, ok := 0, 0
	for c, tl := range byClass {
		classes = append(classes, c)
		total += tl.n
		ok += tl.ok
	}
	sort.Strings(classes)
	for _, c := range classes {
		tl := byClass[c]
		rate := float64(tl.ok) / float64(tl.n)
		t.Logf("%-17s %3d/%3d %5.1f%%", c, tl.ok, tl.n, 100*rate)
		if min, ok := photoRatchet[c]; ok && rate < min {
			t.Errorf("class %s: %.1f%% read, the ratchet is %.1f%%", c, 100*rate, 100*min)
		}
	}
	t.Logf("overall %d/%d %.1f%% in %v", ok, total, 100*float64(ok)/float64(total), time.Since(start).Round(time.Millisecond))
}
