package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// The latency histogram is log-linear, as HdrHistogram's: values below
// subCount nanoseconds have a bucket each; above, every power of two is split
// into subCount equal buckets, so a bucket is at most 1/subCount (1.6%) of its
// lower bound wide, and its midpoint is within 0.8% of any value in it.
const (
	subBits  = 6
	subCount = 1 << subBits
	// maxValue is the largest latency recorded as itself (18 minutes);
	// longer ones are recorded as maxValue (Max stays exact).
	maxValue = 1<<40 - 1
	numPages = 40 - subBits + 1
)

// A histogram counts latencies. Each worker has its own, so recording takes no
// lock and shares no cache line; Run merges them at the end. A page (one power
// of two) is allocated the first time a value falls into it.
type histogram struct {
	pages [numPages]*[subCount]uint64
	n     uint64
	max   time.Duration
}

// bucket returns the page and sub-bucket of v ≤ maxValue.
func bucket(v uint64) (page, sub int) {
	if v < subCount {
		return 0, int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [subCount, 2*subCount)
	return shift + 1, int(v>>shift) - subCount
}

// bounds returns the lowest value of a bucket and its width.
func bounds(page, sub int) (low, width uint64) {
	if page == 0 {
		return uint64(sub), 1
	}
	shift := page - 1
	return uint64(subCount+sub) << shift, 1 << shift
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	if v > maxValue {
		v = maxValue
	}
	page, sub := bucket(v)
	p := h.pages[page]
	if p == nil {
		p = new([subCount]uint64)
		h.pages[page] = p
	}
	p[sub]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, op := range o.pages {
		if op == nil {
			continue
		}
		if h.pages[i] == nil {
			h.pages[i] = new([subCount]uint64)
		}
		for j, c := range op {
			h.pages[i][j] += c
		}
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value below or at which a fraction q of the recorded
// values lie (the nearest-rank definition), as the midpoint of its bucket,
// and never more than the largest value recorded. It returns 0 for an empty
// histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, p := range h.pages {
		if p == nil {
			continue
		}
		for j, c := range p {
			seen += c
			if seen >= rank {
				low, width := bounds(i, j)
				return min(time.Duration(low+width/2), h.max)
			}
		}
	}
	return h.max
}
