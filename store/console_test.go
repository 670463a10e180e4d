package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
	"github.com/inetkit/inetkit/store"
)

func TestParseSearch(t *testing.T) {
	tests := []struct {
		q    string
		want []store.SearchTerm
		err  bool
	}{
		{q: ""},
		{q: "   \t "},
		{q: "Hello", want: []store.SearchTerm{{Field: "text", Value: "hello"}}},
		{q: `from:Bob TO:carol subject:"Lunch Today" -is:unread`, want: []store.SearchTerm{
			{Field: "from", Value: "bob"}, {Field: "to", Value: "carol"},
			{Field: "subject", Value: "lunch today"}, {Field: "is", Value: "unread", Not: true}}},
		{q: `"quoted phrase" -"not this" -word`, want: []store.SearchTerm{
			{Field: "text", Value: "quoted phrase"}, {Field: "text", Value: "not this", Not: true},
			{Field: "text", Value: "word", Not: true}}},
		{q: `re: 10:30 "from:x" "-y" - :z`, want: []store.SearchTerm{
			{Field: "text", Value: "re:"}, {Field: "text", Value: "10:30"}, {Field: "text", Value: "from:x"},
			{Field: "text", Value: "-y"}, {Field: "text", Value: "-"}, {Field: "text", Value: ":z"}}},
		{q: `has:Attachment is:read after:2024-01-31 before:2024-02-01`, want: []store.SearchTerm{
			{Field: "has", Value: "attachment"}, {Field: "is", Value: "read"},
			{Field: "after", Value: "2024-01-31"}, {Field: "before", Value: "2024-02-01"}}},
		{q: `subject:"say \"hi\" \\o/" "unterminated phrase`, want: []store.SearchTerm{
			{Field: "subject", Value: `say "hi" \o/`}, {Field: "text", Value: "unterminated phrase"}}},
		{q: `"" from:""`, want: []store.SearchTerm{{Field: "text", Value: "from:"}}},
		{q: `ÉTÉ`, want: []store.SearchTerm{{Field: "text", Value: "été"}}},
		{q: "foo:bar", err: true},
		{q: "is:starred", err: true},
		{q: "has:pdf", err: true},
		{q: "after:2024-13-01", err: true},
		{q: "before:yesterday", err: true},
	}
	for _, tc := range tests {
		s, err := store.ParseSearch(tc.q)
		if tc.err {
			var se *store.SearchError
			if !errors.As(err, &se) || se.Query != tc.q {
				t.Errorf("ParseSearch(%q) = %v, %v; want a *SearchError", tc.q, s, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSearch(%q): %v", tc.q, err)
			continue
		}
		if diff := cmp.Diff(tc.want, s.Terms); diff != "" {
			t.Errorf("ParseSearch(%q): (-want +got)\n%s", tc.q, diff)
		}
		if back, err := store.ParseSearch(s.String()); err != nil || !slices.Equal(back.Terms, s.Terms) {
			t.Errorf("ParseSearch(%q).String() = %q, which parses to %v, %v", tc.q, s.String(), back, err)
		}
	}
}

func FuzzParseSearch(f *testing.F) {
	for _, q := range []string{
		`from:bob to:"carol smith" subject:lunch -is:unread has:attachment after:2024-01-01 before:2024-02-01`,
		`"quoted \"phrase\"" -"not this" re: 10:30 - "-x" "a:b"`,
		`foo:bar`, `is:x`, `"unterminated`, `a"b c"d`, `-from:"" \\ \"`,
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		s, err := store.ParseSearch(q)
		if err != nil {
			var se *store.SearchError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSearch(%q) = %v; want a *SearchError", q, err)
			}
			return
		}
		for _, term := range s.Terms {
			if term.Value == "" {
				t.Errorf("ParseSearch(%q): a term with no value: %+v", q, term)
			}
			if strings.ToLower(term.Value) != term.Value {
				t.Errorf("ParseSearch(%q): a value not in lower case: %+v", q, term)
			}
		}
		back, err := store.ParseSearch(s.String())
		if err != nil {
			t.Fatalf("ParseSearch(%q).String() = %q, which does not parse: %v", q, s.String(), err)
		}
		if !slices.Equal(back.Terms, s.Terms) {
			t.Fatalf("ParseSearch(%q) = %+v; its String %q parses to %+v", q, s.Terms, s.String(), back.Terms)
		}
	})
}

// consoleStore opens a store in any-login mode with an events hub, and
// subscribes to the hub.
func consoleStore(t *testing.T) (*store.Store, <-chan events.Event) {
	t.Helper()
	hub := new(events.Hub)
	ch, cancel := hub.Subscribe(1000)
	t.Cleanup(cancel)
	return openStore(t, "", &store.Options{AnyLogin: true, Events: hub}), ch
}

// list returns the page q asks, failing the test on an error.
func list(t *testing.T, st *store.Store, q store.MessageQuery) *store.MessagePage {
	t.Helper()
	p, err := st.ListMessages(context.Background(), &q)
	if err != nil {
		t.Fatalf("ListMessages(%+v): %v", q, err)
	}
	return p
}

func subjectsOf(p *store.MessagePage) []string {
	out := []string{}
	for _, m := range p.Messages {
		out = append(out, m.Subject)
	}
	return out
}

