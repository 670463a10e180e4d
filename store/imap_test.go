package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/imap/imaptest"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/store"
)

// storeWithUser opens a store (without AnyLogin) in a temporary directory
// holding one account, with a bcrypt hash of the lowest cost: at the
// default cost each hash takes more than a second under -race. The user
// need not be a mail address ("alice" is an account name too).
func storeWithUser(t *testing.T, user, pass string) *store.Store {
	t.Helper()
	st := openStore(t, "", nil)
	if err := st.AddUser(context.Background(), user, pass); err != nil {
		t.Fatal(err)
	}
	return st
}

// imapServe runs an IMAP server over st's IMAP backend on a loopback port
// and returns its address.
func imapServe(t testing.TB, st *store.Store) string {
	t.Helper()
	srv := imaptest.NewServer(st.IMAPBackend())
	t.Cleanup(srv.Close)
	return srv.Addr
}

// imapDial logs in to addr; h, if not nil, receives unilateral data.
func imapDial(t testing.TB, addr, user, pass string, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, &imapclient.Options{UnilateralDataHandler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("Login(%q) = %v", user, err)
	}
	return c
}

// newIMAPStore opens a store in a temporary directory in AnyLogin mode
// (no bcrypt, so the tests stay fast under -race) and serves IMAP over it.
// Logging in as alice@example.org makes that user.
func newIMAPStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	st := openStore(t, "", &store.Options{AnyLogin: true})
	return st, imapServe(t, st)
}

func appendMsg(t testing.TB, c *imapclient.Client, mbox, msg string, opts *imap.AppendOptions) *imap.AppendData {
	t.Helper()
	cmd := c.Append(mbox, int64(len(msg)), opts)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND %s: %v", mbox, err)
	}
	return data
}

// noRecent returns flags without \Recent, which the server shows an
// IMAP4rev1 client such as go-imap's (RFC 3501 §2.3.2).
func noRecent(flags []imap.Flag) []imap.Flag {
	out := slices.DeleteFunc(slices.Clone(flags), func(f imap.Flag) bool { return f == `\Recent` })
	if len(out) == 0 {
		return nil
	}
	return out
}

// badSeq reports whether err is the BAD of a sequence number beyond the
// mailbox (RFC 9051 §9), which a session racing with expunges may meet.
func badSeq(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeBad && strings.Contains(ie.Text, "messageset")
}

func imapCode(err error) imap.ResponseCode {
	if ie, ok := err.(*imap.Error); ok {
		return ie.Code
	}
	return ""
}

const testMsg = "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: Hello there\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nThe quick brown fox.\r\n"

const multipartMsg = "From: carol@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
	"--XX\r\nContent-Type: text/plain\r\n\r\nfirst part with KEYWORD\r\n" +
	"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n" +
	"--XX--\r\n"

func TestIMAPBackend_login(t *testing.T) {
	addr := imapServe(t, storeWithUser(t, "alice@example.org", "secret"))
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Login("alice@example.org", "wrong").Wait()
	if imapCode(err) != imap.ResponseCodeAuthenticationFailed {
		t.Fatalf("Login with a wrong password = %v; want NO [AUTHENTICATIONFAILED]", err)
	}
	if err := c.Login("ALICE@example.org", "secret").Wait(); err != nil {
		t.Fatalf("Login = %v", err)
	}
}

