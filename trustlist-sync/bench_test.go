package trustlistsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/blobstore"
	"github.com/greenpass-dcc/greenpass/didtrust"
	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// benchGateway is a fake gateway with 10,000 DSCs from 30 countries.
func benchGateway(b *testing.B) (*fakegateway.Gateway, string) {
	b.Helper()
	var countries []string
	for i := range 30 {
		countries = append(countries, fmt.Sprintf("%c%c", 'A'+i/26, 'A'+i%26))
	}
	gw, err := fakegateway.New(now, countries...)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		if _, err := gw.AddDSC(fakegateway.DSC{Country: countries[i%len(countries)]}); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(gw)
	b.Cleanup(srv.Close)
	return gw, srv.URL
}

// BenchmarkSync10k is a first sync of 10,000 DSCs over HTTP into a fresh
// local bucket (durable snapshot writes): fetch, verify every CMS and
// chain, publish the snapshot, write 10,000 mirror files.
func BenchmarkSync10k(b *testing.B) {
	gw, url := benchGateway(b)
	firstSyncs(b, Config{Source: &Gateway{Base: url}, Anchors: []*x509.Certificate{gw.Anchor.Cert}})
}

// firstSyncs runs the sync cfg describes b.N times, each into a fresh
// local bucket, and checks that all 10,000 DSCs were published.
func firstSyncs(b *testing.B, cfg Config) {
	cfg.Signer, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg.MaxLoss = 0.1
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		bucket, err := blobstore.Open(ctx, "", b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		cfg.Snapshots, cfg.Bucket = trustlist.NewSnapshots(bucket.Objects(), 3), bucket.Objects()
		b.StartTimer()
		rep, err := Run(ctx, cfg)
		if err != nil || rep.Accepted != 10_000 || rep.Mirror.Written != 10_000 {
			b.Fatalf("%+v, %v", rep, err)
		}
		b.StopTimer()
		bucket.Close()
		b.StartTimer()
	}
}

// BenchmarkSync10kNightly is the steady state: the same 10,000 DSCs again
// into a bucket that already holds them (the mirror files stay).
func BenchmarkSync10kNightly(b *testing.B) {
	gw, url := benchGateway(b)
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ctx := context.Background()
	bucket, err := blobstore.Open(ctx, "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	cfg := Config{Source: &Gateway{Base: url}, Anchors: []*x509.Certificate{gw.Anchor.Cert},
		Snapshots: trustlist.NewSnapshots(bucket.Objects(), 3), Bucket: bucket.Objects(), Signer: signer, MaxLoss: 0.1}
	if _, err := Run(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := Run(ctx, cfg)
		if err != nil || rep.Accepted != 10_000 || rep.Mirror.Kept != 10_000 {
			b.Fatalf("%+v, %v", rep, err)
		}
	}
}

// BenchmarkSync10kDID is BenchmarkSync10k from WHO's format: the same
// 10,000 DSCs in one DSC document and their SCAs in another (made once,
// served as files), each proof verified (URDNA2015 of the whole
// document), every chain checked, the snapshot and the mirror written.
func BenchmarkSync10kDID(b *testing.B) {
	gw, _ := benchGateway(b)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	docs := map[string][]byte{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	})
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	signer := didtrust.Signer{Key: key, Method: "did:web:who.example:signing:DID"}
	for _, d := range []struct{ path, typ, usage string }{
		{"/v2/trustlist/-/-/SCA/did.json", trustlist.TypeCSCA, didtrust.UsageSCA},
		{"/v2/trustlist/DCC/-/DSC/did.json", trustlist.TypeDSC, didtrust.UsageDSC},
	} {
		var entries []didtrust.Entry
		for _, e := range gw.Entries(d.typ, "") {
			c := certOf(e)
			entries = append(entries, didtrust.Entry{Chain: []*x509.Certificate{c}, Domain: didtrust.DomainDCC, KeyUsage: d.usage})
		}
		u, _ := url.Parse(srv.URL + d.path)
		body, err := didtrust.Build(didtrust.DIDOf(u), "did:web:who.example", entries, signer, now)
		if err != nil {
			b.Fatal(err)
		}
		docs[d.path] = body
	}
	firstSyncs(b, Config{Source: &DID{Base: srv.URL + "/v2/trustlist", Key: &key.PublicKey}, Now: func() time.Time { return now }})
	b.ReportMetric(float64(len(docs["/v2/trustlist/DCC/-/DSC/did.json"]))/(1<<20), "MB/doc")
}
