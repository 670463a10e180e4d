//go:build unix

package peers_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
)

func TestIMAP_ListMessages(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	msgs := []string{msgHello, msgDots, msgBig}
	uids := deliver(t, d, msgs...)
	c := imapLogin(t, d, nil)
	ctx := testContext(t)

	got, err := inetimap.ListMessages(ctx, c, "INBOX")
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("ListMessages() = %d messages; want %d", len(got), len(msgs))
	}
	for i, s := range got {
		subject := []string{"hello", "dots", "big"}[i]
		if s.SeqNum != uint32(i+1) || s.UID != uids[i] || s.Size != int64(len(msgs[i])) ||
			s.Subject != subject || s.From != "Bob <bob@example.org>" || s.InternalDate.IsZero() || slices.Contains(s.Flags, imap.FlagSeen) {
			t.Errorf("ListMessages()[%d] = %+v; want seq %d, UID %d, size %d, subject %q, from Bob, a date, not \\Seen",
				i, s, i+1, uids[i], len(msgs[i]), subject)
		}
	}
	for i, uid := range uids {
		b, err := inetimap.FetchMessage(ctx, c, "INBOX", uid)
		if err != nil || string(b) != msgs[i] {
			t.Errorf("FetchMessage(UID %d) = %q..., %v; want %q...", uid, truncate(string(b)), err, truncate(msgs[i]))
		}
	}
	if _, err := inetimap.FetchMessage(ctx, c, "INBOX", uids[2]+10); !errors.Is(err, inetimap.ErrNoMessage) {
		t.Errorf("FetchMessage of a missing UID: %v; want ErrNoMessage", err)
	}
	// FetchMessage peeks: no message became \Seen.
	got, err = inetimap.ListMessages(ctx, c, "INBOX")
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	for _, s := range got {
		if slices.Contains(s.Flags, imap.FlagSeen) {
			t.Errorf("message %d is \\Seen after FetchMessage: %v", s.SeqNum, s.Flags)
		}
	}
	if _, err := inetimap.ListMessages(ctx, c, "No such mailbox"); err == nil {
		t.Error("ListMessages of a missing mailbox succeeded")
	}
	// An empty mailbox lists nothing.
	if err := c.Create("Empty", nil).Wait(); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	if got, err := inetimap.ListMessages(ctx, c, "Empty"); err != nil || len(got) != 0 {
		t.Errorf("ListMessages(Empty) = %v, %v; want none", got, err)
	}
}

func TestIMAP_DialStartTLS(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	uids := deliver(t, d, msgDots)
	ctx := testContext(t)
	c, err := inetimap.DialStartTLS(ctx, d.IMAPAddr, &inetimap.ClientOptions{TLSConfig: testcert.ClientConfig()})
	if err != nil {
		t.Fatalf("DialStartTLS: %v", err)
	}
	defer c.Close()
	// Dovecot stops offering STARTTLS once TLS is on.
	if caps := c.Caps(); caps.Has(imap.CapStartTLS) || !caps.Has(imap.CapIMAP4rev1) {
		t.Errorf("capabilities after DialStartTLS = %v; want IMAP4rev1 without STARTTLS", caps)
	}
	if err := c.Login(d.User, d.Pass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	if b, err := inetimap.FetchMessage(ctx, c, "INBOX", uids[0]); err != nil || string(b) != msgDots {
		t.Errorf("FetchMessage over TLS = %q, %v; want %q", b, err, msgDots)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Errorf("LOGOUT: %v", err)
	}

	// Without the test CA, the certificate is not trusted.
	if c, err := inetimap.DialStartTLS(ctx, d.IMAPAddr, &inetimap.ClientOptions{TLSConfig: &tls.Config{ServerName: "localhost"}}); err == nil {
		c.Close()
		t.Error("DialStartTLS trusted a certificate from an unknown CA")
	}
	// A dead context stops the dial.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if c, err := inetimap.Dial(dead, d.IMAPAddr, nil); err == nil {
		c.Close()
		t.Error("Dial with a cancelled context succeeded")
	}
}

