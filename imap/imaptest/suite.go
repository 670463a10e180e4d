package imaptest

import (
	"context"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/imap"
)

// Messages delivered by TestBackend. They end in CRLF, as stored messages
// do; a Backend must return them byte for byte.
const (
	suiteMsg1 = "From: Bob <bob@example.org>\r\n" +
		"To: alice@example.org\r\n" +
		"Cc: Carol <carol@example.net>\r\n" +
		"Subject: Re: Hello Alice\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <1@example.org>\r\n" +
		"In-Reply-To: <0@example.org>\r\n" +
		"References: <a@example.org> <0@example.org>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hi Alice,\r\nthis is the body.\r\n"
	suiteMsg2 = "From: Carol <carol@example.net>\r\n" +
		"To: alice@example.org\r\n" +
		"Subject: Meeting\r\n" +
		"\r\n" +
		"See you at noon.\r\n"
	suiteMsg3 = "From: Dave <dave@example.com>\r\n" +
		"Subject: Third\r\n" +
		"\r\n" +
		"3\r\n"
)

// suiteTimeout bounds every wait for a Changed channel.
const suiteTimeout = 10 * time.Second

// TestBackend checks that an [imap.Backend] keeps the contract that
// package imap's documentation states, calling its methods directly (not
// over the network). Each subtest calls newBackend for a fresh Backend with
// no users; addUser must add a user whose INBOX exists and is empty, and
// deliver must add a message to a user's INBOX as a mail delivery does.
// The suite uses users "alice" and "bob", both with password "secret".
//
// The subtests cover Login; Mailboxes, CreateMailbox (parents, special-use,
// bad names), DeleteMailbox, RenameMailbox (children, INBOX, UIDVALIDITY);
// subscriptions apart from mailboxes; Status; Append (UIDs, flags, dates,
// all or none); Poll (everything first, then only changes, in mod-sequence
// order; another session's changes; keywords); \Recent claimed once across
// sessions, seen but not claimed by a read-only one; Vanished; Fetch; Store (the three
// operations, UNCHANGEDSINCE); Expunge; Copy and move; the Changed channels
// of User and Mailbox, woken by Deliver and by another session; SortData of
// a delivered message; and concurrent use.
func TestBackend(t *testing.T, newBackend func(t *testing.T) (be imap.Backend, addUser func(user, pass string), deliver func(user string, msg []byte))) {
	tests := []struct {
		name string
		f    func(t *testing.T, e *suiteEnv)
	}{
		{"Login", testLogin},
		{"CreateMailbox", testCreateMailbox},
		{"DeleteMailbox", testDeleteMailbox},
		{"RenameMailbox", testRenameMailbox},
		{"RenameInbox", testRenameInbox},
		{"Subscribe", testSubscribe},
		{"Status", testStatus},
		{"Append", testAppend},
		{"Poll", testPoll},
		{"PollOtherSession", testPollOtherSession},
		{"Recent", testRecent},
		{"Vanished", testVanished},
		{"Fetch", testFetch},
		{"Store", testStore},
		{"StoreUnchangedSince", testStoreUnchangedSince},
		{"Expunge", testExpunge},
		{"Copy", testCopy},
		{"Move", testMove},
		{"ChangedDeliver", testChangedDeliver},
		{"ChangedStore", testChangedStore},
		{"SortData", testSortData},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be, addUser, deliver := newBackend(t)
			addUser("alice", "secret")
			addUser("bob", "secret")
			tc.f(t, &suiteEnv{be: be, deliver: func(msg string) { deliver("alice", []byte(msg)) }})
		})
	}
}

type suiteEnv struct {
	be      imap.Backend
	deliver func(msg string)
}

var ctx = context.Background()

// login returns a User for alice, closed at the end of the test.
func (e *suiteEnv) login(t *testing.T) imap.User {
	t.Helper()
	u, err := e.be.Login(ctx, "alice", "secret")
	if err != nil {
		t.Fatalf("Login(alice, secret) = %v", err)
	}
	t.Cleanup(func() {
		if err := u.Close(); err != nil {
			t.Errorf("User.Close() = %v", err)
		}
	})
	return u
}

// open opens mailbox name, closed at the end of the test.
func open(t *testing.T, u imap.User, name string, readOnly bool) imap.Mailbox {
	t.Helper()
	m, err := u.Open(ctx, name, readOnly)
	if err != nil {
		t.Fatalf("Open(%q, %v) = %v", name, readOnly, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Mailbox.Close() = %v", err)
		}
	})
	return m
}

func poll(t *testing.T, m imap.Mailbox) *imap.Changes {
	t.Helper()
	ch, err := m.Poll(ctx)
	if err != nil {
		t.Fatalf("Poll() = %v", err)
	}
	return ch
}

func status(t *testing.T, u imap.User, name string) *imap.MailboxStatus {
	t.Helper()
	st, err := u.Status(ctx, name)
	if err != nil {
		t.Fatalf("Status(%q) = %v", name, err)
	}
	return st
}

func create(t *testing.T, u imap.User, name string, specialUse ...string) {
	t.Helper()
	if err := u.CreateMailbox(ctx, name, specialUse); err != nil {
		t.Fatalf("CreateMailbox(%q, %q) = %v", name, specialUse, err)
	}
}

func appendMsgs(t *testing.T, u imap.User, name string, msgs ...*imap.AppendMessage) *imap.CopyResult {
	t.Helper()
	res, err := u.Append(ctx, name, msgs)
	if err != nil {
		t.Fatalf("Append(%q, %d messages) = %v", name, len(msgs), err)
	}
	if len(res.Dest) != len(msgs) {
		t.Fatalf("Append(%q, %d messages) returned %d UIDs", name, len(msgs), len(res.Dest))
	}
	return res
}

