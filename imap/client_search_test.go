package imap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	inetimap "github.com/inetkit/inetkit/imap"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestParseSearch(t *testing.T) {
	hdr := func(k, v string) []imap.SearchCriteriaHeaderField {
		return []imap.SearchCriteriaHeaderField{{Key: k, Value: v}}
	}
	for _, tc := range []struct {
		in   string
		want imap.SearchCriteria
	}{
		{"ALL", imap.SearchCriteria{}},
		{"SUBJECT hello", imap.SearchCriteria{Header: hdr("Subject", "hello")}},
		{`subject "hello world"`, imap.SearchCriteria{Header: hdr("Subject", "hello world")}},
		{`SUBJECT "say \"hi\" \\o/"`, imap.SearchCriteria{Header: hdr("Subject", `say "hi" \o/`)}},
		{"SUBJECT héllo", imap.SearchCriteria{Header: hdr("Subject", "héllo")}},
		{"FROM bob@example.org TO alice@example.org CC c BCC d", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{
			{Key: "From", Value: "bob@example.org"}, {Key: "To", Value: "alice@example.org"}, {Key: "Cc", Value: "c"}, {Key: "Bcc", Value: "d"}}}},
		{"HEADER X-Test yes", imap.SearchCriteria{Header: hdr("X-Test", "yes")}},
		{`HEADER List-Id ""`, imap.SearchCriteria{Header: hdr("List-Id", "")}},
		{"BODY hi TEXT there", imap.SearchCriteria{Body: []string{"hi"}, Text: []string{"there"}}},
		{"UNSEEN", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}},
		{"SEEN FLAGGED UNDELETED", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen, imap.FlagFlagged}, NotFlag: []imap.Flag{imap.FlagDeleted}}},
		{"ANSWERED DRAFT UNANSWERED UNDRAFT UNFLAGGED DELETED", imap.SearchCriteria{
			Flag:    []imap.Flag{imap.FlagAnswered, imap.FlagDraft, imap.FlagDeleted},
			NotFlag: []imap.Flag{imap.FlagAnswered, imap.FlagDraft, imap.FlagFlagged}}},
		{"KEYWORD $Junk UNKEYWORD work", imap.SearchCriteria{Flag: []imap.Flag{"$Junk"}, NotFlag: []imap.Flag{"work"}}},
		{"SINCE 1-Feb-2026 BEFORE 2026-03-01", imap.SearchCriteria{Since: day(2026, 2, 1), Before: day(2026, 3, 1)}},
		{`since "01-feb-2026"`, imap.SearchCriteria{Since: day(2026, 2, 1)}},
		{"ON 29-Feb-2024", imap.SearchCriteria{Since: day(2024, 2, 29), Before: day(2024, 3, 1)}},
		{"SENTSINCE 1-Jan-2026 SENTBEFORE 2-Jan-2026", imap.SearchCriteria{SentSince: day(2026, 1, 1), SentBefore: day(2026, 1, 2)}},
		{"SENTON 2026-01-01", imap.SearchCriteria{SentSince: day(2026, 1, 1), SentBefore: day(2026, 1, 2)}},
		{"SINCE 1-Jan-2026 SINCE 5-Jan-2026", imap.SearchCriteria{Since: day(2026, 1, 5)}},
		{"LARGER 100 SMALLER 2000", imap.SearchCriteria{Larger: 100, Smaller: 2000}},
		{"SMALLER 2000 LARGER 100", imap.SearchCriteria{Larger: 100, Smaller: 2000}},
		{"(SMALLER 2000) SUBJECT x", imap.SearchCriteria{Smaller: 2000, Header: hdr("Subject", "x")}},
		{"UID 1:5,7", imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 1, Stop: 5}, {Start: 7, Stop: 7}}}}},
		{"UID 9:*", imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 9, Stop: 0}}}}},
		{"1:2", imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 1, Stop: 2}}}}},
		{"NOT SEEN", imap.SearchCriteria{Not: []imap.SearchCriteria{{Flag: []imap.Flag{imap.FlagSeen}}}}},
		{"NOT (SUBJECT a FROM b)", imap.SearchCriteria{Not: []imap.SearchCriteria{{Header: []imap.SearchCriteriaHeaderField{
			{Key: "Subject", Value: "a"}, {Key: "From", Value: "b"}}}}}},
		{"OR FROM alice FROM bob", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Header: hdr("From", "alice")}, {Header: hdr("From", "bob")}}}}},
		{"OR (FROM alice) (FROM bob) UNSEEN", imap.SearchCriteria{
			Or:      [][2]imap.SearchCriteria{{{Header: hdr("From", "alice")}, {Header: hdr("From", "bob")}}},
			NotFlag: []imap.Flag{imap.FlagSeen}}},
		{"CHARSET UTF-8 SUBJECT x", imap.SearchCriteria{Header: hdr("Subject", "x")}},
		{"  SUBJECT   x  ", imap.SearchCriteria{Header: hdr("Subject", "x")}},
	} {
		got, err := inetimap.ParseSearch(tc.in)
		if err != nil {
			t.Errorf("ParseSearch(%q) = %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(&tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ParseSearch(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseSearch_invalid(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "no search key"},
		{"SUBJECT", "SUBJECT needs an argument"},
		{"SUBJECT (", "SUBJECT needs an argument"},
		{`SUBJECT "open`, "unterminated"},
		{"SUBJECT {5}", "literals"},
		{"SINCE yesterday", "want a date"},
		{"SINCE 31-Feb-2026", "want a date"},
		{"LARGER big", "size in bytes"},
		{"SMALLER 0", "matches nothing"},
		{"UID 0", "UID set"},
		{"UID 1:x", "UID set"},
		{"FOO", `unknown search key "FOO"`},
		{"RECENT", "IMAP4rev2 removed"},
		{"NEW", "IMAP4rev2 removed"},
		{"NOT", "NOT: search key missing"},
		{"OR SEEN", "OR: search key missing"},
		{"(SEEN", `missing ")"`},
		{"SEEN)", `unexpected ")"`},
		{"()", "empty ()"},
		{`"SEEN"`, "search key expected"},
		{"HEADER X-Test", "HEADER X-Test needs an argument"},
		{"HEADER X-Test: yes", "field name"},
		{"KEYWORD \\Seen", "needs a keyword"},
		{"CHARSET KOI8-R SUBJECT x", "charset"},
	} {
		if c, err := inetimap.ParseSearch(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSearch(%q) = %+v, %v; want an error saying %q", tc.in, c, err, tc.want)
		}
	}
}

// The query of an IMAP URL, in RFC 5092's form and as KEY=VALUE pairs.
func TestParseURL_search(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"imap://h/INBOX?SUBJECT%20hello", "SUBJECT hello"},
		{"imap://h/INBOX?SUBJECT%20C++", "SUBJECT C++"},
		{"imap://h/INBOX?UNSEEN", "UNSEEN"},
		{"imap://h/INBOX?OR%20(FROM%20a)%20(FROM%20b)", "OR (FROM a) (FROM b)"},
		{"imap://h/INBOX?SUBJECT=hello", "SUBJECT hello"},
		{"imap://h/INBOX?subject=hello%20world&from=bob@example.org&UNSEEN", `subject "hello world" from bob@example.org UNSEEN`},
		{"imap://h/INBOX?UNSEEN&SUBJECT=a%26b", `UNSEEN SUBJECT a&b`},
		{"imap://h/INBOX?SUBJECT=say%20%22hi%22", `SUBJECT "say \"hi\""`},
		{"imap://h/INBOX?HEADER=X-Test:%20yes", "HEADER X-Test yes"},
		{"imap://h/INBOX?NOT=SEEN&SINCE=2026-01-02", "NOT SEEN SINCE 2026-01-02"},
		{"imap://h/INBOX?UID=3:*", `UID "3:*"`},
		{"imap://h/INBOX?SUBJECT=", `SUBJECT ""`},
	} {
		u, err := inetimap.ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q) = %v", tc.in, err)
			continue
		}
		if u.Search != tc.want {
			t.Errorf("ParseURL(%q).Search = %q; want %q", tc.in, u.Search, tc.want)
		}
		if _, err := inetimap.ParseSearch(u.Search); err != nil {
			t.Errorf("ParseSearch(%q) of %q = %v", u.Search, tc.in, err)
		}
		again, err := inetimap.ParseURL(u.String())
		if err != nil || again.Search != u.Search {
			t.Errorf("ParseURL(%q).String() = %q, whose search is %q, %v", tc.in, u.String(), again.Search, err)
		}
	}
	for _, in := range []string{"imap://h/INBOX?HEADER=X-Test", "imap://h/INBOX?SUBJECT=%zz", "imap://h/INBOX?%zz"} {
		if u, err := inetimap.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v; want an error", in, u)
		}
	}
}