// searchMsgs are the messages of TestListMessages_search, by subject.
var searchMsgs = []string{
	// plain
	"From: Bob Smith <bob@example.org>\r\nTo: alice@example.org\r\nCc: Carol <carol@example.org>\r\nSubject: Lunch today\r\n" +
		"Date: Tue, 30 Jan 2024 12:00:00 +0000\r\nMessage-ID: <lunch@example.org>\r\n\r\nShall we meet at noon?\r\nBring the quarterly report.\r\n",
	// encoded words in the subject and the names
	"From: =?UTF-8?Q?Zo=C3=AB_Dupr=C3=A9?= <zoe@example.org>\r\nTo: =?ISO-8859-1?Q?J=FCrgen?= <jurgen@example.org>\r\n" +
		"Subject: =?UTF-8?B?Q2Fmw6kgbWVudQ==?=\r\nDate: Thu, 1 Feb 2024 09:00:00 +0100\r\n\r\nLe menu du jour.\r\n",
	// raw Latin-1 octets in the header
	"From: Fran\xe7ois <francois@example.org>\r\nTo: alice@example.org\r\nSubject: Re\xe7u: facture\r\nDate: Fri, 2 Feb 2024 10:00:00 +0000\r\n\r\nMerci.\r\n",
	// multipart, with an attachment
	"From: dave@example.org\r\nTo: alice@example.org\r\nSubject: Invoice 42\r\nDate: Sat, 3 Feb 2024 10:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nPlease find the invoice attached. Total: 100=E2=82=AC\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n",
	// HTML only
	"From: News <news@shop.example>\r\nTo: alice@example.org\r\nSubject: Weekly deals\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>.x{color:red}</style></head>" +
		"<body><p>Big&nbsp;<b>discounts</b> on bicycles</p><script>var hidden = 1;</script></body></html>\r\n",
	// no Date field: its date is the delivery's
	"From: eve@example.org\r\nTo: alice@example.org\r\nSubject: Undated note\r\n\r\nno date here\r\n",
}

// Every term of the search syntax, each with a query that must match and
// one that must not.
func TestListMessages_search(t *testing.T) {
	st, _ := consoleStore(t)
	ctx := context.Background()
	received := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, m := range searchMsgs {
		if err := st.Deliver(ctx, []string{"alice@example.org"}, []byte(m), received); err != nil {
			t.Fatal(err)
		}
	}
	// Lunch today is read.
	lunch := list(t, st, store.MessageQuery{Search: "subject:lunch"}).Messages
	if len(lunch) != 1 {
		t.Fatalf("subject:lunch matched %d messages", len(lunch))
	}
	if n, err := st.SetSeen(ctx, []int64{lunch[0].ID}, true); n != 1 || err != nil {
		t.Fatalf("SetSeen = %d, %v", n, err)
	}
	tests := []struct {
		search string
		want   []string // subjects, newest first
	}{
		{"from:bob", []string{"Lunch today"}},
		{"from:SMITH", []string{"Lunch today"}},
		{"from:nobody", nil},
		{"from:zoë", []string{"Café menu"}},
		{"from:dupré", []string{"Café menu"}},
		{"from:françois", []string{"Reçu: facture"}},
		{"to:carol", []string{"Lunch today"}}, // Cc
		{"to:jürgen", []string{"Café menu"}},
		{"to:bob", nil},
		{"subject:café", []string{"Café menu"}},
		{"subject:CAFÉ", []string{"Café menu"}},
		{"subject:menu -subject:café", nil},
		{"subject:reçu", []string{"Reçu: facture"}},
		{"subject:noon", nil}, // in the text only
		{"noon", []string{"Lunch today"}},
		{`"quarterly report"`, []string{"Lunch today"}}, // a phrase across a line break
		{`"report quarterly"`, nil},
		{"menu du jour", []string{"Café menu"}},
		{"100€", []string{"Invoice 42"}},
		{"jvberi0xljqk", nil}, // the attachment's content is not searched
		{"discounts", []string{"Weekly deals"}},
		{"bicycles", []string{"Weekly deals"}},
		{"color", nil},                             // style
		{"hidden", nil},                            // script
		{"zoe@example.org", []string{"Café menu"}}, // text covers the addresses
		{"-zoe", []string{"Undated note", "Weekly deals", "Invoice 42", "Reçu: facture", "Lunch today"}},
		{"has:attachment", []string{"Invoice 42"}},
		{"-has:attachment subject:invoice", nil},
		{"is:read", []string{"Lunch today"}},
		{"is:unread subject:lunch", nil},
		{"-is:unread", []string{"Lunch today"}},
		{"after:2024-02-02", []string{"Undated note", "Weekly deals", "Invoice 42", "Reçu: facture"}},
		{"after:2024-02-02 before:2024-02-03", []string{"Reçu: facture"}},
		{"before:2024-02-01", []string{"Lunch today"}},
		{"after:2024-02-01 before:2024-02-02", []string{"Café menu"}},  // 09:00 +0100, in UTC
		{"after:2024-02-04 before:2024-03-01", nil},                    // no Date field: the delivery's
		{"after:2024-03-01", []string{"Undated note", "Weekly deals"}}, // the delivery's date
		{"before:2024-01-01", nil},
	}
	for _, tc := range tests {
		p := list(t, st, store.MessageQuery{Search: tc.search})
		got := subjectsOf(p)
		if tc.want == nil {
			tc.want = []string{}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("search %q: (-want +got)\n%s", tc.search, diff)
		}
		unread := 0
		for _, m := range p.Messages {
			if m.Unread {
				unread++
			}
		}
		if p.Total != len(got) || p.Unread != unread {
			t.Errorf("search %q: Total, Unread = %d, %d; want %d, %d", tc.search, p.Total, p.Unread, len(got), unread)
		}
	}
	if _, err := st.ListMessages(ctx, &store.MessageQuery{Search: "bogus:x"}); !errors.As(err, new(*store.SearchError)) {
		t.Errorf("a bad search = %v; want a *SearchError", err)
	}
}