func TestIMAPBackend_mailboxes(t *testing.T) {
	_, addr := newIMAPStore(t)
	c := imapDial(t, addr, "alice@example.org", "secret", nil)

	list := func(pattern string, opts *imap.ListOptions) map[string][]imap.MailboxAttr {
		t.Helper()
		l, err := c.List("", pattern, opts).Collect()
		if err != nil {
			t.Fatalf("LIST %q: %v", pattern, err)
		}
		m := make(map[string][]imap.MailboxAttr)
		for _, d := range l {
			if d.Delim != '/' {
				t.Errorf("LIST %q: delimiter %q; want /", d.Mailbox, d.Delim)
			}
			m[d.Mailbox] = d.Attrs
		}
		return m
	}
	names := func(m map[string][]imap.MailboxAttr) []string {
		var out []string
		for n := range m {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}

	got := list("*", nil)
	if want := []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}; !reflect.DeepEqual(names(got), want) {
		t.Fatalf("LIST * = %v; want %v", names(got), want)
	}
	if !hasAttr(got["Sent"], imap.MailboxAttrSent) || !hasAttr(got["Trash"], imap.MailboxAttrTrash) {
		t.Errorf("special-use attributes missing: %v", got)
	}

	if err := c.Create("Work/Projects/2024", nil).Wait(); err != nil {
		t.Fatalf("CREATE with parents: %v", err)
	}
	if err := c.Create("Work", nil).Wait(); imapCode(err) != imap.ResponseCodeAlreadyExists {
		t.Errorf("CREATE Work again = %v; want [ALREADYEXISTS]", err)
	}
	if err := c.Create("INBOX", nil).Wait(); imapCode(err) != imap.ResponseCodeAlreadyExists {
		t.Errorf("CREATE INBOX = %v; want [ALREADYEXISTS]", err)
	}
	got = list("%", nil)
	if !hasAttr(got["Work"], imap.MailboxAttrHasChildren) || !hasAttr(got["INBOX"], imap.MailboxAttrHasNoChildren) {
		t.Errorf("LIST %% children attributes: %v", got)
	}
	if _, ok := got["Work/Projects"]; ok {
		t.Errorf("LIST %% matched a second level: %v", names(got))
	}
	if got := names(list("Work/%", nil)); !reflect.DeepEqual(got, []string{"Work/Projects"}) {
		t.Errorf("LIST Work/%% = %v", got)
	}
	if got := names(list("inbox", nil)); !reflect.DeepEqual(got, []string{"INBOX"}) {
		t.Errorf("LIST inbox = %v; want INBOX (case-insensitive)", got)
	}
	// HARDENING: a pattern that backtracks exponentially in a naive matcher.
	if got := list(strings.Repeat("*a", 40)+"*b", nil); len(got) != 0 {
		t.Errorf("LIST pathological pattern = %v", got)
	}

	if err := c.Rename("Work", "Jobs", nil).Wait(); err != nil {
		t.Fatalf("RENAME: %v", err)
	}
	if got := names(list("Jobs*", nil)); !reflect.DeepEqual(got, []string{"Jobs", "Jobs/Projects", "Jobs/Projects/2024"}) {
		t.Errorf("after RENAME Work Jobs: %v", got)
	}
	if err := c.Rename("Nope", "Other", nil).Wait(); imapCode(err) != imap.ResponseCodeNonExistent {
		t.Errorf("RENAME of a missing mailbox = %v; want [NONEXISTENT]", err)
	}

	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Errorf("DELETE INBOX succeeded")
	}
	if err := c.Delete("Nope").Wait(); imapCode(err) != imap.ResponseCodeNonExistent {
		t.Errorf("DELETE Nope = %v; want [NONEXISTENT]", err)
	}
	if err := c.Delete("Jobs").Wait(); err != nil {
		t.Fatalf("DELETE Jobs: %v", err)
	}
	got = list("Jobs*", nil)
	if !hasAttr(got["Jobs"], imap.MailboxAttrNoSelect) || len(got) != 3 {
		t.Errorf("after DELETE Jobs, LIST Jobs* = %v; want Jobs as \\Noselect and its children", got)
	}

	// Subscriptions: created mailboxes are not subscribed.
	if err := c.Subscribe("Jobs/Projects").Wait(); err != nil {
		t.Fatal(err)
	}
	// RFC 9051 §6.3.7: the server MAY check that the mailbox exists;
	// Dovecot does not.
	nopeErr := c.Subscribe("Nope").Wait()
	if nopeErr != nil && imapCode(nopeErr) != imap.ResponseCodeNonExistent {
		t.Errorf("SUBSCRIBE Nope = %v; want OK or NO [NONEXISTENT]", nopeErr)
	}
	if err := c.Unsubscribe("Junk").Wait(); err != nil {
		t.Fatal(err)
	}
	sub := list("*", &imap.ListOptions{SelectSubscribed: true})
	want := []string{"Archive", "Drafts", "INBOX", "Jobs/Projects", "Sent", "Trash"}
	if nopeErr == nil {
		want = []string{"Archive", "Drafts", "INBOX", "Jobs/Projects", "Nope", "Sent", "Trash"}
		if !hasAttr(sub["Nope"], imap.MailboxAttrNonExistent) {
			t.Errorf("LIST (SUBSCRIBED) Nope = %v; want \\NonExistent", sub["Nope"])
		}
	}
	if !reflect.DeepEqual(names(sub), want) {
		t.Errorf("LIST (SUBSCRIBED) = %v; want %v", names(sub), want)
	}
	if !hasAttr(sub["INBOX"], imap.MailboxAttrSubscribed) {
		t.Errorf("LIST (SUBSCRIBED) INBOX attrs %v lack \\Subscribed", sub["INBOX"])
	}
	su := list("*", &imap.ListOptions{SelectSpecialUse: true})
	if want := []string{"Archive", "Drafts", "Junk", "Sent", "Trash"}; !reflect.DeepEqual(names(su), want) {
		t.Errorf("LIST (SPECIAL-USE) = %v; want %v", names(su), want)
	}

	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' || ns.Personal[0].Prefix != "" {
		t.Errorf("NAMESPACE = %+v, %v", ns, err)
	}
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, b := range attrs {
		if strings.EqualFold(string(a), string(b)) {
			return true
		}
	}
	return false
}