const (
	msgHello = "From: Bob <bob@example.org>\r\nTo: alice@example.org, Carol <carol@example.org>\r\nSubject: hello there\r\n\r\nfirst\r\n"
	msgOther = "From: dave@example.net\r\nTo: alice@example.org\r\nSubject: other\r\n\r\nsecond hello\r\n"
)

func TestSearchMessages(t *testing.T) {
	s, be := newRegressServer(t, nil) // holds testMsg, from Bob, "Hello"
	for _, m := range []string{msgHello, msgOther} {
		if err := be.Deliver("alice", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	c0, err := s.Client(nil)
	c := loggedIn(t, c0, err)
	ctx := context.Background()
	subjects := func(msgs []inetimap.MessageSummary) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, m.Subject)
		}
		return out
	}
	for _, tc := range []struct {
		search string
		want   []string
	}{
		{"ALL", []string{"Hello", "hello there", "other"}},
		{"SUBJECT hello", []string{"Hello", "hello there"}},
		{"FROM bob", []string{"Hello", "hello there"}},
		{"TO carol", []string{"hello there"}},
		{"BODY hello", []string{"other"}},
		{"OR SUBJECT other TO carol", []string{"hello there", "other"}},
		{"NOT FROM bob", []string{"other"}},
		{"SUBJECT nothing", nil},
	} {
		crit, err := inetimap.ParseSearch(tc.search)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := inetimap.SearchMessages(ctx, c, "INBOX", crit)
		if err != nil {
			t.Errorf("SearchMessages(%q) = %v", tc.search, err)
			continue
		}
		if diff := cmp.Diff(tc.want, subjects(msgs)); diff != "" {
			t.Errorf("SearchMessages(%q) (-want +got):\n%s", tc.search, diff)
		}
	}
	msgs, err := inetimap.SearchMessages(ctx, c, "INBOX", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "To", Value: "carol"}}})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("SearchMessages(TO carol) = %v, %v", msgs, err)
	}
	m := msgs[0]
	if m.From != "Bob <bob@example.org>" || m.FromAddress != "bob@example.org" || !cmp.Equal(m.To, []string{"alice@example.org", "carol@example.org"}) || m.UIDValidity == 0 {
		t.Errorf("summary = %+v; want From with the name, FromAddress, two To addresses and the UIDVALIDITY", m)
	}
}