func TestIMAP_Watch(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	deliver(t, d, msgHello)
	// Dovecot's "+ idling" says the watcher is in IDLE, after its SELECT:
	// any message appended from then on must be reported.
	idling := newWatchWriter("+ idling")
	w := imapLogin(t, d, &inetimap.ClientOptions{DebugWriter: idling})
	other := imapLogin(t, d, nil)

	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	seen := make(chan inetimap.MessageSummary, 10)
	done := make(chan error, 1)
	go func() {
		done <- inetimap.Watch(ctx, w, "INBOX", func(s inetimap.MessageSummary) error { seen <- s; return nil }, nil)
	}()
	next := func() inetimap.MessageSummary {
		t.Helper()
		select {
		case s := <-seen:
			return s
		case err := <-done:
			t.Fatalf("Watch returned early: %v", err)
		case <-ctx.Done():
			t.Fatalf("waiting for Watch: %v", ctx.Err())
		}
		return inetimap.MessageSummary{}
	}

	idling.wait(t, ctx)
	uid := appendMessage(t, other, "INBOX", message("new one", "x\r\n"))
	if s := next(); s.UID != uid || s.SeqNum != 2 || s.Subject != "new one" {
		t.Errorf("Watch saw %+v; want UID %d, seq 2, subject \"new one\"", s, uid)
	}
	// Two at once, reported in order, each once.
	idling.wait(t, ctx)
	uid3 := appendMessage(t, other, "INBOX", message("third", "x\r\n"))
	uid4 := appendMessage(t, other, "INBOX", message("fourth", "x\r\n"))
	for _, want := range []imap.UID{uid3, uid4} {
		if s := next(); s.UID != want {
			t.Errorf("Watch saw UID %d (%q); want %d", s.UID, s.Subject, want)
		}
	}
	select {
	case s := <-seen:
		t.Errorf("Watch saw an extra message %+v", s)
	default:
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch after cancel = %v; want context.Canceled", err)
	}
	// The client is still usable.
	got, err := inetimap.ListMessages(testContext(t), w, "INBOX")
	if err != nil || len(got) != 4 {
		t.Errorf("ListMessages after Watch = %d messages, %v; want 4", len(got), err)
	}
}

