package loadgen

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/inetkit/inetkit/upper"
)

func TestHistogram_percentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		gen  func() time.Duration
	}{
		{"log-uniform 1µs to 1s", func() time.Duration { return time.Duration(math.Exp(rng.Float64()*math.Log(1e6)) * 1e3) }},
		{"normal around 2ms", func() time.Duration { return time.Duration(2e6 + rng.NormFloat64()*3e5) }},
		{"small values exact", func() time.Duration { return time.Duration(rng.IntN(64)) }},
		{"one value", func() time.Duration { return 123456789 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var vals []time.Duration
			// Three histograms merged, as Run merges its workers'.
			var parts [3]histogram
			for i := range 30001 {
				v := tc.gen()
				vals = append(vals, v)
				parts[i%3].record(v)
			}
			var h histogram
			for i := range parts {
				h.merge(&parts[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
				got := h.quantile(q)
				if diff := math.Abs(float64(got - exact)); diff > 0.02*float64(exact) {
					t.Errorf("quantile(%v) = %v; exact %v, off by %.2f%% (want ≤ 2%%)", q, got, exact, 100*diff/float64(exact))
				}
			}
			if h.max != vals[len(vals)-1] || h.n != uint64(len(vals)) {
				t.Errorf("max %v, n %d; want %v, %d", h.max, h.n, vals[len(vals)-1], len(vals))
			}
		})
	}
	var empty histogram
	if q := empty.quantile(0.5); q != 0 {
		t.Errorf("empty quantile(0.5) = %v; want 0", q)
	}
}

func TestHistogram_buckets(t *testing.T) {
	// Every value lies in its bucket, and buckets are at most 1/64 of their
	// lower bound wide.
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 1 << 20, 1<<20 + 12345, maxValue} {
		page, sub := bucket(v)
		low, width := bounds(page, sub)
		if v < low || v >= low+width || (low >= subCount && width*subCount > low) {
			t.Errorf("value %d in bucket (%d, %d) = [%d, %d)", v, page, sub, low, low+width)
		}
	}
}

func TestHistogram_recordAllocs(t *testing.T) {
	var h histogram
	h.record(time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { h.record(time.Millisecond + 7) }); n != 0 {
		t.Errorf("record allocates %v times; want 0", n)
	}
}

func TestLoadgen_messages(t *testing.T) {
	for _, size := range []int{1, 2, 10, 31, 32, 33, 64, 100, 1000} {
		for _, line := range []bool{false, true} {
			for _, uni := range []bool{false, true} {
				g := newMessageGen(123, size, line, uni)
				seen := map[string]bool{}
				for id := range uint64(20) {
					m := g.append(nil, id*1000003)
					if len(m) != size {
						t.Errorf("size %d line %v unicode %v: len %d", size, line, uni, len(m))
					}
					lfs := bytes.Count(m, []byte("\n"))
					if line && (lfs != 1 || m[len(m)-1] != '\n') || !line && lfs != 0 {
						t.Errorf("size %d line %v: %q has %d LF", size, line, m, lfs)
					}
					if !utf8.Valid(m) {
						t.Errorf("size %d unicode %v: %q is not valid UTF-8", size, uni, m)
					}
					if uni && size >= 64 && utf8.RuneCount(m) == len(m) {
						t.Errorf("size %d unicode: %q has no multi-byte character", size, m)
					}
					if size >= 28 {
						seen[string(m)] = true
						w, got, ok := parseID(upper.Bytes(m))
						if !ok || w != 123 || got != id*1000003 {
							t.Errorf("parseID(upper(%q)) = %d, %d, %v; want 123, %d, true", m, w, got, ok, id*1000003)
						}
					}
				}
				if size >= 28 && len(seen) != 20 {
					t.Errorf("size %d: %d distinct messages of 20", size, len(seen))
				}
			}
		}
	}
	g := newMessageGen(7, 64, true, false)
	buf := make([]byte, 0, 64)
	exp := make([]byte, 0, 3*64)
	id := uint64(0)
	if n := testing.AllocsPerRun(1000, func() {
		id++
		buf = g.append(buf[:0], id)
		exp = upper.Append(exp[:0], buf)
	}); n != 0 {
		t.Errorf("building a message and its reply allocates %v times; want 0", n)
	}
	for _, bad := range []string{"", ".", "1.", "x.1.", "1.x.", "123", "1.2", "123456789012345678901.1."} {
		if _, _, ok := parseID([]byte(bad)); ok {
			t.Errorf("parseID(%q) ok; want not", bad)
		}
	}
}
