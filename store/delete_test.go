package store_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/store"
)

func msg(from, subject string) string {
	return "From: " + from + "\r\nTo: alice@example.org\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
}

// subjects returns the subjects of the messages of a mailbox, sorted.
func subjects(t *testing.T, st *store.Store, address, mailbox string) []string {
	t.Helper()
	msgs, err := st.Messages(context.Background(), address, mailbox)
	if err != nil {
		t.Fatalf("Messages(%s, %s): %v", address, mailbox, err)
	}
	var out []string
	for _, m := range msgs {
		_, rest, _ := strings.Cut(string(m.Body), "Subject: ")
		s, _, _ := strings.Cut(rest, "\r\n")
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// fillStore delivers to alice's INBOX four messages and to bob's INBOX
// one, and appends one to alice's Sent.
func fillStore(t *testing.T, st *store.Store, addr string) {
	t.Helper()
	deliver(t, st, "alice@example.org", msg("Bob <bob@example.org>", "Lunch today"))
	deliver(t, st, "alice@example.org", msg("carol@example.org", "=?UTF-8?Q?Caf=C3=A9_menu?="))
	deliver(t, st, "alice@example.org", msg("=?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>", "Invoice 42"))
	deliver(t, st, "alice@example.org", msg("Bob <bob@example.org>", "Invoice 43"))
	deliver(t, st, "bob@example.org", msg("alice@example.org", "Invoice 44"))
	c := imapDial(t, addr, "alice@example.org", "x", nil)
	appendMsg(t, c, "Sent", msg("alice@example.org", "Sent invoice"), nil)
	c.Logout()
}

func TestDeleteMessages(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		filter     store.MessageFilter
		n          int
		aliceInbox []string
		aliceSent  int
		bobInbox   int
	}{
		{"INBOX", store.MessageFilter{Address: "Alice@Example.org", Mailbox: "inbox"}, 4, nil, 1, 1},
		{"all mailboxes", store.MessageFilter{Address: "alice@example.org"}, 5, nil, 0, 1},
		{"everyone's INBOX", store.MessageFilter{Mailbox: "INBOX"}, 5, nil, 1, 0},
		{"everything", store.MessageFilter{}, 6, nil, 0, 0},
		{"subject", store.MessageFilter{Address: "alice@example.org", Mailbox: "INBOX", Subject: "INVOICE"}, 2,
			[]string{"=?UTF-8?Q?Caf=C3=A9_menu?=", "Lunch today"}, 1, 1},
		{"encoded subject", store.MessageFilter{Address: "alice@example.org", Mailbox: "INBOX", Subject: "CAFÉ"}, 1,
			[]string{"Invoice 42", "Invoice 43", "Lunch today"}, 1, 1},
		{"from", store.MessageFilter{Address: "alice@example.org", Mailbox: "INBOX", From: "bob@"}, 2,
			[]string{"=?UTF-8?Q?Caf=C3=A9_menu?=", "Invoice 42"}, 1, 1},
		{"encoded from name", store.MessageFilter{Address: "alice@example.org", Mailbox: "INBOX", From: "zoë"}, 1,
			[]string{"=?UTF-8?Q?Caf=C3=A9_menu?=", "Invoice 43", "Lunch today"}, 1, 1},
		{"subject and from", store.MessageFilter{Address: "alice@example.org", Subject: "invoice", From: "bob"}, 1,
			[]string{"=?UTF-8?Q?Caf=C3=A9_menu?=", "Invoice 42", "Lunch today"}, 1, 1},
		{"everyone's invoices", store.MessageFilter{Subject: "invoice"}, 4,
			[]string{"=?UTF-8?Q?Caf=C3=A9_menu?=", "Lunch today"}, 0, 0},
		{"no match", store.MessageFilter{Address: "alice@example.org", Subject: "nothing like it"}, 0,
			[]string{"=?UTF-8?Q?Caf=C3=A9_menu?=", "Invoice 42", "Invoice 43", "Lunch today"}, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, addr := newIMAPStore(t)
			fillStore(t, st, addr)
			n, err := st.DeleteMessages(ctx, tc.filter)
			if err != nil || n != tc.n {
				t.Fatalf("DeleteMessages(%+v) = %d, %v; want %d, nil", tc.filter, n, err, tc.n)
			}
			if got := subjects(t, st, "alice@example.org", "INBOX"); !slices.Equal(got, tc.aliceInbox) {
				t.Errorf("alice's INBOX left: %q; want %q", got, tc.aliceInbox)
			}
			if got := len(subjects(t, st, "alice@example.org", "Sent")); got != tc.aliceSent {
				t.Errorf("alice's Sent left: %d; want %d", got, tc.aliceSent)
			}
			if got := len(subjects(t, st, "bob@example.org", "INBOX")); got != tc.bobInbox {
				t.Errorf("bob's INBOX left: %d; want %d", got, tc.bobInbox)
			}
		})
	}
}

