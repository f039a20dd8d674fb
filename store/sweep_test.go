package store

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// sweepRecorder is an Engine whose Sweep records the collections asked.
type sweepRecorder struct {
	Engine
	mu    sync.Mutex
	swept []string
	done  chan struct{}
}

func (r *sweepRecorder) Sweep(ctx context.Context, coll string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.swept = append(r.swept, coll)
	if len(r.swept) == 4 {
		close(r.done)
	}
	if coll == "broken" {
		return 0, errors.New("disk gone")
	}
	return 1, nil
}

// SweepEvery sweeps every collection given at once, again each interval,
// goes on past a failing one, and stops with its context.
func TestSweepEvery(t *testing.T) {
	r := &sweepRecorder{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		SweepEvery(ctx, r, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), "broken", "a")
		close(stopped)
	}()
	<-r.done
	cancel()
	<-stopped
	r.mu.Lock()
	defer r.mu.Unlock()
	want := []string{"broken", "a", "broken", "a"}
	for i, c := range want {
		if r.swept[i] != c {
			t.Fatalf("swept %v, want %v first", r.swept, want)
		}
	}
}

// Nothing is swept before the first interval has passed.
func TestSweepEveryWaitsOneInterval(t *testing.T) {
	r := &sweepRecorder{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		SweepEvery(ctx, r, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)), "a")
		close(stopped)
	}()
	cancel()
	<-stopped
	if len(r.swept) != 0 {
		t.Fatalf("swept %v before the first interval", r.swept)
	}
}
