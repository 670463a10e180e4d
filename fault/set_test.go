package fault_test

import (
	"bytes"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/inetkit/inetkit/fault"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustAdd(t *testing.T, s *fault.Set, line string) int {
	t.Helper()
	r, err := fault.ParseRule(line)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Add(r)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSet_nil(t *testing.T) {
	var s *fault.Set
	if _, ok := s.Fire(fault.Point{Service: "smtp", Moment: "RCPT"}); ok {
		t.Error("nil Set fired")
	}
	if s.Has("smtp") || s.Rules() != nil {
		t.Error("nil Set has rules")
	}
}

func TestSet_who(t *testing.T) {
	s := fault.NewSet(1, quiet())
	mustAdd(t, s, `smtp RCPT to=*@FAIL.test reply="550 5.1.1 no"`)
	mustAdd(t, s, `pop3 RETR user=ali* reset`)
	mustAdd(t, s, `imap FETCH client=10.0.0.0/8 hang`)
	mustAdd(t, s, `http /api/ reply="503 x"`)
	tenOne := netip.MustParseAddr("10.0.0.1")
	local := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		p    fault.Point
		want int // rule ID, 0 for none
	}{
		{fault.Point{Service: "smtp", Moment: "RCPT", Rcpt: "bob@fail.test"}, 1},
		{fault.Point{Service: "smtp", Moment: "RCPT", Rcpt: "bob@ok.test"}, 0},
		{fault.Point{Service: "smtp", Moment: "RCPT"}, 0},
		{fault.Point{Service: "smtp", Moment: "MAIL", Rcpt: "bob@fail.test"}, 0},
		{fault.Point{Service: "pop3", Moment: "RETR", User: "alice"}, 2},
		{fault.Point{Service: "pop3", Moment: "RETR", User: "bob"}, 0},
		{fault.Point{Service: "pop3", Moment: "RETR"}, 0},
		{fault.Point{Service: "pop3", Moment: "LIST", User: "alice"}, 0},
		{fault.Point{Service: "imap", Moment: "FETCH", Remote: tenOne}, 3},
		{fault.Point{Service: "imap", Moment: "FETCH", Remote: netip.MustParseAddr("::ffff:10.0.0.1")}, 3},
		{fault.Point{Service: "imap", Moment: "FETCH", Remote: local}, 0},
		{fault.Point{Service: "imap", Moment: "FETCH"}, 0},
		{fault.Point{Service: "http", Moment: "/api/v1/x"}, 4},
		{fault.Point{Service: "http", Moment: "/apix"}, 0},
		{fault.Point{Service: "udp", Moment: "datagram"}, 0},
	}
	for _, tc := range tests {
		r, ok := s.Fire(tc.p)
		if got := r.ID; !ok && got != 0 || ok != (tc.want != 0) || got != tc.want {
			t.Errorf("Fire(%+v) = rule %d, %v; want rule %d", tc.p, r.ID, ok, tc.want)
		}
	}
}

// fires returns the match numbers, from 1, at which p fires in n tries.
func fires(s *fault.Set, p fault.Point, n int) []int {
	var out []int
	for i := 1; i <= n; i++ {
		if _, ok := s.Fire(p); ok {
			out = append(out, i)
		}
	}
	return out
}

func TestSet_howOften(t *testing.T) {
	p := fault.Point{Service: "smtp", Moment: "RCPT"}
	tests := []struct {
		rule string
		want []int
	}{
		{`smtp RCPT reset`, []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{`smtp RCPT reset first=3`, []int{1, 2, 3}},
		{`smtp RCPT reset every=3`, []int{3, 6}},
		{`smtp RCPT reset every=2 first=5`, []int{2, 4}},
	}
	for _, tc := range tests {
		s := fault.NewSet(1, quiet())
		mustAdd(t, s, tc.rule)
		if got := fires(s, p, 8); !slices.Equal(got, tc.want) {
			t.Errorf("%s: fired at %v; want %v", tc.rule, got, tc.want)
		}
		st := s.Rules()[0]
		if st.Matched != 8 || st.Fired != int64(len(tc.want)) {
			t.Errorf("%s: Matched, Fired = %d, %d; want 8, %d", tc.rule, st.Matched, st.Fired, len(tc.want))
		}
	}
}

func TestSet_probabilityDeterministic(t *testing.T) {
	p := fault.Point{Service: "smtp", Moment: "RCPT"}
	run := func(seed uint64) []int {
		s := fault.NewSet(seed, quiet())
		mustAdd(t, s, `smtp MAIL reset`) // another rule, matched or not, changes nothing
		mustAdd(t, s, `smtp RCPT reset prob=0.3`)
		return fires(s, p, 1000)
	}
	a, b := run(42), run(42)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave different faults")
	}
	if n := len(a); n < 240 || n > 360 {
		t.Errorf("prob=0.3 fired %d times in 1000; want about 300", n)
	}
	if slices.Equal(a, run(43)) {
		t.Error("seeds 42 and 43 gave the same faults")
	}
}