func store(t *testing.T, m imap.Mailbox, uids []uint32, op imap.StoreOp, flags ...string) []imap.MessageState {
	t.Helper()
	changed, modified, err := m.Store(ctx, uids, op, flags, 0)
	if err != nil || len(modified) != 0 {
		t.Fatalf("Store(%v, %v, %q, 0) = %v, %v; want no modified and no error", uids, op, flags, modified, err)
	}
	return changed
}

// mailboxNames returns the names of u's mailboxes, sorted.
func mailboxNames(t *testing.T, u imap.User) []string {
	t.Helper()
	l, err := u.Mailboxes(ctx)
	if err != nil {
		t.Fatalf("Mailboxes() = %v", err)
	}
	var names []string
	for _, mi := range l {
		names = append(names, mi.Name)
	}
	slices.Sort(names)
	return names
}

// isCode reports whether err is an *imap.Error with response code code
// ("" for any *imap.Error).
func isCode(err error, code string) bool {
	var e *imap.Error
	return errors.As(err, &e) && (code == "" || e.Code == code)
}

// uidsOf returns the UIDs of msgs.
func uidsOf(msgs []imap.MessageState) []uint32 {
	var out []uint32
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}

// sortedFlags returns flags sorted, for comparison.
func sortedFlags(flags []string) []string {
	out := slices.Clone(flags)
	slices.Sort(out)
	return out
}

// waitChan fails t unless ch receives within suiteTimeout.
func waitChan(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(suiteTimeout):
		t.Fatalf("%s: no value on Changed() within %v", what, suiteTimeout)
	}
}

// drain empties ch of a pending value.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// readAll reads a Message's body.
func readAll(msg *imap.Message) ([]byte, error) {
	return io.ReadAll(io.NewSectionReader(msg.Body, 0, msg.Size))
}

// checkChanges fails t unless ch lists its Messages ascending by UID and
// with mod-sequences not above HighestModSeq.
func checkChanges(t *testing.T, ch *imap.Changes) {
	t.Helper()
	for i, m := range ch.Messages {
		if i > 0 && m.UID <= ch.Messages[i-1].UID {
			t.Errorf("Poll: Messages not ascending by UID: %v", uidsOf(ch.Messages))
		}
		if m.ModSeq == 0 || m.ModSeq > ch.HighestModSeq {
			t.Errorf("Poll: message %d has mod-sequence %d; want 1..HighestModSeq %d", m.UID, m.ModSeq, ch.HighestModSeq)
		}
		if m.UID >= ch.UIDNext {
			t.Errorf("Poll: message %d not below UIDNext %d", m.UID, ch.UIDNext)
		}
		if slices.Contains(m.Flags, `\Recent`) {
			t.Errorf("Poll: message %d has \\Recent in Flags %q", m.UID, m.Flags)
		}
	}
}

func testLogin(t *testing.T, e *suiteEnv) {
	for _, cred := range [][2]string{{"alice", "wrong"}, {"mallory", "secret"}, {"alice", ""}} {
		u, err := e.be.Login(ctx, cred[0], cred[1])
		if !isCode(err, "AUTHENTICATIONFAILED") {
			t.Errorf("Login(%q, %q) = %v, %v; want ErrAuthFailed", cred[0], cred[1], u, err)
		}
	}
	u := e.login(t)
	if names := mailboxNames(t, u); !slices.Contains(names, "INBOX") {
		t.Errorf("Mailboxes() of a new user = %q; want INBOX among them", names)
	}
	for _, name := range []string{"INBOX", "inbox", "InBoX"} {
		if st, err := u.Status(ctx, name); err != nil || st.Messages != 0 {
			t.Errorf("Status(%q) of a new user = %+v, %v; want an empty INBOX", name, st, err)
		}
	}
}

func testCreateMailbox(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	create(t, u, "a/b/c")
	create(t, u, "Sent", `\Sent`)
	want := []string{"INBOX", "Sent", "a", "a/b", "a/b/c"}
	if got := mailboxNames(t, u); !slices.Equal(got, want) {
		t.Errorf("Mailboxes() after CreateMailbox(a/b/c) = %q; want %q (parents created)", got, want)
	}
	l, _ := u.Mailboxes(ctx)
	for _, mi := range l {
		if wantUse := mi.Name == "Sent"; wantUse != slices.Equal(mi.SpecialUse, []string{`\Sent`}) || (!wantUse && len(mi.SpecialUse) != 0) {
			t.Errorf("Mailboxes(): %q has special-use %q", mi.Name, mi.SpecialUse)
		}
	}
	for _, name := range []string{"a/b", "Sent", "INBOX", "inbox"} {
		if err := u.CreateMailbox(ctx, name, nil); !isCode(err, "ALREADYEXISTS") {
			t.Errorf("CreateMailbox(%q) of an existing mailbox = %v; want ErrAlreadyExists", name, err)
		}
	}
	for _, name := range []string{"x//y", "/x", "x/", "x/./y", "x/../y", "..", "."} {
		if err := u.CreateMailbox(ctx, name, nil); !isCode(err, imap.ErrBadName.Code) {
			t.Errorf("CreateMailbox(%q) = %v; want ErrBadName", name, err)
		}
	}
	if got := mailboxNames(t, u); !slices.Equal(got, want) {
		t.Errorf("Mailboxes() after refused creations = %q; want %q", got, want)
	}
	v1, v2 := status(t, u, "a").UIDValidity, status(t, u, "a/b").UIDValidity
	if v1 == 0 || v1 == v2 {
		t.Errorf("UIDVALIDITY of a, a/b = %d, %d; want distinct, non-zero", v1, v2)
	}
}

