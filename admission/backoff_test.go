package admission

import (
	"testing"
	"time"
)

// counts is a Counter the test moves by hand.
type counts struct{ admitted, refused uint64 }

func (c *counts) Counts() (uint64, uint64) { return c.admitted, c.refused }

// The spread follows the share of refusals: it grows (at most doubling the
// mean wait per window) while refusals exceed a tenth of admissions, holds
// at that share, and shrinks when they fall, at once after a long quiet.
func TestBackoffSpread(t *testing.T) {
	type step struct {
		after             time.Duration // since the previous step
		admitted, refused uint64        // added since the previous step
		want              int           // Spread afterwards
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"starts at the minimum", []step{{0, 0, 0, MinSpread}}},
		{"crowd: doubles the mean wait per window up to the maximum", []step{
			{0, 0, 0, 3},
			{time.Second, 1000, 500, 3},       // the window is the mean wait, 2 s
			{2 * time.Second, 1000, 500, 7},   // mean 2 s → 4 s, after one mean wait
			{2 * time.Second, 1000, 500, 7},   // window is the mean wait (4 s): not yet
			{2 * time.Second, 2000, 1000, 15}, // mean 4 s → 8 s
			{8 * time.Second, 8000, 4000, MaxSpread},
			{16 * time.Second, 8000, 4000, MaxSpread},
		}},
		{"refusals a tenth of admissions: holds", []step{
			{0, 0, 0, 3},
			{2 * time.Second, 1000, 500, 7},
			{4 * time.Second, 4000, 400, 7},
			{4 * time.Second, 4000, 400, 7},
		}},
		{"refusals a fifth: mean wait ×2; a twentieth: ÷2", []step{
			{0, 0, 0, 3},
			{2 * time.Second, 1000, 200, 7},
			{4 * time.Second, 4000, 200, 3},
		}},
		{"nothing admitted while refusing: grows", []step{
			{0, 0, 0, 3},
			{2 * time.Second, 0, 100, 7},
		}},
		{"quiet: back to the minimum, at once after a long gap", []step{
			{0, 0, 0, 3},
			{2 * time.Second, 1000, 500, 7},
			{4 * time.Second, 4000, 2000, 15},
			{8 * time.Second, 8000, 4000, MaxSpread},
			{time.Minute, 60000, 0, MinSpread},
		}},
		{"quiet with no traffic at all", []step{
			{0, 0, 0, 3},
			{2 * time.Second, 100, 100, 7},
			{10 * time.Second, 0, 0, MinSpread},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			c := &counts{}
			b := NewBackoff(c, func() time.Time { return now }, nil)
			for i, s := range tc.steps {
				now = now.Add(s.after)
				c.admitted += s.admitted
				c.refused += s.refused
				if got := b.Spread(); got != s.want {
					t.Fatalf("step %d: spread %d, want %d", i, got, s.want)
				}
			}
		})
	}
}

// RetryAfter draws uniformly from 1 to the spread.
func TestBackoffRetryAfter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := &counts{}
	var asked []int
	draw := 0
	b := NewBackoff(c, func() time.Time { return now }, func(n int) int {
		asked = append(asked, n)
		return draw % n
	})
	for _, d := range []int{0, 1, 2, 3} {
		draw = d
		if got, want := b.RetryAfter(), 1+d%MinSpread; got != want {
			t.Errorf("draw %d: Retry-After %d, want %d", d, got, want)
		}
	}
	now = now.Add(2 * time.Second)
	c.admitted, c.refused = 1000, 500
	draw = 1 << 20
	got := b.RetryAfter()
	if n := asked[len(asked)-1]; n != 7 {
		t.Errorf("drew from [0, %d) after a crowd, want [0, 7)", n)
	}
	if got < 1 || got > 7 {
		t.Errorf("Retry-After %d outside 1..7", got)
	}
}

// With real randomness every answer is within 1..spread and all of the
// range comes up.
func TestBackoffRetryAfterRange(t *testing.T) {
	b := NewBackoff(&counts{}, nil, nil)
	seen := map[int]bool{}
	for range 1000 {
		s := b.RetryAfter()
		if s < 1 || s > MinSpread {
			t.Fatalf("Retry-After %d outside 1..%d", s, MinSpread)
		}
		seen[s] = true
	}
	if len(seen) != MinSpread {
		t.Errorf("values seen %v, want all of 1..%d", seen, MinSpread)
	}
}
