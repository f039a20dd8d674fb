package store

import (
	"context"
	"log/slog"
	"time"
)

// SweepEvery deletes the expired records of colls every interval until ctx
// ends, logging what it deleted and what failed (collection names only).
func SweepEvery(ctx context.Context, e Engine, interval time.Duration, log *slog.Logger, colls ...string) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, coll := range colls {
			n, err := e.Sweep(ctx, coll)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("sweep failed", "collection", coll, "error", err)
			case n > 0:
				log.Info("swept expired records", "collection", coll, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