func TestDeleteMessages_notFound(t *testing.T) {
	ctx := context.Background()
	st, addr := newIMAPStore(t)
	fillStore(t, st, addr)
	for _, tc := range []struct {
		filter store.MessageFilter
		want   store.NotFoundError
	}{
		{store.MessageFilter{Address: "nobody@example.org"}, store.NotFoundError{Address: "nobody@example.org"}},
		{store.MessageFilter{Address: "nobody@example.org", Mailbox: "INBOX"}, store.NotFoundError{Address: "nobody@example.org"}},
		{store.MessageFilter{Address: "alice@example.org", Mailbox: "Nope"}, store.NotFoundError{Address: "alice@example.org", Mailbox: "Nope"}},
	} {
		n, err := st.DeleteMessages(ctx, tc.filter)
		var nf *store.NotFoundError
		if n != 0 || !errors.As(err, &nf) || *nf != tc.want || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteMessages(%+v) = %d, %v; want 0, %v", tc.filter, n, err, &tc.want)
		}
	}
	// A mailbox that only some users have: the others are passed over.
	c := imapDial(t, addr, "alice@example.org", "x", nil)
	if err := c.Create("Later", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c, "Later", msg("x@example.org", "later"), nil)
	if n, err := st.DeleteMessages(ctx, store.MessageFilter{Mailbox: "Later"}); n != 1 || err != nil {
		t.Errorf("DeleteMessages(everyone's Later) = %d, %v; want 1, nil", n, err)
	}
}

// expungeWatcher is an IMAP session with INBOX selected that records the
// EXPUNGE responses it gets.
type expungeWatcher struct {
	c   *imapclient.Client
	mu  sync.Mutex
	got []uint32
	ch  chan struct{}
}

func watchExpunges(t *testing.T, addr, user string) *expungeWatcher {
	t.Helper()
	w := &expungeWatcher{ch: make(chan struct{}, 100)}
	w.c = imapDial(t, addr, user, "x", &imapclient.UnilateralDataHandler{Expunge: func(seq uint32) {
		w.mu.Lock()
		w.got = append(w.got, seq)
		w.mu.Unlock()
		w.ch <- struct{}{}
	}})
	if _, err := w.c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return w
}