// What a summary holds of each message.
func TestListMessages_summary(t *testing.T) {
	st, _ := consoleStore(t)
	ctx := context.Background()
	received := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, m := range searchMsgs {
		if err := st.Deliver(ctx, []string{"alice@example.org"}, []byte(m), received); err != nil {
			t.Fatal(err)
		}
	}
	p := list(t, st, store.MessageQuery{Address: "Alice@Example.org", Mailbox: "inbox"})
	if p.Total != 6 || p.Unread != 6 || len(p.Messages) != 6 {
		t.Fatalf("page: %d messages, Total %d, Unread %d; want 6, 6, 6", len(p.Messages), p.Total, p.Unread)
	}
	byS := map[string]store.MessageSummary{}
	for _, m := range p.Messages {
		byS[m.Subject] = m
	}
	lunch := byS["Lunch today"]
	want := store.MessageSummary{
		ID: lunch.ID, Address: "alice@example.org", Mailbox: "INBOX", UID: 1, MessageID: "lunch@example.org",
		From:     []store.Address{{Name: "Bob Smith", Address: "bob@example.org"}},
		To:       []store.Address{{Address: "alice@example.org"}},
		Cc:       []store.Address{{Name: "Carol", Address: "carol@example.org"}},
		Subject:  "Lunch today",
		Date:     time.Date(2024, 1, 30, 12, 0, 0, 0, time.UTC),
		Received: received,
		Size:     int64(len(searchMsgs[0])),
		Unread:   true,
		Flags:    []string{},
		Snippet:  "Shall we meet at noon? Bring the quarterly report.",
	}
	if diff := cmp.Diff(want, lunch); diff != "" {
		t.Errorf("summary: (-want +got)\n%s", diff)
	}
	if m := byS["Café menu"]; m.From[0].Name != "Zoë Dupré" || m.To[0].Name != "Jürgen" || m.Cc != nil {
		t.Errorf("encoded words: From %v, To %v, Cc %v", m.From, m.To, m.Cc)
	}
	if m := byS["Invoice 42"]; m.Attachments != 1 || m.Snippet != "Please find the invoice attached. Total: 100€" {
		t.Errorf("multipart: %d attachments, snippet %q", m.Attachments, m.Snippet)
	}
	if m := byS["Weekly deals"]; m.Snippet != "Big discounts on bicycles" {
		t.Errorf("HTML snippet %q", m.Snippet)
	}
	if m := byS["Undated note"]; !m.Date.Equal(received) {
		t.Errorf("no Date field: Date %v; want the delivery's, %v", m.Date, received)
	}
	for _, m := range p.Messages {
		got, err := st.MessageByID(ctx, m.ID)
		if err != nil || !cmp.Equal(*got, m) {
			t.Errorf("MessageByID(%d) = %+v, %v; want %+v", m.ID, got, err, m)
		}
	}
	if _, err := st.MessageByID(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MessageByID(999) = %v; want ErrNotFound", err)
	}
}

func TestListMessages_notFound(t *testing.T) {
	st, _ := consoleStore(t)
	ctx := context.Background()
	deliver(t, st, "alice@example.org", "Subject: x\r\n\r\n")
	for _, q := range []store.MessageQuery{
		{Address: "nobody@example.org"},
		{Address: "alice@example.org", Mailbox: "Nope"},
	} {
		if _, err := st.ListMessages(ctx, &q); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ListMessages(%+v) = %v; want ErrNotFound", q, err)
		}
	}
	// A mailbox named without a user: that of every user who has it.
	if p := list(t, st, store.MessageQuery{Mailbox: "Nope"}); len(p.Messages) != 0 || p.Total != 0 {
		t.Errorf("every user's Nope: %+v; want an empty page", p)
	}
	if p := list(t, st, store.MessageQuery{Mailbox: "INBOX"}); len(p.Messages) != 1 || p.Total != 1 {
		t.Errorf("every user's INBOX: %+v; want the message", p)
	}
}

// idsOf returns the ids of a page.
func idsOf(p *store.MessagePage) []int64 {
	var out []int64
	for _, m := range p.Messages {
		out = append(out, m.ID)
	}
	return out
}

