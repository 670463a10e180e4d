package imap_test

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
)

func TestStore_replies(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t)
	prototest.Run(t, c, r, `
C: a STORE 1:2 FLAGS (\Seen)
S: * 1 FETCH (FLAGS (\Seen \Recent))
S: * 2 FETCH (FLAGS (\Seen \Recent))
S: a OK Store completed.
C: b STORE 1 -FLAGS (\Seen)
S: * 1 FETCH (FLAGS (\Recent))
S: b OK Store completed.
C: c STORE 3 +FLAGS.SILENT (\Flagged)
S: c OK Store completed.
C: d UID STORE 3 +FLAGS (\draft)
S: * 3 FETCH (UID 3 FLAGS (\Flagged \Draft \Recent))
S: d OK Store completed.
C: e STORE 1 +FLAGS (\Recent)
S: e BAD Invalid system flag \RECENT
C: f STORE 1 +FLAGS (\Bogus)
S: f BAD Invalid system flag \BOGUS
C: g STORE 4 +FLAGS (\Seen)
S: g BAD Error in IMAP command: Invalid messageset
C: h UID STORE 99 +FLAGS (\Seen)
S: h OK Store completed.`)
}

// TestStore_newKeywordFlagsFirst checks that FLAGS announces a keyword
// before the FETCH that uses it (RFC 9051 §7.3.5), in this session and in
// another that has the mailbox selected.
func TestStore_newKeywordFlagsFirst(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 1)
	c, r, _ := s.selected(t)
	other, ro, _ := s.selected(t)
	prototest.Run(t, c, r, `
C: a STORE 1 +FLAGS ($Hello)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Hello)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Hello \*)] Flags permitted.
S: * 1 FETCH (FLAGS ($Hello \Recent))
S: a OK Store completed.`)
	prototest.Run(t, other, ro, `
C: n NOOP
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Hello)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Hello \*)] Flags permitted.
S: * 1 FETCH (FLAGS ($Hello))
S: n OK Noop completed.`)
}

func TestStore_readOnly(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 1)
	c, r := s.loggedIn(t)
	mustOK(t, c, r, "a", "EXAMINE INBOX")
	prototest.Run(t, c, r, `
C: b STORE 1 +FLAGS (\Seen)
S: b NO Mailbox is read-only.`)
}

// TestStore_unchangedSince checks the conditional STORE of RFC 7162
// §3.1.3: a message changed after the given mod-sequence is left alone and
// named in MODIFIED, by sequence number or UID.
func TestStore_unchangedSince(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 2)
	c, r, u := s.selected(t, "ENABLE CONDSTORE")
	modseq := number(t, u, "HIGHESTMODSEQ")
	u = mustOK(t, c, r, "a", `STORE 2 +FLAGS (\Seen)`)
	after := number(t, u, "MODSEQ")
	if after <= modseq {
		t.Fatalf("MODSEQ after STORE = %d; want above %d", after, modseq)
	}
	u, tagged := exchange(t, c, r, "b", fmt.Sprintf(`STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\Flagged)`, modseq))
	if tagged != "b OK [MODIFIED 2] Conditional store failed." {
		t.Errorf("conditional STORE = %q; want MODIFIED 2", tagged)
	}
	if !containsPrefix(u, `* 1 FETCH (FLAGS (\Flagged \Recent) MODSEQ (`) || containsPrefix(u, "* 2 FETCH") {
		t.Errorf("conditional STORE responses = %q; want a FETCH of 1 only", u)
	}
	_, tagged = exchange(t, c, r, "c", `UID STORE 1:2 (UNCHANGEDSINCE 0) FLAGS ()`)
	if tagged != "c OK [MODIFIED 1:2] Conditional store failed." {
		t.Errorf("UNCHANGEDSINCE 0 = %q; want MODIFIED 1:2", tagged)
	}
	// .SILENT with CONDSTORE still reports the new mod-sequence.
	u = mustOK(t, c, r, "d", `UID STORE 2 +FLAGS.SILENT (\Answered)`)
	if len(u) != 1 || !regexp.MustCompile(`^\* 2 FETCH \(UID 2 MODSEQ \(\d+\)\)$`).MatchString(u[0]) {
		t.Errorf("STORE .SILENT with CONDSTORE = %q; want one FETCH with UID and MODSEQ", u)
	}
}

