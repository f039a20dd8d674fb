package trustlistsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Own is what PublishOwn needs: where snapshots live, the lease every
// publisher takes, this instance's own DSCs, the value sets published when
// none are known yet, and the clock the snapshot is stamped with.
type Own struct {
	Snapshots        *trustlist.Snapshots
	Lock             Lock
	Local            []trustlist.Entry
	DefaultValueSets []trustlist.ValueSetEntry
	Now              func() time.Time
	Log              *slog.Logger
}

// PublishOwn publishes a snapshot with this instance's DSCs when the
// current one lacks them (a first start, new keys) or has no value sets,
// keeping the upstream entries, business data and revocations. It says
// whether it published. Another publisher at work (a sync) publishes them
// anyway, so a held lease is no error.
func PublishOwn(ctx context.Context, o Own) (bool, error) {
	now, log := o.Now, o.Log
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, unlock, err := o.Lock.Lock(ctx)
	if errors.Is(err, ErrBusy) {
		log.Info("trust list: another publisher is at work; own DSCs come with it")
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer unlock()
	prev, _, err := o.Snapshots.Current(ctx)
	if err != nil && !errors.Is(err, trustlist.ErrNoSnapshot) {
		return false, fmt.Errorf("trust list: %w", err)
	}
	have := map[string]bool{}
	var entries []trustlist.SnapshotEntry
	source := "local keys"
	if prev != nil {
		source = prev.Source
		for _, e := range prev.Entries {
			if e.Local {
				have[e.Thumbprint] = true
				continue // our DSCs of now replace those of then
			}
			entries = append(entries, e)
		}
	}
	missing := len(have) != len(o.Local) || prev == nil || len(prev.ValueSets) == 0
	for _, e := range o.Local {
		missing = missing || !have[e.Thumbprint]
		entries = append(entries, trustlist.SnapshotEntry{Entry: e, Local: true})
	}
	if !missing {
		return false, nil
	}
	snap := trustlist.NewSnapshot(prev, now(), source, entries)
	trustlist.KeepBusinessData(snap, prev, o.DefaultValueSets)
	if prev != nil {
		snap.Revocations = prev.Revocations
	}
	hash, err := o.Snapshots.Publish(ctx, snap)
	if err != nil {
		return false, fmt.Errorf("trust list: publish own DSCs: %w", err)
	}
	log.Info("trust list: published this instance's DSCs", "snapshot", hash[:12], "dscs", len(o.Local))
	return true, nil
}
