package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/qrscan"
	"github.com/greenpass-dcc/greenpass/render"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/verifier"
)

// counterBrowser opens headless Chromium at the given window size and
// browser language; it closes when the test ends.
func counterBrowser(t *testing.T, width, height int, lang string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	ctx, done := headless(t, 4*time.Minute, append([]chromedp.ExecAllocatorOption{chromedp.WindowSize(width, height),
		chromedp.Flag("lang", lang), chromedp.Flag("accept-lang", lang)}, extra...)...)
	t.Cleanup(done)
	return ctx
}

// counterStaff drives the page as a pharmacist does, counting what it
// presses.
type counterStaff struct {
	t            *testing.T
	ctx          context.Context
	keys, clicks int
}

func (s *counterStaff) fail(err error, what string) {
	s.t.Helper()
	page, _ := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.body.dataset.state + " | status: " + document.getElementById("status").textContent +
		" | errors: " + Array.from(document.querySelectorAll(".err")).map(e => e.textContent).filter(Boolean).join("; ") +
		" | prefilled: " + document.getElementById("prefilled").textContent +
		" | focus: " + (document.activeElement ? document.activeElement.tagName + "#" + document.activeElement.id : "none")`))
	s.t.Fatalf("%s: %v (page: %s)", what, err, page)
}

// typeKeys sends keystrokes to the focused element; \t moves on, \r issues.
func (s *counterStaff) typeKeys(keys string) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, chromedp.KeyEvent(keys)); err != nil {
		s.fail(err, "typing")
	}
	s.keys += len([]rune(keys))
}

func (s *counterStaff) click(sel string) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, chromedp.Click(sel)); err != nil {
		s.fail(err, "clicking "+sel)
	}
	s.clicks++
}

func (s *counterStaff) eval(expr string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		s.fail(err, expr)
	}
	return v
}

func (s *counterStaff) poll(expr, what string) {
	s.t.Helper()
	if _, err := chromedp.Run(s.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		s.fail(err, what)
	}
}

// issued waits for the result and returns the certificate the QR code on
// screen holds, read from its image.
func (s *counterStaff) issued() (hc1, uvci string) {
	s.t.Helper()
	s.poll(`!document.getElementById("result").hidden && document.getElementById("qr").complete && document.getElementById("qr").naturalWidth > 0`, "the result")
	png := s.blob(`document.getElementById("qr").src`)
	found, err := qrscan.Read(context.Background(), png, qrscan.Options{Accept: hcert.IsDCCText})
	if err != nil {
		s.t.Fatalf("the QR code on screen does not read: %v", err)
	}
	return found.Text, s.eval(`document.getElementById("uvci").textContent`)
}

// blob fetches a blob: URL of the page and returns its bytes.
func (s *counterStaff) blob(urlExpr string) []byte {
	s.t.Helper()
	b64, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`(async () => { const b = await (await fetch(`+urlExpr+`)).arrayBuffer();
		let s = ""; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); return btoa(s); })()`, chromedp.EvalAwaitPromise))
	if err != nil {
		s.fail(err, "reading "+urlExpr)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		s.t.Fatal(err)
	}
	return raw
}

// The pharmacy counter in a real browser, keyboard first: a first
// vaccination, a test, a booster prefilled from the previous certificate's
// photo, the printout's QR code, a server error next to its field, a lost
// connection and a busy server retried with one key into one certificate,
// revoking from today's list. It reports keystrokes, clicks and scripted
// seconds, and leaves screenshots of the German page.
func TestCounterPageInBrowser(t *testing.T) {
	chromium(t)
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	dir := t.TempDir()
	// The camera's frames are searched to the end, as the checkpoint test
	// does: with the 100 ms default a busy machine (CI under -race) cuts the
	// search before the pass that reads this frame, every frame alike, and
	// the page waits for ever — the failure a 1 ms budget reproduces.
	addr, _ := startServe(t, "--data", dir, "--checkpoint-scan-budget", "20s", "--checkpoint-frame-budget", "20s")
	token := issuerToken(t, dir, "--name", "Apotheke am Markt")
	base := "http://" + addr
	trust := counterTrust(t, dir)
	verifyHC1 := func(hc1 string) *verifier.Result {
		t.Helper()
		res := verifier.New(trust).VerifyText(context.Background(), hc1)
		if !res.Valid {
			t.Fatalf("issued certificate not valid: %v", res.Reasons)
		}
		return res
	}

	ctx := counterBrowser(t, 1280, 1000, "de-DE")
	s := &counterStaff{t: t, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/counter")); err != nil {
		t.Fatal(err)
	}
	// Sign in once: the token is pasted and kept.
	s.poll(`document.body.dataset.state === "signin"`, "the sign-in form")
	if err := chromedp.Do(ctx, chromedp.SendKeys("#token", token)); err != nil {
		t.Fatal(err)
	}
	s.click(`#signin-form button[type=submit]`)
	s.poll(`document.body.dataset.state === "desk"`, "signing in")
	if who := s.eval(`document.getElementById("who").textContent`); who != "Apotheke am Markt · DE" {
		t.Fatalf("signed in as %q", who)
	}
	if tabs := s.eval(`Array.from(document.querySelectorAll("#types button")).map(b => b.textContent).join(",")`); tabs != "Impfung,Test,Genesung" {
		t.Fatalf("German type tabs: %q", tabs)
	}

	// 1. A first vaccination, typed: name, name, date of birth, vaccine,
	// dose; today's date and the pharmacy's country are the defaults.
	s.keys, s.clicks = 0, 0
	start := time.Now()
	s.poll(`document.activeElement && document.activeElement.id === "fn"`, "focus in the family name")
	s.typeKeys("Musterfrau-Gößinger\tGabriele\t")
	s.poll(`document.getElementById("translit").textContent === "MUSTERFRAU<GOESSINGER, GABRIELE"`, "the live transliteration")
	s.typeKeys("26.02.1998\tComirnaty\t2/2\r")
	hc1, uvci := s.issued()
	firstKeys, firstClicks, firstTime := s.keys, s.clicks, time.Since(start)
	res := verifyHC1(hc1)
	if v := res.Certificate.Vaccinations[0]; res.Certificate.UVCI() != uvci || res.Certificate.DateOfBirth != "1998-02-26" ||
		res.Certificate.Name.FamilyStandard != "MUSTERFRAU<GOESSINGER" || v.Product != "EU/1/20/1528" || v.Manufacturer != "ORG-100030215" ||
		v.DoseNumber != 2 || v.TotalDoses != 2 || v.Country != "DE" || v.Issuer != "Apotheke am Markt" || v.Date != time.Now().Format(time.DateOnly) {
		t.Fatalf("first certificate: %+v", res.Certificate)
	}
	first := hc1
	shot(t, ctx, "counter-de-desktop")

	// The printout: the A4 PDF's QR code is the certificate.
	s.click("#print")
	s.poll(`!!document.getElementById("pdf").getAttribute("href")`, "the PDF")
	pdf := s.blob(`document.getElementById("pdf").href`)
	checkPDF(t, pdf, first)

	// Next person: nothing personal stays on the page, and the print frame
	// leaves the PDF (removing its src does not unload it: a PDF still
	// loading would be printed, and take the focus, at the next person's
	// turn).
	s.click("#next")
	if left := s.eval(`["fn","gn","dob","dose"].map(id => document.getElementById(id).value).join("") + document.getElementById("translit").textContent +
		document.getElementById("uvci").textContent + (document.getElementById("qr").getAttribute("src") || "")`); left != "" {
		t.Fatalf("after Next person the page still holds %q", left)
	}
	s.poll(`(() => { const f = document.getElementById("print-frame"); return f.onload === null && f.contentWindow.location.href === "about:blank"; })()`,
		"the print frame left the PDF")

	// 2. A test certificate: rapid test, negative, sampled now.
	s.click(`#types button[data-type="t"]`)
	s.poll(`document.activeElement && document.activeElement.id === "fn"`, "focus in the family name")
	s.typeKeys("Иванов\tПётр\t1980\t")
	if err := chromedp.Do(ctx, chromedp.SendKeys("#device", "1232")); err != nil {
		t.Fatal(err)
	}
	s.typeKeys("\r")
	hc1, _ = s.issued()
	if tc := verifyHC1(hc1).Certificate.Tests[0]; tc.Device != "1232" || tc.TestType != "LP217198-3" || tc.Result != "260415000" || tc.Centre != "Apotheke am Markt" {
		t.Fatalf("test certificate: %+v", tc)
	}
	s.click("#next")

	// 3. A booster: the photo of the previous certificate fills the form,
	// the pharmacist checks and confirms.
	s.click(`#types button[data-type="v"]`)
	photo := filepath.Join(t.TempDir(), "previous.png")
	if err := os.WriteFile(photo, pngOf(t, first), 0o600); err != nil {
		t.Fatal(err)
	}
	s.keys, s.clicks = 0, 0
	start = time.Now()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles("#upload", []string{photo})); err != nil {
		t.Fatal(err)
	}
	s.clicks++ // choosing the photo
	s.poll(`document.getElementById("dose").value === "3/3" && document.activeElement.id === "issue"`, "the prefill")
	s.typeKeys("\r")
	hc1, _ = s.issued()
	boosterKeys, boosterClicks, boosterTime := s.keys, s.clicks, time.Since(start)
	booster := verifyHC1(hc1).Certificate
	if v := booster.Vaccinations[0]; booster.Name != res.Certificate.Name || booster.DateOfBirth != "1998-02-26" || v.DoseNumber != 3 || v.TotalDoses != 3 || v.Product != "EU/1/20/1528" {
		t.Fatalf("booster: %+v", booster)
	}
	s.click("#next")

	// 4. The server's field errors appear next to their fields.
	s.typeKeys("Muster\tErika\t1964-08-12\tComirnaty\t1/2\t")
	if err := chromedp.Do(ctx, chromedp.SetValue("#dt", "01.01.2030")); err != nil {
		t.Fatal(err)
	}
	s.typeKeys("\r")
	s.poll(`document.querySelector('.err[data-for~="v[0].dt"]').textContent !== ""`, "the date error next to its field")
	if msg := s.eval(`document.querySelector('.err[data-for~="v[0].dt"]').textContent + "|" + document.getElementById("dt").getAttribute("aria-invalid")`); !strings.Contains(msg, "future|true") {
		t.Fatalf("field error: %q", msg)
	}

	// 5. A lost connection, then a busy server: retried, visibly, with one
	// Idempotency-Key — one certificate.
	release := make(chan struct{})
	keysSeen := interceptIssuance(t, ctx, release)
	if err := chromedp.Do(ctx, chromedp.SetValue("#dt", "01.12.2026")); err != nil {
		t.Fatal(err)
	}
	before := s.eval(`String(document.querySelectorAll("#today-rows tr").length)`)
	s.click("#issue")
	s.poll(`document.getElementById("status").textContent.includes("neuer Versuch")`, "the visible retry")
	close(release)
	hc1, _ = s.issued()
	verifyHC1(hc1)
	if keys := keysSeen(); len(keys) < 3 || keys[0] == "" || keys[0] != keys[len(keys)-1] || keys[1] != keys[0] {
		t.Fatalf("Idempotency-Keys of the attempts: %q, want one key", keys)
	}
	s.poll(`document.querySelectorAll("#today-rows tr").length === `+before+` + 1`, "exactly one new certificate in today's list")
	s.click("#next")

	// 6. Today's list revokes, with a second press.
	s.click(`#today-rows tr:last-child button`)
	s.click(`#today-rows tr:last-child button`)
	s.poll(`document.querySelector("#today-rows tr:last-child").className === "revoked"`, "the revocation")
	if got := s.eval(`document.querySelector("#today-rows tr:last-child td.uvci").textContent`); got != uvci {
		t.Fatalf("the oldest row is %q, want the first certificate %q", got, uvci)
	}

	t.Logf("first certificate: %d keystrokes, %d clicks, %.1f s scripted", firstKeys, firstClicks, firstTime.Seconds())
	t.Logf("booster: %d keystrokes, %d clicks (the photo), %.1f s scripted", boosterKeys, boosterClicks, boosterTime.Seconds())

	// The German page at a phone's width, whose camera shows the first
	// certificate: scanning it fills in the booster.
	_, frame, err := render.CameraFrame(first, 1280, 720, 7)
	if err != nil {
		t.Fatal(err)
	}
	video := filepath.Join(t.TempDir(), "previous.y4m")
	writeY4M(t, video, frame)
	phone := counterBrowser(t, 800, 915, "de-DE", fakeCamera(video))
	// A desktop browser window is at least 500 px wide: the phone's
	// viewport is emulated.
	if err := chromedp.Do(phone, chromedp.EmulateViewport(412, 915, chromedp.EmulateMobile), chromedp.Navigate(base+"/counter")); err != nil {
		t.Fatal(err)
	}
	p := &counterStaff{t: t, ctx: phone}
	p.poll(`document.body.dataset.state === "signin"`, "the sign-in form on a phone")
	if err := chromedp.Do(phone, chromedp.SendKeys("#token", token)); err != nil {
		t.Fatal(err)
	}
	p.click(`#signin-form button[type=submit]`)
	p.poll(`document.body.dataset.state === "desk"`, "signing in on a phone")
	p.click("#scan")
	p.poll(`document.getElementById("dose").value === "3/3" && document.getElementById("camera").hidden`, "the booster scanned with the camera")
	if got := p.eval(`document.getElementById("fn").value + "|" + document.getElementById("dob").value + "|" + document.getElementById("mp").value`); got != "Musterfrau-Gößinger|26.02.1998|Comirnaty" {
		t.Fatalf("scanned prefill: %q", got)
	}
	p.poll(`document.getElementById("translit").textContent !== ""`, "the transliteration on a phone")
	// It was revoked above: the page says so in words.
	if warn := p.eval(`document.getElementById("prefilled").textContent`); !strings.Contains(warn, "NICHT gültig (widerrufen)") {
		t.Fatalf("prefill from a revoked certificate: %q", warn)
	}
	if w := p.eval(`String(document.documentElement.scrollWidth)`); w != "412" {
		t.Errorf("the phone page scrolls sideways: %s px wide", w)
	}
	shot(t, phone, "counter-de-phone")
}

