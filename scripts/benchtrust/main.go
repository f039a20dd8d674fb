// Command benchtrust serves one rendered trust list twice for load tests:
// through greenpass's HTTP application (Echo, middleware, metrics, access
// log) and through a plain net/http handler writing the same bytes and
// headers. scripts/bench-trustlist.sh points wrk at both.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/server"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

type fixed struct{ v *trustlist.View }

func (f fixed) Current() *trustlist.View               { return f.v }
func (f fixed) Revocations() *trustlist.RevocationView { return nil }

func main() {
	n := flag.Int("dscs", 1000, "DSCs in the list")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	countries := []string{"DE", "AT", "FR", "IT", "ES", "NL", "BE", "PL", "SE", "DK"}
	gw, err := fakegateway.New(time.Now(), countries...)
	if err != nil {
		log.Fatal(err)
	}
	var entries []trustlist.SnapshotEntry
	for i := range *n {
		e, err := gw.AddDSC(fakegateway.DSC{Country: countries[i%len(countries)]})
		if err != nil {
			log.Fatal(err)
		}
		entries = append(entries, trustlist.SnapshotEntry{Entry: e})
	}
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	view, errs := trustlist.NewView(trustlist.NewSnapshot(nil, time.Now(), "bench", entries), "bench", signer)
	if len(errs) > 0 {
		log.Fatal(errs)
	}

	// greenpass: the application as serve builds it, logging at info.
	srv := server.New(server.Config{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	srv.MountTrustLists(fixed{view})
	gp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go srv.Serve(ctx, gp)

	// Plain net/http: the same documents, headers and 304 rule, on an
	// http.Server with the timeouts greenpass serves with (each costs
	// deadline updates per request): handler against handler.
	docs := map[string]*trustlist.Response{
		"/trustList/DSC/":          view.CovPassList(),
		"/signercertificateStatus": view.SignerStatus(),
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	def := server.Defaults()
	plainSrv := &http.Server{ReadHeaderTimeout: def.ReadHeaderTimeout, ReadTimeout: def.ReadTimeout, WriteTimeout: def.WriteTimeout, IdleTimeout: def.IdleTimeout}
	plainSrv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("ETag", d.ETag)
		h.Set("Last-Modified", d.LastModifiedHeader)
		h.Set("Cache-Control", "public, max-age=60")
		h.Set("Vary", "Accept-Encoding")
		if d.Signature != "" {
			h.Set("X-SIGNATURE", d.Signature)
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.TrimPrefix(inm, "W/") == strings.TrimPrefix(d.ETag, "W/") {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", d.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(d.Body)))
		w.Write(d.Body)
	})
	go plainSrv.Serve(plain)
	fmt.Printf("greenpass http://%s\nplain http://%s\n", gp.Addr(), plain.Addr())
	fmt.Printf("etag-dsc %s\netag-status %s\nbytes-dsc %d\nbytes-status %d\n", view.CovPassList().ETag, view.SignerStatus().ETag,
		len(view.CovPassList().Body), len(view.SignerStatus().Body))
	<-ctx.Done()
}
