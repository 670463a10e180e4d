package imapwire

import (
	"slices"
	"strconv"
)

// A SeqRange is the range Start:Stop of message sequence numbers or UIDs,
// in either order as the client wrote it; 0 stands for "*", the largest
// number in use (RFC 9051 §9, seq-range).
type SeqRange struct {
	Start, Stop uint32
}

// A SeqSet is a sequence-set (RFC 9051 §9): ranges of message numbers or
// UIDs, or, if Saved, the result of the last SEARCH ... RETURN (SAVE)
// (RFC 5182, "$"), which the server substitutes with [SeqSet.Resolve] or by
// replacing the set.
type SeqSet struct {
	Ranges []SeqRange
	Saved  bool
}

// bounds returns r's ordered bounds, with "*" replaced by max.
func (r SeqRange) bounds(max uint32) (lo, hi uint32) {
	lo, hi = r.Start, r.Stop
	if lo == 0 {
		lo = max
	}
	if hi == 0 {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// Contains reports whether s holds n when the largest number in use is max
// ("*"). RFC 9051 §9: "*" in a set means max, also when the mailbox is
// empty (max 0, which no message has). A Saved set holds nothing; resolve
// it first. This function doesn't perform I/O.
func (s SeqSet) Contains(n, max uint32) bool {
	for _, r := range s.Ranges {
		lo, hi := r.bounds(max)
		if n >= lo && n <= hi && n != 0 {
			return true
		}
	}
	return false
}

// Normalize returns s with "*" replaced by max, each range ordered, numbers
// above max dropped (RFC 9051 §6.4.4 lets a server ignore them; a range
// that goes past max is cut to it) and the ranges sorted and merged, so
// that iterating it visits each number once, in increasing order. For UID
// sets, max is the largest UID in use (a range n:* with n above it is then
// the one number max, as RFC 9051 §6.4.8 says). This function doesn't
// perform I/O.
func (s SeqSet) Normalize(max uint32) SeqSet {
	out := make([]SeqRange, 0, len(s.Ranges))
	for _, r := range s.Ranges {
		lo, hi := r.bounds(max)
		if lo == 0 {
			lo = 1
		}
		if hi > max {
			hi = max
		}
		if lo > hi {
			continue
		}
		out = append(out, SeqRange{lo, hi})
	}
	slices.SortFunc(out, func(a, b SeqRange) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, r := range out {
		if k := len(merged) - 1; k >= 0 && uint64(r.Start) <= uint64(merged[k].Stop)+1 {
			merged[k].Stop = max32(merged[k].Stop, r.Stop)
			continue
		}
		merged = append(merged, r)
	}
	return SeqSet{Ranges: merged}
}

func max32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

// All calls yield for each number of s, normalized with max, in increasing
// order, until yield returns false: for n := range s.All(max). This function
// doesn't perform I/O.
func (s SeqSet) All(max uint32) func(yield func(uint32) bool) {
	return func(yield func(uint32) bool) {
		for _, r := range s.Normalize(max).Ranges {
			for n := r.Start; ; n++ {
				if !yield(n) {
					return
				}
				if n == r.Stop {
					break
				}
			}
		}
	}
}

// Len returns the number of numbers in s normalized with max.
func (s SeqSet) Len(max uint32) int {
	n := 0
	for _, r := range s.Normalize(max).Ranges {
		n += int(r.Stop-r.Start) + 1
	}
	return n
}

// SeqSetOf returns the compact set of nums, which need not be sorted: its
// ranges are maximal runs of consecutive numbers. This function doesn't
// perform I/O.
func SeqSetOf(nums ...uint32) SeqSet {
	sorted := slices.Clone(nums)
	slices.Sort(sorted)
	var s SeqSet
	for _, n := range sorted {
		if n == 0 {
			continue
		}
		if k := len(s.Ranges) - 1; k >= 0 && uint64(n) <= uint64(s.Ranges[k].Stop)+1 {
			s.Ranges[k].Stop = max32(s.Ranges[k].Stop, n)
			continue
		}
		s.Ranges = append(s.Ranges, SeqRange{n, n})
	}
	return s
}

// String returns s in sequence-set syntax, as written on the wire: each
// range as n or n:m, "*" for 0, "$" for a Saved set. An empty set gives "".
func (s SeqSet) String() string {
	return string(s.AppendTo(nil))
}

// AppendTo appends s in sequence-set syntax to b.
func (s SeqSet) AppendTo(b []byte) []byte {
	if s.Saved {
		return append(b, '$')
	}
	for i, r := range s.Ranges {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSeqNum(b, r.Start)
		if r.Stop != r.Start {
			b = append(b, ':')
			b = appendSeqNum(b, r.Stop)
		}
	}
	return b
}

func appendSeqNum(b []byte, n uint32) []byte {
	if n == 0 {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(n), 10)
}

// parseSeqSet parses a sequence-set, "$" included.
func parseSeqSet(s []byte) (SeqSet, bool) {
	if len(s) == 1 && s[0] == '$' {
		return SeqSet{Saved: true}, true
	}
	if len(s) == 0 {
		return SeqSet{}, false
	}
	var set SeqSet
	for len(s) > 0 {
		start, rest, ok := parseSeqNum(s)
		if !ok {
			return SeqSet{}, false
		}
		r := SeqRange{start, start}
		if len(rest) > 0 && rest[0] == ':' {
			if r.Stop, rest, ok = parseSeqNum(rest[1:]); !ok {
				return SeqSet{}, false
			}
		}
		set.Ranges = append(set.Ranges, r)
		if len(rest) > 0 {
			if rest[0] != ',' || len(rest) == 1 {
				return SeqSet{}, false
			}
			rest = rest[1:]
		}
		s = rest
	}
	return set, true
}

// parseSeqNum parses a seq-number: nz-number or "*" (0).
func parseSeqNum(s []byte) (uint32, []byte, bool) {
	if len(s) > 0 && s[0] == '*' {
		return 0, s[1:], true
	}
	if len(s) == 0 || s[0] < '1' || s[0] > '9' {
		return 0, s, false
	}
	var n uint64
	i := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		n = n*10 + uint64(s[i]-'0')
		if n > 1<<32-1 {
			return 0, s, false
		}
	}
	return uint32(n), s[i:], true
}

func isSeqSetChar(c byte) bool { return isDigit(c) || c == ':' || c == ',' || c == '*' || c == '$' }