func testDeleteMailbox(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	create(t, u, "a/b")
	appendMsgs(t, u, "a", &imap.AppendMessage{Body: []byte(suiteMsg1)})
	v := status(t, u, "a").UIDValidity
	if err := u.DeleteMailbox(ctx, "a"); err != nil {
		t.Fatalf("DeleteMailbox(a) = %v", err)
	}
	if got := mailboxNames(t, u); !slices.Equal(got, []string{"INBOX", "a/b"}) {
		t.Errorf("Mailboxes() after DeleteMailbox(a) = %q; want INBOX, a/b (children stay)", got)
	}
	if _, err := u.Status(ctx, "a"); !isCode(err, "NONEXISTENT") {
		t.Errorf("Status of a deleted mailbox = %v; want ErrNonExistent", err)
	}
	if err := u.DeleteMailbox(ctx, "a"); !isCode(err, "NONEXISTENT") {
		t.Errorf("DeleteMailbox(a) again = %v; want ErrNonExistent", err)
	}
	for _, name := range []string{"INBOX", "inbox"} {
		if err := u.DeleteMailbox(ctx, name); !isCode(err, "") || isCode(err, "NONEXISTENT") {
			t.Errorf("DeleteMailbox(%q) = %v; want an *Error other than ErrNonExistent", name, err)
		}
	}
	create(t, u, "a")
	if st := status(t, u, "a"); st.Messages != 0 || st.UIDValidity == v {
		t.Errorf("Status of a re-created mailbox = %+v; want no messages and a UIDVALIDITY other than %d", st, v)
	}
}

func testRenameMailbox(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	create(t, u, "a/b/c")
	create(t, u, "ab")
	appendMsgs(t, u, "a/b", &imap.AppendMessage{Body: []byte(suiteMsg1)})
	if err := u.Subscribe(ctx, "a/b", true); err != nil {
		t.Fatal(err)
	}
	v := status(t, u, "a/b").UIDValidity
	if err := u.RenameMailbox(ctx, "a", "x/y"); err != nil {
		t.Fatalf("RenameMailbox(a, x/y) = %v", err)
	}
	want := []string{"INBOX", "ab", "x", "x/y", "x/y/b", "x/y/b/c"}
	if got := mailboxNames(t, u); !slices.Equal(got, want) {
		t.Errorf("Mailboxes() after RenameMailbox(a, x/y) = %q; want %q", got, want)
	}
	if st := status(t, u, "x/y/b"); st.UIDValidity != v || st.Messages != 1 {
		t.Errorf("Status of renamed child = %+v; want UIDVALIDITY %d kept, 1 message", st, v)
	}
	if subs, _ := u.Subscriptions(ctx); !slices.Equal(subs, []string{"a/b"}) {
		t.Errorf("Subscriptions() after rename = %q; want [a/b] (unchanged)", subs)
	}
	if err := u.RenameMailbox(ctx, "a", "z"); !isCode(err, "NONEXISTENT") {
		t.Errorf("RenameMailbox of a missing mailbox = %v; want ErrNonExistent", err)
	}
	if err := u.RenameMailbox(ctx, "ab", "x/y/b"); !isCode(err, "ALREADYEXISTS") {
		t.Errorf("RenameMailbox onto an existing mailbox = %v; want ErrAlreadyExists", err)
	}
	if err := u.RenameMailbox(ctx, "ab", "bad//name"); !isCode(err, "") {
		t.Errorf("RenameMailbox to a bad name = %v; want an *Error", err)
	}
	if got := mailboxNames(t, u); !slices.Equal(got, want) {
		t.Errorf("Mailboxes() after refused renames = %q; want %q", got, want)
	}
}

func testRenameInbox(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	create(t, u, "INBOX/child")
	if err := u.RenameMailbox(ctx, "INBOX", "old/inbox"); err != nil {
		t.Fatalf("RenameMailbox(INBOX, old/inbox) = %v", err)
	}
	if st := status(t, u, "old/inbox"); st.Messages != 2 {
		t.Errorf("Status(old/inbox) = %+v; want INBOX's 2 messages", st)
	}
	if st := status(t, u, "INBOX"); st.Messages != 0 {
		t.Errorf("Status(INBOX) after renaming it = %+v; want empty", st)
	}
	names := mailboxNames(t, u)
	if !slices.Contains(names, "INBOX/child") || !slices.Contains(names, "old") {
		t.Errorf("Mailboxes() after RenameMailbox(INBOX) = %q; want INBOX/child left and old created", names)
	}
	e.deliver(suiteMsg3)
	if st := status(t, u, "INBOX"); st.Messages != 1 {
		t.Errorf("Status(INBOX) after a delivery = %+v; want 1 message", st)
	}
}