func TestIMAP_URL(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	uids := deliver(t, d, msgHello, msgDots)
	c := imapLogin(t, d, nil)
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("EXAMINE: %v", err)
	}
	host, port, _ := net.SplitHostPort(d.IMAPAddr)

	// RFC 5092 form, with the user's "@" escaped.
	s := fmt.Sprintf("imap://%s;AUTH=PLAIN@%s/INBOX;UIDVALIDITY=%d/;UID=%d",
		url.PathEscape(d.User), d.IMAPAddr, sel.UIDValidity, uids[1])
	u, err := inetimap.ParseURL(s)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s, err)
	}
	want := inetimap.URL{Scheme: "imap", User: d.User, Auth: "PLAIN", Host: d.IMAPAddr, Mailbox: "INBOX",
		UIDValidity: sel.UIDValidity, UID: uids[1]}
	if *u != want {
		t.Errorf("ParseURL(%q) = %+v; want %+v", s, *u, want)
	}
	if got := u.String(); got != fmt.Sprintf("imap://alice%%40example.org;AUTH=PLAIN@%s/INBOX;UIDVALIDITY=%d/;UID=%d", d.IMAPAddr, sel.UIDValidity, uids[1]) {
		t.Errorf("String() = %q", got)
	}
	if again, err := inetimap.ParseURL(u.String()); err != nil || *again != *u {
		t.Errorf("ParseURL(String()) = %+v, %v; want %+v", again, err, *u)
	}

	// curl's form, with the password; the URL is enough to fetch the message.
	s = fmt.Sprintf("imap://%s:%s@%s:%s/INBOX;UID=%d", url.PathEscape(d.User), d.Pass, host, port, uids[1])
	u, err = inetimap.ParseURL(s)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s, err)
	}
	ctx := testContext(t)
	c2, err := inetimap.Dial(ctx, u.Host, nil)
	if err != nil {
		t.Fatalf("Dial(%q): %v", u.Host, err)
	}
	defer c2.Close()
	if err := c2.Login(u.User, u.Password).Wait(); err != nil {
		t.Fatalf("LOGIN as %q: %v", u.User, err)
	}
	if b, err := inetimap.FetchMessage(ctx, c2, u.Mailbox, u.UID); err != nil || string(b) != msgDots {
		t.Errorf("FetchMessage(%q, %d) = %q, %v; want %q", u.Mailbox, u.UID, b, err, msgDots)
	}
	if again, err := inetimap.ParseURL(u.String()); err != nil || *again != *u {
		t.Errorf("ParseURL(%q) = %+v, %v; want %+v", u.String(), again, err, *u)
	}

	// The user as people type it, "@" unescaped.
	s = fmt.Sprintf("imap://%s:%s@%s/INBOX", d.User, d.Pass, d.IMAPAddr)
	if u, err := inetimap.ParseURL(s); err != nil || u.User != d.User || u.Password != d.Pass || u.Host != d.IMAPAddr {
		t.Errorf("ParseURL(%q) = %+v, %v; want user %q, password %q, host %q", s, u, err, d.User, d.Pass, d.IMAPAddr)
	}

	// A mailbox name with a space, "&" (modified UTF-7's escape) and
	// non-ASCII: UTF-8 percent-escaped in the URL (RFC 5092 §3), and
	// what go-imap encodes for Dovecot.
	const box = "Entwürfe & Notizen"
	if err := c2.Create(box, nil).Wait(); err != nil {
		t.Fatalf("CREATE %q: %v", box, err)
	}
	uid := appendMessage(t, c2, box, msgHello)
	u = &inetimap.URL{Scheme: "imap", Host: d.IMAPAddr, Mailbox: box, UID: uid}
	parsed, err := inetimap.ParseURL(u.String())
	if err != nil || *parsed != *u {
		t.Fatalf("ParseURL(%q) = %+v, %v; want %+v", u.String(), parsed, err, *u)
	}
	if b, err := inetimap.FetchMessage(ctx, c2, parsed.Mailbox, parsed.UID); err != nil || string(b) != msgHello {
		t.Errorf("FetchMessage(%q, %d) = %q, %v; want %q", parsed.Mailbox, parsed.UID, b, err, msgHello)
	}
	boxes, err := c2.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	if !slices.ContainsFunc(boxes, func(b *imap.ListData) bool { return b.Mailbox == box }) {
		t.Errorf("LIST * = %+v; want %q", boxes, box)
	}
}

