package storetest_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/ferrettest"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/store/bolt"
	"github.com/greenpass-dcc/greenpass/store/mongo"
)

// BenchmarkEngines measures insert, get and conditional update, from 1 and
// from 32 goroutines, on the embedded engine, on FerretDB (a wire-protocol
// peer, not a performance reference) and on the MongoDB at
// $GREENPASS_TEST_MONGODB_URI when set.
func BenchmarkEngines(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) store.Engine
	}{
		{"embedded", func(b *testing.B) store.Engine {
			e, err := bolt.Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			return e
		}},
		{"ferretdb", func(b *testing.B) store.Engine { return openBenchMongo(b, ferrettest.Start(b)) }},
	}
	if uri := os.Getenv("GREENPASS_TEST_MONGODB_URI"); uri != "" {
		engines = append(engines, struct {
			name string
			open func(b *testing.B) store.Engine
		}{"mongodb", func(b *testing.B) store.Engine { return openBenchMongo(b, uri) }})
	}
	data := []byte(`{"uvci":"URN:UVCI:01:DE:ABCDEF0123456789#X","issuer":"pharmacy-4711","type":"v","issuedAt":"2026-11-23T08:00:00Z"}`)
	ctx := context.Background()
	for _, eng := range engines {
		for _, workers := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/insert/%dg", eng.name, workers), func(b *testing.B) {
				e := eng.open(b)
				defer e.Close()
				var seq atomic.Int64
				parallel(b, workers, func() {
					if _, err := e.Insert(ctx, "certificates", fmt.Sprint(seq.Add(1)), time.Time{}, data); err != nil {
						b.Error(err)
					}
				})
			})
			b.Run(fmt.Sprintf("%s/get/%dg", eng.name, workers), func(b *testing.B) {
				e := eng.open(b)
				defer e.Close()
				var wg sync.WaitGroup
				for w := range 20 {
					wg.Go(func() {
						for i := w; i < 1000; i += 20 {
							e.Insert(ctx, "certificates", fmt.Sprint(i), time.Time{}, data)
						}
					})
				}
				wg.Wait()
				var seq atomic.Int64
				parallel(b, workers, func() {
					if _, err := e.Get(ctx, "certificates", fmt.Sprint(seq.Add(1)%1000)); err != nil {
						b.Error(err)
					}
				})
			})
			b.Run(fmt.Sprintf("%s/update/%dg", eng.name, workers), func(b *testing.B) {
				e := eng.open(b)
				defer e.Close()
				// One record per worker slot, so updates do not conflict.
				const keys = 64
				versions := make([]atomic.Int64, keys)
				for i := range keys {
					e.Insert(ctx, "certificates", fmt.Sprint(i), time.Time{}, data)
					versions[i].Store(1)
				}
				var seq atomic.Int64
				parallel(b, workers, func() {
					// Each key is used by one goroutine at a time: workers ≤ keys
					// and keys are taken round-robin within a window.
					k := int(seq.Add(1) % keys)
					r, err := e.Update(ctx, "certificates", fmt.Sprint(k), versions[k].Load(), time.Time{}, data)
					if err == nil {
						versions[k].Store(r.Version)
					}
				})
			})
		}
	}
}

// parallel runs f b.N times in total from workers goroutines.
func parallel(b *testing.B, workers int, f func()) {
	b.ReportAllocs()
	if workers == 1 {
		for b.Loop() {
			f()
		}
		return
	}
	b.SetParallelism((workers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f()
		}
	})
}

var dbSeq atomic.Int64

func openBenchMongo(b *testing.B, uri string) store.Engine {
	name := fmt.Sprintf("gp_bench_%d_%d", time.Now().UnixNano()%1e9, dbSeq.Add(1))
	m, err := mongo.Open(context.Background(), uri, name, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if c, err := mongo.Open(context.Background(), uri, name, nil); err == nil {
			c.DropDatabase(context.Background())
			c.Close()
		}
	})
	return m
}