func testSubscribe(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	create(t, u, "a")
	for _, name := range []string{"a", "nonexistent", "a"} {
		if err := u.Subscribe(ctx, name, true); err != nil {
			t.Fatalf("Subscribe(%q, true) = %v", name, err)
		}
	}
	subs := func() []string {
		s, err := u.Subscriptions(ctx)
		if err != nil {
			t.Fatalf("Subscriptions() = %v", err)
		}
		slices.Sort(s)
		return s
	}
	if got := subs(); !slices.Equal(got, []string{"a", "nonexistent"}) {
		t.Errorf("Subscriptions() = %q; want [a nonexistent]", got)
	}
	if names := mailboxNames(t, u); slices.Contains(names, "nonexistent") {
		t.Errorf("Subscribe created a mailbox: %q", names)
	}
	if err := u.DeleteMailbox(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := subs(); !slices.Equal(got, []string{"a", "nonexistent"}) {
		t.Errorf("Subscriptions() after DeleteMailbox(a) = %q; want a kept", got)
	}
	for range 2 {
		if err := u.Subscribe(ctx, "nonexistent", false); err != nil {
			t.Errorf("Subscribe(nonexistent, false) = %v", err)
		}
	}
	if got := subs(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Subscriptions() after unsubscribing = %q; want [a]", got)
	}
}

func testStatus(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	if _, err := u.Status(ctx, "nonexistent"); !isCode(err, "NONEXISTENT") {
		t.Errorf("Status(nonexistent) = %v; want ErrNonExistent", err)
	}
	before := status(t, u, "INBOX")
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	appendMsgs(t, u, "INBOX", &imap.AppendMessage{Flags: []string{`\Seen`, `\Deleted`}, Body: []byte(suiteMsg3)})
	st := status(t, u, "INBOX")
	want := imap.MailboxStatus{
		Messages: 3, Recent: 3, Unseen: 2, Deleted: 1,
		UIDNext: before.UIDNext + 3, UIDValidity: before.UIDValidity,
		Size: int64(len(suiteMsg1) + len(suiteMsg2) + len(suiteMsg3)),
	}
	got := *st
	got.HighestModSeq = 0
	if got != want {
		t.Errorf("Status(INBOX) = %+v; want %+v", got, want)
	}
	if st.HighestModSeq <= before.HighestModSeq {
		t.Errorf("HighestModSeq = %d after 3 messages; want above %d", st.HighestModSeq, before.HighestModSeq)
	}
	m := open(t, u, "INBOX", false)
	ch := poll(t, m)
	if ch.HighestModSeq != st.HighestModSeq || ch.UIDNext != st.UIDNext {
		t.Errorf("Poll: HighestModSeq, UIDNext = %d, %d; Status says %d, %d", ch.HighestModSeq, ch.UIDNext, st.HighestModSeq, st.UIDNext)
	}
	if st := status(t, u, "INBOX"); st.Recent != 0 {
		t.Errorf("Status(INBOX).Recent after a read-write Poll = %d; want 0", st.Recent)
	}
}

func testAppend(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	date := time.Date(2020, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))
	res := appendMsgs(t, u, "INBOX",
		&imap.AppendMessage{Flags: []string{`\Seen`, "$Label1"}, Date: date, Body: []byte(suiteMsg1)},
		&imap.AppendMessage{Body: []byte(suiteMsg2)})
	st := status(t, u, "INBOX")
	if res.UIDValidity != st.UIDValidity || len(res.Source) != 0 || res.Dest[0] >= res.Dest[1] || res.Dest[1] >= st.UIDNext {
		t.Errorf("Append = %+v; want UIDVALIDITY %d, no Source, ascending UIDs below UIDNext %d", res, st.UIDValidity, st.UIDNext)
	}
	ch := poll(t, open(t, u, "INBOX", true))
	checkChanges(t, ch)
	if got := uidsOf(ch.Messages); !slices.Equal(got, res.Dest) {
		t.Fatalf("Poll after Append: UIDs %v; want %v", got, res.Dest)
	}
	m := ch.Messages[0]
	if !slices.Equal(sortedFlags(m.Flags), []string{"$Label1", `\Seen`}) || !m.InternalDate.Equal(date) || m.Size != int64(len(suiteMsg1)) {
		t.Errorf("appended message = %+v; want flags [$Label1 \\Seen], date %v, size %d", m, date, len(suiteMsg1))
	}
	if d := time.Since(ch.Messages[1].InternalDate); d < -time.Minute || d > time.Minute {
		t.Errorf("internal date of a message appended without one = %v; want now", ch.Messages[1].InternalDate)
	}
	if !slices.Contains(ch.Keywords, "$Label1") {
		t.Errorf("Poll: Keywords = %q; want $Label1", ch.Keywords)
	}
	if _, err := u.Append(ctx, "nonexistent", []*imap.AppendMessage{{Body: []byte(suiteMsg1)}}); !isCode(err, "NONEXISTENT") {
		t.Errorf("Append(nonexistent) = %v; want ErrNonExistent", err)
	}
	if names := mailboxNames(t, u); slices.Contains(names, "nonexistent") {
		t.Errorf("Append to a missing mailbox created it: %q", names)
	}
	if st2 := status(t, u, "INBOX"); st2.Messages != 2 {
		t.Errorf("INBOX has %d messages; want 2", st2.Messages)
	}
}

func testPoll(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	m := open(t, u, "INBOX", false)
	first := poll(t, m)
	checkChanges(t, first)
	if len(first.Messages) != 2 || len(first.Expunged) != 0 {
		t.Fatalf("first Poll = %d messages, expunged %v; want the 2 messages", len(first.Messages), first.Expunged)
	}
	if first.Messages[0].ModSeq >= first.Messages[1].ModSeq {
		t.Errorf("mod-sequences of two deliveries = %d, %d; want increasing", first.Messages[0].ModSeq, first.Messages[1].ModSeq)
	}
	if ch := poll(t, m); len(ch.Messages) != 0 || len(ch.Expunged) != 0 || ch.HighestModSeq != first.HighestModSeq {
		t.Errorf("second Poll with no change = %+v; want nothing new", ch)
	}
	e.deliver(suiteMsg3)
	uid1 := first.Messages[0].UID
	changed := store(t, m, []uint32{uid1}, imap.StoreAdd, "$Work", `\Flagged`)
	if len(changed) != 1 || changed[0].ModSeq <= first.HighestModSeq {
		t.Fatalf("Store = %+v; want message %d with a mod-sequence above %d", changed, uid1, first.HighestModSeq)
	}
	ch := poll(t, m)
	checkChanges(t, ch)
	if len(ch.Messages) != 2 || ch.Messages[0].UID != uid1 || ch.Messages[1].UID <= first.Messages[1].UID {
		t.Fatalf("Poll after Store and Deliver = %+v; want message %d and the new one", ch.Messages, uid1)
	}
	if ch.Messages[0].ModSeq != changed[0].ModSeq || !slices.Contains(ch.Messages[0].Flags, "$Work") {
		t.Errorf("Poll: stored message = %+v; want Store's state %+v", ch.Messages[0], changed[0])
	}
	if ch.HighestModSeq < ch.Messages[1].ModSeq || ch.HighestModSeq < changed[0].ModSeq {
		t.Errorf("Poll: HighestModSeq %d below a message's", ch.HighestModSeq)
	}
	if !slices.Equal(ch.Keywords, []string{"$Work"}) {
		t.Errorf("Poll: Keywords = %q; want [$Work]", ch.Keywords)
	}
	store(t, m, []uint32{uid1}, imap.StoreRemove, "$Work")
	if ch := poll(t, m); !slices.Contains(ch.Keywords, "$Work") {
		t.Errorf("Poll: Keywords = %q after removing $Work from its message; want it kept", ch.Keywords)
	}
}

