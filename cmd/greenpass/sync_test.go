package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/didtrust"
	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/internal/ferrettest"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// gatewayFixture is a fake upstream gateway with DSCs of DE and AT, and
// the trust anchor in a PEM file.
func gatewayFixture(t *testing.T) (*fakegateway.Gateway, *httptest.Server, string) {
	t.Helper()
	gw, err := fakegateway.New(time.Now(), "DE", "AT")
	if err != nil {
		t.Fatal(err)
	}
	for _, cc := range []string{"DE", "DE", "DE", "AT", "AT"} {
		if _, err := gw.AddDSC(fakegateway.DSC{Country: cc}); err != nil {
			t.Fatal(err)
		}
	}
	// One forged entry: an AT DSC CMS-signed by DE's upload certificate.
	if _, err := gw.AddDSC(fakegateway.DSC{Country: "AT", CMSCountry: "DE"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	anchor := filepath.Join(t.TempDir(), "anchor.pem")
	if err := os.WriteFile(anchor, gw.AnchorPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return gw, srv, anchor
}

func covPassList(t *testing.T, addr string) *trustlist.Document {
	t.Helper()
	status, body := httpGet(t, "http://"+addr+"/trustList/DSC/")
	doc, err := trustlist.ParseDocument(body)
	if err != nil {
		t.Fatalf("GET /trustList/DSC/ = %d: %v", status, err)
	}
	return doc
}

func TestSyncCommand(t *testing.T) {
	gw, upstream, anchor := gatewayFixture(t)
	dir := t.TempDir()
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dir); code != 0 {
		t.Fatal(errText)
	}
	base := []string{"sync", "--data", dir, "--trust-anchor", anchor}

	// Usage errors name the setting.
	if code, _, errText := runCLI(t, nil, "sync", "--data", dir); code != exitUsage || !strings.Contains(errText, "--source (GREENPASS_SYNC_SOURCE)") ||
		!strings.Contains(errText, "--trust-anchor (GREENPASS_SYNC_TRUST_ANCHOR)") {
		t.Fatalf("sync without source: exit %d %s", code, errText)
	}
	if code, _, errText := runCLI(t, nil, append(base, "--source", upstream.URL, "--max-loss", "2")...); code != exitUsage || !strings.Contains(errText, "--max-loss") {
		t.Fatalf("bad --max-loss: exit %d %s", code, errText)
	}

	// A dry run publishes nothing; a real run publishes 5 DSCs and drops one.
	if code, out, errText := runCLI(t, nil, append(base, "--source", upstream.URL, "--dry-run")...); code != 0 || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errText)
	}
	// A dry run only reads: into a folder that does not exist it makes
	// nothing, and beside a running serve it does not wait for the store.
	fresh := filepath.Join(t.TempDir(), "new")
	if code, out, errText := runCLI(t, nil, "sync", "--data", fresh, "--trust-anchor", anchor, "--source", upstream.URL, "--dry-run"); code != 0 || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run into a new folder: exit %d\n%s%s", code, out, errText)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("the dry run made %s: %v", fresh, err)
	}
	busy := t.TempDir()
	startServe(t, "--data", busy) // holds busy/greenpass.db
	// (Opening the store would fail after bbolt's 5 s wait for the lock.)
	if code, out, errText := runCLI(t, nil, "sync", "--data", busy, "--trust-anchor", anchor, "--source", upstream.URL, "--dry-run"); code != 0 || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run beside serve: exit %d\n%s%s", code, out, errText)
	}
	code, out, errText := runCLI(t, nil, append(base, "--source", upstream.URL, "--json")...)
	if code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errText)
	}
	var rep struct {
		Accepted, Local int
		Published       bool
		Dropped         []struct{ Code string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Published || rep.Accepted != 5 || rep.Local != 5 || // own: 3 DSCs, the CSCA, the upload certificate
		len(rep.Dropped) != 1 || rep.Dropped[0].Code != "CMS_SIGNER" {
		t.Fatalf("report %s (%v)", out, err)
	}
	// One key style, durations in seconds.
	if !strings.Contains(out, `"mirror":{"written":8`) || !strings.Contains(out, `"durationSeconds":`) ||
		strings.Contains(out, `"Written"`) || strings.Contains(out, `"duration":`) {
		t.Fatalf("report keys: %s", out)
	}

	// Upstream down: exit 1, the last good list stays.
	gw.FailWith(http.StatusInternalServerError)
	if code, _, errText := runCLI(t, nil, append(base, "--source", upstream.URL)...); code != exitSyncUpstream || !strings.Contains(errText, "500") {
		t.Fatalf("upstream 500: exit %d %s", code, errText)
	}
	gw.FailWith(0)
	// Most DSCs gone upstream: refused (exit 3) unless forced.
	for _, e := range gw.Entries(trustlist.TypeDSC, "DE") {
		gw.Remove(e.Thumbprint)
	}
	if code, _, errText := runCLI(t, nil, append(base, "--source", upstream.URL)...); code != exitSyncLoss || !strings.Contains(errText, "--force") {
		t.Fatalf("loss: exit %d %s", code, errText)
	}

	// serve publishes what the last good sync accepted plus its own DSCs.
	addr, stop := startServe(t, "--data", dir)
	doc := covPassList(t, addr)
	pub, err := os.ReadFile(filepath.Join(dir, "keys", "trustlist.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := trustlist.ParsePublicKey(pub)
	if err := doc.Verify(key); err != nil || len(doc.Entries) != 8 {
		t.Fatalf("served list: %d entries, signature %v; want 5 upstream + 3 own", len(doc.Entries), err)
	}
	stop()

	// The mirror files are in the default bucket folder.
	for _, name := range []string{"trustlist.json", "trustlist.json.sig"} {
		if _, err := os.Stat(filepath.Join(dir, "blobs", name)); err != nil {
			t.Errorf("mirror: %v", err)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "blobs", "dsc", "*.der"))
	if len(matches) != 8 {
		t.Errorf("mirror holds %d DSC files, want 8", len(matches))
	}
}

// serve with --sync-source runs the sync itself and serves its result.
func TestServeRunsTheSync(t *testing.T) {
	_, upstream, anchor := gatewayFixture(t)
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir, "--sync-source", upstream.URL, "--sync-trust-anchor", anchor, "--trust-refresh", "50ms")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if doc := covPassList(t, addr); len(doc.Entries) == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the built-in sync's list was not served")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, errText := runCLI(t, nil, "serve", "--data", dir, "--sync-source", upstream.URL); code != exitUsage ||
		!strings.Contains(errText, "--sync-trust-anchor (GREENPASS_SYNC_TRUST_ANCHOR)") {
		t.Fatalf("serve --sync-source without anchor: exit %d %s", code, errText)
	}
}

// Scaled out: serve on MongoDB and a shared bucket, and a separate sync
// process (here: another run in this process) publishing meanwhile, under
// the lease in MongoDB.
func TestSyncBesideServeOnMongoDB(t *testing.T) {
	if testing.Short() {
		t.Skip("FerretDB: skipped with -short")
	}
	_, upstream, anchor := gatewayFixture(t)
	t.Setenv("MONGODB_URI", ferrettest.Start(t))
	dir := t.TempDir()
	t.Setenv("BLOB_URL", "file://"+filepath.ToSlash(filepath.Join(dir, "bucket")))
	os.MkdirAll(filepath.Join(dir, "bucket"), 0o700)
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dir); code != 0 {
		t.Fatal(errText)
	}
	// No sweeps during the test: FerretDB's DeleteMany is not atomic per
	// document, so a sweep can delete a lease re-taken in between (real
	// MongoDB re-checks the filter).
	addr, _ := startServe(t, "--data", dir, "--trust-refresh", "50ms", "--sweep-interval", "1h")
	if doc := covPassList(t, addr); len(doc.Entries) != 3 {
		t.Fatalf("before the sync: %d entries, want the 3 own DSCs", len(doc.Entries))
	}
	if code, out, errText := runCLI(t, nil, "sync", "--data", dir, "--source", upstream.URL, "--trust-anchor", anchor); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errText)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(covPassList(t, addr).Entries) != 8 {
		if time.Now().After(deadline) {
			t.Fatal("serve did not pick up the synced list")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The gateway is reached over mutual TLS: with the client certificate the
// sync works, without it the gateway refuses and nothing is published.
func TestSyncOverMutualTLS(t *testing.T) {
	gw, _, anchor := gatewayFixture(t)
	dir := t.TempDir()
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dir); code != 0 {
		t.Fatal(errText)
	}
	ca, err := fakegateway.New(time.Now(), "EU") // only for its CA-like parties
	if err != nil {
		t.Fatal(err)
	}
	caPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(caPEM, ca.AnchorPEM(), 0o600)
	serverCert, err := ca.IssueTLS("127.0.0.1", false)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := ca.IssueTLS("lab-client", true)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Anchor.Cert)
	srv := httptest.NewUnstartedServer(gw)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	writeTLSPair(t, clientCert, certFile, keyFile)

	args := []string{"sync", "--data", dir, "--trust-anchor", anchor, "--source", srv.URL, "--ca", caPEM}
	if code, out, errText := runCLI(t, nil, append(args, "--client-cert", certFile, "--client-key", keyFile)...); code != 0 {
		t.Fatalf("with the client certificate: exit %d\n%s%s", code, out, errText)
	}
	if code, _, errText := runCLI(t, nil, args...); code != exitSyncUpstream {
		t.Fatalf("without the client certificate: exit %d %s", code, errText)
	}
	if code, _, errText := runCLI(t, nil, append(args, "--client-cert", certFile)...); code != exitUsage || !strings.Contains(errText, "both") {
		t.Fatalf("certificate without key: exit %d %s", code, errText)
	}
}

func writeTLSPair(t *testing.T, c tls.Certificate, certFile, keyFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// A DID trust list's signing key is read from a DID document, a PEM
// public key or a certificate; anything else, or a key that is not
// ECDSA P-256, is a usage error naming --trust-anchor.
func TestReadDIDKey(t *testing.T) {
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	didDoc, _ := didtrust.SignerDocument("did:web:who.example:signing:DID", &ec.PublicKey)
	pemOf := func(k any) string {
		der, _ := x509.MarshalPKIXPublicKey(k)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	for _, tc := range []struct {
		name, content string
		ok            bool
	}{
		{"DID document", string(didDoc), true},
		{"PEM public key", pemOf(&ec.PublicKey), true},
		{"RSA key", pemOf(&rsaKey.PublicKey), false},
		{"garbage", "not a key", false},
		{"a DID document without a key", `{"id":"did:web:x"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			write(t, file, tc.content)
			key, err := readDIDKey(file)
			if tc.ok != (err == nil) || (tc.ok && !key.Equal(&ec.PublicKey)) {
				t.Fatalf("readDIDKey: %v", err)
			}
			code, _, errText := runCLI(t, nil, "sync", "--data", t.TempDir(), "--source", "did:web:who.example:v2:trustlist", "--trust-anchor", file, "--dry-run")
			if !tc.ok && (code != exitUsage || !strings.Contains(errText, "trust-anchor")) {
				t.Fatalf("sync with a bad key: exit %d %s", code, errText)
			}
		})
	}
}
