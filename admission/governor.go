package admission

import (
	"context"
	"math"
	"runtime/metrics"
	"slices"
	"time"
)

// Delay says how long runnable work has lately waited for a CPU; ok is
// false when too little ran since the last call to tell.
type Delay interface {
	Delay() (d time.Duration, ok bool)
}

// Governor moves gates' limits so that the CPU stays just short of
// saturation. A gate bounds the requests being worked on, but on a busy
// machine requests also queue where no gate sees them: in the Go
// scheduler's run queues, before any handler runs, and a refusal then
// waits as long as the work it refuses. The governor watches that wait
// (Delay, the scheduler's latency) and lowers the limits while it is over
// Target (multiplicatively), and raises them again while it is under
// (additively) — so excess requests get their 503 in milliseconds and the
// admitted ones run without waiting behind each other.
//
// Lowering a limit only sheds load if the refused clients go away for a
// while (Retry-After). Clients that retry at once turn each slot taken
// away into a stream of refusals, which cost CPU too and would drive the
// limit down further. So when a gate refused more than it admitted over
// the last quarter second, the governor gives it all its slots back (the
// queue holds such clients instead) and leaves it alone for a second —
// twice as long each time it happens again, up to half a minute, until a
// minute passes without it.
type Governor struct {
	Gates  []*Gate
	Delay  Delay
	Target time.Duration // the scheduler delay to stay under; 5 ms when 0
	Every  time.Duration // how often to look; 20 ms when 0
	Floor  int           // the lowest limit; 4 when 0

	steps int
	state map[*Gate]*gateState
}

type gateState struct {
	admitted, refused uint64 // at the last look
	hold              int    // steps left without lowering
	backoff           int    // the next hold, in steps
	sinceSpin         int    // steps since refusals last dominated
}

func (g *Governor) defaults() (target, every time.Duration, floor int) {
	target, every, floor = g.Target, g.Every, g.Floor
	if target <= 0 {
		target = 5 * time.Millisecond
	}
	if every <= 0 {
		every = 20 * time.Millisecond
	}
	if floor <= 0 {
		floor = 4
	}
	return target, every, floor
}

// Run adjusts the limits every Every until ctx ends.
func (g *Governor) Run(ctx context.Context) {
	_, every, _ := g.defaults()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Step()
		}
	}
}

// Step takes one look at the delay and moves each gate's limit: down by a
// fifth when the delay is over the target, up by one sixteenth (at least
// one) when it is under half of it, else not at all — unless refusals
// dominated (see [Governor]).
func (g *Governor) Step() {
	target, every, floor := g.defaults()
	d, ok := g.Delay.Delay()
	if g.state == nil {
		g.state = map[*Gate]*gateState{}
	}
	second := int(time.Second / every)
	window := max(1, second/4)
	look := g.steps%window == 0
	g.steps++
	for _, gate := range g.Gates {
		st := g.state[gate]
		if st == nil {
			st = &gateState{backoff: second}
			st.admitted, st.refused = gate.Counts()
			g.state[gate] = st
		}
		st.sinceSpin++
		if st.sinceSpin > 60*second {
			st.backoff = second
		}
		if look {
			admitted, refused := gate.Counts()
			spinning := refused-st.refused > admitted-st.admitted
			st.admitted, st.refused = admitted, refused
			if spinning {
				gate.SetLimit(gate.Slots())
				st.hold, st.backoff, st.sinceSpin = st.backoff, min(2*st.backoff, 30*second), 0
				continue
			}
		}
		if st.hold > 0 {
			st.hold--
		}
		if !ok {
			continue
		}
		limit := gate.Limit()
		switch {
		case d > target && st.hold == 0:
			gate.SetLimit(max(min(floor, gate.Slots()), limit*4/5))
		case d < target/2:
			gate.SetLimit(limit + max(1, limit/16))
		}
	}
}

// SchedDelay reads the Go scheduler's latency (runtime/metrics
// /sched/latencies:seconds: how long runnable goroutines waited to run)
// and reports a quantile of what was recorded since its last call.
type SchedDelay struct {
	Quantile float64 // 0.9 when 0
	MinCount uint64  // fewer new samples than this are "can't tell"; 50 when 0

	sample []metrics.Sample
	prev   []uint64
}

// Delay implements [Delay].
func (s *SchedDelay) Delay() (time.Duration, bool) {
	if s.sample == nil {
		s.sample = []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	}
	metrics.Read(s.sample)
	if s.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, false
	}
	h := s.sample[0].Value.Float64Histogram()
	return s.window(h.Counts, h.Buckets)
}

// window is the quantile of the counts added since the previous call.
func (s *SchedDelay) window(counts []uint64, buckets []float64) (time.Duration, bool) {
	q, minCount := s.Quantile, s.MinCount
	if q <= 0 || q > 1 {
		q = 0.9
	}
	if minCount == 0 {
		minCount = 50
	}
	if len(s.prev) != len(counts) { // the first reading: only a baseline
		s.prev = slices.Clone(counts)
		return 0, false
	}
	var total uint64
	for i, c := range counts {
		total += c - s.prev[i]
	}
	if total < minCount {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	var d time.Duration
	for i, c := range counts {
		seen += c - s.prev[i]
		if seen >= rank {
			// The bucket's upper bound: a conservative reading.
			up := buckets[i+1]
			if math.IsInf(up, 1) {
				up = buckets[i]
			}
			d = time.Duration(up * float64(time.Second))
			break
		}
	}
	copy(s.prev, counts)
	return d, true
}