func TestDeleteMessages(t *testing.T) {
	s, be := newRegressServer(t, nil)
	for _, m := range []string{msgHello, msgOther} {
		if err := be.Deliver("alice", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	c0, err := s.Client(nil)
	c := loggedIn(t, c0, err)
	ctx := context.Background()
	all, err := inetimap.ListMessages(ctx, c, "INBOX")
	if err != nil || len(all) != 3 {
		t.Fatalf("ListMessages = %v, %v", all, err)
	}
	// A message marked \Deleted that was not asked for stays.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(all[0].UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	n, err := inetimap.DeleteMessages(ctx, c, "INBOX", all[1:2])
	if err != nil || n != 1 {
		t.Fatalf("DeleteMessages(one) = %d, %v; want 1", n, err)
	}
	left, err := inetimap.ListMessages(ctx, c, "INBOX")
	if err != nil || len(left) != 2 || left[0].UID != all[0].UID || left[1].UID != all[2].UID {
		t.Fatalf("after DeleteMessages: %+v, %v; want the first and the last", left, err)
	}
	// Already gone: nothing more is expunged.
	if n, err := inetimap.DeleteMessages(ctx, c, "INBOX", all[1:2]); err != nil || n != 0 {
		t.Errorf("DeleteMessages(gone) = %d, %v; want 0", n, err)
	}
	if n, err := inetimap.DeleteMessages(ctx, c, "INBOX", nil); err != nil || n != 0 {
		t.Errorf("DeleteMessages(none) = %d, %v; want 0", n, err)
	}
	stale := left[1]
	stale.UIDValidity++
	if _, err := inetimap.DeleteMessages(ctx, c, "INBOX", []inetimap.MessageSummary{stale}); !errors.Is(err, inetimap.ErrUIDValidity) {
		t.Errorf("DeleteMessages(other UIDVALIDITY) = %v; want ErrUIDValidity", err)
	}
	if left, _ := inetimap.ListMessages(ctx, c, "INBOX"); len(left) != 2 {
		t.Errorf("after a refused DeleteMessages, %d messages; want 2", len(left))
	}
}

// With Existing, Watch reports what is there, then what arrives; an error
// from fn ends it, and the client stays usable.
func TestWatch_existingAndStop(t *testing.T) {
	s, be := newRegressServer(t, nil)
	c0, err := s.Client(nil)
	c := loggedIn(t, c0, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errEnough := errors.New("enough")
	var got []string
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- inetimap.Watch(ctx, c, "INBOX", func(m inetimap.MessageSummary) error {
			got = append(got, m.Subject)
			if len(got) == 2 {
				return errEnough
			}
			return nil
		}, &inetimap.WatchOptions{Existing: true, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Watch returned %v before it was ready", err)
	}
	if err := be.Deliver("alice", []byte(msgOther)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, errEnough) {
		t.Fatalf("Watch = %v; want fn's error", err)
	}
	if want := []string{"Hello", "other"}; !cmp.Equal(got, want) {
		t.Errorf("Watch reported %q; want %q", got, want)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Errorf("client after Watch: NOOP = %v", err)
	}
	// Enough already there: Watch returns without waiting.
	got = nil
	err = inetimap.Watch(ctx, c, "INBOX", func(m inetimap.MessageSummary) error {
		got = append(got, m.Subject)
		return errEnough
	}, &inetimap.WatchOptions{Existing: true, Ready: func() { t.Error("Watch began IDLE with enough messages already there") }})
	if !errors.Is(err, errEnough) || !cmp.Equal(got, []string{"Hello"}) {
		t.Errorf("Watch with enough already there = %v, %q", err, got)
	}
}

// FuzzParseSearch: no input makes ParseSearch panic, and a program parses
// the same in parentheses.
func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{
		"SUBJECT hello",
		`OR (FROM alice) (FROM "bob b") SINCE 1-Jan-2026 NOT HEADER X-Spam yes`,
		"CHARSET UTF-8 UID 1:5,7:* LARGER 10 SMALLER 99 UNSEEN KEYWORD $Junk",
		"1:* ON 2026-01-02 SENTON 2-Jan-2026 TEXT \"a\\\"b\"",
		"((((SEEN))))",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := inetimap.ParseSearch(s)
		if err != nil {
			return
		}
		if strings.HasPrefix(strings.ToUpper(strings.TrimLeft(s, " \t")), "CHARSET") {
			return // CHARSET only comes first
		}
		again, err := inetimap.ParseSearch("(" + s + ")")
		if err != nil {
			t.Fatalf("ParseSearch(%q) = %+v, but in parentheses: %v", s, c, err)
		}
		if diff := cmp.Diff(c, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("ParseSearch(%q) and in parentheses differ (-bare +parenthesized):\n%s", s, diff)
		}
	})
}