func testPollOtherSession(t *testing.T, e *suiteEnv) {
	u1, u2 := e.login(t), e.login(t)
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	m1, m2 := open(t, u1, "INBOX", false), open(t, u2, "INBOX", false)
	all := poll(t, m1).Messages
	poll(t, m2)
	uid1, uid2 := all[0].UID, all[1].UID
	changed := store(t, m1, []uint32{uid1}, imap.StoreAdd, `\Seen`)
	changed = append(changed, store(t, m1, []uint32{uid1}, imap.StoreAdd, `\Answered`)...)
	if len(changed) != 2 || changed[1].ModSeq <= changed[0].ModSeq {
		t.Fatalf("two Stores = %+v; want two states with increasing mod-sequences", changed)
	}
	ch := poll(t, m2)
	if len(ch.Messages) != 1 || ch.Messages[0].ModSeq != changed[1].ModSeq ||
		!slices.Equal(sortedFlags(ch.Messages[0].Flags), []string{`\Answered`, `\Seen`}) {
		t.Errorf("other session's Poll = %+v; want message %d once, in its newest state %+v", ch.Messages, uid1, changed[1])
	}
	store(t, m2, []uint32{uid2}, imap.StoreAdd, `\Deleted`)
	if gone, err := m2.Expunge(ctx, nil); err != nil || !slices.Equal(gone, []uint32{uid2}) {
		t.Fatalf("Expunge(nil) = %v, %v; want [%d]", gone, err, uid2)
	}
	ch = poll(t, m1)
	if !slices.Equal(ch.Expunged, []uint32{uid2}) {
		t.Errorf("Poll after another session's Expunge: Expunged = %v; want [%d]", ch.Expunged, uid2)
	}
	if slices.Contains(uidsOf(ch.Messages), uid2) {
		t.Errorf("Poll after another session's Expunge: Messages = %+v; want %d left out", ch.Messages, uid2)
	}
}

func testRecent(t *testing.T, e *suiteEnv) {
	u1, u2 := e.login(t), e.login(t)
	e.deliver(suiteMsg1)
	ro := poll(t, open(t, u2, "INBOX", true))
	if len(ro.Messages) != 1 || !ro.Messages[0].Recent {
		t.Errorf("read-only Poll = %+v; want the message \\Recent, as EXAMINE shows it", ro.Messages)
	}
	if st := status(t, u1, "INBOX"); st.Recent != 1 {
		t.Errorf("Status.Recent after a read-only Poll = %d; want 1 (not claimed)", st.Recent)
	}
	m1 := open(t, u1, "INBOX", false)
	ch := poll(t, m1)
	if len(ch.Messages) != 1 || !ch.Messages[0].Recent {
		t.Errorf("first read-write Poll = %+v; want the message \\Recent", ch.Messages)
	}
	ch2 := poll(t, open(t, u2, "INBOX", false))
	if len(ch2.Messages) != 1 || ch2.Messages[0].Recent {
		t.Errorf("second read-write session's Poll = %+v; want the message, not \\Recent (claimed)", ch2.Messages)
	}
	changed := store(t, m1, []uint32{ch.Messages[0].UID}, imap.StoreAdd, `\Seen`)
	if len(changed) != 1 || !changed[0].Recent {
		t.Errorf("Store by the session that has it \\Recent = %+v; want Recent kept", changed)
	}
	if ch := poll(t, m1); len(ch.Messages) != 1 || !ch.Messages[0].Recent {
		t.Errorf("Poll after Store = %+v; want the message still \\Recent for its session", ch.Messages)
	}
	e.deliver(suiteMsg2)
	if ch := poll(t, m1); len(ch.Messages) != 1 || !ch.Messages[0].Recent {
		t.Errorf("Poll after a delivery = %+v; want the new message \\Recent", ch.Messages)
	}
	if st := status(t, u1, "INBOX"); st.Recent != 0 {
		t.Errorf("Status.Recent = %d; want 0 once claimed", st.Recent)
	}
}

func testVanished(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	res := appendMsgs(t, u, "INBOX",
		&imap.AppendMessage{Flags: []string{`\Deleted`}, Body: []byte(suiteMsg1)},
		&imap.AppendMessage{Body: []byte(suiteMsg2)},
		&imap.AppendMessage{Flags: []string{`\Deleted`}, Body: []byte(suiteMsg3)})
	m := open(t, u, "INBOX", false)
	before := poll(t, m).HighestModSeq
	if v, err := m.Vanished(ctx, before); err != nil || len(v) != 0 {
		t.Errorf("Vanished(%d) before any expunge = %v, %v; want none", before, v, err)
	}
	gone, err := m.Expunge(ctx, nil)
	want := []uint32{res.Dest[0], res.Dest[2]}
	if err != nil || !slices.Equal(gone, want) {
		t.Fatalf("Expunge(nil) = %v, %v; want %v", gone, err, want)
	}
	after := poll(t, m).HighestModSeq
	if after <= before {
		t.Errorf("HighestModSeq after Expunge = %d; want above %d", after, before)
	}
	if v, err := m.Vanished(ctx, before); err != nil || !slices.Equal(v, want) {
		t.Errorf("Vanished(%d) = %v, %v; want %v", before, v, err, want)
	}
	if v, err := m.Vanished(ctx, after); err != nil || len(v) != 0 {
		t.Errorf("Vanished(%d) = %v, %v; want none", after, v, err)
	}
}

