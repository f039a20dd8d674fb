package admission

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// A lowered limit holds new requests back until the count is under it; a
// raised one lets the waiters in, oldest first.
func TestGateSetLimit(t *testing.T) {
	g, err := NewGate(3, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var leaves []func()
	for range 3 {
		l, err := g.Enter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, l)
	}
	g.SetLimit(1)
	if g.Limit() != 1 || g.InFlight() != 3 {
		t.Fatalf("limit %d, in flight %d after lowering to 1", g.Limit(), g.InFlight())
	}
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 2 {
		for g.Waiting() != i {
			time.Sleep(time.Millisecond)
		}
		wg.Go(func() {
			l, err := g.Enter(ctx)
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			l()
		})
	}
	for g.Waiting() != 2 {
		time.Sleep(time.Millisecond)
	}
	if _, err := g.Enter(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("third waiter with a queue of 2: %v", err)
	}
	leaves[0]()
	leaves[1]() // two left: still 1 in flight, at the limit
	time.Sleep(20 * time.Millisecond)
	if g.Waiting() != 2 {
		t.Fatalf("a waiter got in above the limit (%d waiting)", g.Waiting())
	}
	// One more slot: the oldest waiter gets it, and the next one the slot
	// it frees.
	g.SetLimit(2)
	wg.Wait()
	g.SetLimit(100) // clamped to the 3 slots
	if g.Limit() != 3 || len(order) != 2 || order[0] != 0 {
		t.Errorf("limit %d, admitted in order %v", g.Limit(), order)
	}
	leaves[2]()
	if g.InFlight() != 0 {
		t.Errorf("%d in flight after all left", g.InFlight())
	}
	g.SetLimit(0)
	if g.Limit() != 1 {
		t.Errorf("limit %d, want the minimum 1", g.Limit())
	}
	if a, r := g.Counts(); a != 5 || r != 1 {
		t.Errorf("counts: %d admitted, %d refused; want 5, 1", a, r)
	}
}

type fakeDelay struct {
	d  time.Duration
	ok bool
}

func (f *fakeDelay) Delay() (time.Duration, bool) { return f.d, f.ok }

func TestGovernor(t *testing.T) {
	g, _ := NewGate(100, 1000, time.Millisecond)
	delay := &fakeDelay{d: 20 * time.Millisecond, ok: true}
	gov := &Governor{Gates: []*Gate{g}, Delay: delay, Target: 5 * time.Millisecond, Every: 20 * time.Millisecond, Floor: 8}

	// Saturated: down by a fifth per step, to the floor.
	gov.Step()
	if g.Limit() != 80 {
		t.Fatalf("after one saturated step: %d, want 80", g.Limit())
	}
	for range 50 {
		gov.Step()
	}
	if g.Limit() != 8 {
		t.Fatalf("after many saturated steps: %d, want the floor 8", g.Limit())
	}
	// Between half the target and the target: unchanged; under half: up.
	delay.d = 4 * time.Millisecond
	gov.Step()
	if g.Limit() != 8 {
		t.Errorf("delay near the target moved the limit to %d", g.Limit())
	}
	delay.d = time.Millisecond
	gov.Step()
	if g.Limit() != 9 {
		t.Errorf("idle step: %d, want 9", g.Limit())
	}
	for range 200 {
		gov.Step()
	}
	if g.Limit() != 100 {
		t.Errorf("long idle: %d, want all 100 slots", g.Limit())
	}
	// No reading: nothing moves.
	delay.d, delay.ok = time.Second, false
	gov.Step()
	if g.Limit() != 100 {
		t.Errorf("a step without a reading moved the limit to %d", g.Limit())
	}
}

// Clients that retry at once are not shed by fewer slots: the governor
// gives the slots back and leaves the gate alone, longer each time.
func TestGovernorBacksOffFromSpinningClients(t *testing.T) {
	g, _ := NewGate(50, 0, 0) // no queue: over the limit is refused at once
	delay := &fakeDelay{d: 50 * time.Millisecond, ok: true}
	gov := &Governor{Gates: []*Gate{g}, Delay: delay, Every: 20 * time.Millisecond, Floor: 4}
	ctx := context.Background()
	gov.Step() // first look: counts noted, limit lowered
	for range 3 {
		gov.Step()
	}
	low := g.Limit()
	if low >= 50 {
		t.Fatalf("saturated, limit still %d", low)
	}
	// A crowd of spinning clients: many refusals, few admissions.
	var leaves []func()
	for range 200 {
		if l, err := g.Enter(ctx); err == nil {
			leaves = append(leaves, l)
		}
	}
	for i := 0; i < 12 && g.Limit() != 50; i++ {
		gov.Step() // the next look (every 250 ms = 12.5 steps) sees them
	}
	if g.Limit() != 50 {
		t.Fatalf("refusals dominated, limit %d, want all 50 slots back", g.Limit())
	}
	for _, l := range leaves {
		l()
	}
	// Held for a second (50 steps) although the delay stays high.
	for range 49 {
		gov.Step()
	}
	if g.Limit() != 50 {
		t.Fatalf("lowered during the hold: %d", g.Limit())
	}
	steps := 0
	for g.Limit() == 50 && steps < 10 {
		gov.Step()
		steps++
	}
	if g.Limit() == 50 {
		t.Fatal("never lowered after the hold")
	}
	// Spinning again: the hold doubles.
	for range 200 {
		if l, err := g.Enter(ctx); err == nil {
			defer l()
		}
	}
	for i := 0; i < 13 && g.Limit() != 50; i++ {
		gov.Step()
	}
	if st := gov.state[g]; g.Limit() != 50 || st.hold < 95 || st.backoff != 200 {
		t.Errorf("second spin: limit %d, hold %d steps, next backoff %d; want 50, ~100, 200", g.Limit(), st.hold, st.backoff)
	}
}

// The delay is a quantile of what the histogram gained since the last
// reading, read as the bucket's upper bound.
func TestSchedDelayWindow(t *testing.T) {
	buckets := []float64{0, 0.001, 0.002, 0.004, 0.008, inf()}
	s := &SchedDelay{Quantile: 0.9, MinCount: 10}
	if _, ok := s.window([]uint64{0, 0, 0, 0, 0}, buckets); ok {
		t.Error("first reading gave a value")
	}
	// 100 new samples: 80 under 1 ms, 15 in 2–4 ms, 5 in 4–8 ms → p90 in 2–4 ms.
	d, ok := s.window([]uint64{80, 0, 15, 5, 0}, buckets)
	if !ok || d != 4*time.Millisecond {
		t.Errorf("p90 = %v, %v; want 4ms", d, ok)
	}
	// Only 5 more: too few to tell.
	if _, ok := s.window([]uint64{85, 0, 15, 5, 0}, buckets); ok {
		t.Error("5 samples gave a value")
	}
	// The past does not count: 20 new, all over 8 ms (the open bucket
	// reads as its lower bound).
	d, ok = s.window([]uint64{85, 0, 15, 5, 20}, buckets)
	if !ok || d != 8*time.Millisecond {
		t.Errorf("p90 of a slow window = %v, %v; want 8ms", d, ok)
	}
	// The real runtime histogram is readable.
	var live SchedDelay
	live.Delay()
	for range 1000 {
		time.Sleep(0)
	}
	if d, ok := live.Delay(); ok && (d < 0 || d > time.Minute) {
		t.Errorf("runtime scheduler delay %v", d)
	}
}

func inf() float64 { return 1 / zero }

var zero = 0.0