// TestStore_concurrentOrdering has 10 sessions set and clear flags of the
// same messages at once: every session must see the mod-sequence of each
// message only grow, that is never an older flag state after a newer one,
// and all must agree on the final state.
func TestStore_concurrentOrdering(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	const sessions, rounds = 10, 20
	fetch := regexp.MustCompile(`^\* (\d+) FETCH \(.*MODSEQ \((\d+)\)\)$`)
	type session struct {
		c    net.Conn
		r    *bufio.Reader
		last map[string]uint64 // the last MODSEQ seen of each message
	}
	check := func(i int, ss *session, lines []string) {
		for _, l := range lines {
			m := fetch.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			ms, _ := strconv.ParseUint(m[2], 10, 64)
			if ms < ss.last[m[1]] {
				t.Errorf("session %d: message %s went from MODSEQ %d back to %d: %q", i, m[1], ss.last[m[1]], ms, l)
			}
			ss.last[m[1]] = ms
		}
	}
	all := make([]*session, sessions)
	for i := range all {
		c, r, _ := s.selected(t, "ENABLE CONDSTORE")
		all[i] = &session{c, r, map[string]uint64{}}
	}
	var wg sync.WaitGroup
	for i, ss := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flag := fmt.Sprintf("$k%d", i%3)
			for n := range rounds {
				op := "+FLAGS"
				if n%2 == 1 {
					op = "-FLAGS"
				}
				tag := "t" + strconv.Itoa(n)
				u, tagged := exchange(t, ss.c, ss.r, tag, fmt.Sprintf("STORE 1:3 %s (\\Seen %s)", op, flag))
				if tagged != tag+" OK Store completed." {
					t.Errorf("session %d: %s", i, tagged)
					return
				}
				check(i, ss, u)
				u, _ = exchange(t, ss.c, ss.r, "n"+strconv.Itoa(n), "NOOP")
				check(i, ss, u)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Once all are done, each has caught up with a NOOP and agrees.
	var want []string
	for i, ss := range all {
		check(i, ss, mustOK(t, ss.c, ss.r, "y", "NOOP"))
		got := stripRecent(mustOK(t, ss.c, ss.r, "z", "FETCH 1:3 (FLAGS MODSEQ)"))
		check(i, ss, got)
		if i == 0 {
			want = got
		} else if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("session %d ends with %q; session 0 with %q", i, got, want)
		}
	}
}

// stripRecent drops " \Recent" and the FLAGS-only updates from FETCH
// lines, which differ between sessions.
func stripRecent(lines []string) []string {
	re := regexp.MustCompile(` ?\\Recent`)
	var out []string
	for _, l := range lines {
		out = append(out, re.ReplaceAllString(l, ""))
	}
	return out
}

// TestStore_manyRanges checks that a sequence set of thousands of ranges
// costs work bounded by the mailbox, not by the numbers it names.
func TestStore_manyRanges(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 10)
	c, r, _ := s.selected(t)
	uidSet := strings.Repeat("1:4294967295,", 4000) + "*"
	seqSet := strings.Repeat("1:10,", 4000) + "*"
	start := time.Now()
	mustOK(t, c, r, "a", `UID STORE `+uidSet+` +FLAGS.SILENT (\Seen)`)
	mustOK(t, c, r, "b", `STORE `+seqSet+` -FLAGS.SILENT (\Seen)`)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("two STOREs of 4000 ranges took %v", d)
	}
	u := mustOK(t, c, r, "c", `UID STORE 5:3,9:* FLAGS (\Flagged)`)
	if len(u) != 5 || u[0] != `* 3 FETCH (UID 3 FLAGS (\Flagged \Recent))` || u[4] != `* 10 FETCH (UID 10 FLAGS (\Flagged \Recent))` {
		t.Errorf("UID STORE 5:3,9:* = %q; want messages 3, 4, 5, 9 and 10", u)
	}
}
