package server

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/greenpass-dcc/greenpass/store"
)

// meteredEngine records the latency and outcome of every store operation.
type meteredEngine struct {
	store.Engine
	latency *prometheus.HistogramVec
}

// MeterStore wraps e so that each operation is observed in
// greenpass_store_operation_duration_seconds{op, outcome}.
func MeterStore(e store.Engine, reg prometheus.Registerer) store.Engine {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "greenpass_store_operation_duration_seconds",
		Help:    "Store operation latency by operation and outcome (ok, not_found, exists, conflict, error).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"op", "outcome"})
	reg.MustRegister(h)
	return &meteredEngine{Engine: e, latency: h}
}

func (m *meteredEngine) observe(op string, start time.Time, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		outcome = "not_found"
	case errors.Is(err, store.ErrExists):
		outcome = "exists"
	case errors.Is(err, store.ErrConflict):
		outcome = "conflict"
	default:
		outcome = "error"
	}
	m.latency.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}

func (m *meteredEngine) Insert(ctx context.Context, coll, id string, exp time.Time, data []byte) (store.Record, error) {
	start := time.Now()
	r, err := m.Engine.Insert(ctx, coll, id, exp, data)
	m.observe("insert", start, err)
	return r, err
}

// InsertAll keeps the engine's one atomic write where it has one
// (store.AtomicInserter); without this method the wrapper would hide it.
func (m *meteredEngine) InsertAll(ctx context.Context, records []store.Insertion) error {
	start := time.Now()
	err := store.InsertAll(ctx, m.Engine, records...)
	m.observe("insert_all", start, err)
	return err
}

func (m *meteredEngine) ListAfter(ctx context.Context, coll, prefix, after string, limit int) ([]store.Record, error) {
	start := time.Now()
	r, err := m.Engine.ListAfter(ctx, coll, prefix, after, limit)
	m.observe("list", start, err)
	return r, err
}

func (m *meteredEngine) Count(ctx context.Context, coll string) (int, error) {
	start := time.Now()
	n, err := m.Engine.Count(ctx, coll)
	m.observe("count", start, err)
	return n, err
}

func (m *meteredEngine) Get(ctx context.Context, coll, id string) (store.Record, error) {
	start := time.Now()
	r, err := m.Engine.Get(ctx, coll, id)
	m.observe("get", start, err)
	return r, err
}

func (m *meteredEngine) Update(ctx context.Context, coll, id string, v int64, exp time.Time, data []byte) (store.Record, error) {
	start := time.Now()
	r, err := m.Engine.Update(ctx, coll, id, v, exp, data)
	m.observe("update", start, err)
	return r, err
}

func (m *meteredEngine) Delete(ctx context.Context, coll, id string) error {
	start := time.Now()
	err := m.Engine.Delete(ctx, coll, id)
	m.observe("delete", start, err)
	return err
}

func (m *meteredEngine) Sweep(ctx context.Context, coll string) (int, error) {
	start := time.Now()
	n, err := m.Engine.Sweep(ctx, coll)
	m.observe("sweep", start, err)
	return n, err
}