// Paging by BeforeID while mail arrives neither skips nor repeats a
// message; Limit, Offset and AfterID do as documented; Total and Unread
// are the same on every page.
func TestListMessages_paging(t *testing.T) {
	st, _ := consoleStore(t)
	addr := imapServe(t, st)
	c := imapDial(t, addr, "alice@example.org", "x", nil)
	if err := c.Create("Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range 130 {
		rcpt := "alice@example.org"
		switch {
		case i%5 == 0:
			rcpt = "bob@example.org"
		case i%3 == 0:
			rcpt = fmt.Sprintf("u%d@example.org", i%40) // more users than a page merges
		}
		if i%7 == 0 {
			appendMsg(t, c, "Projects", fmt.Sprintf("Subject: old %d\r\n\r\n", i), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
		} else {
			deliver(t, st, rcpt, fmt.Sprintf("Subject: old %d\r\n\r\n", i))
		}
		if i%10 == 0 {
			// A few messages in the Archive of many users: mailboxes that
			// hold little of the store.
			u := imapDial(t, addr, rcpt, "x", nil)
			appendMsg(t, u, "Archive", fmt.Sprintf("Subject: old archived %d\r\n\r\n", i), nil)
			u.Logout()
		}
	}
	queries := []struct {
		name string
		q    store.MessageQuery
	}{
		{"all", store.MessageQuery{}},
		{"user", store.MessageQuery{Address: "alice@example.org"}}, // one user's mailboxes, merged
		{"mailbox", store.MessageQuery{Address: "alice@example.org", Mailbox: "INBOX"}},
		{"every-inbox", store.MessageQuery{Mailbox: "INBOX"}},     // most of the store
		{"every-archive", store.MessageQuery{Mailbox: "Archive"}}, // little of it
		{"search", store.MessageQuery{Search: "old"}},
		{"user-search", store.MessageQuery{Address: "alice@example.org", Search: "-subject:1"}},
		{"every-archive-search", store.MessageQuery{Mailbox: "Archive", Search: "-subject:7"}},
	}
	for _, tc := range queries {
		q := tc.q
		t.Run(tc.name, func(t *testing.T) {
			all := list(t, st, store.MessageQuery{Address: q.Address, Mailbox: q.Mailbox, Search: q.Search, Limit: 1000})
			want := idsOf(all)
			if len(want) != all.Total || len(want) < 10 {
				t.Fatalf("%d messages in one page, Total %d", len(want), all.Total)
			}
			if !slices.IsSortedFunc(want, func(a, b int64) int { return int(b - a) }) {
				t.Fatalf("not newest first: %v", want)
			}
			var got []int64
			pq := q
			pq.Limit = 7
			for n := 0; ; n++ {
				p := list(t, st, pq)
				if p.Total != all.Total || p.Unread != all.Unread {
					t.Fatalf("page %d: Total, Unread = %d, %d; want %d, %d", n, p.Total, p.Unread, all.Total, all.Unread)
				}
				got = append(got, idsOf(p)...)
				if len(p.Messages) < pq.Limit {
					break
				}
				pq.BeforeID = p.Messages[len(p.Messages)-1].ID
				// New mail between pages.
				deliver(t, st, "alice@example.org", fmt.Sprintf("Subject: new %d\r\n\r\n", n))
				deliver(t, st, "bob@example.org", fmt.Sprintf("Subject: new %d\r\n\r\n", n))
				all.Total, all.Unread = -1, -1 // the counts now change
				p2 := list(t, st, store.MessageQuery{Address: q.Address, Mailbox: q.Mailbox, Search: q.Search, Limit: 1})
				all.Total, all.Unread = p2.Total, p2.Unread
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pages by BeforeID: (-want +got)\n%s", diff)
			}
			// Offset and AfterID, on a store that no longer changes.
			all = list(t, st, store.MessageQuery{Address: q.Address, Mailbox: q.Mailbox, Search: q.Search, Limit: 1000})
			ids := idsOf(all)
			p := list(t, st, store.MessageQuery{Address: q.Address, Mailbox: q.Mailbox, Search: q.Search, Offset: 5, Limit: 3})
			if diff := cmp.Diff(ids[5:8], idsOf(p)); diff != "" {
				t.Errorf("Offset 5, Limit 3: (-want +got)\n%s", diff)
			}
			p = list(t, st, store.MessageQuery{Address: q.Address, Mailbox: q.Mailbox, Search: q.Search, AfterID: ids[4]})
			if diff := cmp.Diff(ids[:4], idsOf(p)); diff != "" {
				t.Errorf("AfterID: (-want +got)\n%s", diff)
			}
			p = list(t, st, store.MessageQuery{Address: q.Address, Mailbox: q.Mailbox, Search: q.Search, AfterID: ids[9], BeforeID: ids[2], Offset: 1})
			if diff := cmp.Diff(ids[4:9], idsOf(p)); diff != "" {
				t.Errorf("AfterID, BeforeID and Offset: (-want +got)\n%s", diff)
			}
			if p := list(t, st, store.MessageQuery{Address: q.Address, Mailbox: q.Mailbox, Search: q.Search}); len(p.Messages) != min(50, len(ids)) {
				t.Errorf("Limit 0: %d messages; want %d", len(p.Messages), min(50, len(ids)))
			}
		})
	}
}

// A message deleted is never given its id again: a wait for the mail
// after the newest id sees the next message.
func TestListMessages_idsNotReused(t *testing.T) {
	st, _ := consoleStore(t)
	ctx := context.Background()
	deliver(t, st, "alice@example.org", "Subject: one\r\n\r\n")
	deliver(t, st, "alice@example.org", "Subject: two\r\n\r\n")
	newest := list(t, st, store.MessageQuery{}).Messages[0].ID
	if n, err := st.DeleteMessageIDs(ctx, []int64{newest}); n != 1 || err != nil {
		t.Fatalf("DeleteMessageIDs = %d, %v", n, err)
	}
	deliver(t, st, "alice@example.org", "Subject: three\r\n\r\n")
	if p := list(t, st, store.MessageQuery{AfterID: newest}); len(p.Messages) != 1 || p.Messages[0].Subject != "three" {
		t.Errorf("after the deleted newest: %v; want [three]", subjectsOf(p))
	}
	// A copy too.
	three := list(t, st, store.MessageQuery{}).Messages[0].ID
	if n, err := st.DeleteMessageIDs(ctx, []int64{three}); n != 1 || err != nil {
		t.Fatalf("DeleteMessageIDs = %d, %v", n, err)
	}
	c := imapDial(t, imapServe(t, st), "alice@example.org", "x", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	if p := list(t, st, store.MessageQuery{AfterID: three}); len(p.Messages) != 1 || p.Messages[0].Mailbox != "Archive" {
		t.Errorf("after the deleted newest: %+v; want the copy", p.Messages)
	}
}

func TestOpenMessage(t *testing.T) {
	st, _ := consoleStore(t)
	ctx := context.Background()
	small := "Subject: small\n\nbare LF lines\n"
	large := "Subject: large\r\n\r\n" + strings.Repeat("0123456789abcdef", 20<<10) // several pieces
	deliver(t, st, "alice@example.org", small)
	deliver(t, st, "alice@example.org", large)
	p := list(t, st, store.MessageQuery{})
	for i, want := range []string{large, strings.ReplaceAll(small, "\n", "\r\n")} {
		r, err := st.OpenMessage(ctx, p.Messages[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(got) != want {
			t.Errorf("OpenMessage(%d): %d bytes, %v; want %d", p.Messages[i].ID, len(got), err, len(want))
		}
	}
	if _, err := st.OpenMessage(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenMessage(999) = %v; want ErrNotFound", err)
	}
}

// flagWatcher is an IMAP session with INBOX selected that records the
// FETCH FLAGS and EXPUNGE responses it gets.
type flagWatcher struct {
	c        *imapclient.Client
	mu       sync.Mutex
	flags    map[uint32][]imap.Flag // by sequence number
	expunged []uint32
	ch       chan struct{}
}

func watchFlags(t *testing.T, addr string) *flagWatcher {
	t.Helper()
	w := &flagWatcher{flags: map[uint32][]imap.Flag{}, ch: make(chan struct{}, 100)}
	w.c = imapDial(t, addr, "alice@example.org", "x", &imapclient.UnilateralDataHandler{
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, err := msg.Collect()
			if err != nil {
				return
			}
			w.mu.Lock()
			w.flags[buf.SeqNum] = buf.Flags
			w.mu.Unlock()
			w.ch <- struct{}{}
		},
		Expunge: func(seq uint32) {
			w.mu.Lock()
			w.expunged = append(w.expunged, seq)
			w.mu.Unlock()
			w.ch <- struct{}{}
		},
	})
	if _, err := w.c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return w
}

// wait polls the server (NOOP) until n updates have come.
func (w *flagWatcher) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for got := 0; got < n; {
		if err := w.c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.ch:
			got++
		case <-deadline:
			t.Fatalf("%d updates of %d", got, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SetSeen reaches the IMAP sessions with the mailbox selected, and the
// counts.
func TestSetSeen(t *testing.T) {
	st, evs := consoleStore(t)
	ctx := context.Background()
	addr := imapServe(t, st)
	for i := range 3 {
		deliver(t, st, "alice@example.org", fmt.Sprintf("Subject: m%d\r\n\r\n", i))
	}
	drain(evs)
	w := watchFlags(t, addr)
	ids := idsOf(list(t, st, store.MessageQuery{})) // m2, m1, m0
	n, err := st.SetSeen(ctx, []int64{ids[0], ids[2], 12345, ids[0]}, true)
	if n != 2 || err != nil {
		t.Fatalf("SetSeen(true) = %d, %v; want 2", n, err)
	}
	w.wait(t, 2)
	w.mu.Lock()
	if !hasFlag(w.flags[1], imap.FlagSeen) || !hasFlag(w.flags[3], imap.FlagSeen) || w.flags[2] != nil {
		t.Errorf("FETCH FLAGS updates: %v; want \\Seen on 1 and 3", w.flags)
	}
	w.mu.Unlock()
	if p := list(t, st, store.MessageQuery{}); p.Unread != 1 || p.Total != 3 || p.Messages[0].Unread || !p.Messages[1].Unread {
		t.Errorf("after SetSeen: Total %d, Unread %d, %+v", p.Total, p.Unread, p.Messages)
	}
	if n, err := st.SetSeen(ctx, []int64{ids[0]}, true); n != 0 || err != nil {
		t.Errorf("SetSeen of a message seen = %d, %v; want 0", n, err)
	}
	if n, err := st.SetSeen(ctx, []int64{ids[0]}, false); n != 1 || err != nil {
		t.Errorf("SetSeen(false) = %d, %v; want 1", n, err)
	}
	w.wait(t, 1)
	w.mu.Lock()
	if hasFlag(w.flags[3], imap.FlagSeen) {
		t.Errorf("FETCH FLAGS of 3 after SetSeen(false): %v", w.flags[3])
	}
	w.mu.Unlock()
	msgs, err := w.c.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 3 || !hasFlag(msgs[0].Flags, imap.FlagSeen) || hasFlag(msgs[1].Flags, imap.FlagSeen) || hasFlag(msgs[2].Flags, imap.FlagSeen) {
		t.Errorf("FETCH FLAGS = %+v, %v", msgs, err)
	}
	if got := drain(evs); len(got) != 3 || got[0].Kind != events.Delete || got[0].Address != "alice@example.org" || got[0].Mailbox != "INBOX" {
		t.Errorf("events %+v; want 3 of kind delete", got)
	}
	addrs, err := st.Addresses(ctx)
	if err != nil || len(addrs) != 1 || addrs[0].Unread != 2 || addrs[0].Mailboxes[0].Name != "INBOX" || addrs[0].Mailboxes[0].Unread != 2 {
		t.Errorf("Addresses = %+v, %v; want alice with 2 unread in INBOX", addrs, err)
	}
}

// drain returns the events ch holds now.
func drain(ch <-chan events.Event) []events.Event {
	var out []events.Event
	for {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestDeleteMessageIDs(t *testing.T) {
	st, evs := consoleStore(t)
	ctx := context.Background()
	addr := imapServe(t, st)
	for i := range 4 {
		deliver(t, st, "alice@example.org", fmt.Sprintf("Subject: m%d\r\n\r\n", i))
	}
	c := imapDial(t, addr, "alice@example.org", "x", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// A copy shares the body of m0.
	if _, err := c.Copy(imap.SeqSetNum(1), "Sent").Wait(); err != nil {
		t.Fatal(err)
	}
	drain(evs)
	w := watchFlags(t, addr)
	p := list(t, st, store.MessageQuery{Address: "alice@example.org", Mailbox: "INBOX"}) // m3 .. m0
	n, err := st.DeleteMessageIDs(ctx, []int64{p.Messages[1].ID, p.Messages[3].ID, 999})
	if n != 2 || err != nil {
		t.Fatalf("DeleteMessageIDs = %d, %v; want 2", n, err)
	}
	w.wait(t, 2)
	w.mu.Lock()
	if !slices.Equal(w.expunged, []uint32{3, 1}) {
		t.Errorf("EXPUNGEs %v; want [3 1]", w.expunged)
	}
	w.mu.Unlock()
	if got := subjectsOf(list(t, st, store.MessageQuery{})); !slices.Equal(got, []string{"m0", "m3", "m1"}) {
		t.Errorf("left: %v; want the copy of m0 in Sent, m3 and m1", got)
	}
	got := drain(evs)
	if len(got) != 2 || got[0].Kind != events.Delete || got[0].ID != p.Messages[3].ID && got[0].ID != p.Messages[1].ID {
		t.Errorf("events %+v; want 2 of kind delete", got)
	}
	// The meta goes with the last copy of a body.
	var meta int
	countMeta := func() int {
		if err := st.DB().QueryRow(`SELECT count(*) FROM bodies WHERE search IS NOT NULL`).Scan(&meta); err != nil {
			t.Fatal(err)
		}
		return meta
	}
	if countMeta() != 3 {
		t.Errorf("%d bodies with meta; want 3 (the copy keeps m0's)", meta)
	}
	if n, err := st.DeleteMessageIDs(ctx, idsOf(list(t, st, store.MessageQuery{}))); n != 3 || err != nil {
		t.Errorf("DeleteMessageIDs(all) = %d, %v", n, err)
	}
	if countMeta() != 0 {
		t.Errorf("%d bodies with meta after deleting everything", meta)
	}
	if addrs, err := st.Addresses(ctx); err != nil || len(addrs) != 0 {
		t.Errorf("Addresses after deleting everything = %+v, %v; want none", addrs, err)
	}
}

// Deleting and marking by id from another process (inetkit mail while
// inetkit serve runs): the server carries it out, and its IMAP sessions
// hear of it.
func TestDeleteMessageIDs_fromAnotherProcess(t *testing.T) {
	server, tool, addr := serverAndTool(t)
	ctx := context.Background()
	for i := range 3 {
		deliver(t, server, "alice@example.org", fmt.Sprintf("Subject: m%d\r\n\r\n", i))
	}
	w := watchFlags(t, addr)
	ids := idsOf(list(t, tool, store.MessageQuery{}))
	if n, err := tool.SetSeen(ctx, ids[:1], true); n != 1 || err != nil {
		t.Fatalf("SetSeen = %d, %v", n, err)
	}
	if n, err := tool.DeleteMessageIDs(ctx, ids[1:2]); n != 1 || err != nil {
		t.Fatalf("DeleteMessageIDs = %d, %v", n, err)
	}
	w.wait(t, 2)
	w.mu.Lock()
	defer w.mu.Unlock()
	// The seen message is number 3 before the EXPUNGE of 2 and number 2
	// after it; the server may announce the two in either order.
	seen := hasFlag(w.flags[3], imap.FlagSeen) || w.flags[3] == nil && hasFlag(w.flags[2], imap.FlagSeen)
	if !seen || !slices.Equal(w.expunged, []uint32{2}) {
		t.Errorf("FETCH FLAGS %v, EXPUNGEs %v; want \\Seen on 3 (2 after the EXPUNGE) and EXPUNGE 2", w.flags, w.expunged)
	}
}

func TestAddresses(t *testing.T) {
	st, _ := consoleStore(t)
	ctx := context.Background()
	c := imapDial(t, imapServe(t, st), "carol@example.org", "x", nil) // a user with no message
	c.Logout()
	deliver(t, st, "bob@example.org", "Subject: b\r\n\r\n")
	deliver(t, st, "alice@example.org", "Subject: a1\r\n\r\n")
	c = imapDial(t, imapServe(t, st), "alice@example.org", "x", nil)
	appendMsg(t, c, "Sent", "Subject: s\r\n\r\n", &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	if err := c.Create("Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	got, err := st.Addresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, a := range got {
		lines = append(lines, fmt.Sprintf("%s %d/%d", a.Address, a.Unread, a.Total))
		for _, mb := range a.Mailboxes {
			if mb.Total > 0 || mb.Name == "Projects" {
				lines = append(lines, fmt.Sprintf("  %s %d/%d", mb.Name, mb.Unread, mb.Total))
			}
		}
		if a.Mailboxes[0].Name != "INBOX" {
			t.Errorf("%s: mailboxes %+v; want INBOX first", a.Address, a.Mailboxes)
		}
	}
	want := []string{"alice@example.org 1/2", "  INBOX 1/1", "  Projects 0/0", "  Sent 0/1", "bob@example.org 1/1", "  INBOX 1/1"}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("Addresses: (-want +got)\n%s", diff)
	}
}

// Events are published after the commit, for deliveries and APPENDs (not
// COPY) and posts; a store without a hub works the same.
func TestEvents(t *testing.T) {
	st, evs := consoleStore(t)
	ctx := context.Background()
	c := imapDial(t, imapServe(t, st), "alice@example.org", "x", nil)
	msg := "From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>\r\nSubject: =?UTF-8?Q?Caf=C3=A9?=\r\n\r\nhi\r\n"
	if err := st.Deliver(ctx, []string{"alice@example.org", "bob@example.org", "ALICE@example.org"}, []byte(msg), time.Now()); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c, "Sent", "From: alice@example.org\r\nSubject: sent\r\n\r\n", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Nope").Wait(); err == nil {
		t.Fatal("COPY to a missing mailbox succeeded")
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Sent").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.NNTPBackend().Post(ctx, nntptest.NewPosting("<p1@example.org>", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", "body\r\n", "inetkit.test")); err != nil {
		t.Fatal(err)
	}
	got := drain(evs)
	if len(got) != 4 {
		t.Fatalf("%d events: %+v; want 4", len(got), got)
	}
	for i, want := range []events.Event{
		{Kind: events.Message, Address: "alice@example.org", Mailbox: "INBOX", From: "Zoë <zoe@example.org>", Subject: "Café", Size: int64(len(msg))},
		{Kind: events.Message, Address: "bob@example.org", Mailbox: "INBOX", From: "Zoë <zoe@example.org>", Subject: "Café", Size: int64(len(msg))},
		{Kind: events.Message, Address: "alice@example.org", Mailbox: "Sent", From: "alice@example.org", Subject: "sent", Size: 42},
		{Kind: events.Post, Groups: []string{"inetkit.test"}, From: "Alice <alice@example.org>", Subject: "Grüße"},
	} {
		e := got[i]
		if e.Time.IsZero() || e.ID == 0 {
			t.Errorf("event %d: %+v; want a time and an id", i, e)
		}
		// The event comes after the commit: what it names is there.
		if e.Kind == events.Message {
			if m, err := st.MessageByID(ctx, e.ID); err != nil || m.Address != e.Address || m.Mailbox != e.Mailbox {
				t.Errorf("event %d: message %d is %+v, %v", i, e.ID, m, err)
			}
		} else if a, err := st.ArticleByID(ctx, e.ID); err != nil || a.MessageID != "<p1@example.org>" {
			t.Errorf("event %d: article %d is %+v, %v", i, e.ID, a, err)
		} else {
			want.Size = a.Bytes
		}
		e.Time, e.ID = time.Time{}, 0
		if diff := cmp.Diff(want, e); diff != "" {
			t.Errorf("event %d: (-want +got)\n%s", i, diff)
		}
	}
	// A delivery that fails publishes nothing.
	hub := new(events.Hub)
	ch, cancel := hub.Subscribe(10)
	defer cancel()
	strict := openStore(t, "", &store.Options{Events: hub})
	if err := strict.Deliver(ctx, []string{"nobody@example.org"}, []byte(msg), time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Deliver to an unknown user = %v", err)
	}
	if got := drain(ch); len(got) != 0 {
		t.Errorf("a failed delivery published %+v", got)
	}
}

// postArticles posts n articles to misc.test, every third also to
// alt.test, and returns their ids, newest first.
func postArticles(t *testing.T, st *store.Store, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	be := st.NNTPBackend()
	for i := range n {
		groups := []string{"misc.test"}
		if i%3 == 0 {
			groups = []string{"alt.test", "misc.test"}
		}
		p := nntptest.NewPosting(fmt.Sprintf("<a%d@example.org>", i), fmt.Sprintf("Article %d", i), fmt.Sprintf("body %d\r\n", i), groups...)
		if i == 1 {
			p.References = "<a0@example.org>"
			p.Header = append(p.Header, "References: <a0@example.org>\r\n"...)
			p.Bytes += int64(len("References: <a0@example.org>\r\n"))
		}
		if _, err := be.Post(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	p, err := st.ListArticles(ctx, &store.ArticleQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, a := range p.Articles {
		ids = append(ids, a.ID)
	}
	return ids
}

func TestListArticles(t *testing.T) {
	st := openNews(t, nil)
	ctx := context.Background()
	ids := postArticles(t, st, 12)
	if len(ids) != 12 {
		t.Fatalf("%d articles", len(ids))
	}
	articles := func(q store.ArticleQuery) []string {
		t.Helper()
		p, err := st.ListArticles(ctx, &q)
		if err != nil {
			t.Fatalf("ListArticles(%+v): %v", q, err)
		}
		var out []string
		for _, a := range p.Articles {
			out = append(out, fmt.Sprintf("%s #%d", a.Subject, a.Number))
		}
		return append(out, fmt.Sprintf("total %d", p.Total))
	}
	for _, tc := range []struct {
		q    store.ArticleQuery
		want []string
	}{
		{store.ArticleQuery{Group: "alt.test"}, []string{"Article 9 #4", "Article 6 #3", "Article 3 #2", "Article 0 #1", "total 4"}},
		{store.ArticleQuery{Group: "misc.test", Limit: 2}, []string{"Article 11 #12", "Article 10 #11", "total 12"}},
		{store.ArticleQuery{Group: "misc.test", Limit: 2, BeforeID: ids[10]}, []string{"Article 0 #1", "total 12"}},
		{store.ArticleQuery{Group: "misc.test", Limit: 2, Offset: 3}, []string{"Article 8 #9", "Article 7 #8", "total 12"}},
		{store.ArticleQuery{AfterID: ids[2], Limit: 5}, []string{"Article 11 #12", "Article 10 #11", "total 12"}},
		{store.ArticleQuery{Limit: 2}, []string{"Article 11 #12", "Article 10 #11", "total 12"}},
		{store.ArticleQuery{Search: "subject:\"article 1\""}, []string{"Article 11 #12", "Article 10 #11", "Article 1 #2", "total 3"}},
		{store.ArticleQuery{Search: "subject:\"article 1\"", Limit: 1, Offset: 1}, []string{"Article 10 #11", "total 3"}},
		{store.ArticleQuery{Search: "subject:\"article 1\"", BeforeID: ids[1]}, []string{"Article 1 #2", "total 3"}},
		{store.ArticleQuery{Group: "alt.test", Search: "-\"article 3\" -\"article 6\""}, []string{"Article 9 #4", "Article 0 #1", "total 2"}},
		{store.ArticleQuery{Search: "from:alice subject:\"article 5\""}, []string{"Article 5 #6", "total 1"}},
		{store.ArticleQuery{Search: "from:bob"}, []string{"total 0"}},
		{store.ArticleQuery{Search: "to:alice"}, []string{"total 0"}},
		{store.ArticleQuery{Search: "is:unread"}, []string{"total 0"}},
		{store.ArticleQuery{Search: "-has:attachment", Limit: 1}, []string{"Article 11 #12", "total 12"}},
		{store.ArticleQuery{Search: "after:2024-01-01 before:2024-01-02", Limit: 1}, []string{"Article 11 #12", "total 12"}},
		{store.ArticleQuery{Search: "after:2024-01-02"}, []string{"total 0"}},
		{store.ArticleQuery{Search: "alice@example.org", Limit: 1}, []string{"Article 11 #12", "total 12"}},
	} {
		if diff := cmp.Diff(tc.want, articles(tc.q)); diff != "" {
			t.Errorf("ListArticles(%+v): (-want +got)\n%s", tc.q, diff)
		}
	}
	if _, err := st.ListArticles(ctx, &store.ArticleQuery{Group: "no.such"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown group: %v; want ErrNotFound", err)
	}
	if _, err := st.ListArticles(ctx, &store.ArticleQuery{Search: "is:bogus"}); !errors.As(err, new(*store.SearchError)) {
		t.Errorf("a bad search: %v; want a *SearchError", err)
	}

	a, err := st.ArticleByID(ctx, ids[10]) // Article 1, a reply
	if err != nil {
		t.Fatal(err)
	}
	want := store.ArticleSummary{
		ID: ids[10], MessageID: "<a1@example.org>", Groups: []string{"misc.test"}, Number: 2,
		From: "Alice <alice@example.org>", Subject: "Article 1",
		Date:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Arrived: a.Arrived, Bytes: a.Bytes, Lines: 1, References: []string{"<a0@example.org>"},
	}
	if diff := cmp.Diff(want, *a); diff != "" {
		t.Errorf("ArticleByID: (-want +got)\n%s", diff)
	}
	if a, err := st.ArticleByID(ctx, ids[11]); err != nil || !slices.Equal(a.Groups, []string{"alt.test", "misc.test"}) || a.Number != 1 {
		t.Errorf("a crosspost: %+v, %v; want in alt.test (its first group) as 1, and misc.test", a, err)
	}
	if _, err := st.ArticleByID(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ArticleByID(999) = %v; want ErrNotFound", err)
	}
}

// OpenArticle gives what NNTP's ARTICLE gives.
func TestOpenArticle(t *testing.T) {
	st := openNews(t, nil)
	ctx := context.Background()
	ids := postArticles(t, st, 4)
	s := nntptest.NewServer(st.NNTPBackend())
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range ids {
		a, err := st.ArticleByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r, err := st.OpenArticle(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		ar, err := c.Article(a.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(ar)
		ar.Close()
		if !strings.Contains(string(got), "\r\nXref: news.test ") || !strings.HasSuffix(string(got), "\r\n\r\nbody "+strings.TrimPrefix(a.Subject, "Article ")+"\r\n") {
			t.Errorf("article %d: no Xref naming the server as the Path does, or not before the body:\n%s", id, got)
		}
		// The test server names itself otherwise; the rest is the same.
		norm := func(b []byte) string {
			lines := strings.Split(string(b), "\r\n")
			for i, l := range lines {
				if strings.HasPrefix(l, "Xref: ") {
					lines[i] = "Xref: " + strings.SplitN(l, " ", 3)[2]
				}
			}
			return strings.Join(lines, "\r\n")
		}
		if norm(got) != norm(want) {
			t.Errorf("OpenArticle(%d) =\n%s\nARTICLE gives\n%s", id, got, want)
		}
	}
	if _, err := st.OpenArticle(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenArticle(999) = %v; want ErrNotFound", err)
	}
}

func TestDeleteArticleIDs(t *testing.T) {
	st := openNews(t, nil)
	ctx := context.Background()
	ids := postArticles(t, st, 4) // 3, 2, 1, 0 (0 crossposted)
	n, err := st.DeleteArticleIDs(ctx, []int64{ids[3], ids[1], 999, ids[1]})
	if n != 2 || err != nil {
		t.Fatalf("DeleteArticleIDs = %d, %v; want 2", n, err)
	}
	be := st.NNTPBackend()
	for _, g := range []struct {
		name  string
		count int64
	}{{"misc.test", 2}, {"alt.test", 1}} {
		grp, err := be.Group(ctx, g.name)
		if err != nil || grp.Count != g.count {
			t.Errorf("group %s: %+v, %v; want %d articles", g.name, grp, err, g.count)
		}
	}
	if _, err := be.ArticleByID(ctx, "<a0@example.org>", false); !errors.Is(err, nntp.ErrNoSuchArticle) {
		t.Errorf("the crosspost after its deletion: %v; want no such article", err)
	}
	p, err := st.ListArticles(ctx, nil)
	if err != nil || p.Total != 2 || len(p.Articles) != 2 {
		t.Errorf("ListArticles after the deletion = %+v, %v; want 2", p, err)
	}
	// The newest article's id is not given again.
	if n, err := st.DeleteArticleIDs(ctx, ids[:1]); n != 1 || err != nil {
		t.Fatalf("DeleteArticleIDs(newest) = %d, %v", n, err)
	}
	if _, err := be.Post(ctx, nntptest.NewPosting("<new@example.org>", "new", "b\r\n", "misc.test")); err != nil {
		t.Fatal(err)
	}
	if p, err := st.ListArticles(ctx, &store.ArticleQuery{AfterID: ids[0]}); err != nil || len(p.Articles) != 1 || p.Articles[0].Subject != "new" {
		t.Errorf("articles after the deleted newest = %+v, %v; want the new one", p, err)
	}
}