func testFetch(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	e.deliver(suiteMsg3)
	m := open(t, u, "INBOX", true)
	all := uidsOf(poll(t, m).Messages)
	want := map[uint32]string{all[0]: suiteMsg1, all[2]: suiteMsg3}
	var got []uint32
	err := m.Fetch(ctx, []uint32{all[0], all[2], all[2] + 100}, func(msg *imap.Message) error {
		got = append(got, msg.UID)
		body, err := readAll(msg)
		if err != nil || string(body) != want[msg.UID] || msg.Size != int64(len(want[msg.UID])) {
			t.Errorf("Fetch: message %d = %q (size %d), %v; want %q", msg.UID, body, msg.Size, err, want[msg.UID])
		}
		return nil
	})
	if err != nil || !slices.Equal(got, []uint32{all[0], all[2]}) {
		t.Errorf("Fetch = %v, called for %v; want nil, called for %v", err, got, []uint32{all[0], all[2]})
	}
	stop := errors.New("stop")
	calls := 0
	err = m.Fetch(ctx, all, func(*imap.Message) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Fetch whose fn fails = %v after %d calls; want fn's error after 1", err, calls)
	}
}

func testStore(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	m := open(t, u, "INBOX", false)
	msgs := poll(t, m).Messages
	all := uidsOf(msgs)
	steps := []struct {
		op    imap.StoreOp
		flags []string
		want  []string
	}{
		{imap.StoreAdd, []string{`\Seen`, "$Work"}, []string{"$Work", `\Seen`}},
		{imap.StoreAdd, []string{`\Flagged`}, []string{"$Work", `\Flagged`, `\Seen`}},
		{imap.StoreRemove, []string{`\Seen`, `\Draft`}, []string{"$Work", `\Flagged`}},
		{imap.StoreReplace, []string{`\Answered`, "$Other"}, []string{"$Other", `\Answered`}},
		{imap.StoreReplace, nil, nil},
	}
	last := uint64(0)
	for _, s := range steps {
		changed := store(t, m, all, s.op, s.flags...)
		if len(changed) != 2 {
			t.Fatalf("Store(%v, %q) changed %d messages; want 2", s.op, s.flags, len(changed))
		}
		for i, c := range changed {
			if got := sortedFlags(c.Flags); !slices.Equal(got, s.want) || c.ModSeq <= last {
				t.Errorf("Store(%v, %q): message %d = %q modseq %d; want %q, modseq above %d", s.op, s.flags, c.UID, got, c.ModSeq, s.want, last)
			}
			if c.UID != msgs[i].UID || c.Size != msgs[i].Size || !c.InternalDate.Equal(msgs[i].InternalDate) {
				t.Errorf("Store: state %+v; want UID, size and internal date of %+v", c, msgs[i])
			}
		}
		last = max(changed[0].ModSeq, changed[1].ModSeq)
	}
	store(t, m, all[:1], imap.StoreAdd, `\Seen`)
	if changed := store(t, m, all, imap.StoreAdd, `\Seen`); len(changed) != 1 || changed[0].UID != all[1] {
		t.Errorf("Store +\\Seen when message %d has it = %+v; want only message %d changed", all[0], changed, all[1])
	}
	if changed := store(t, m, all, imap.StoreRemove, `\Deleted`); len(changed) != 0 {
		t.Errorf("Store -\\Deleted on messages without it = %+v; want nothing changed", changed)
	}
	if changed := store(t, m, []uint32{all[1] + 100}, imap.StoreAdd, `\Seen`); len(changed) != 0 {
		t.Errorf("Store of a missing UID = %+v; want nothing", changed)
	}
}

func testStoreUnchangedSince(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	m := open(t, u, "INBOX", false)
	msgs := poll(t, m).Messages
	all := uidsOf(msgs)
	since := msgs[0].ModSeq
	changed, modified, err := m.Store(ctx, all, imap.StoreAdd, []string{`\Flagged`}, since)
	if err != nil || len(changed) != 1 || changed[0].UID != all[0] || !slices.Equal(modified, all[1:]) {
		t.Errorf("Store(UNCHANGEDSINCE %d) = %+v, %v, %v; want message %d changed, %d modified", since, changed, modified, err, all[0], all[1])
	}
	changed, modified, err = m.Store(ctx, all, imap.StoreAdd, []string{`\Seen`}, since)
	if err != nil || len(changed) != 0 || !slices.Equal(modified, all) {
		t.Errorf("Store(UNCHANGEDSINCE %d) after both changed = %+v, %v, %v; want both modified", since, changed, modified, err)
	}
}

