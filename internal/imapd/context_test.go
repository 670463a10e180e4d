package imapd_test

import (
	"slices"
	"strings"
	"testing"
)

// TestContext_endsWithView checks that a search kept updated goes with
// the view it was made in (RFC 5267 §4.2): after a new SELECT of the same
// mailbox, a change it would match is not reported, and the tag can be
// kept again.
func TestContext_endsWithView(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t)
	other, ro, _ := s.selected(t)
	mustOK(t, c, r, "A1", "SEARCH RETURN (UPDATE) SEEN")
	mustOK(t, other, ro, "a", `STORE 1 +FLAGS (\Seen)`)
	if u := mustOK(t, c, r, "b", "NOOP"); !slices.Contains(u, `* ESEARCH (TAG "A1") ADDTO (0 1)`) {
		t.Fatalf("NOOP after a STORE elsewhere = %q; want ADDTO (0 1)", u)
	}
	mustOK(t, c, r, "c", "SELECT INBOX")
	mustOK(t, other, ro, "d", `STORE 2 +FLAGS (\Seen)`)
	for _, l := range mustOK(t, c, r, "e", "NOOP") {
		if strings.Contains(l, "ESEARCH") {
			t.Errorf("NOOP after a new SELECT: %q; want no ESEARCH", l)
		}
	}
	if _, tagged := exchange(t, c, r, "f", `CANCELUPDATE "A1"`); tagged != "f NO Unknown tag." {
		t.Errorf("CANCELUPDATE of a search of the closed view = %q; want NO", tagged)
	}
}

// TestContext_fetchSetsSeen checks that the \Seen a FETCH sets is reported
// to a search kept updated, as a STORE's change is (RFC 5267 §4.3).
func TestContext_fetchSetsSeen(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t)
	mustOK(t, c, r, "A1", "SEARCH RETURN (UPDATE) SEEN")
	u := mustOK(t, c, r, "a", "FETCH 2 (BODY[TEXT])")
	u = append(u, mustOK(t, c, r, "b", "NOOP")...)
	if !slices.Contains(u, `* ESEARCH (TAG "A1") ADDTO (0 2)`) {
		t.Errorf("FETCH BODY[TEXT] then NOOP = %q; want ADDTO (0 2)", u)
	}
	u = mustOK(t, c, r, "c", "UID FETCH 3 (RFC822)")
	if !slices.Contains(u, `* ESEARCH (TAG "A1") ADDTO (0 3)`) {
		t.Errorf("UID FETCH RFC822 = %q; want ADDTO (0 3)", u)
	}
}
