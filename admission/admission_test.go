package admission

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	// The queue wait is long beside any stall of a busy machine: the
	// queued request below must still be waiting when a slot frees, and a
	// full queue must refuse well before the wait would run out.
	const queueWait = 3 * time.Second
	g, err := NewGate(2, 1, queueWait)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l1, err1 := g.Enter(ctx)
	l2, err2 := g.Enter(ctx)
	if err1 != nil || err2 != nil || g.InFlight() != 2 {
		t.Fatalf("two slots: %v %v, in flight %d", err1, err2, g.InFlight())
	}
	// The third waits in the queue, the fourth finds the queue full.
	var wg sync.WaitGroup
	var thirdErr error
	wg.Go(func() {
		l, err := g.Enter(ctx)
		thirdErr = err
		if err == nil {
			l()
		}
	})
	for g.Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if _, err := g.Enter(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("queue full: %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > queueWait/2 {
		t.Errorf("a full queue refused only after %v, as if it had waited", d)
	}
	l1() // the waiter gets this slot
	wg.Wait()
	if thirdErr != nil {
		t.Errorf("queued request: %v", thirdErr)
	}
	// A waiter whose wait runs out is refused.
	l3, _ := g.Enter(ctx)
	if _, err := g.Enter(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("wait ran out: %v, want ErrBusy", err)
	}
	// A cancelled context ends the wait with its error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.Enter(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	l2()
	l3()
	if g.InFlight() != 0 || g.Waiting() != 0 {
		t.Errorf("after all left: %d in flight, %d waiting", g.InFlight(), g.Waiting())
	}
	if _, err := NewGate(0, 0, 0); err == nil {
		t.Error("zero slots accepted")
	}
}

func TestRates(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRates(2, 3, 4, func() time.Time { return now })
	for i := range 3 {
		if ok, _, _ := r.Allow("a"); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait, _ := r.Allow("a")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Errorf("over the burst: ok %v, retry after %v (want ≤ 500 ms at 2/s)", ok, wait)
	}
	ok, _, undo := r.Allow("b")
	if !ok {
		t.Error("another client is limited by a's use")
	}
	undo() // b's token goes back: b still has its whole burst
	for i := range 3 {
		if ok, _, _ := r.Allow("b"); !ok {
			t.Errorf("b's request %d after an undo refused", i)
		}
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _, _ := r.Allow("a"); !ok {
		t.Error("a token did not come back after 500 ms")
	}
	// The table stays bounded.
	for _, c := range []string{"c", "d", "e", "f", "g", "h"} {
		r.Allow(c)
	}
	if n := r.Clients(); n > 4 {
		t.Errorf("%d buckets held, bound is 4", n)
	}
	var off *Rates
	if ok, _, _ := off.Allow("x"); !ok {
		t.Error("nil Rates limits")
	}
	if ok, _, _ := NewRates(0, 1, 0, nil).Allow("x"); !ok {
		t.Error("rate 0 limits")
	}
}