// counterTrust trusts the development DSCs in dir.
func counterTrust(t *testing.T, dir string) *trustlist.List {
	t.Helper()
	var dscs []*trustlist.DSC
	for _, ty := range []string{"v", "t", "r"} {
		raw, err := os.ReadFile(filepath.Join(dir, "keys", "dsc-"+ty+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(raw)
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatal(err)
		}
		dsc, err := trustlist.NewDSC(block.Bytes, "DE")
		if err != nil {
			t.Fatal(err)
		}
		dscs = append(dscs, dsc)
	}
	return trustlist.NewList(dscs...)
}

// interceptIssuance makes the page's next issuance meet a lost connection,
// then a 503 with Retry-After: 1, then the server once release is closed
// (the page shows its retry meanwhile); it returns the Idempotency-Keys of
// the attempts seen.
func interceptIssuance(t *testing.T, ctx context.Context, release <-chan struct{}) func() []string {
	t.Helper()
	var mu sync.Mutex
	var keys []string
	events := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/v1/certificates"}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		n := 0
		for ev, err := range events {
			if err != nil {
				return
			}
			var call error
			if ev.Request.Method == "POST" && ev.Request.Headers["Accept"] == "application/json" && n < 3 {
				mu.Lock()
				key, _ := ev.Request.Headers["Idempotency-Key"].(string)
				keys = append(keys, key)
				mu.Unlock()
				n++
				switch n {
				case 1:
					_, call = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionFailed})
					continue
				case 2:
					_, call = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: 503,
						ResponseHeaders: []*fetch.HeaderEntry{{Name: "Retry-After", Value: "1"}, {Name: "Content-Type", Value: "application/json"}},
						Body:            []byte(`{"error":"too many requests in progress"}`)})
					continue
				case 3:
					select {
					case <-release:
					case <-ctx.Done():
						return
					}
				}
			}
			_, call = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			if call != nil {
				return
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), keys...)
	}
}

// pngOf draws hc1 as the QR image a phone shows (the previous certificate).
func pngOf(t *testing.T, hc1 string) []byte {
	t.Helper()
	out, err := render.PNG(hc1, 4)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkPDF rasterises the printout and reads its QR code: it must be the
// certificate. Without ghostscript only the PDF's form is checked.
func checkPDF(t *testing.T, pdf []byte, hc1 string) {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("the printout is not a PDF: %q", pdf[:min(8, len(pdf))])
	}
	gs, err := exec.LookPath("gs")
	if err != nil {
		t.Log("ghostscript not installed: the printout's QR code is not read")
		return
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "c.pdf"), filepath.Join(dir, "c.png")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pnggray", "-r150", "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("gs: %v\n%s", err, b)
	}
	raster, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	found, err := qrscan.Read(context.Background(), raster, qrscan.Options{Accept: hcert.IsDCCText})
	if err != nil || found.Text != hc1 {
		t.Fatalf("the printout's QR code: %v (read %d chars, want the certificate)", err, len(found.Text))
	}
}

// shot saves a screenshot of the page in the artefacts directory.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artefacts(t), name+".png")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}
