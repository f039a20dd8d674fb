package mongo

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/ferrettest"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/store/storetest"
)

var dbSeq atomic.Int64

// mongoOpener opens the Mongo engine on a fresh database of the server at uri.
func mongoOpener(uri string) storetest.Opener {
	return func(t *testing.T, now func() time.Time) store.Engine {
		name := fmt.Sprintf("gp_test_%d_%d", time.Now().UnixNano()%1e9, dbSeq.Add(1))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m, err := Open(ctx, uri, name, now)
		if err != nil {
			t.Fatalf("OpenMongo: %v", err)
		}
		t.Cleanup(func() {
			// Drop the test database through a fresh client (m may be closed).
			if c, err := Open(context.Background(), uri, name, now); err == nil {
				c.DropDatabase(context.Background())
				c.Close()
			}
		})
		return m
	}
}

// FerretDB v1 is a wire-protocol peer only: its updates are not atomic under
// concurrency, so the concurrency cases run on the embedded engine and on a
// real MongoDB.
func TestMongoConformanceFerretDB(t *testing.T) {
	if testing.Short() {
		t.Skip("FerretDB: skipped with -short")
	}
	storetest.Run(t, mongoOpener(ferrettest.Start(t)), false)
}

// TestMongoConformanceReal runs the whole suite, concurrency included,
// against the MongoDB at $GREENPASS_TEST_MONGODB_URI.
func TestMongoConformanceReal(t *testing.T) {
	uri := os.Getenv("GREENPASS_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip("GREENPASS_TEST_MONGODB_URI not set")
	}
	storetest.Run(t, mongoOpener(uri), true)
}
