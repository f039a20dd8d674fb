package bolt

import (
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/store/storetest"
)

func TestEmbeddedConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Engine {
		e, err := Open(t.TempDir(), now)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}, true)
}
