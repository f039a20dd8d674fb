package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// histogram counts durations in log-linear buckets: 32 sub-buckets per
// power of two of microseconds, so quantiles are within about 3 % and the
// memory is fixed however long the test runs.
type histogram struct {
	counts [40 * subBuckets]uint64
	n      uint64
	max    time.Duration
	sum    time.Duration
}

const subBits = 5
const subBuckets = 1 << subBits

func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - 1 - subBits // ≥ 0
	sub := (us >> uint(exp)) & (subBuckets - 1)
	i := (exp+1)*subBuckets + int(sub)
	if i >= len(histogram{}.counts) {
		i = len(histogram{}.counts) - 1
	}
	return i
}

// lowerBound is the smallest value (µs) of bucket i.
func lowerBound(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	exp := i/subBuckets - 1
	sub := uint64(i % subBuckets)
	return (subBuckets | sub) << uint(exp)
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d.Microseconds()))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q ≤ 1), the upper end of its
// bucket, never above the maximum seen.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			upper := time.Duration(lowerBound(i+1)) * time.Microsecond
			return min(upper, h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
