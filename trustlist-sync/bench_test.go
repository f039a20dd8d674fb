package trustlistsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/greenpass-dcc/greenpass/blobstore"
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
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		bucket, err := blobstore.Open(ctx, "", b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := Run(ctx, Config{Source: &Gateway{Base: url}, Anchors: []*x509.Certificate{gw.Anchor.Cert},
			Snapshots: trustlist.NewSnapshots(bucket.Objects(), 3), Bucket: bucket.Objects(), Signer: signer, MaxLoss: 0.1})
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
