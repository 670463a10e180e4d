package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/store"
)

const imapAlice = "alice@example.org"

// imapLogin logs in to st's IMAPBackend as alice, made if needed.
func imapLogin(t testing.TB, st *store.Store) imap.User {
	t.Helper()
	ctx := context.Background()
	if err := st.AddUser(ctx, imapAlice, "secret"); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	u, err := st.IMAPBackend().Login(ctx, imapAlice, "secret")
	if err != nil {
		t.Fatalf("Login = %v", err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// imapOpen opens mailbox name of u, closed at the end of the test.
func imapOpen(t testing.TB, u imap.User, name string, readOnly bool) imap.Mailbox {
	t.Helper()
	mb, err := u.Open(context.Background(), name, readOnly)
	if err != nil {
		t.Fatalf("Open(%q) = %v", name, err)
	}
	t.Cleanup(func() { mb.Close() })
	return mb
}

func imapPoll(t testing.TB, mb imap.Mailbox) *imap.Changes {
	t.Helper()
	ch, err := mb.Poll(context.Background())
	if err != nil {
		t.Fatalf("Poll = %v", err)
	}
	return ch
}

func testMessage(subject string) []byte {
	return []byte("From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: " + subject +
		"\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <" + subject + "@x>\r\n\r\nbody of " + subject + "\r\n")
}

func imapDeliver(t testing.TB, st *store.Store, subjects ...string) {
	t.Helper()
	for _, s := range subjects {
		if err := st.Deliver(context.Background(), []string{imapAlice}, testMessage(s), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// waitChanged fails unless ch receives a value within a few seconds.
func waitChanged(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no wake-up", what)
	}
}

// drainChanged empties a Changed channel.
func drainChanged(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func uidsOf(msgs []imap.MessageState) []uint32 {
	var out []uint32
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}

func TestIMAPBackend_Login(t *testing.T) {
	st := openStore(t, "", nil)
	imapLogin(t, st)
	_, err := st.IMAPBackend().Login(context.Background(), imapAlice, "wrong")
	if !errors.Is(err, imap.ErrAuthFailed) {
		t.Errorf("Login with a wrong password = %v; want ErrAuthFailed", err)
	}
}

func TestIMAPUser_CreateMailbox(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	ctx := context.Background()
	if err := u.CreateMailbox(ctx, "a/b/c", nil); err != nil {
		t.Fatal(err)
	}
	if err := u.CreateMailbox(ctx, "Stuff", []string{`\flagged`}); err != nil {
		t.Fatal(err)
	}
	if err := u.CreateMailbox(ctx, "a/b", nil); !errors.Is(err, imap.ErrAlreadyExists) {
		t.Errorf("CreateMailbox of a parent made = %v; want ErrAlreadyExists", err)
	}
	if err := u.CreateMailbox(ctx, "Bad", []string{`\Nonsense`}); err == nil {
		t.Error("CreateMailbox with an unknown special use succeeded")
	}
	for _, bad := range []string{"", "a//b", "/a", "a/", ".", "a/..", "x/./y", "tab\there", "star*"} {
		if err := u.CreateMailbox(ctx, bad, nil); !errors.Is(err, imap.ErrBadName) {
			t.Errorf("CreateMailbox(%q) = %v; want ErrBadName", bad, err)
		}
	}
	got := mailboxNames(t, u)
	want := []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Stuff", "Trash", "a", "a/b", "a/b/c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Mailboxes (-want +got):\n%s", diff)
	}
	mbs, _ := u.Mailboxes(ctx)
	for _, mi := range mbs {
		if mi.Name == "Stuff" && !slices.Equal(mi.SpecialUse, []string{`\Flagged`}) {
			t.Errorf("Stuff's special use = %q; want \\Flagged", mi.SpecialUse)
		}
	}
}

// mailboxNames returns the names of u's mailboxes, sorted.
func mailboxNames(t testing.TB, u imap.User) []string {
	t.Helper()
	mbs, err := u.Mailboxes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mi := range mbs {
		names = append(names, mi.Name)
	}
	sort.Strings(names)
	return names
}

func TestIMAPUser_DeleteMailbox(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	ctx := context.Background()
	if err := u.CreateMailbox(ctx, "a/b", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, "a", []*imap.AppendMessage{{Body: testMessage("x")}}); err != nil {
		t.Fatal(err)
	}
	if err := u.Subscribe(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if err := u.DeleteMailbox(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if names := mailboxNames(t, u); slices.Contains(names, "a") || !slices.Contains(names, "a/b") {
		t.Errorf("after DeleteMailbox(a): %q; want a/b kept, a gone", names)
	}
	if subs, _ := u.Subscriptions(ctx); !slices.Contains(subs, "a") {
		t.Errorf("subscriptions after DeleteMailbox(a) = %q; want a kept", subs)
	}
	if err := u.DeleteMailbox(ctx, "a"); !errors.Is(err, imap.ErrNonExistent) {
		t.Errorf("second DeleteMailbox = %v; want ErrNonExistent", err)
	}
	var ie *imap.Error
	if err := u.DeleteMailbox(ctx, "INBOX"); !errors.As(err, &ie) {
		t.Errorf("DeleteMailbox(INBOX) = %v; want an *imap.Error", err)
	}
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM bodies`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d bodies left (%v); want the deleted message's gone", n, err)
	}
}

func TestIMAPUser_RenameMailbox(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	ctx := context.Background()
	for _, name := range []string{"a/b/c", "ab"} {
		if err := u.CreateMailbox(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
	}
	before, err := u.Status(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.RenameMailbox(ctx, "a", "x/y"); err != nil {
		t.Fatal(err)
	}
	want := []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash", "ab", "x", "x/y", "x/y/b", "x/y/b/c"}
	if diff := cmp.Diff(want, mailboxNames(t, u)); diff != "" {
		t.Errorf("after RenameMailbox(a, x/y) (-want +got):\n%s", diff)
	}
	after, err := u.Status(ctx, "x/y/b")
	if err != nil || after.UIDValidity != before.UIDValidity {
		t.Errorf("UIDVALIDITY after rename = %v (%v); want %d", after, err, before.UIDValidity)
	}
	for _, tc := range []struct {
		from, to string
		want     error
	}{
		{"nope", "z", imap.ErrNonExistent},
		{"ab", "x", imap.ErrAlreadyExists},
		{"ab", "ab", imap.ErrAlreadyExists},
		{"ab", "a//b", imap.ErrBadName},
	} {
		if err := u.RenameMailbox(ctx, tc.from, tc.to); !errors.Is(err, tc.want) {
			t.Errorf("RenameMailbox(%q, %q) = %v; want %v", tc.from, tc.to, err, tc.want)
		}
	}
}

// Renaming INBOX moves its messages to the new mailbox and leaves INBOX
// empty; a session with INBOX selected sees them expunged.
func TestIMAPUser_RenameMailbox_inbox(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	ctx := context.Background()
	imapDeliver(t, st, "one", "two")
	inbox := imapOpen(t, u, "INBOX", false)
	imapPoll(t, inbox)
	if err := u.RenameMailbox(ctx, "inbox", "Old/Mail"); err != nil {
		t.Fatal(err)
	}
	ch := imapPoll(t, inbox)
	if !slices.Equal(ch.Expunged, []uint32{1, 2}) {
		t.Errorf("INBOX after its rename: Expunged %v; want [1 2]", ch.Expunged)
	}
	old := imapOpen(t, u, "Old/Mail", false)
	if got := uidsOf(imapPoll(t, old).Messages); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("Old/Mail holds UIDs %v; want [1 2]", got)
	}
	imapDeliver(t, st, "three")
	if got := uidsOf(imapPoll(t, inbox).Messages); !slices.Equal(got, []uint32{3}) {
		t.Errorf("new mail in INBOX after the rename: UIDs %v; want [3]", got)
	}
}

func TestIMAPUser_Subscribe(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	ctx := context.Background()
	if err := u.Subscribe(ctx, "does/not/exist", true); err != nil {
		t.Fatal(err)
	}
	if err := u.Subscribe(ctx, "does/not/exist", true); err != nil {
		t.Errorf("second Subscribe = %v", err)
	}
	if err := u.Subscribe(ctx, "Junk", false); err != nil {
		t.Fatal(err)
	}
	subs, err := u.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(subs)
	want := []string{"Archive", "Drafts", "INBOX", "Sent", "Trash", "does/not/exist"}
	if diff := cmp.Diff(want, subs); diff != "" {
		t.Errorf("Subscriptions (-want +got):\n%s", diff)
	}
	// The mailboxes table's subscribed column follows.
	var on bool
	if err := st.DB().QueryRow(`SELECT subscribed FROM mailboxes WHERE name = 'Junk'`).Scan(&on); err != nil || on {
		t.Errorf("mailboxes.subscribed of Junk = %v (%v); want false", on, err)
	}
}

func TestIMAPUser_Status(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	ctx := context.Background()
	res, err := u.Append(ctx, "Drafts", []*imap.AppendMessage{
		{Body: testMessage("a"), Flags: []string{`\Seen`}},
		{Body: testMessage("b"), Flags: []string{`\Deleted`, "$Label"}},
		{Body: testMessage("c")},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := u.Status(ctx, "Drafts")
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(testMessage("a")) * 3)
	want := &imap.MailboxStatus{Messages: 3, Recent: 3, Unseen: 2, Deleted: 1, UIDNext: 4, UIDValidity: res.UIDValidity, Size: size, HighestModSeq: got.HighestModSeq}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	if got.HighestModSeq < 4 {
		t.Errorf("HighestModSeq = %d; want at least 4 after three appends and flags", got.HighestModSeq)
	}
	if _, err := u.Status(ctx, "nope"); !errors.Is(err, imap.ErrNonExistent) {
		t.Errorf("Status(nope) = %v; want ErrNonExistent", err)
	}
	imapPoll(t, imapOpen(t, u, "Drafts", false))
	if got, _ := u.Status(ctx, "Drafts"); got.Recent != 0 {
		t.Errorf("Recent after a SELECT = %d; want 0", got.Recent)
	}
}

func TestIMAPUser_Append(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	ctx := context.Background()
	date := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	res, err := u.Append(ctx, "INBOX", []*imap.AppendMessage{
		{Body: testMessage("a"), Flags: []string{`\Flagged`, "$Work"}, Date: date},
		{Body: []byte("Subject: bare\n\nLF only\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Dest, []uint32{1, 2}) || res.UIDValidity == 0 {
		t.Errorf("Append = %+v; want UIDs 1, 2", res)
	}
	ch := imapPoll(t, imapOpen(t, u, "INBOX", false))
	if len(ch.Messages) != 2 {
		t.Fatalf("Poll after Append: %d messages", len(ch.Messages))
	}
	m := ch.Messages[0]
	if !m.InternalDate.Equal(date) || !slices.Equal(m.Flags, []string{"$Work", `\Flagged`}) && !slices.Equal(m.Flags, []string{`\Flagged`, "$Work"}) {
		t.Errorf("appended message: %+v", m)
	}
	if ch.Messages[1].Size != int64(len("Subject: bare\n\nLF only\n")) {
		t.Errorf("size of a message with bare LFs = %d; want it stored as sent", ch.Messages[1].Size)
	}
	if !slices.Equal(ch.Keywords, []string{"$Work"}) {
		t.Errorf("Keywords = %q; want [$Work]", ch.Keywords)
	}
	if _, err := u.Append(ctx, "Nope", []*imap.AppendMessage{{Body: testMessage("x")}}); !errors.Is(err, imap.ErrNonExistent) {
		t.Errorf("Append to a missing mailbox = %v; want ErrNonExistent", err)
	}
}

// MULTIAPPEND is all or none: a message that fails leaves none stored.
func TestIMAPUser_Append_allOrNone(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	ctx := context.Background()
	big := make([]byte, 64<<20+1)
	_, err := u.Append(ctx, "INBOX", []*imap.AppendMessage{{Body: testMessage("a")}, {Body: big}})
	if !errors.Is(err, imap.ErrTooBig) {
		t.Errorf("Append with a message over the limit = %v; want ErrTooBig", err)
	}
	if s, _ := u.Status(ctx, "INBOX"); s.Messages != 0 || s.UIDNext != 1 {
		t.Errorf("INBOX after a refused MULTIAPPEND: %+v; want empty", s)
	}
}

// Two sessions on one mailbox: each change of one is seen by the other,
// in mod-sequence order, with the mod-sequence the first was told.
func TestIMAPMailbox_modSeqAcrossSessions(t *testing.T) {
	st := openStore(t, "", nil)
	u1, u2 := imapLogin(t, st), imapLogin(t, st)
	imapDeliver(t, st, "one", "two", "three")
	a := imapOpen(t, u1, "INBOX", false)
	b := imapOpen(t, u2, "INBOX", false)
	cha, chb := imapPoll(t, a), imapPoll(t, b)
	if cha.HighestModSeq != chb.HighestModSeq || len(cha.Messages) != 3 {
		t.Fatalf("first polls: %d messages, HIGHESTMODSEQ %d and %d", len(cha.Messages), cha.HighestModSeq, chb.HighestModSeq)
	}
	base := cha.HighestModSeq
	drainChanged(b.Changed())
	ctx := context.Background()
	changed, _, err := a.Store(ctx, []uint32{2}, imap.StoreAdd, []string{`\Seen`}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].ModSeq <= base || !slices.Equal(changed[0].Flags, []string{`\Seen`}) {
		t.Fatalf("Store = %+v; want message 2 \\Seen with a modseq above %d", changed, base)
	}
	waitChanged(t, b.Changed(), "session b after a's STORE")
	ch := imapPoll(t, b)
	if len(ch.Messages) != 1 || ch.Messages[0].UID != 2 || ch.Messages[0].ModSeq != changed[0].ModSeq || ch.HighestModSeq != changed[0].ModSeq {
		t.Errorf("b's Poll = %+v; want message 2 at modseq %d", ch, changed[0].ModSeq)
	}
	// A second change, then an expunge: modseqs keep growing.
	changed2, _, err := b.Store(ctx, []uint32{1, 3}, imap.StoreReplace, []string{`\Deleted`}, 0)
	if err != nil || len(changed2) != 2 || changed2[0].ModSeq <= changed[0].ModSeq || changed2[1].ModSeq <= changed2[0].ModSeq {
		t.Fatalf("b.Store = %+v, %v", changed2, err)
	}
	gone, err := b.Expunge(ctx, []uint32{3})
	if err != nil || !slices.Equal(gone, []uint32{3}) {
		t.Fatalf("Expunge(3) = %v, %v", gone, err)
	}
	ch = imapPoll(t, a)
	// a changed message 2 itself after its last Poll: it is reported too.
	if got := uidsOf(ch.Messages); !slices.Equal(got, []uint32{1, 2}) || !slices.Equal(ch.Expunged, []uint32{3}) {
		t.Errorf("a's Poll: messages %v, expunged %v; want [1 2], [3]", got, ch.Expunged)
	}
	if ch.HighestModSeq <= changed2[1].ModSeq {
		t.Errorf("HIGHESTMODSEQ after expunge = %d; want above %d", ch.HighestModSeq, changed2[1].ModSeq)
	}
	v, err := a.Vanished(ctx, base)
	if err != nil || !slices.Equal(v, []uint32{3}) {
		t.Errorf("Vanished(%d) = %v, %v; want [3]", base, v, err)
	}
	if v, _ := a.Vanished(ctx, ch.HighestModSeq); len(v) != 0 {
		t.Errorf("Vanished(HIGHESTMODSEQ) = %v; want none", v)
	}
}

// STORE UNCHANGEDSINCE (RFC 7162 §3.1.3) skips the messages changed after
// the mod-sequence given.
func TestIMAPMailbox_Store_unchangedSince(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	imapDeliver(t, st, "one", "two")
	mb := imapOpen(t, u, "INBOX", false)
	ch := imapPoll(t, mb)
	ctx := context.Background()
	first, _, err := mb.Store(ctx, []uint32{1}, imap.StoreAdd, []string{"$A"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	changed, modified, err := mb.Store(ctx, []uint32{1, 2}, imap.StoreAdd, []string{"$B"}, ch.HighestModSeq)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(modified, []uint32{1}) || len(changed) != 1 || changed[0].UID != 2 {
		t.Errorf("Store UNCHANGEDSINCE %d: changed %+v, modified %v; want 2 changed, 1 modified (at %d)", ch.HighestModSeq, changed, modified, first[0].ModSeq)
	}
	// Setting a flag a message has is no change.
	changed, _, err = mb.Store(ctx, []uint32{2}, imap.StoreAdd, []string{"$b"}, 0)
	if err != nil || len(changed) != 0 {
		t.Errorf("Store of a flag already set = %+v, %v; want no change", changed, err)
	}
	changed, _, err = mb.Store(ctx, []uint32{1}, imap.StoreRemove, []string{"$a"}, 0)
	if err != nil || len(changed) != 1 || len(changed[0].Flags) != 0 {
		t.Errorf("-FLAGS ($a) = %+v, %v; want no flags left", changed, err)
	}
	ro := imapOpen(t, u, "INBOX", true)
	if _, _, err := ro.Store(ctx, []uint32{1}, imap.StoreAdd, []string{`\Seen`}, 0); err == nil {
		t.Error("Store on a mailbox opened read-only succeeded")
	}
	if _, err := ro.Expunge(ctx, nil); err == nil {
		t.Error("Expunge on a mailbox opened read-only succeeded")
	}
}

// \Recent (RFC 3501 §2.3.2): the first read-write session gets the new
// messages as recent, no other does; EXAMINE sees them without taking them.
func TestIMAPMailbox_recent(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	imapDeliver(t, st, "one", "two")
	recent := func(ch *imap.Changes) []uint32 {
		var out []uint32
		for _, m := range ch.Messages {
			if m.Recent {
				out = append(out, m.UID)
			}
		}
		return out
	}
	ro := imapOpen(t, u, "INBOX", true)
	if got := recent(imapPoll(t, ro)); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("EXAMINE: recent %v; want [1 2]", got)
	}
	a := imapOpen(t, u, "INBOX", false)
	if got := recent(imapPoll(t, a)); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("first SELECT after EXAMINE: recent %v; want [1 2]", got)
	}
	b := imapOpen(t, u, "INBOX", false)
	if got := recent(imapPoll(t, b)); len(got) != 0 {
		t.Errorf("second SELECT: recent %v; want none", got)
	}
	imapDeliver(t, st, "three")
	if got := recent(imapPoll(t, b)); !slices.Equal(got, []uint32{3}) {
		t.Errorf("b polls a new message first: recent %v; want [3]", got)
	}
	ch := imapPoll(t, a)
	if got := uidsOf(ch.Messages); !slices.Equal(got, []uint32{3}) || len(recent(ch)) != 0 {
		t.Errorf("a polls after b: %+v; want message 3, not recent", ch.Messages)
	}
	if got := recent(imapPoll(t, ro)); len(got) != 0 {
		t.Errorf("EXAMINE session polls message 3 taken by b: recent %v; want none", got)
	}
	// A flag change keeps the message recent for the session that has it.
	changed, _, err := b.Store(context.Background(), []uint32{3}, imap.StoreAdd, []string{`\Seen`}, 0)
	if err != nil || len(changed) != 1 || !changed[0].Recent {
		t.Errorf("Store on b's recent message = %+v, %v; want it still recent", changed, err)
	}
}

// A delivery over the store's Deliver wakes the user's and the mailbox's
// Changed channels.
func TestIMAPBackend_deliveryWakes(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	mb := imapOpen(t, u, "INBOX", false)
	imapPoll(t, mb)
	other := imapOpen(t, u, "Sent", false)
	imapPoll(t, other)
	// The first commit after Open may wake any watcher: settle first.
	imapDeliver(t, st, "settle")
	drainChanged(u.Changed())
	drainChanged(mb.Changed())
	drainChanged(other.Changed())
	imapPoll(t, mb)
	imapDeliver(t, st, "hello")
	waitChanged(t, mb.Changed(), "INBOX after a delivery")
	waitChanged(t, u.Changed(), "user after a delivery")
	select {
	case <-other.Changed():
		t.Error("Sent woken by a delivery to INBOX")
	default:
	}
	ch := imapPoll(t, mb)
	if len(ch.Messages) != 1 || ch.Messages[0].UID != 2 || ch.UIDNext != 3 {
		t.Errorf("Poll after delivery = %+v; want message 2", ch)
	}
	// A mailbox created wakes the user.
	if err := u.CreateMailbox(context.Background(), "New", nil); err != nil {
		t.Fatal(err)
	}
	waitChanged(t, u.Changed(), "user after CREATE")
}

// A POP3 deletion is an expunge for IMAP: Poll reports it and Vanished
// returns it.
func TestIMAPBackend_pop3DeletionVanished(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	imapDeliver(t, st, "one", "two")
	mb := imapOpen(t, u, "INBOX", true)
	first := imapPoll(t, mb)
	ctx := context.Background()
	sess, err := st.POP3Backend().Login(ctx, imapAlice, "secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Commit(ctx, []int{1}); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	waitChanged(t, mb.Changed(), "INBOX after a POP3 deletion")
	ch := imapPoll(t, mb)
	if !slices.Equal(ch.Expunged, []uint32{1}) || ch.HighestModSeq <= first.HighestModSeq {
		t.Errorf("Poll after POP3 DELE: expunged %v, HIGHESTMODSEQ %d; want [1], above %d", ch.Expunged, ch.HighestModSeq, first.HighestModSeq)
	}
	if v, err := mb.Vanished(ctx, first.HighestModSeq); err != nil || !slices.Equal(v, []uint32{1}) {
		t.Errorf("Vanished = %v, %v; want [1]", v, err)
	}
}

// A deletion from the console is an expunge too.
func TestIMAPBackend_consoleDeletion(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	imapDeliver(t, st, "keep", "drop")
	mb := imapOpen(t, u, "INBOX", false)
	imapPoll(t, mb)
	if n, err := st.DeleteMessages(context.Background(), store.MessageFilter{Address: imapAlice, Subject: "drop"}); err != nil || n != 1 {
		t.Fatalf("DeleteMessages = %d, %v", n, err)
	}
	waitChanged(t, mb.Changed(), "INBOX after a console deletion")
	if ch := imapPoll(t, mb); !slices.Equal(ch.Expunged, []uint32{2}) {
		t.Errorf("expunged %v; want [2]", ch.Expunged)
	}
}

func TestIMAPMailbox_Expunge(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	imapDeliver(t, st, "1", "2", "3", "4")
	mb := imapOpen(t, u, "INBOX", false)
	imapPoll(t, mb)
	ctx := context.Background()
	if _, _, err := mb.Store(ctx, []uint32{1, 2, 4}, imap.StoreAdd, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	gone, err := mb.Expunge(ctx, []uint32{2, 3, 4})
	if err != nil || !slices.Equal(gone, []uint32{2, 4}) {
		t.Errorf("UID EXPUNGE 2:4 = %v, %v; want [2 4]", gone, err)
	}
	gone, err = mb.Expunge(ctx, nil)
	if err != nil || !slices.Equal(gone, []uint32{1}) {
		t.Errorf("EXPUNGE = %v, %v; want [1]", gone, err)
	}
	if ch := imapPoll(t, mb); !slices.Equal(ch.Expunged, []uint32{1, 2, 4}) {
		t.Errorf("Poll after own expunges: %v; want [1 2 4]", ch.Expunged)
	}
}

func TestIMAPMailbox_Copy(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	imapDeliver(t, st, "1", "2", "3")
	ctx := context.Background()
	inbox := imapOpen(t, u, "INBOX", false)
	imapPoll(t, inbox)
	if _, _, err := inbox.Store(ctx, []uint32{2}, imap.StoreAdd, []string{`\Flagged`, "$K"}, 0); err != nil {
		t.Fatal(err)
	}
	arch := imapOpen(t, u, "Archive", false)
	imapPoll(t, arch)
	drainChanged(arch.Changed())
	res, err := inbox.Copy(ctx, []uint32{2, 3, 9}, "Archive", false)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := u.Status(ctx, "Archive")
	if !slices.Equal(res.Source, []uint32{2, 3}) || !slices.Equal(res.Dest, []uint32{1, 2}) || res.UIDValidity != st2.UIDValidity {
		t.Errorf("Copy = %+v; want 2,3 → 1,2 in Archive (UIDVALIDITY %d)", res, st2.UIDValidity)
	}
	waitChanged(t, arch.Changed(), "Archive after COPY")
	ch := imapPoll(t, arch)
	if len(ch.Messages) != 2 || !slices.Contains(ch.Messages[0].Flags, "$K") || !ch.Messages[0].Recent {
		t.Fatalf("Archive after COPY: %+v; want two recent messages, the first with $K", ch.Messages)
	}
	if m := ch.Messages; m[0].ModSeq == m[1].ModSeq || max(m[0].ModSeq, m[1].ModSeq) != ch.HighestModSeq {
		t.Errorf("copies' mod-sequences %d, %d, HIGHESTMODSEQ %d; want distinct, the highest the mailbox's", m[0].ModSeq, m[1].ModSeq, ch.HighestModSeq)
	}
	res, err = inbox.Copy(ctx, []uint32{1}, "Trash", true)
	if err != nil || !slices.Equal(res.Source, []uint32{1}) || !slices.Equal(res.Dest, []uint32{1}) {
		t.Fatalf("MOVE = %+v, %v", res, err)
	}
	if ch := imapPoll(t, inbox); !slices.Equal(ch.Expunged, []uint32{1}) {
		t.Errorf("INBOX after MOVE: expunged %v; want [1]", ch.Expunged)
	}
	if _, err := inbox.Copy(ctx, []uint32{2}, "Nope", false); !errors.Is(err, imap.ErrNonExistent) {
		t.Errorf("COPY to a missing mailbox = %v; want ErrNonExistent", err)
	}
	var bodies int
	st.DB().QueryRow(`SELECT count(*) FROM bodies`).Scan(&bodies)
	if bodies != 3 {
		t.Errorf("%d bodies after COPY and MOVE; want 3, shared", bodies)
	}
}

// Fetch reads a body larger than a stored piece at any offset.
func TestIMAPMailbox_Fetch(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	var b strings.Builder
	b.WriteString("Subject: big\r\n\r\n")
	for i := 0; b.Len() < 200<<10; i++ {
		fmt.Fprintf(&b, "line %d\r\n", i)
	}
	big := []byte(b.String())
	small := testMessage("small")
	res, err := u.Append(context.Background(), "INBOX", []*imap.AppendMessage{{Body: small}, {Body: big}})
	if err != nil {
		t.Fatal(err)
	}
	mb := imapOpen(t, u, "INBOX", false)
	want := map[uint32][]byte{res.Dest[0]: small, res.Dest[1]: big}
	var seen []uint32
	err = mb.Fetch(context.Background(), []uint32{1, 2, 7}, func(m *imap.Message) error {
		seen = append(seen, m.UID)
		w := want[m.UID]
		if m.Size != int64(len(w)) {
			t.Errorf("message %d: Size %d; want %d", m.UID, m.Size, len(w))
		}
		got, err := io.ReadAll(io.NewSectionReader(m.Body, 0, m.Size))
		if err != nil || string(got) != string(w) {
			t.Errorf("message %d: read %d bytes (%v); want %d", m.UID, len(got), err, len(w))
		}
		// Across a piece boundary, and past the end.
		if m.Size > 70000 {
			p := make([]byte, 100)
			if n, err := m.Body.ReadAt(p, 65536-50); n != 100 || err != nil || string(p) != string(w[65536-50:65536+50]) {
				t.Errorf("ReadAt across pieces = %d, %v", n, err)
			}
		}
		p := make([]byte, 10)
		if n, err := m.Body.ReadAt(p, m.Size-4); n != 4 || err != io.EOF {
			t.Errorf("ReadAt at the end = %d, %v; want 4, EOF", n, err)
		}
		return nil
	})
	if err != nil || !slices.Equal(seen, []uint32{1, 2}) {
		t.Errorf("Fetch = %v; saw %v, want [1 2]", err, seen)
	}
}

// SortData is computed when a message is stored, delivered or appended,
// and read back as NewSortData gave it.
func TestIMAPMailbox_SortData(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	imapDeliver(t, st, "delivered")
	msg := []byte("From: \"Zoe Z\" <zoe@example.org>\r\nTo: a@example.org\r\nCc: c@example.org\r\nSubject: Re: [list] Hello (fwd)\r\n" +
		"Date: Tue, 03 Jan 2006 10:00:00 +0100\r\nMessage-ID: <m1@x>\r\nIn-Reply-To: <m0@x>\r\nReferences: <r1@x> <m0@x>\r\n\r\nbody\r\n")
	if _, err := u.Append(context.Background(), "INBOX", []*imap.AppendMessage{{Body: msg}}); err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := st.DB().QueryRow(`SELECT count(*) FROM bodies WHERE sort_subject IS NOT NULL`).Scan(&stored); err != nil || stored != 2 {
		t.Errorf("%d bodies with their SortData before any SORT (%v); want both, computed when stored", stored, err)
	}
	mb := imapOpen(t, u, "INBOX", false)
	for round := 0; round < 2; round++ {
		got, err := mb.SortData(context.Background(), []uint32{1, 2, 5})
		if err != nil {
			t.Fatal(err)
		}
		want := []imap.SortData{imap.NewSortData(1, testMessage("delivered")), imap.NewSortData(2, msg)}
		// Dates compare with their zones: SENTON reads the date there.
		sameZone := cmp.Comparer(func(a, b time.Time) bool {
			_, za := a.Zone()
			_, zb := b.Zone()
			return a.Equal(b) && za == zb
		})
		if diff := cmp.Diff(want, got, sameZone); diff != "" {
			t.Errorf("round %d: SortData (-want +got):\n%s", round, diff)
		}
	}
}

func TestIMAPMailbox_openMissing(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapLogin(t, st)
	if _, err := u.Open(context.Background(), "Nope", false); !errors.Is(err, imap.ErrNonExistent) {
		t.Errorf("Open(Nope) = %v; want ErrNonExistent", err)
	}
	// A mailbox deleted while selected: Poll says so.
	if err := u.CreateMailbox(context.Background(), "Gone", nil); err != nil {
		t.Fatal(err)
	}
	mb := imapOpen(t, u, "Gone", false)
	imapPoll(t, mb)
	if err := u.DeleteMailbox(context.Background(), "Gone"); err != nil {
		t.Fatal(err)
	}
	waitChanged(t, mb.Changed(), "a deleted mailbox")
	if _, err := mb.Poll(context.Background()); !errors.Is(err, imap.ErrNonExistent) {
		t.Errorf("Poll of a deleted mailbox = %v; want ErrNonExistent", err)
	}
}

// APPEND with the disk fuller than Options.MinFreeBytes allows is
// OVERQUOTA, and stores nothing.
func TestIMAPUser_Append_overQuota(t *testing.T) {
	st := openStore(t, "", &store.Options{MinFreeBytes: 1 << 62})
	u := imapLogin(t, st)
	ctx := context.Background()
	_, err := u.Append(ctx, "INBOX", []*imap.AppendMessage{{Body: testMessage("a")}})
	if !errors.Is(err, imap.ErrOverQuota) {
		t.Errorf("Append on a full disk = %v; want ErrOverQuota", err)
	}
	if s, _ := u.Status(ctx, "INBOX"); s.Messages != 0 {
		t.Errorf("INBOX after a refused APPEND holds %d messages", s.Messages)
	}
}
