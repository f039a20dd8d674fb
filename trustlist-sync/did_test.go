package trustlistsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/didtrust"
	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// didPublisher is a fake WHO key distribution: the SCA and DSC documents
// of a fake gateway's certificates, signed with its own key, which the
// test can alter before they are served.
type didPublisher struct {
	gw     *fakegateway.Gateway
	signer didtrust.Signer
	srv    *httptest.Server

	mu     sync.Mutex
	alter  func(path string, doc map[string]any) // then re-signed
	tamper func(path string, doc []byte) []byte  // after signing
}

func newDIDPublisher(t *testing.T, gw *fakegateway.Gateway) *didPublisher {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := &didPublisher{gw: gw, signer: didtrust.Signer{Key: key, Method: "did:web:who.example:signing:DID"}}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func certOf(e trustlist.Entry) *x509.Certificate {
	der, _ := base64.StdEncoding.DecodeString(e.RawData)
	c, _ := x509.ParseCertificate(der)
	return c
}

func (p *didPublisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var entries []didtrust.Entry
	usage := didtrust.UsageSCA
	switch r.URL.Path {
	case "/v2/trustlist/-/-/SCA/did.json":
		for _, e := range p.gw.Entries(trustlist.TypeCSCA, "") {
			entries = append(entries, didtrust.Entry{Chain: []*x509.Certificate{certOf(e)}, Domain: "DCC", Participant: didtrust.Alpha3(e.Country), KeyUsage: usage})
		}
	case "/v2/trustlist/DCC/-/DSC/did.json":
		usage = didtrust.UsageDSC
		for _, e := range p.gw.Entries(trustlist.TypeDSC, "") {
			entries = append(entries, didtrust.Entry{Chain: []*x509.Certificate{certOf(e)}, Domain: "DCC", Participant: didtrust.Alpha3(e.Country), KeyUsage: usage})
		}
	default:
		http.NotFound(w, r)
		return
	}
	u, _ := url.Parse(p.srv.URL + r.URL.Path) // the documents name where they are published
	id := didtrust.DIDOf(u)
	body, err := didtrust.Build(id, id[:strings.LastIndex(id, ":")], entries, p.signer, now)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	p.mu.Lock()
	alter, tamper := p.alter, p.tamper
	p.mu.Unlock()
	if alter != nil {
		var doc map[string]any
		json.Unmarshal(body, &doc)
		alter(r.URL.Path, doc)
		body, _ = json.Marshal(doc)
		if body, err = didtrust.Resign(body, p.signer, now); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
	}
	if tamper != nil {
		body = tamper(r.URL.Path, body)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (p *didPublisher) source() *DID {
	return &DID{Base: p.srv.URL + "/v2/trustlist", Key: p.signer.Key.Public().(*ecdsa.PublicKey)}
}

func TestSyncFromDIDTrustList(t *testing.T) {
	gw, err := fakegateway.New(now, "DE", "AT", "FR")
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]bool{}
	for _, cc := range []string{"DE", "AT", "FR"} {
		for range 3 {
			e, _ := gw.AddDSC(fakegateway.DSC{Country: cc})
			good[e.Thumbprint] = true
		}
	}
	// Listed as AT, issued by DE's SCA.
	gw.AddDSC(fakegateway.DSC{Country: "AT", IssuerCountry: "DE"})
	pub := newDIDPublisher(t, gw)
	// One DSC's key written as WHO's documents write some: a leading zero
	// byte and Base64 padding.
	pub.alter = func(path string, doc map[string]any) {
		if !strings.Contains(path, "DSC") {
			return
		}
		k := doc["verificationMethod"].([]any)[0].(map[string]any)["publicKeyJwk"].(map[string]any)
		x, _ := base64.RawURLEncoding.DecodeString(k["x"].(string))
		k["x"] = base64.URLEncoding.EncodeToString(append([]byte{0}, x...))
	}
	mem := trustlist.NewMemBucket()
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := Config{Source: pub.source(), Snapshots: trustlist.NewSnapshots(mem, 3), Bucket: mem, Signer: signer,
		MaxLoss: 0.2, Now: func() time.Time { return now }, Lock: &memLock{}}

	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != len(good) || rep.CSCAs != 3 || rep.DroppedBy()[CodeNoCSCA] != 1 {
		t.Fatalf("report %+v dropped %v; want %d DSCs, 3 SCAs, one DSC without its SCA", rep, rep.Dropped, len(good))
	}
	snap, _, _ := cfg.Snapshots.Current(context.Background())
	for _, e := range snap.OfType(trustlist.TypeDSC) {
		if !good[e.Thumbprint] {
			t.Errorf("published a DSC that should have been dropped: %s", e.KID)
		}
	}

	// A DSC gone from the document is gone from the list.
	removed := gw.Entries(trustlist.TypeDSC, "FR")[0]
	gw.Remove(removed.Thumbprint)
	pub.alter = nil
	if rep, err = Run(context.Background(), cfg); err != nil || rep.Accepted != len(good)-1 {
		t.Fatalf("after a removal: %+v, %v", rep, err)
	}
	snap, last, _ := cfg.Snapshots.Current(context.Background())
	for _, e := range snap.OfType(trustlist.TypeDSC) {
		if e.Thumbprint == removed.Thumbprint {
			t.Error("the removed DSC is still published")
		}
	}

	// A proof that does not verify: nothing published, the last good
	// list stays.
	pub.tamper = func(path string, doc []byte) []byte {
		if !strings.Contains(path, "SCA") {
			return doc
		}
		var d map[string]any
		json.Unmarshal(doc, &d)
		d["controller"] = "did:web:other.example" // after signing
		out, _ := json.Marshal(d)
		return out
	}
	if _, err := Run(context.Background(), cfg); !errors.Is(err, didtrust.ErrProof) {
		t.Fatalf("tampered SCA document: %v", err)
	}
	if _, hash, _ := cfg.Snapshots.Current(context.Background()); hash != last {
		t.Error("a list with a bad proof replaced the last good one")
	}

	// Another publisher's key.
	pub.alter, pub.tamper = nil, nil
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg.Source = &DID{Base: pub.srv.URL + "/v2/trustlist", Key: &other.PublicKey}
	if _, err := Run(context.Background(), cfg); !errors.Is(err, didtrust.ErrProof) {
		t.Fatalf("documents signed by another key: %v", err)
	}
	// Fetched as another DID than the document names.
	cfg.Source = &DID{Base: strings.Replace(pub.srv.URL, "127.0.0.1", "localhost", 1) + "/v2/trustlist", Key: pub.signer.Key.Public().(*ecdsa.PublicKey)}
	if _, err := Run(context.Background(), cfg); !errors.Is(err, didtrust.ErrDocument) {
		t.Fatalf("a document naming another DID than it was fetched as: %v", err)
	}
}
