package server

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/internal/qrtest"
	"github.com/greenpass-dcc/greenpass/pdfimage"
	"github.com/greenpass-dcc/greenpass/qrscan"
	"github.com/greenpass-dcc/greenpass/verifier"
)

// Uploads that never finish hold no scan slot: with one slot and several
// uploads stalled mid-body, a genuine scan is answered at once, and a
// stalled upload is cut off after the body timeout with 408.
func TestSlowUploadsDoNotHoldTheCheckpoint(t *testing.T) {
	text, v := checkpointFixture(t)
	gate, _ := admission.NewGate(1, 0, time.Millisecond)
	s := newTestServer(t, nil)
	s.MountCheckpoint(Checkpoint{Verifier: v, Gate: gate, BodyTimeout: 2 * time.Second})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	var stalled sync.WaitGroup
	writers := make([]*io.PipeWriter, 4)
	statuses := make([]int, len(writers))
	for i := range writers {
		pr, pw := io.Pipe()
		writers[i] = pw
		stalled.Go(func() {
			resp, err := http.Post(srv.URL+"/api/v1/verify", "image/png", pr)
			if err == nil {
				statuses[i] = resp.StatusCode
				resp.Body.Close()
			}
		})
		pw.Write([]byte("\x89PNG\r\n\x1a\n")) // the start of an upload, then nothing
	}
	for range 3 {
		resp, err := http.Post(srv.URL+"/api/v1/verify", "text/plain", strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a genuine scan beside stalled uploads: %d", resp.StatusCode)
		}
	}
	stalled.Wait() // the body timeout ends them
	for _, w := range writers {
		w.Close()
	}
	for i, st := range statuses {
		if st != http.StatusRequestTimeout {
			t.Errorf("stalled upload %d: %d, want 408", i, st)
		}
	}
}

// blockingVerifier holds every image scan until release is closed.
type blockingVerifier struct {
	staticVerifier
	started chan struct{}
	release chan struct{}
}

func (b blockingVerifier) VerifyImage(ctx context.Context, image []byte, country string) *verifier.Result {
	b.started <- struct{}{}
	<-b.release
	return b.staticVerifier.VerifyImage(ctx, image, country)
}

// Scans share a memory budget weighed from each image's header: while a
// large picture is being scanned, a second one that would not fit gets 503
// with Retry-After, a small one still goes through.
func TestCheckpointMemoryBudget(t *testing.T) {
	_, v := checkpointFixture(t)
	encode := func(w, h int) []byte {
		var b bytes.Buffer
		png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)))
		return b.Bytes()
	}
	large, small := encode(3000, 3000), encode(200, 200)
	lh, err := qrscan.Inspect(large)
	if err != nil {
		t.Fatal(err)
	}
	bv := blockingVerifier{staticVerifier: v, started: make(chan struct{}, 4), release: make(chan struct{})}
	s := newTestServer(t, nil)
	s.MountCheckpoint(Checkpoint{Verifier: bv, Memory: lh.ScanBytes + lh.ScanBytes/2})
	h := s.Handler()

	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- post(t, h, "/api/v1/verify", "image/png", large) }()
	<-bv.started
	if rec := post(t, h, "/api/v1/verify", "image/png", large); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a second large picture over the budget: %d %v", rec.Code, rec.Header())
	}
	smallDone := make(chan *httptest.ResponseRecorder, 1)
	go func() { smallDone <- post(t, h, "/api/v1/verify", "image/png", small) }()
	<-bv.started // the small one is being scanned beside the large one
	close(bv.release)
	if rec := <-smallDone; rec.Code != http.StatusOK {
		t.Fatalf("a small picture beside it: %d %s", rec.Code, rec.Body)
	}
	if rec := <-first; rec.Code != http.StatusOK {
		t.Fatalf("the first picture: %d %s", rec.Code, rec.Body)
	}
	// The budget is given back: the large picture fits again.
	if rec := post(t, h, "/api/v1/verify", "image/png", large); rec.Code != http.StatusOK {
		t.Fatalf("after the first finished: %d", rec.Code)
	}
}

// A PDF is weighed at its reader's limits, however small its bytes: what
// its images decode to is known only once they are out. Beside one PDF in
// progress a second is refused, a small picture still fits.
func TestCheckpointWeighsAPDFAtItsLimits(t *testing.T) {
	_, v := checkpointFixture(t)
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 200, 200)))
	small := b.Bytes()
	sh, err := qrscan.Inspect(small)
	if err != nil {
		t.Fatal(err)
	}
	pdf := qrtest.PDF(qrtest.PDFGray(8, 8, func(x, y int) byte { return 0 }))
	bv := blockingVerifier{staticVerifier: v, started: make(chan struct{}, 4), release: make(chan struct{})}
	s := newTestServer(t, nil)
	s.MountCheckpoint(Checkpoint{Verifier: bv, Memory: pdfimage.MaxMemory + qrscan.MaxScanBytes + sh.ScanBytes})
	h := s.Handler()

	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- post(t, h, "/api/v1/verify", "application/pdf", pdf) }()
	<-bv.started
	if rec := post(t, h, "/api/v1/verify", "application/pdf", pdf); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("a second PDF beside the first: %d %s", rec.Code, rec.Body)
	}
	smallDone := make(chan *httptest.ResponseRecorder, 1)
	go func() { smallDone <- post(t, h, "/api/v1/verify", "image/png", small) }()
	<-bv.started
	close(bv.release)
	if rec := <-smallDone; rec.Code != http.StatusOK {
		t.Fatalf("a small picture beside it: %d %s", rec.Code, rec.Body)
	}
	if rec := <-first; rec.Code != http.StatusOK {
		t.Fatalf("the first PDF: %d %s", rec.Code, rec.Body)
	}
}
