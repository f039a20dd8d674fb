package main

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/render"
)

// chromium finds the browser: $GREENPASS_CHROMIUM, else Debian's chromium
// (scripts/ci-deps.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GREENPASS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium (apt-get install chromium, or set GREENPASS_CHROMIUM); the checkpoint browser test is skipped")
	return ""
}

// artefacts is where screenshots go: $GREENPASS_TEST_ARTEFACTS, else a
// directory kept after the test (its path is logged).
func artefacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GREENPASS_TEST_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "greenpass-artefacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// headless starts headless Chromium with opts beside the ones every test
// needs, and returns its context, bounded by timeout, and what closes it.
func headless(t *testing.T, timeout time.Duration, opts ...chromedp.ExecAllocatorOption) (context.Context, func()) {
	t.Helper()
	all := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(all, opts...)...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancelTimeout(); cancel(); cancelAlloc() }
}

// fakeCamera makes the browser's camera play the Y4M video, permission
// granted.
func fakeCamera(video string) chromedp.ExecAllocatorOption {
	return func(a *chromedp.ExecAllocator) {
		chromedp.Flag("use-fake-ui-for-media-stream", true)(a)
		chromedp.Flag("use-fake-device-for-media-stream", true)(a)
		chromedp.Flag("use-file-for-fake-video-capture", video)(a)
	}
}

// writeY4M writes img as a one-frame Y4M video (4:2:0), which Chromium's
// fake camera plays in a loop.
func writeY4M(t *testing.T, path string, img image.Image) {
	t.Helper()
	b := img.Bounds()
	w, h := b.Dx()&^1, b.Dy()&^1
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := bufio.NewWriter(f)
	fmt.Fprintf(out, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\nFRAME\n", w, h)
	ys := make([]byte, w*h)
	us := make([]byte, w*h/4)
	vs := make([]byte, w*h/4)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			R, G, B := float64(r>>8), float64(g>>8), float64(bl>>8)
			ys[y*w+x] = clampByte(0.299*R + 0.587*G + 0.114*B)
			if x%2 == 0 && y%2 == 0 {
				i := (y/2)*(w/2) + x/2
				us[i] = clampByte(128 - 0.168736*R - 0.331264*G + 0.5*B)
				vs[i] = clampByte(128 + 0.5*R - 0.418688*G - 0.081312*B)
			}
		}
	}
	out.Write(ys)
	out.Write(us)
	out.Write(vs)
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
}

func clampByte(v float64) byte { return byte(min(255, max(0, v+0.5))) }

// tamper changes one byte of the certificate's signature: the result still
// decodes, but no longer verifies.
func tamper(t *testing.T, hc1 string) string {
	t.Helper()
	b45, _ := hcert.TrimPrefix(hc1)
	z, _ := hcert.DecodeBase45(b45)
	cose, err := hcert.Decompress(z, 0)
	if err != nil {
		t.Fatal(err)
	}
	cose[len(cose)-5] ^= 0x55 // inside the 64-byte signature at the end
	return hcert.EncodeText(cose)
}

