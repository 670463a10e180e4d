package fault

import (
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Set holds the fault rules that servers consult. It is safe for
// concurrent use: rules may be added, removed and cleared while servers
// consult it. A nil *Set holds no rules.
type Set struct {
	seed uint64
	log  *slog.Logger
	now  func() time.Time

	mu     sync.Mutex // serialises changes; readers load rules
	nextID int
	rules  atomic.Pointer[[]*entry] // never changed in place
}

// entry is a rule in a set, with its counters.
type entry struct {
	rule    Rule
	added   time.Time
	matched atomic.Int64
	fired   atomic.Int64
}

// A Status is a rule of a set with its counters.
type Status struct {
	Rule
	// Matched counts the times the rule's where and who matched.
	Matched int64
	// Fired counts the faults the rule injected.
	Fired int64
}

// NewSet returns an empty set whose probabilities draw from seed (see
// Determinism in the package documentation), logging each fault injected to
// log; a nil log means slog.Default().
func NewSet(seed uint64, log *slog.Logger) *Set {
	if log == nil {
		log = slog.Default()
	}
	s := &Set{seed: seed, log: log, now: time.Now}
	s.rules.Store(new([]*entry))
	return s
}

// Seed returns the seed of s.
func (s *Set) Seed() uint64 { return s.seed }

// Add checks r (see [Rule.Validate]) and appends it to s, after the rules
// already there, with a new ID, which it returns. IDs start at 1 and are
// never reused within a set.
func (s *Set) Add(r Rule) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	r.ID = s.nextID
	old := *s.rules.Load()
	rules := append(slices.Clip(old), &entry{rule: r, added: s.now()})
	s.rules.Store(&rules)
	return r.ID, nil
}

// Remove removes the rule with the given ID and reports whether s had it.
func (s *Set) Remove(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.rules.Load()
	i := slices.IndexFunc(old, func(e *entry) bool { return e.rule.ID == id })
	if i < 0 {
		return false
	}
	rules := slices.Delete(slices.Clone(old), i, i+1)
	s.rules.Store(&rules)
	return true
}

// Clear removes every rule. IDs go on from where they were.
func (s *Set) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules.Store(new([]*entry))
}

// Rules returns the rules of s, in the order they are consulted, with their
// counters.
func (s *Set) Rules() []Status {
	if s == nil {
		return nil
	}
	rules := *s.rules.Load()
	out := make([]Status, len(rules))
	for i, e := range rules {
		out[i] = Status{Rule: e.rule, Matched: e.matched.Load(), Fired: e.fired.Load()}
	}
	return out
}

// Has reports whether s has a rule for service at all, so that a server can
// skip the work of describing a point no rule will match.
func (s *Set) Has(service string) bool {
	if s == nil {
		return false
	}
	for _, e := range *s.rules.Load() {
		if e.rule.Service == service {
			return true
		}
	}
	return false
}

// Fire consults the rules of s, in order, at p: the first rule whose where
// and who match p and whose how-often lets this match fire is returned,
// counted and logged, and the rules after it are not consulted. It returns
// false if none fires. The caller injects the fault the rule describes.
func (s *Set) Fire(p Point) (Rule, bool) {
	if s == nil {
		return Rule{}, false
	}
	for _, e := range *s.rules.Load() {
		if !e.rule.matches(p) {
			continue
		}
		n := e.matched.Add(1)
		if !s.fires(e, n) {
			continue
		}
		e.fired.Add(1)
		remote := p.RemoteString
		if remote == "" && p.Remote.IsValid() {
			remote = p.Remote.String()
		}
		attrs := []any{"rule", e.rule.ID, "service", p.Service, "moment", p.Moment, "kind", e.rule.Kind.String(), "remote", remote}
		if p.User != "" {
			attrs = append(attrs, "user", p.User)
		}
		if p.Rcpt != "" {
			attrs = append(attrs, "rcpt", p.Rcpt)
		}
		s.log.Info("fault injected", attrs...)
		return e.rule, true
	}
	return Rule{}, false
}

// matches reports whether the where and who of r match p.
func (r *Rule) matches(p Point) bool {
	if r.Service != p.Service {
		return false
	}
	if strings.HasPrefix(r.Moment, "/") {
		if !strings.HasPrefix(p.Moment, r.Moment) {
			return false
		}
	} else if r.Moment != p.Moment {
		return false
	}
	if r.Client.IsValid() && !(p.Remote.IsValid() && r.Client.Contains(p.Remote.Unmap())) {
		return false
	}
	if r.User != "" && !(p.User != "" && globMatch(r.User, p.User)) {
		return false
	}
	if r.Rcpt != "" && !(p.Rcpt != "" && globMatch(r.Rcpt, p.Rcpt)) {
		return false
	}
	return true
}

// globMatch reports whether name matches pattern, ignoring case. A
// malformed pattern, which Validate refuses, matches nothing.
func globMatch(pattern, name string) bool {
	ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(name))
	return err == nil && ok
}

// fires reports whether the nth match of e fires.
func (s *Set) fires(e *entry, n int64) bool {
	r := &e.rule
	if r.First > 0 && n > int64(r.First) {
		return false
	}
	if r.Every > 0 && n%int64(r.Every) != 0 {
		return false
	}
	if r.After > 0 || r.For > 0 {
		age := s.now().Sub(e.added)
		if age < r.After || r.For > 0 && age >= r.After+r.For {
			return false
		}
	}
	if r.Probability > 0 && r.Probability < 1 {
		return draw(s.seed, r.ID, n) < r.Probability
	}
	return true
}

// draw returns a number in [0, 1) that depends only on seed, id and n: the
// SplitMix64 finaliser of their mix.
func draw(seed uint64, id int, n int64) float64 {
	x := seed ^ uint64(id)*0x9e3779b97f4a7c15 ^ uint64(n)*0xbf58476d1ce4e5b9
	x = mix64(mix64(x))
	return float64(x>>11) / (1 << 53)
}

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// MustParseSet returns a new set with seed holding the rules, each a line
// in the format of [ParseRule], logging to slog.Default(). It panics if a
// rule does not parse; it is for tests and examples, as regexp.MustCompile
// is.
func MustParseSet(seed uint64, rules ...string) *Set {
	s := NewSet(seed, nil)
	for _, line := range rules {
		r, err := ParseRule(line)
		if err != nil {
			panic("fault: MustParseSet(" + strconv.Quote(line) + "): " + err.Error())
		}
		if _, err := s.Add(r); err != nil {
			panic("fault: MustParseSet(" + strconv.Quote(line) + "): " + err.Error())
		}
	}
	return s
}