func TestSet_concurrentDeterministic(t *testing.T) {
	// Whatever the interleaving, the nth match of a rule fires or not the
	// same way: the number of faults among the first N matches is fixed.
	count := func() int64 {
		s := fault.NewSet(7, quiet())
		mustAdd(t, s, `pop3 RETR reset prob=0.5`)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 125 {
					s.Fire(fault.Point{Service: "pop3", Moment: "RETR"})
				}
			})
		}
		wg.Wait()
		return s.Rules()[0].Fired
	}
	if a, b := count(), count(); a != b {
		t.Errorf("concurrent runs fired %d and %d times; want the same", a, b)
	}
}

func TestSet_firstRuleWins(t *testing.T) {
	s := fault.NewSet(1, quiet())
	mustAdd(t, s, `smtp RCPT reset first=1`)
	mustAdd(t, s, `smtp RCPT hang`)
	p := fault.Point{Service: "smtp", Moment: "RCPT"}
	var kinds []fault.Kind
	for range 3 {
		r, _ := s.Fire(p)
		kinds = append(kinds, r.Kind)
	}
	if want := []fault.Kind{fault.KindReset, fault.KindHang, fault.KindHang}; !slices.Equal(kinds, want) {
		t.Errorf("kinds = %v; want %v", kinds, want)
	}
	st := s.Rules()
	if st[0].Matched != 3 || st[0].Fired != 1 || st[1].Matched != 2 || st[1].Fired != 2 {
		t.Errorf("counters = %+v", st)
	}
}

func TestSet_changes(t *testing.T) {
	s := fault.NewSet(1, quiet())
	a := mustAdd(t, s, `smtp RCPT reset`)
	b := mustAdd(t, s, `pop3 RETR reset`)
	if a != 1 || b != 2 {
		t.Fatalf("IDs %d, %d; want 1, 2", a, b)
	}
	if !s.Has("pop3") || s.Has("imap") {
		t.Error("Has is wrong")
	}
	if !s.Remove(a) || s.Remove(a) {
		t.Error("Remove(a) twice did not say true, then false")
	}
	if _, ok := s.Fire(fault.Point{Service: "smtp", Moment: "RCPT"}); ok {
		t.Error("a removed rule fired")
	}
	s.Clear()
	if len(s.Rules()) != 0 {
		t.Error("Clear left rules")
	}
	if c := mustAdd(t, s, `smtp RCPT reset`); c != 3 {
		t.Errorf("ID after Clear = %d; want 3", c)
	}
	if _, err := s.Add(fault.Rule{Service: "smtp", Moment: "RCPT"}); err == nil {
		t.Error("Add accepted a rule without a kind")
	}
}

func TestSet_concurrentChanges(t *testing.T) {
	s := fault.NewSet(1, quiet())
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			id := mustAdd(t, s, `smtp RCPT reset prob=0.5`)
			s.Rules()
			s.Remove(id)
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 500 {
				s.Fire(fault.Point{Service: "smtp", Moment: "RCPT"})
			}
		})
	}
	wg.Wait()
}

func TestSet_log(t *testing.T) {
	var buf bytes.Buffer
	s := fault.NewSet(1, slog.New(slog.NewTextHandler(&buf, nil)))
	mustAdd(t, s, `smtp RCPT reply="451 4.3.0 later"`)
	s.Fire(fault.Point{Service: "smtp", Moment: "RCPT", Remote: netip.MustParseAddr("127.0.0.1"), RemoteString: "127.0.0.1:5555", Rcpt: "a@b"})
	for _, want := range []string{`msg="fault injected"`, "rule=1", "service=smtp", "moment=RCPT", "kind=reply", "remote=127.0.0.1:5555", "rcpt=a@b"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
}