// scanWithCamera opens /check in headless Chromium whose camera shows the
// QR code of hc1 and waits for the page's verdict; it saves a screenshot.
func scanWithCamera(t *testing.T, url, hc1, name, lang string) (state, reason string) {
	t.Helper()
	_, frame, err := render.CameraFrame(hc1, 1280, 720, 7)
	if err != nil {
		t.Fatal(err)
	}
	video := filepath.Join(t.TempDir(), name+".y4m")
	writeY4M(t, video, frame)
	ctx, done := headless(t, 120*time.Second, chromedp.WindowSize(412, 915), // a phone, portrait
		chromedp.Flag("lang", lang), chromedp.Flag("accept-lang", lang), fakeCamera(video))
	defer done()
	fail := func(err error) {
		t.Helper()
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.state + " | " + document.getElementById("status").textContent + " | video " + document.getElementById("video").videoWidth + " src " + !!document.getElementById("video").srcObject + " paused " + document.getElementById("video").paused + " ready " + document.getElementById("video").readyState + " hidden " + document.hidden`))
		t.Fatalf("%s: %v (page: %q)", name, err, status)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		fail(err)
	}
	// A verdict, however long the fake camera takes to start (the page
	// shows "no camera" meanwhile and takes over when it does).
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`["valid","invalid"].includes(document.body.dataset.state)`,
		chromedp.WithPollingTimeout(75*time.Second))); err != nil {
		fail(err)
	}
	if state, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.state`)); err != nil {
		fail(err)
	}
	if reason, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("r-reason").textContent + " | " + (document.getElementById("rules").hidden ? "" : document.getElementById("rules").textContent)`)); err != nil {
		fail(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		fail(err)
	}
	path := filepath.Join(artefacts(t), "checkpoint-"+name+".png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s, screenshot %s", name, state, path)
	return state, reason
}

// A real browser with a fake camera showing a QR code: a valid
// certificate turns the page green, a tampered one red with the reason in
// plain words, in English or German after the browser's language.
func TestCheckpointPageInBrowser(t *testing.T) {
	chromium(t)
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	dir := t.TempDir()
	// Budgets far above the defaults: this test is about the page, and a
	// frame's search must not run out on a busy machine or under -race.
	addr, _ := startServe(t, "--data", dir, "--checkpoint-frame-budget", "20s", "--checkpoint-scan-budget", "20s")
	token := issuerToken(t, dir)
	hc1 := string(issueHTTP(t, addr, token, "text/plain", "", vaccinationRequest))
	url := "http://" + addr + "/check"

	state, _ := scanWithCamera(t, url, hc1, "valid", "en-US")
	if state != "valid" {
		t.Fatalf("valid certificate: page state %q", state)
	}
	state, reason := scanWithCamera(t, url, tamper(t, hc1), "tampered", "en-US")
	if state != "invalid" || !strings.Contains(reason, "signature is not valid") {
		t.Fatalf("tampered certificate: page state %q, reason %q", state, reason)
	}
	if strings.Contains(reason, "Entry rules") {
		t.Fatalf("no ?country=, yet the page names entry rules: %q", reason)
	}
	// A German browser gets the page in German, and the page says whose
	// entry rules apply.
	state, reason = scanWithCamera(t, url+"?country=DE", tamper(t, hc1), "tampered-de", "de-DE")
	if state != "invalid" || !strings.Contains(reason, "Signatur ist ungültig") || !strings.Contains(reason, "Einreiseregeln von DE") {
		t.Fatalf("tampered certificate, German: page state %q, reason %q", state, reason)
	}
}

// A camera that opens but never sends a frame leaves no black page: the
// page says the camera is not available and offers the photo button. The
// browser's camera is replaced by a canvas stream that is never drawn.
func TestCheckpointPageWithoutFrames(t *testing.T) {
	chromium(t)
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	addr, _ := startServe(t, "--data", t.TempDir())
	ctx, done := headless(t, 120*time.Second)
	defer done()
	silent := `navigator.mediaDevices.getUserMedia = async () => {
		const c = document.createElement("canvas");
		return c.captureStream(0);
	};`
	addScript := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: silent})
		return err
	})
	// The script is added on a first page (the browser's tab exists then);
	// the checkpoint page's load event does not come while its video waits
	// for a frame, so the navigation is not waited for to the end.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), addScript); err != nil {
		t.Fatal(err)
	}
	nctx, ncancel := context.WithTimeout(ctx, 5*time.Second)
	chromedp.Do(nctx, chromedp.Navigate("http://"+addr+"/check"))
	ncancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.body.dataset.state === "nocamera" && !document.getElementById("nocamera").hidden`,
		chromedp.WithPollingTimeout(75*time.Second))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.state`))
		t.Fatalf("page without frames: %v (state %q)", err, state)
	}
}