func TestIMAPBackend_messages(t *testing.T) {
	_, addr := newIMAPStore(t)
	c := imapDial(t, addr, "alice@example.org", "secret", nil)

	date := time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC)
	a1 := appendMsg(t, c, "INBOX", testMsg, &imap.AppendOptions{Flags: []imap.Flag{"\\seen", "Work"}, Time: date})
	a2 := appendMsg(t, c, "INBOX", strings.ReplaceAll(multipartMsg, "\r\n", "\n"), nil)
	if a1.UID != 1 || a2.UID != 2 || a1.UIDValidity == 0 || a1.UIDValidity != a2.UIDValidity {
		t.Fatalf("APPENDUID = %+v, %+v", a1, a2)
	}
	ac := c.Append("Nope", 1, nil)
	ac.Write([]byte("x"))
	ac.Close()
	if _, err := ac.Wait(); imapCode(err) != imap.ResponseCodeTryCreate {
		t.Errorf("APPEND to Nope = %v; want [TRYCREATE]", err)
	}

	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true, Size: true, NumDeleted: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	wantSize := int64(len(testMsg) + len(multipartMsg))
	if *st.NumMessages != 2 || st.UIDNext != 3 || st.UIDValidity != a1.UIDValidity || *st.NumUnseen != 1 || *st.Size != wantSize || *st.NumDeleted != 0 {
		t.Errorf("STATUS = messages %d uidnext %d unseen %d size %d deleted %d; want 2 3 1 %d 0",
			*st.NumMessages, st.UIDNext, *st.NumUnseen, *st.Size, *st.NumDeleted, wantSize)
	}

	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 2 || sel.UIDNext != 3 || sel.UIDValidity != a1.UIDValidity {
		t.Errorf("SELECT = %+v", sel)
	}
	if !hasFlag(sel.Flags, "Work") || !hasFlag(sel.PermanentFlags, imap.FlagWildcard) {
		t.Errorf("SELECT FLAGS %v PERMANENTFLAGS %v", sel.Flags, sel.PermanentFlags)
	}

	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
	}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("FETCH = %d messages, %v", len(msgs), err)
	}
	m := msgs[0]
	if m.UID != 1 || m.RFC822Size != int64(len(testMsg)) || !m.InternalDate.Equal(date) {
		t.Errorf("FETCH 1 = uid %d size %d date %v", m.UID, m.RFC822Size, m.InternalDate)
	}
	if !hasFlag(m.Flags, imap.FlagSeen) || !hasFlag(m.Flags, "Work") || len(noRecent(m.Flags)) != 2 {
		t.Errorf("FETCH 1 FLAGS = %v; want \\Seen Work", m.Flags)
	}
	if m.Envelope == nil || m.Envelope.Subject != "Hello there" || len(m.Envelope.From) != 1 || m.Envelope.From[0].Host != "example.org" {
		t.Errorf("FETCH 1 ENVELOPE = %+v", m.Envelope)
	}
	mp, ok := msgs[1].BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 2 || mp.Subtype != "mixed" {
		t.Fatalf("FETCH 2 BODYSTRUCTURE = %#v", msgs[1].BodyStructure)
	}

	// Sections, partial, PEEK, BINARY.
	part2 := &imap.FetchItemBodySection{Part: []int{2}, Peek: true}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	partial := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 4, Size: 5}}
	bin := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{part2, hdr, partial}, BinarySection: []*imap.FetchItemBinarySection{bin},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{2}}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH sections: %v", err)
	}
	if got := string(msgs[0].FindBodySection(part2)); got != "aGVsbG8gd29ybGQ=" {
		t.Errorf("BODY[2] = %q", got)
	}
	if got := string(msgs[0].FindBodySection(hdr)); !strings.HasPrefix(got, "From: carol") || !strings.HasSuffix(got, "\r\n\r\n") {
		t.Errorf("BODY[HEADER] = %q", got)
	}
	if got := string(msgs[0].FindBodySection(partial)); got != ": car" {
		t.Errorf("BODY[]<4.5> = %q", got)
	}
	if len(msgs[0].BinarySection) != 1 || string(msgs[0].BinarySection[0].Bytes) != "hello world" {
		t.Errorf("BINARY[2] = %+v", msgs[0].BinarySection)
	}
	if len(msgs[0].BinarySectionSize) != 1 || msgs[0].BinarySectionSize[0].Size != 11 {
		t.Errorf("BINARY.SIZE[2] = %+v", msgs[0].BinarySectionSize)
	}
	if f := fetchFlags(t, c, 2); hasFlag(f, imap.FlagSeen) {
		t.Errorf("BODY.PEEK set \\Seen: %v", f)
	}
	// A non-peek fetch sets \Seen and reports it.
	msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}}).Collect()
	if err != nil || len(msgs) != 1 || !hasFlag(msgs[0].Flags, imap.FlagSeen) {
		t.Errorf("FETCH BODY[TEXT] flags = %v, %v; want \\Seen reported", msgs, err)
	}

	// SEARCH.
	search := func(c0 *imap.SearchCriteria) []uint32 {
		t.Helper()
		d, err := c.Search(c0, nil).Wait()
		if err != nil {
			t.Fatalf("SEARCH %+v: %v", c0, err)
		}
		return d.AllSeqNums()
	}
	for _, tc := range []struct {
		name string
		c    imap.SearchCriteria
		want []uint32
	}{
		{"all", imap.SearchCriteria{}, []uint32{1, 2}},
		{"body case-insensitive", imap.SearchCriteria{Body: []string{"keyword"}}, []uint32{2}},
		{"text in header", imap.SearchCriteria{Text: []string{"hello THERE"}}, []uint32{1}},
		{"header", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "bob"}}}, []uint32{1}},
		{"keyword", imap.SearchCriteria{Flag: []imap.Flag{"work"}}, []uint32{1}},
		{"larger", imap.SearchCriteria{Larger: int64(len(testMsg))}, []uint32{2}},
		{"since", imap.SearchCriteria{Since: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}, []uint32{2}},
		// Message 2 has no Date field: whether SENTBEFORE matches it is
		// not said by RFC 9051 (Dovecot takes its date as 0), so SENTSINCE
		// keeps it out.
		{"sentbefore", imap.SearchCriteria{SentBefore: time.Date(2007, 1, 1, 0, 0, 0, 0, time.UTC), SentSince: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, []uint32{1}},
		{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{SeqNum: []imap.SeqSet{imap.SeqSetNum(1)}}}}, []uint32{2}},
		{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Body: []string{"fox"}}, {Body: []string{"nothing"}}}}}, []uint32{1}},
		{"star", imap.SearchCriteria{SeqNum: []imap.SeqSet{{imap.SeqRange{Start: 0, Stop: 0}}}}, []uint32{2}},
	} {
		if got := search(&tc.c); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SEARCH %s = %v; want %v", tc.name, got, tc.want)
		}
	}
	ud, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(2, 99)}}, &imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil || ud.Count != 1 || ud.Min != 2 || ud.Max != 2 {
		t.Errorf("UID SEARCH RETURN (MIN MAX COUNT) = %+v, %v", ud, err)
	}

	// STORE.
	res, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "WORK"}}, nil).Collect()
	if err != nil || len(res) != 1 || len(noRecent(res[0].Flags)) != 3 {
		t.Errorf("STORE +FLAGS = %+v, %v; want 3 flags (keywords are case-insensitive)", res, err)
	}
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{"\\SEEN"}, Silent: true}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if f := fetchFlags(t, c, 1); hasFlag(f, imap.FlagSeen) || !hasFlag(f, imap.FlagFlagged) {
		t.Errorf("after -FLAGS \\Seen: %v", f)
	}
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsSet, Flags: []imap.Flag{imap.FlagAnswered}, Silent: true}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if f := noRecent(fetchFlags(t, c, 1)); !reflect.DeepEqual(f, []imap.Flag{imap.FlagAnswered}) {
		t.Errorf("after FLAGS (\\Answered): %v", f)
	}

	// COPY and MOVE.
	cd, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if uids, _ := cd.DestUIDs.Nums(); !reflect.DeepEqual(uids, []imap.UID{1, 2}) || cd.UIDValidity == a1.UIDValidity {
		t.Errorf("COPYUID = %+v", cd)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Nope").Wait(); imapCode(err) != imap.ResponseCodeTryCreate {
		t.Errorf("COPY to Nope = %v; want [TRYCREATE]", err)
	}
	md, err := c.Move(imap.UIDSetNum(1), "Trash").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if md.SourceUIDs.String() != "1" {
		t.Errorf("MOVE COPYUID = %+v", md)
	}
	if n := c.Mailbox().NumMessages; n != 1 {
		t.Errorf("after MOVE the client counts %d messages; want 1", n)
	}
	tst, _ := c.Status("Trash", &imap.StatusOptions{NumMessages: true}).Wait()
	if *tst.NumMessages != 1 {
		t.Errorf("Trash has %d messages; want 1", *tst.NumMessages)
	}

	// EXPUNGE.
	appendMsg(t, c, "INBOX", testMsg, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDeleted}})
	appendMsg(t, c, "INBOX", testMsg, nil)
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	seqs, err := c.Expunge().Collect()
	if err != nil || !reflect.DeepEqual(seqs, []uint32{2, 1}) {
		t.Errorf("EXPUNGE = %v, %v; want [2 1]", seqs, err)
	}
	msgs, _ = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect()
	if len(msgs) != 1 || msgs[0].UID != 4 {
		t.Errorf("after EXPUNGE, message 1 = %+v; want UID 4", msgs)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, g := range flags {
		if strings.EqualFold(string(f), string(g)) {
			return true
		}
	}
	return false
}

