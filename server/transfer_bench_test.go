package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/store/bolt"
	"github.com/greenpass-dcc/greenpass/wallet"
)

// BenchmarkPickupPolling is apps polling POST /version/v1/dcc for
// certificates not there yet (202), over loopback HTTP against the
// embedded store, 4,000 registered tokens polled in turn by 64 clients.
// The per-token limit is 10/s, above what the round robin asks of each
// token, so the answers are 202s, not 429s.
func BenchmarkPickupPolling(b *testing.B) {
	e, err := bolt.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	svc := wallet.NewService(wallet.Config{}, e)
	s := New(Config{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	s.MountTransfer(Transfer{Service: svc, Tokens: nil, Polls: admission.NewRates(10, 20, 0, nil)})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	key, _ := rsa.GenerateKey(rand.Reader, 3072)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := base64.StdEncoding.EncodeToString(der)
	const n = 4000
	bodies := make([][]byte, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sum := sha256.Sum256([]byte(fmt.Sprint("guid-", i)))
			tok, _, err := svc.RegistrationToken(context.Background(), hex.EncodeToString(sum[:]))
			if err == nil {
				_, err = svc.RegisterKey(context.Background(), tok, pub)
			}
			if err != nil {
				b.Error(err)
				return
			}
			bodies[i] = []byte(`{"registrationToken":"` + tok + `"}`)
		}()
	}
	wg.Wait()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	var next, accepted atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)%n]
			resp, err := client.Post(srv.URL+"/version/v1/dcc", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				accepted.Add(1)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(100*float64(accepted.Load())/float64(b.N), "%202")
}

func testDeviceKey(t testing.TB) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	return base64.StdEncoding.EncodeToString(der)
}
