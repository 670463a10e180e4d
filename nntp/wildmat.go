package nntp

import (
	"strings"
	"unicode/utf8"
)

// A Wildmat is a parsed wildmat (RFC 3977 §4): a list of patterns separated
// by commas, each of which may be negated with "!". A name matches when the
// last pattern that matches it is not negated. In a pattern, "*" matches any
// run of characters and "?" any one character; other characters match
// themselves. Matching takes time proportional to the length of the name
// times the length of the pattern at worst, never more: "*" is never
// retried by backtracking.
type Wildmat struct {
	pats []wildPattern
}

type wildPattern struct {
	neg  bool
	segs [][]rune // the pattern split at runs of '*'
	star bool     // the pattern has at least one '*'
}

// ParseWildmat parses a wildmat. It reports false for an empty one, or one
// with an empty pattern ("a,,b"). This function doesn't perform I/O.
func ParseWildmat(s string) (*Wildmat, bool) {
	if s == "" || !utf8.ValidString(s) {
		return nil, false
	}
	w := &Wildmat{}
	for p := range strings.SplitSeq(s, ",") {
		var wp wildPattern
		if strings.HasPrefix(p, "!") {
			wp.neg, p = true, p[1:]
		}
		if p == "" {
			return nil, false
		}
		if strings.ContainsAny(p, "!\\[]") {
			return nil, false
		}
		wp.star = strings.Contains(p, "*")
		for seg := range strings.SplitSeq(p, "*") {
			wp.segs = append(wp.segs, []rune(seg))
		}
		w.pats = append(w.pats, wp)
	}
	return w, true
}

// Match reports whether name matches w. A nil Wildmat matches every name.
func (w *Wildmat) Match(name string) bool {
	if w == nil {
		return true
	}
	var rs []rune
	for i := len(w.pats) - 1; i >= 0; i-- {
		p := &w.pats[i]
		if rs == nil {
			rs = []rune(name)
		}
		if p.match(rs) {
			return !p.neg
		}
	}
	return false
}

// match matches one pattern: its first segment must be a prefix of s, its
// last a suffix, and the others must occur in order in between; taking the
// leftmost occurrence of each middle segment is always right, so no choice
// is ever undone.
func (p *wildPattern) match(s []rune) bool {
	if !p.star {
		return len(s) == len(p.segs[0]) && segAt(p.segs[0], s, 0)
	}
	first, last := p.segs[0], p.segs[len(p.segs)-1]
	if len(first)+len(last) > len(s) || !segAt(first, s, 0) || !segAt(last, s, len(s)-len(last)) {
		return false
	}
	i, end := len(first), len(s)-len(last)
	for _, seg := range p.segs[1 : len(p.segs)-1] {
		j := segIndex(seg, s[i:end])
		if j < 0 {
			return false
		}
		i += j + len(seg)
	}
	return true
}

// segAt reports whether seg matches s at offset i ('?' matches any rune).
func segAt(seg, s []rune, i int) bool {
	if i < 0 || i+len(seg) > len(s) {
		return false
	}
	for k, r := range seg {
		if r != '?' && r != s[i+k] {
			return false
		}
	}
	return true
}

// segIndex returns the first offset in s where seg matches, or -1.
func segIndex(seg, s []rune) int {
	for i := 0; i+len(seg) <= len(s); i++ {
		if segAt(seg, s, i) {
			return i
		}
	}
	return -1
}