// wait waits for n EXPUNGE responses and returns them.
func (w *expungeWatcher) wait(t *testing.T, n int) []uint32 {
	t.Helper()
	for range n {
		select {
		case <-w.ch:
		case <-time.After(10 * time.Second):
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("got EXPUNGEs %v; want %d", w.got, n)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// checkDeleteReachesIMAP deletes two of alice's four INBOX messages through
// requester and checks that an IMAP session of server's in IDLE, and one
// with INBOX selected, are told through EXPUNGE.
func checkDeleteReachesIMAP(t *testing.T, server, requester *store.Store, addr string) {
	ctx := context.Background()
	for _, s := range []string{"keep", "drop 1", "keep", "drop 2"} {
		deliver(t, server, "alice@example.org", msg("bob@example.org", s))
	}
	idler := watchExpunges(t, addr, "alice@example.org")
	idle, err := idler.c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	selected := watchExpunges(t, addr, "alice@example.org")
	n, err := requester.DeleteMessages(ctx, store.MessageFilter{Address: "alice@example.org", Mailbox: "INBOX", Subject: "drop"})
	if n != 2 || err != nil {
		t.Fatalf("DeleteMessages = %d, %v; want 2, nil", n, err)
	}
	if got := idler.wait(t, 2); !slices.Equal(got, []uint32{4, 2}) {
		t.Errorf("EXPUNGEs in IDLE: %v; want [4 2]", got)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := selected.c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if got := selected.wait(t, 2); !slices.Equal(got, []uint32{4, 2}) {
		t.Errorf("EXPUNGEs after NOOP: %v; want [4 2]", got)
	}
	msgs, err := selected.c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != 3 {
		t.Errorf("FETCH 1:2 after the EXPUNGEs = %v, %v; want UIDs 1 and 3", msgs, err)
	}
}

// The IMAP sessions of the process that deletes hear of it.
func TestDeleteMessages_imapSessionsSeeExpunge(t *testing.T) {
	st, addr := newIMAPStore(t)
	checkDeleteReachesIMAP(t, st, st, addr)
}

// serverAndTool opens a data directory as inetkit serve does (Exclusive,
// AnyLogin) with an IMAP server over it, and a second Store on the same
// directory as an inetkit command does.
func serverAndTool(t *testing.T) (server, tool *store.Store, addr string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the data directory's lock, by which a command finds the server, is Unix only")
	}
	dir := t.TempDir()
	server = openStore(t, dir, &store.Options{Exclusive: true, AnyLogin: true})
	tool = openStore(t, dir, &store.Options{MustExist: true})
	return server, tool, imapServe(t, server)
}

// Deleting from another process (inetkit mail rm while inetkit serve
// runs): the server carries it out, and its IMAP sessions hear of it.
func TestDeleteMessages_fromAnotherProcess(t *testing.T) {
	server, tool, addr := serverAndTool(t)
	checkDeleteReachesIMAP(t, server, tool, addr)
	_, err := tool.DeleteMessages(context.Background(), store.MessageFilter{Address: "alice@example.org", Mailbox: "Nope"})
	var nf *store.NotFoundError
	if !errors.As(err, &nf) || nf.Mailbox != "Nope" || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteMessages(no such mailbox) from another process = %v; want a *NotFoundError", err)
	}
	var pending int
	if err := tool.DB().QueryRow(`SELECT count(*) FROM requests`).Scan(&pending); err != nil || pending != 0 {
		t.Errorf("%d requests left in the table (%v); want 0", pending, err)
	}
}

// A POP3 session holding the maildrop keeps working: a message deleted
// under it is answered as deleted by another session, and QUIT commits.
func TestDeleteMessages_pop3SessionHoldingTheMaildrop(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", &store.Options{AnyLogin: true})
	deliver(t, st, "alice@example.org", msg("bob@example.org", "one"))
	deliver(t, st, "alice@example.org", msg("bob@example.org", "two"))
	sess, err := st.POP3Backend().Login(ctx, "alice@example.org", "x")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if n, err := st.DeleteMessages(ctx, store.MessageFilter{Address: "alice@example.org", Subject: "one"}); n != 1 || err != nil {
		t.Fatalf("DeleteMessages while POP3 holds the maildrop = %d, %v; want 1, nil", n, err)
	}
	_, err = sess.Open(ctx, 1)
	var pe *pop3.Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "deleted by another session") {
		t.Errorf("RETR of the deleted message = %v; want a -ERR saying it was deleted", err)
	}
	r, err := sess.Open(ctx, 2)
	if err != nil {
		t.Fatalf("RETR of the message left = %v", err)
	}
	io.Copy(io.Discard, r)
	r.Close()
	if err := sess.Commit(ctx, []int{1, 2}); err != nil {
		t.Errorf("QUIT deleting both = %v; want nil", err)
	}
	if got := subjects(t, st, "alice@example.org", "INBOX"); len(got) != 0 {
		t.Errorf("INBOX left %q; want nothing", got)
	}
}

// checkRemoveUser removes alice through requester: the IMAP session with
// her INBOX selected is disconnected, her mail and mailboxes are gone,
// bodies shared with bob stay, and a login in any-login mode makes her
// again, empty.
func checkRemoveUser(t *testing.T, server, requester *store.Store, addr string) {
	ctx := context.Background()
	if err := server.Deliver(ctx, []string{"alice@example.org", "bob@example.org"}, []byte(msg("carol@example.org", "both")), time.Now()); err != nil {
		t.Fatal(err)
	}
	deliver(t, server, "alice@example.org", msg("carol@example.org", "alice only"))
	c := imapDial(t, addr, "alice@example.org", "x", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	u, err := requester.RemoveUser(ctx, "Alice@example.org")
	if err != nil {
		t.Fatalf("RemoveUser = %v", err)
	}
	if u.Address != "alice@example.org" || u.Kind != store.UserKindRecipient || u.Messages() != 2 || len(u.Mailboxes) != 6 {
		t.Errorf("RemoveUser returned %+v; want alice, made by RCPT, with 2 messages in 6 mailboxes", u)
	}
	if err := c.Noop().Wait(); err == nil {
		t.Error("the IMAP session of a removed user still answers NOOP")
	}
	var n int
	server.DB().QueryRow(`SELECT count(*) FROM mailboxes m JOIN users u ON u.id = m.user_id WHERE u.address = 'alice@example.org'`).Scan(&n)
	if users, _ := server.Users(ctx); !slices.Equal(users, []string{"bob@example.org"}) || n != 0 {
		t.Errorf("after RemoveUser: users %q, %d mailboxes of alice; want bob only and none", users, n)
	}
	if got := subjects(t, server, "bob@example.org", "INBOX"); !slices.Equal(got, []string{"both"}) {
		t.Errorf("bob's INBOX: %q; want the shared message", got)
	}
	server.DB().QueryRow(`SELECT count(*) FROM bodies`).Scan(&n)
	if n != 1 {
		t.Errorf("%d bodies left; want 1 (bob's)", n)
	}
	if _, err := requester.RemoveUser(ctx, "alice@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveUser again = %v; want ErrNotFound", err)
	}
	c2 := imapDial(t, addr, "alice@example.org", "x", nil)
	if st, err := c2.Select("INBOX", nil).Wait(); err != nil || st.NumMessages != 0 {
		t.Errorf("SELECT INBOX after a new login = %v, %v; want an empty INBOX", st, err)
	}
}

func TestRemoveUser(t *testing.T) {
	st, addr := newIMAPStore(t)
	checkRemoveUser(t, st, st, addr)
}

func TestRemoveUser_fromAnotherProcess(t *testing.T) {
	server, tool, addr := serverAndTool(t)
	checkRemoveUser(t, server, tool, addr)
}