func fetchFlags(t testing.TB, c *imapclient.Client, seq uint32) []imap.Flag {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH %d FLAGS: %v, %v", seq, msgs, err)
	}
	return msgs[0].Flags
}

func TestIMAPBackend_examineIsReadOnly(t *testing.T) {
	_, addr := newIMAPStore(t)
	c := imapDial(t, addr, "alice@example.org", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDeleted}})
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	if f := fetchFlags(t, c, 1); hasFlag(f, imap.FlagSeen) {
		t.Errorf("FETCH BODY[] under EXAMINE set \\Seen")
	}
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect(); err == nil {
		t.Errorf("STORE under EXAMINE succeeded")
	}
	// EXPUNGE under EXAMINE is refused or, as Dovecot does, ignored:
	// the \Deleted message stays (checked below, with CLOSE).
	c.Expunge().Collect()
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatal(err)
	}
	st, _ := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if *st.NumMessages != 1 {
		t.Errorf("CLOSE after EXAMINE expunged: %d messages left", *st.NumMessages)
	}
}

// HARDENING I11: two sessions on one mailbox converge.
func TestIMAPBackend_twoSessionsConverge(t *testing.T) {
	_, addr := newIMAPStore(t)
	var mu sync.Mutex
	var expunged []uint32
	h2 := &imapclient.UnilateralDataHandler{Expunge: func(seq uint32) {
		mu.Lock()
		expunged = append(expunged, seq)
		mu.Unlock()
	}}
	c1 := imapDial(t, addr, "alice@example.org", "secret", nil)
	c2 := imapDial(t, addr, "alice@example.org", "secret", h2)
	for i := 0; i < 3; i++ {
		appendMsg(t, c1, "INBOX", testMsg, nil)
	}
	for _, c := range []*imapclient.Client{c1, c2} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	appendMsg(t, c1, "INBOX", testMsg, nil)
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if n := c2.Mailbox().NumMessages; n != 4 {
		t.Fatalf("session 2 after NOOP counts %d messages; want 4", n)
	}

	// Concurrent STOREs of different flags on all messages: both land.
	var wg sync.WaitGroup
	for i, c := range []*imapclient.Client{c1, c2} {
		flag := []imap.Flag{imap.FlagSeen, imap.FlagFlagged}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if _, err := c.Store(imap.SeqSetNum(1, 2, 3, 4), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{flag}, Silent: true}, nil).Collect(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()

	// Session 1 deletes message 2; session 2 still numbers the messages the
	// old way until it is told.
	if _, err := c1.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	// FETCH must not announce the EXPUNGE (RFC 9051 §7.5.1): message 4 is
	// still number 4 for session 2.
	msgs, err := c2.Fetch(imap.SeqSetNum(4), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 4 || msgs[0].SeqNum != 4 {
		t.Fatalf("session 2 FETCH 4 before the EXPUNGE is announced = %+v, %v; want UID 4", msgs, err)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !reflect.DeepEqual(expunged, []uint32{2}) {
		t.Errorf("session 2 saw EXPUNGE %v; want [2]", expunged)
	}
	mu.Unlock()

	state := func(c *imapclient.Client) []string {
		msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			f := noRecent(m.Flags)
			sort.Slice(f, func(i, j int) bool { return f[i] < f[j] })
			out = append(out, fmt.Sprintf("%d:%d:%v", m.SeqNum, m.UID, f))
		}
		return out
	}
	s1, s2 := state(c1), state(c2)
	want := []string{"1:1:[\\Flagged \\Seen]", "2:3:[\\Flagged \\Seen]", "3:4:[\\Flagged \\Seen]"}
	if diff := cmp.Diff(want, s1); diff != "" {
		t.Errorf("session 1 state (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(s1, s2); diff != "" {
		t.Errorf("sessions differ (-1 +2):\n%s", diff)
	}
}

// A delivery reaches a session in IDLE without any command from it.
func TestIMAPBackend_deliveryReachesIdle(t *testing.T) {
	st, addr := newIMAPStore(t)
	exists := make(chan uint32, 10)
	c := imapDial(t, addr, "alice@example.org", "secret", &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	// The IDLE continuation has been received once Idle returns; deliver.
	if err := st.Deliver(context.Background(), []string{"alice@example.org"}, []byte(testMsg), time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d; want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EXISTS during IDLE after a delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

// A POP3 deletion is announced to an IMAP session as an EXPUNGE.
func TestIMAPBackend_pop3DeletionExpunges(t *testing.T) {
	st, addr := newIMAPStore(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := st.Deliver(ctx, []string{"alice@example.org"}, []byte(testMsg), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var expunged []uint32
	c := imapDial(t, addr, "alice@example.org", "secret", &imapclient.UnilateralDataHandler{Expunge: func(seq uint32) {
		mu.Lock()
		expunged = append(expunged, seq)
		mu.Unlock()
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sess, err := st.POP3Backend().Login(ctx, "alice@example.org", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Commit(ctx, []int{1, 3}); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	var _ pop3.Session = sess
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(expunged, []uint32{3, 1}) {
		t.Errorf("EXPUNGEs %v; want [3 1]", expunged)
	}
	if n := c.Mailbox().NumMessages; n != 1 {
		t.Errorf("client counts %d messages; want 1", n)
	}
}

// HARDENING I12: static metadata is identical across a restart.
func TestIMAPBackend_restartKeepsMetadata(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	any := &store.Options{AnyLogin: true}
	st, err := store.Open(dir, any)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Deliver(ctx, []string{"alice@example.org"}, []byte(multipartMsg), time.Now()); err != nil {
		t.Fatal(err)
	}
	opts := &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
	}
	snapshot := func(addr string) (uint32, []*imapclient.FetchMessageBuffer) {
		c := imapDial(t, addr, "alice@example.org", "secret", nil)
		defer c.Logout()
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1, 2), opts).Collect()
		if err != nil {
			t.Fatal(err)
		}
		// \Recent goes to the first session only (RFC 3501 §2.3.2).
		for _, m := range msgs {
			m.Flags = noRecent(m.Flags)
		}
		return sel.UIDValidity, msgs
	}
	addr := imapServe(t, st)
	c := imapDial(t, addr, "alice@example.org", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg, &imap.AppendOptions{Flags: []imap.Flag{"$Label1", imap.FlagAnswered}})
	c.Logout()
	v1, m1 := snapshot(addr)
	v1b, m1b := snapshot(addr)
	if v1 != v1b || !cmp.Equal(m1, m1b) {
		t.Fatalf("FETCH differs between two runs:\n%s", cmp.Diff(m1, m1b))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2 := openStore(t, dir, any)
	v2, m2 := snapshot(imapServe(t, st2))
	if v1 != v2 {
		t.Errorf("UIDVALIDITY %d after restart; was %d", v2, v1)
	}
	if len(m1) != 2 {
		t.Fatalf("%d messages before restart; want 2", len(m1))
	}
	if diff := cmp.Diff(m1, m2); diff != "" {
		t.Errorf("FETCH after restart differs (-before +after):\n%s", diff)
	}
}

// rawIMAP logs in over a raw connection and selects INBOX.
func rawIMAP(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	r.ReadString('\n')
	rawCmd(t, conn, r, "a1 LOGIN alice@example.org secret")
	rawCmd(t, conn, r, "a2 SELECT INBOX")
	return conn, r
}

// rawCmd sends a tagged command and returns the lines up to its tagged
// reply, which must be OK.
func rawCmd(t *testing.T, conn net.Conn, r *bufio.Reader, cmd string) []string {
	t.Helper()
	tag, _, _ := strings.Cut(cmd, " ")
	if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%.40s: %v", cmd, err)
		}
		if strings.HasPrefix(line, tag+" ") {
			if !strings.HasPrefix(line, tag+" OK") {
				t.Fatalf("%.40s: %s", cmd, line)
			}
			return lines
		}
		lines = append(lines, line)
	}
}

// HARDENING I10: a sequence set of 10k overlapping ranges costs no more
// than one range.
func TestIMAPBackend_sequenceSetBlowup(t *testing.T) {
	st, addr := newIMAPStore(t)
	for i := 0; i < 10; i++ {
		if err := st.Deliver(context.Background(), []string{"alice@example.org"}, []byte(testMsg), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	conn, r := rawIMAP(t, addr)
	// 1:* rather than 1:4294967295: a sequence number beyond the mailbox
	// is BAD (RFC 9051 §9); UIDs beyond it are not.
	set := strings.TrimSuffix(strings.Repeat("1:*,", 3500), ",")
	lines := rawCmd(t, conn, r, "a3 FETCH "+set+" (FLAGS)")
	if len(lines) != 10 {
		t.Errorf("FETCH over 3500 ranges gave %d responses; want 10", len(lines))
	}
	lines = rawCmd(t, conn, r, "a4 UID FETCH "+strings.ReplaceAll(set, "1:*", "4294967295:1")+" (FLAGS)")
	if len(lines) != 10 {
		t.Errorf("UID FETCH over 3500 ranges gave %d responses; want 10", len(lines))
	}
}

// HARDENING I14: a deeply nested MIME message is described, bounded.
func TestIMAPBackend_deepMIME(t *testing.T) {
	_, addr := newIMAPStore(t)
	c := imapDial(t, addr, "alice@example.org", "secret", nil)
	var b strings.Builder
	b.WriteString("Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	const depth = 300
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\nleaf\r\n", depth-1)
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	appendMsg(t, c, "INBOX", b.String(), nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH BODYSTRUCTURE of a %d-deep message: %v", depth, err)
	}
	d := 0
	for bs := msgs[0].BodyStructure; ; d++ {
		mp, ok := bs.(*imap.BodyStructureMultiPart)
		if !ok || len(mp.Children) == 0 {
			break
		}
		bs = mp.Children[0]
	}
	if d > 101 || d < 50 {
		t.Errorf("BODYSTRUCTURE depth %d; want capped near 100", d)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Errorf("session dead after deep MIME: %v", err)
	}
}

func TestIMAPBackend_renameInbox(t *testing.T) {
	_, addr := newIMAPStore(t)
	c := imapDial(t, addr, "alice@example.org", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg, nil)
	appendMsg(t, c, "INBOX", testMsg, nil)
	if err := c.Rename("INBOX", "Old/Mail", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint32{"INBOX": 0, "Old/Mail": 2} {
		st, err := c.Status(name, &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if *st.NumMessages != want || st.UIDNext != 3 {
			t.Errorf("STATUS %s = %d messages, UIDNEXT %d; want %d, 3", name, *st.NumMessages, st.UIDNext, want)
		}
	}
	if a := appendMsg(t, c, "INBOX", testMsg, nil); a.UID != 3 {
		t.Errorf("APPEND to INBOX after RENAME got UID %d; want 3 (no reuse)", a.UID)
	}
}

func TestIMAPBackend_deleteSelectedElsewhere(t *testing.T) {
	_, addr := newIMAPStore(t)
	c1 := imapDial(t, addr, "alice@example.org", "secret", nil)
	c2 := imapDial(t, addr, "alice@example.org", "secret", nil)
	if err := c1.Create("Tmp", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c1, "Tmp", testMsg, nil)
	if _, err := c2.Select("Tmp", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c1.Delete("Tmp").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c1.Create("Tmp", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c1, "Tmp", testMsg, nil)
	// The session is told its mailbox is gone with a BYE, as Dovecot does
	// (there is no other way to say it), and never sees the new Tmp's
	// message as its own.
	if err := c2.Noop().Wait(); err == nil {
		t.Errorf("NOOP on the deleted mailbox = OK with %d messages; want the session ended", c2.Mailbox().NumMessages)
	}
	select {
	case <-c2.Closed():
	case <-time.After(10 * time.Second):
		t.Error("the session on the deleted mailbox is still open; want BYE and the close")
	}
	c3 := imapDial(t, addr, "alice@example.org", "secret", nil)
	sel, err := c3.Select("Tmp", nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Errorf("SELECT of the new Tmp = %+v, %v", sel, err)
	}
}

// HARDENING I11, X2: deliveries, POP3 deletions and two IMAP sessions
// changing one mailbox at once; afterwards both sessions agree with the
// database.
func TestIMAPBackend_concurrentChangesConverge(t *testing.T) {
	st, addr := newIMAPStore(t)
	ctx := context.Background()
	const user = "alice@example.org"
	for i := 0; i < 10; i++ {
		if err := st.Deliver(ctx, []string{user}, []byte(testMsg), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	c1 := imapDial(t, addr, user, "x", nil)
	c2 := imapDial(t, addr, user, "x", nil)
	for _, c := range []*imapclient.Client{c1, c2} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	run := func(f func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				if err := f(i); err != nil && !badSeq(err) {
					t.Error(err)
					return
				}
			}
		}()
	}
	run(func(i int) error { // SMTP
		return st.Deliver(ctx, []string{user}, []byte(testMsg), time.Now())
	})
	run(func(i int) error { // POP3 deletes its first message
		sess, err := st.POP3Backend().Login(ctx, user, "x")
		if err == pop3.ErrInUse {
			return nil
		} else if err != nil {
			return err
		}
		defer sess.Close()
		if infos, _ := sess.List(ctx); len(infos) > 0 {
			return sess.Commit(ctx, []int{1})
		}
		return nil
	})
	run(func(i int) error { // IMAP session 1 deletes, moves, appends
		if _, err := c1.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Collect(); err != nil {
			return err
		}
		if _, err := c1.Expunge().Collect(); err != nil {
			return err
		}
		if _, err := c1.Move(imap.SeqSetNum(1), "Archive").Wait(); err != nil {
			return err
		}
		cmd := c1.Append("INBOX", int64(len(testMsg)), nil)
		cmd.Write([]byte(testMsg))
		cmd.Close()
		_, err := cmd.Wait()
		return err
	})
	run(func(i int) error { // IMAP session 2 reads and flags
		if _, err := c2.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, UID: true}).Collect(); err != nil {
			return err
		}
		if _, err := c2.Store(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Collect(); err != nil {
			return err
		}
		if _, err := c2.Search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait(); err != nil {
			return err
		}
		if _, err := c2.Copy(imap.SeqSetNum(1), "INBOX").Wait(); err != nil {
			return err
		}
		return c2.Noop().Wait()
	})
	wg.Wait()
	if t.Failed() {
		return
	}

	var want []imap.UID
	rows, err := st.DB().Query(`SELECT m.uid FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id WHERE u.address = ? AND b.name = 'INBOX' ORDER BY m.uid`, user)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var uid imap.UID
		rows.Scan(&uid)
		want = append(want, uid)
	}
	rows.Close()
	for i, c := range []*imapclient.Client{c1, c2} {
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if n := c.Mailbox().NumMessages; int(n) != len(want) {
			t.Errorf("session %d counts %d messages; the database has %d", i+1, n, len(want))
		}
		var got []imap.UID
		if len(want) > 0 {
			msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			for j, m := range msgs {
				if m.SeqNum != uint32(j+1) {
					t.Errorf("session %d: message %d has sequence number %d", i+1, j+1, m.SeqNum)
				}
				got = append(got, m.UID)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("session %d UIDs differ from the database (-db +session):\n%s", i+1, diff)
		}
	}
}

// SELECT reports the first unseen message to IMAP4rev1 clients.
func TestIMAPBackend_selectUnseen(t *testing.T) {
	st, addr := newIMAPStore(t)
	for i := 0; i < 3; i++ {
		if err := st.Deliver(context.Background(), []string{"alice@example.org"}, []byte(testMsg), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	conn, r := rawIMAP(t, addr)
	rawCmd(t, conn, r, `a3 STORE 1 +FLAGS.SILENT (\Seen)`)
	lines := rawCmd(t, conn, r, "a4 EXAMINE INBOX")
	if !containsLine(lines, "* OK [UNSEEN 2]") || !containsLine(lines, "* 3 EXISTS") || !containsLine(lines, "* OK [PERMANENTFLAGS ()]") {
		t.Errorf("EXAMINE INBOX = %q; want UNSEEN 2, 3 EXISTS, no permanent flags", lines)
	}
}

func containsLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// A delivery committed as IDLE starts (just before the command, while it is
// on its way, or as soon as "+ idling" is received) is announced before
// DONE, every time: Idle watches for updates before its first poll.
func TestIMAPBackend_idleRace(t *testing.T) {
	const rounds = 50
	st, addr := newIMAPStore(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	// readUntil reads lines until one starts with prefix; the deadline only
	// bounds a failure.
	readUntil := func(prefix string) {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %q: %v", prefix, err)
			}
			if strings.HasPrefix(line, prefix) {
				return
			}
		}
	}
	send := func(line string) {
		t.Helper()
		if _, err := conn.Write([]byte(line + "\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	deliver := func() error {
		return st.Deliver(context.Background(), []string{"alice@example.org"}, []byte(testMsg), time.Now())
	}
	readUntil("* OK")
	send("a LOGIN alice@example.org secret")
	readUntil("a OK")
	send("b SELECT INBOX")
	readUntil("b OK")
	for i := 1; i <= rounds; i++ {
		delivered := make(chan error, 1)
		switch i % 3 {
		case 0:
			delivered <- deliver()
		case 1:
			go func() { delivered <- deliver() }()
		}
		tag := fmt.Sprintf("i%d", i)
		send(tag + " IDLE")
		readUntil("+ ")
		if i%3 == 2 {
			delivered <- deliver()
		}
		if err := <-delivered; err != nil {
			t.Fatal(err)
		}
		readUntil(fmt.Sprintf("* %d EXISTS", i))
		send("DONE")
		readUntil(tag + " OK")
	}
}

// A client that drops the connection in IDLE, without DONE: go-imap closes
// the session while Idle may still run; the two must not race (go test
// -race), and the server keeps serving.
func TestIMAPBackend_dropInIdle(t *testing.T) {
	st := storeWithUser(t, "alice@example.org", "secret")
	addr := imapServe(t, st)
	for range 20 {
		conn, r := rawIMAP(t, addr)
		conn.Write([]byte("a3 IDLE\r\n"))
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+ ") {
			t.Fatalf("IDLE: %q, %v", line, err)
		}
		conn.Close()
	}
	conn, r := rawIMAP(t, addr)
	rawCmd(t, conn, r, "a3 NOOP")
}
