package store

import (
	"context"
	"log/slog"
	"time"
)

// SweepEvery deletes the expired records of colls every interval until ctx
// ends, logging what it deleted and what failed (collection names only).
// The first sweep comes one interval after the start: expired records are
// invisible already, and a start is when other processes (a sync beside
// serve) take the leases a sweep would race with.
func SweepEvery(ctx context.Context, e Engine, interval time.Duration, log *slog.Logger, colls ...string) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, coll := range colls {
			n, err := e.Sweep(ctx, coll)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("sweep failed", "collection", coll, "error", err)
			case n > 0:
				log.Info("swept expired records", "collection", coll, "count", n)
			}
		}
	}
}