// TestIMAP_imapclient drives go-imap's client, made by inetkit's Dial,
// through the commands a mail reader uses.
func TestIMAP_imapclient(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	deliver(t, d, msgHello, msgDots, msgBig)
	c := imapLogin(t, d, nil)

	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	var names []string
	for _, b := range boxes {
		names = append(names, b.Mailbox)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Archive", "INBOX"}) {
		t.Errorf("LIST * = %v; want [Archive INBOX]", names)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 3 {
		t.Fatalf("SELECT INBOX = %+v, %v; want 3 messages", sel, err)
	}

	// FETCH the second message's body; it becomes \Seen.
	msgs, err := c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{
		Flags: true, Envelope: true, BodySection: []*imap.FetchItemBodySection{{}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH 2 = %v, %v", msgs, err)
	}
	if m := msgs[0]; m.Envelope.Subject != "dots" || len(m.BodySection) != 1 || string(m.BodySection[0].Bytes) != msgDots {
		t.Errorf("FETCH 2 = subject %q, body %+v; want \"dots\", %q", m.Envelope.Subject, m.BodySection, msgDots)
	}
	flags := func(seq uint32) []imap.Flag {
		t.Helper()
		msgs, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{Flags: true}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("FETCH %d FLAGS = %v, %v", seq, msgs, err)
		}
		return msgs[0].Flags
	}
	if f := flags(2); !slices.Contains(f, imap.FlagSeen) {
		t.Errorf("flags of a fetched message = %v; want \\Seen", f)
	}

	// STORE
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Work"}}, nil).Collect(); err != nil {
		t.Fatalf("STORE +FLAGS: %v", err)
	}
	if f := flags(1); !slices.Contains(f, imap.FlagFlagged) || !slices.Contains(f, "$Work") {
		t.Errorf("flags after STORE +FLAGS = %v; want \\Flagged and $Work", f)
	}
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{"$Work"}}, nil).Collect(); err != nil {
		t.Fatalf("STORE -FLAGS.SILENT: %v", err)
	}
	if f := flags(1); !slices.Contains(f, imap.FlagFlagged) || slices.Contains(f, "$Work") {
		t.Errorf("flags after STORE -FLAGS = %v; want \\Flagged without $Work", f)
	}

	// MOVE the flagged message to Archive.
	if _, err := c.Move(imap.SeqSetNum(1), "Archive").Wait(); err != nil {
		t.Fatalf("MOVE: %v", err)
	}
	st, err := c.Status("Archive", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages != 1 {
		t.Errorf("STATUS Archive = %+v, %v; want 1 message", st, err)
	}

	// EXPUNGE the (now first) dots message.
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatalf("STORE \\Deleted: %v", err)
	}
	expunged, err := c.Expunge().Collect()
	if err != nil || !slices.Equal(expunged, []uint32{1}) {
		t.Errorf("EXPUNGE = %v, %v; want [1]", expunged, err)
	}
	left, err := inetimap.ListMessages(testContext(t), c, "INBOX")
	if err != nil || len(left) != 1 || left[0].Subject != "big" {
		t.Errorf("INBOX after MOVE and EXPUNGE = %+v, %v; want the big message", left, err)
	}
	archived, err := inetimap.ListMessages(testContext(t), c, "Archive")
	if err != nil || len(archived) != 1 || archived[0].Subject != "hello" || !slices.Contains(archived[0].Flags, imap.FlagFlagged) {
		t.Errorf("Archive = %+v, %v; want the flagged hello message", archived, err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Errorf("LOGOUT: %v", err)
	}
}

// TestIMAP_loginFailed checks that Dovecot's NO to a wrong password comes
// back as an *imap.Error, through inetkit's Dial.
func TestIMAP_loginFailed(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	c, err := inetimap.Dial(testContext(t), d.IMAPAddr, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	err = c.Login(d.User, "wrong").Wait()
	var ierr *imap.Error
	if !errors.As(err, &ierr) || ierr.Type != imap.StatusResponseTypeNo || ierr.Code != imap.ResponseCodeAuthenticationFailed {
		t.Errorf("LOGIN with a wrong password: %v; want NO [AUTHENTICATIONFAILED]", err)
	}
	if err := c.Login(d.User, d.Pass).Wait(); err != nil {
		t.Errorf("LOGIN after a failure: %v", err)
	}
}

func TestIMAP_DialTLS(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	uids := deliver(t, d, msgHello)
	ctx := testContext(t)
	c, err := inetimap.DialTLS(ctx, d.IMAPSAddr, &inetimap.ClientOptions{TLSConfig: testcert.ClientConfig()})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	defer c.Close()
	if err := c.Login(d.User, d.Pass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	if b, err := inetimap.FetchMessage(ctx, c, "INBOX", uids[0]); err != nil || string(b) != msgHello {
		t.Errorf("FetchMessage = %q, %v; want %q", b, err, msgHello)
	}
	// Without the test CA, the certificate is not trusted.
	if c, err := inetimap.DialTLS(ctx, d.IMAPSAddr, &inetimap.ClientOptions{TLSConfig: &tls.Config{ServerName: "localhost"}}); err == nil {
		c.Close()
		t.Error("DialTLS trusted a certificate from an unknown CA")
	}
}