func testExpunge(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	res := appendMsgs(t, u, "INBOX",
		&imap.AppendMessage{Flags: []string{`\Deleted`}, Body: []byte(suiteMsg1)},
		&imap.AppendMessage{Body: []byte(suiteMsg2)},
		&imap.AppendMessage{Flags: []string{`\Deleted`}, Body: []byte(suiteMsg3)})
	m := open(t, u, "INBOX", false)
	poll(t, m)
	if gone, err := m.Expunge(ctx, res.Dest[1:]); err != nil || !slices.Equal(gone, res.Dest[2:]) {
		t.Errorf("Expunge(%v) = %v, %v; want only the \\Deleted message %d", res.Dest[1:], gone, err, res.Dest[2])
	}
	if gone, err := m.Expunge(ctx, nil); err != nil || !slices.Equal(gone, res.Dest[:1]) {
		t.Errorf("Expunge(nil) = %v, %v; want %v", gone, err, res.Dest[:1])
	}
	if gone, err := m.Expunge(ctx, nil); err != nil || len(gone) != 0 {
		t.Errorf("Expunge(nil) again = %v, %v; want none", gone, err)
	}
	var left []uint32
	if err := m.Fetch(ctx, res.Dest, func(msg *imap.Message) error { left = append(left, msg.UID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, res.Dest[1:2]) {
		t.Errorf("Fetch after Expunge found %v; want %v", left, res.Dest[1:2])
	}
	if st := status(t, u, "INBOX"); st.Messages != 1 || st.Deleted != 0 {
		t.Errorf("Status after Expunge = %+v; want 1 message, none deleted", st)
	}
}

// copySetup delivers three messages, flags the first, and creates Dest.
func copySetup(t *testing.T, e *suiteEnv) (imap.User, imap.Mailbox, []imap.MessageState) {
	u := e.login(t)
	create(t, u, "Dest")
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	e.deliver(suiteMsg3)
	m := open(t, u, "INBOX", false)
	msgs := poll(t, m).Messages
	store(t, m, []uint32{msgs[0].UID}, imap.StoreAdd, `\Flagged`, "$Work")
	return u, m, msgs
}

// checkCopied checks the copies in Dest of msgs, made with res.
func checkCopied(t *testing.T, u imap.User, res *imap.CopyResult, msgs []imap.MessageState) {
	t.Helper()
	d := open(t, u, "Dest", false)
	if res.UIDValidity != d.UIDValidity() {
		t.Errorf("Copy: UIDValidity %d; Dest's is %d", res.UIDValidity, d.UIDValidity())
	}
	ch := poll(t, d)
	if got := uidsOf(ch.Messages); !slices.Equal(got, res.Dest) {
		t.Fatalf("Dest holds %v; Copy said %v", got, res.Dest)
	}
	for i, c := range ch.Messages {
		if !slices.Equal(sortedFlags(c.Flags), sortedFlags(msgs[i].Flags)) || !c.InternalDate.Equal(msgs[i].InternalDate) || c.Size != msgs[i].Size {
			t.Errorf("copy %d = %+v; want flags, date and size of %+v", c.UID, c, msgs[i])
		}
		if !c.Recent {
			t.Errorf("copy %d not \\Recent in Dest's first read-write session", c.UID)
		}
	}
	if !slices.Contains(ch.Keywords, "$Work") {
		t.Errorf("Dest's Keywords = %q; want the copied $Work", ch.Keywords)
	}
}

func testCopy(t *testing.T, e *suiteEnv) {
	u, m, msgs := copySetup(t, e)
	uids := []uint32{msgs[0].UID, msgs[2].UID}
	res, err := m.Copy(ctx, append(slices.Clone(uids), msgs[2].UID+100), "Dest", false)
	if err != nil || !slices.Equal(res.Source, uids) || len(res.Dest) != 2 || res.Dest[0] >= res.Dest[1] {
		t.Fatalf("Copy(%v, Dest) = %+v, %v; want Source %v and two ascending Dest UIDs", uids, res, err, uids)
	}
	msgs[0].Flags = append(msgs[0].Flags, `\Flagged`, "$Work")
	checkCopied(t, u, res, []imap.MessageState{msgs[0], msgs[2]})
	if st := status(t, u, "INBOX"); st.Messages != 3 {
		t.Errorf("INBOX after Copy has %d messages; want 3", st.Messages)
	}
	if _, err := m.Copy(ctx, uids, "nonexistent", false); !isCode(err, "NONEXISTENT") {
		t.Errorf("Copy to a missing mailbox = %v; want ErrNonExistent", err)
	}
}

func testMove(t *testing.T, e *suiteEnv) {
	u, m, msgs := copySetup(t, e)
	other := open(t, e.login(t), "INBOX", false)
	poll(t, other)
	uids := []uint32{msgs[0].UID, msgs[1].UID}
	res, err := m.Copy(ctx, uids, "Dest", true)
	if err != nil || !slices.Equal(res.Source, uids) || len(res.Dest) != 2 {
		t.Fatalf("Copy(%v, Dest, move) = %+v, %v; want Source %v and two Dest UIDs", uids, res, err, uids)
	}
	msgs[0].Flags = append(msgs[0].Flags, `\Flagged`, "$Work")
	checkCopied(t, u, res, msgs[:2])
	if ch := poll(t, other); !slices.Equal(ch.Expunged, uids) {
		t.Errorf("other session's Poll after a move: Expunged = %v; want %v", ch.Expunged, uids)
	}
	if st := status(t, u, "INBOX"); st.Messages != 1 {
		t.Errorf("INBOX after a move has %d messages; want 1", st.Messages)
	}
	if _, err := m.Copy(ctx, uidsOf(msgs[2:]), "nonexistent", true); !isCode(err, "NONEXISTENT") {
		t.Errorf("move to a missing mailbox = %v; want ErrNonExistent", err)
	}
	if st := status(t, u, "INBOX"); st.Messages != 1 {
		t.Errorf("INBOX after a failed move has %d messages; want 1", st.Messages)
	}
}

func testChangedDeliver(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	m := open(t, u, "INBOX", false)
	poll(t, m)
	drain(m.Changed())
	drain(u.Changed())
	if mc, uc := m.Changed(), u.Changed(); mc != m.Changed() || uc != u.Changed() {
		t.Errorf("Changed() returned different channels")
	}
	e.deliver(suiteMsg1)
	// The value must be waiting even though nobody was receiving.
	waitChan(t, m.Changed(), "Mailbox after Deliver")
	waitChan(t, u.Changed(), "User after Deliver")
	if ch := poll(t, m); len(ch.Messages) != 1 {
		t.Errorf("Poll after Changed = %d messages; want the delivered one", len(ch.Messages))
	}
	woken := make(chan bool)
	go func() {
		select {
		case <-m.Changed():
			woken <- true
		case <-time.After(suiteTimeout):
			woken <- false
		}
	}()
	e.deliver(suiteMsg2)
	if !<-woken {
		t.Errorf("Mailbox: a receiver waiting on Changed() was not woken by Deliver within %v", suiteTimeout)
	}
	create(t, e.login(t), "New")
	waitChan(t, u.Changed(), "User after another session's CreateMailbox")
}

func testChangedStore(t *testing.T, e *suiteEnv) {
	e.deliver(suiteMsg1)
	u1, u2 := e.login(t), e.login(t)
	m1, m2 := open(t, u1, "INBOX", false), open(t, u2, "INBOX", false)
	uid := poll(t, m1).Messages[0].UID
	poll(t, m2)
	drain(m2.Changed())
	drain(u2.Changed())
	store(t, m1, []uint32{uid}, imap.StoreAdd, `\Seen`)
	waitChan(t, m2.Changed(), "Mailbox after another session's Store")
	waitChan(t, u2.Changed(), "User after another session's Store")
	if ch := poll(t, m2); len(ch.Messages) != 1 || !slices.Contains(ch.Messages[0].Flags, `\Seen`) {
		t.Errorf("Poll after Changed = %+v; want the message with \\Seen", ch.Messages)
	}
	drain(m2.Changed())
	store(t, m1, []uint32{uid}, imap.StoreAdd, `\Deleted`)
	if _, err := m1.Expunge(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waitChan(t, m2.Changed(), "Mailbox after another session's Expunge")
	drain(m2.Changed())
	appendMsgs(t, u1, "INBOX", &imap.AppendMessage{Body: []byte(suiteMsg2)})
	waitChan(t, m2.Changed(), "Mailbox after another session's Append")
	drain(u2.Changed())
	create(t, u1, "Other")
	drain(m2.Changed())
	other := open(t, u1, "Other", false)
	poll(t, other)
	appendMsgs(t, u1, "Other", &imap.AppendMessage{Body: []byte(suiteMsg3)})
	waitChan(t, u2.Changed(), "User after another session's Append to another mailbox")
	uid3 := poll(t, other).Messages[0].UID
	if _, err := other.Copy(ctx, []uint32{uid3}, "INBOX", true); err != nil {
		t.Fatal(err)
	}
	waitChan(t, m2.Changed(), "Mailbox after another session's move into it")
	if ch := poll(t, m2); len(ch.Messages) != 2 {
		t.Errorf("Poll after an Append and a move into the mailbox = %+v; want the 2 new messages", ch.Messages)
	}
}

func testSortData(t *testing.T, e *suiteEnv) {
	u := e.login(t)
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	m := open(t, u, "INBOX", true)
	all := uidsOf(poll(t, m).Messages)
	sd, err := m.SortData(ctx, append(slices.Clone(all), all[1]+100))
	if err != nil || len(sd) != 2 {
		t.Fatalf("SortData(%v) = %d entries, %v; want 2", all, len(sd), err)
	}
	want := imap.SortData{
		UID:         all[0],
		Date:        time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC),
		BaseSubject: "hello alice",
		From:        "bob", To: "alice", Cc: "carol", // addr-mailbox: the local part
		DisplayFrom: "Bob", DisplayTo: "alice@example.org",
		MessageID: "1@example.org", InReplyTo: "0@example.org",
		References: []string{"a@example.org", "0@example.org"},
		HasRe:      true,
	}
	got := sd[0]
	if !got.Date.Equal(want.Date) {
		t.Errorf("SortData: Date = %v; want %v", got.Date, want.Date)
	}
	got.Date = want.Date
	if !strings.EqualFold(got.BaseSubject, want.BaseSubject) {
		t.Errorf("SortData: BaseSubject = %q; want %q (in any case)", got.BaseSubject, want.BaseSubject)
	}
	got.BaseSubject = want.BaseSubject
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SortData = %+v; want %+v", got, want)
	}
	if sd[1].UID != all[1] || !sd[1].Date.IsZero() || sd[1].HasRe {
		t.Errorf("SortData of a message without Date = %+v; want UID %d, zero date", sd[1], all[1])
	}
}

func testConcurrent(t *testing.T, e *suiteEnv) {
	const n = 20
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				e.deliver(suiteMsg3)
			}
		}()
	}
	u := e.login(t)
	m := open(t, u, "INBOX", false)
	seen := map[uint32]uint64{}
	for range n {
		ch := poll(t, m)
		checkChanges(t, ch)
		for _, msg := range ch.Messages {
			if msg.ModSeq < seen[msg.UID] {
				t.Errorf("Poll: message %d went back from mod-sequence %d to %d", msg.UID, seen[msg.UID], msg.ModSeq)
			}
			seen[msg.UID] = msg.ModSeq
		}
		store(t, m, uidsOf(ch.Messages), imap.StoreAdd, `\Seen`)
	}
	wg.Wait()
	for _, msg := range poll(t, m).Messages {
		seen[msg.UID] = msg.ModSeq
	}
	if len(seen) != 4*n {
		t.Errorf("after %d concurrent deliveries, Poll reported %d messages", 4*n, len(seen))
	}
	if st := status(t, u, "INBOX"); st.Messages != 4*n || st.Recent != 0 {
		t.Errorf("Status = %+v; want %d messages, none \\Recent", st, 4*n)
	}
}
