package mailtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/mailtest"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/store"
)

// testContext returns a context that ends with the test, or after 20 s so
// that a broken test fails instead of hanging.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pop3Login dials the POP3 server with STLS and logs in.
func pop3Login(t testing.TB, s *mailtest.Server, user, pass string) *pop3.Client {
	t.Helper()
	c, err := pop3.DialStartTLS(testContext(t), s.POP3Addr, &pop3.ClientOptions{TLSConfig: s.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("POP3 Login(%q) = %v", user, err)
	}
	return c
}

// imapLogin dials the IMAP server with STARTTLS, logs in and, if mailbox is
// not empty, selects it. h, if not nil, receives unilateral data.
func imapLogin(t testing.TB, s *mailtest.Server, user, mailbox string, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c, err := inetimap.DialStartTLS(testContext(t), s.IMAPAddr, &inetimap.ClientOptions{TLSConfig: s.TLSConfig(), UnilateralDataHandler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, "any password").Wait(); err != nil {
		t.Fatalf("IMAP Login(%q) = %v", user, err)
	}
	if mailbox != "" {
		if _, err := c.Select(mailbox, nil).Wait(); err != nil {
			t.Fatalf("SELECT %s: %v", mailbox, err)
		}
	}
	return c
}

func retrieve(t testing.TB, c *pop3.Client, n int) []byte {
	t.Helper()
	rc, err := c.Retrieve(n)
	if err != nil {
		t.Fatalf("RETR %d: %v", n, err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("RETR %d: %v", n, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("RETR %d: %v", n, err)
	}
	return b
}

func hasHeader(name, value string) func([]byte) bool {
	want := []byte("\r\n" + name + ": " + value + "\r\n")
	return func(msg []byte) bool { return bytes.Contains(msg, want) }
}

// traceRE matches the trace fields the SMTP server prepends (RFC 5321
// §4.4): a Return-Path and one Received field, folded.
var traceRE = regexp.MustCompile(`^Return-Path: <bob@example\.org>\r\nReceived: from [^\r\n]+\r\n(\t[^\r\n]+\r\n)+$`)

// A message sent over SMTP is read over POP3 and IMAP, byte for byte the
// same: the message as sent (with CRLF) after the trace fields.
func TestServer_crossProtocol(t *testing.T) {
	s := mailtest.NewServer(t)
	ctx := testContext(t)
	sent := "From: bob@example.org\nTo: alice@example.org\nSubject: cross\nMessage-ID: <cross@example.org>\n\nHello Alice,\n.a line starting with a dot\n..two dots\n\ttab\n"
	if err := s.Send(ctx, "bob@example.org", []string{"alice@example.org"}, sent); err != nil {
		t.Fatal(err)
	}
	got, err := s.WaitForMessage(ctx, "alice@example.org", hasHeader("Message-ID", "<cross@example.org>"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(sent, "\n", "\r\n")
	trace, ok := bytes.CutSuffix(got, []byte(body))
	if !ok {
		t.Fatalf("stored message does not end with the message sent:\n%q", got)
	}
	if !traceRE.Match(trace) {
		t.Errorf("stored message starts with %q; want only Return-Path and Received", trace)
	}
	if !bytes.Contains(trace, []byte("with ESMTPS")) {
		t.Errorf("Received field %q does not say ESMTPS: Send did not use STARTTLS", trace)
	}

	p := pop3Login(t, s, "alice@example.org", "whatever")
	if n, size, err := p.Stat(); err != nil || n != 1 || size != int64(len(got)) {
		t.Errorf("STAT = %d, %d, %v; want 1, %d, nil", n, size, err, len(got))
	}
	if b := retrieve(t, p, 1); !bytes.Equal(b, got) {
		t.Errorf("POP3 RETR 1 = %q;\nwant %q", b, got)
	}
	if err := p.Quit(); err != nil {
		t.Fatal(err)
	}

	c := imapLogin(t, s, "Alice@Example.org", "", nil)
	b, err := inetimap.FetchMessage(ctx, c, "INBOX", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, got) {
		t.Errorf("IMAP FETCH BODY.PEEK[] = %q;\nwant %q", b, got)
	}
}

// A deletion over POP3, committed at QUIT, reaches an IMAP session that has
// INBOX selected as EXPUNGE; the store and POP3 agree afterwards.
func TestServer_pop3DeleteExpungesIMAP(t *testing.T) {
	s := mailtest.NewServer(t)
	ctx := testContext(t)
	for i := 1; i <= 3; i++ {
		if err := s.Send(ctx, "bob@example.org", []string{"alice@example.org"}, fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var expunged []uint32
	c := imapLogin(t, s, "alice@example.org", "", &imapclient.UnilateralDataHandler{Expunge: func(seq uint32) {
		mu.Lock()
		expunged = append(expunged, seq)
		mu.Unlock()
	}})
	// The SelectData, not c.Mailbox(): go-imap's client ends Wait before it
	// records the selected mailbox.
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != 3 {
		t.Fatalf("SELECT INBOX = %+v, %v; want 3 messages", sel, err)
	}

	p := pop3Login(t, s, "alice@example.org", "x")
	if err := p.Delete(2); err != nil {
		t.Fatal(err)
	}
	// Before QUIT nothing is deleted (RFC 1939 §6).
	if msgs, err := s.Store.Messages(ctx, "alice@example.org", "INBOX"); err != nil || len(msgs) != 3 {
		t.Fatalf("before QUIT: %d messages, %v; want 3", len(msgs), err)
	}
	if err := p.Quit(); err != nil {
		t.Fatal(err)
	}

	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !slices.Equal(expunged, []uint32{2}) {
		t.Errorf("IMAP EXPUNGEs %v; want [2]", expunged)
	}
	mu.Unlock()
	if n := c.Mailbox().NumMessages; n != 2 {
		t.Errorf("IMAP client counts %d messages; want 2", n)
	}
	fetched, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var uids []imap.UID
	for _, m := range fetched {
		uids = append(uids, m.UID)
	}
	if !slices.Equal(uids, []imap.UID{1, 3}) {
		t.Errorf("IMAP UIDs %v; want [1 3]", uids)
	}

	p = pop3Login(t, s, "alice@example.org", "x")
	if n, _, err := p.Stat(); err != nil || n != 2 {
		t.Errorf("POP3 STAT after QUIT = %d, %v; want 2", n, err)
	}
	if b := retrieve(t, p, 2); !bytes.HasSuffix(b, []byte("Subject: m3\r\n\r\nbody 3\r\n")) {
		t.Errorf("POP3 RETR 2 = %q; want message 3", b)
	}
}

// Flags set over IMAP are stored (Store.Messages sees them), announced to
// another session with the mailbox selected, and do not hide the message
// from POP3; \Deleted and EXPUNGE remove it for POP3 too.
func TestServer_imapFlags(t *testing.T) {
	s := mailtest.NewServer(t)
	ctx := testContext(t)
	for i := 1; i <= 2; i++ {
		if err := s.Send(ctx, "bob@example.org", []string{"alice@example.org"}, fmt.Sprintf("Subject: f%d\r\n\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	flagsSeen := make(chan []imap.Flag, 10)
	watcher := imapLogin(t, s, "alice@example.org", "INBOX", &imapclient.UnilateralDataHandler{Fetch: func(m *imapclient.FetchMessageData) {
		buf, err := m.Collect()
		if err == nil && buf.Flags != nil {
			flagsSeen <- buf.Flags
		}
	}})
	c := imapLogin(t, s, "alice@example.org", "INBOX", nil)

	if err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, imap.FlagSeen}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Store.Messages(ctx, "alice@example.org", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !slices.Equal(msgs[0].Flags, []string{`\Flagged`, `\Seen`}) || len(msgs[1].Flags) != 0 {
		t.Fatalf("stored flags: %+v", msgs)
	}
	if err := watcher.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	// go-imap's client calls the Fetch handler in a goroutine of its own.
	select {
	case f := <-flagsSeen:
		// \Recent is the watcher's own: it selected INBOX first (RFC 3501
		// §2.3.2) and speaks IMAP4rev1.
		f = slices.DeleteFunc(f, func(fl imap.Flag) bool { return fl == `\Recent` })
		slices.Sort(f)
		if !slices.Equal(f, []imap.Flag{imap.FlagFlagged, imap.FlagSeen}) {
			t.Errorf("other session got FLAGS %v; want \\Flagged \\Seen (\\Recent aside)", f)
		}
	case <-ctx.Done():
		t.Error("other session got no FETCH FLAGS after NOOP")
	}

	p := pop3Login(t, s, "alice@example.org", "x")
	if n, _, err := p.Stat(); err != nil || n != 2 {
		t.Errorf("POP3 STAT with flags set = %d, %v; want 2", n, err)
	}
	p.Quit()

	if err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	p = pop3Login(t, s, "alice@example.org", "x")
	if n, _, err := p.Stat(); err != nil || n != 1 {
		t.Errorf("POP3 STAT after IMAP EXPUNGE = %d, %v; want 1", n, err)
	}
	if b := retrieve(t, p, 1); !bytes.HasSuffix(b, []byte("Subject: f2\r\n\r\n")) {
		t.Errorf("POP3 RETR 1 = %q; want message f2", b)
	}
}

// A session in IDLE hears EXISTS when a message arrives over SMTP.
func TestServer_idleSeesSMTPDelivery(t *testing.T) {
	s := mailtest.NewServer(t)
	ctx := testContext(t)
	exists := make(chan uint32, 10)
	c := imapLogin(t, s, "alice@example.org", "INBOX", &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
		if d.NumMessages != nil {
			exists <- *d.NumMessages
		}
	}})
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, "bob@example.org", []string{"alice@example.org"}, "Subject: idle\r\n\r\nwake up\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d; want 1", n)
		}
	case <-ctx.Done():
		t.Fatal("no EXISTS in IDLE after an SMTP delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestServer_WaitForMessage(t *testing.T) {
	s := mailtest.NewServer(t)
	ctx := testContext(t)

	// Waiting starts before the address exists; a message that does not
	// match does not end the wait, the next one does.
	type result struct {
		msg []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := s.WaitForMessage(ctx, "carol@example.org", hasHeader("Subject", "second"))
		done <- result{m, err}
	}()
	for _, subj := range []string{"first", "second", "third"} {
		if err := s.Send(ctx, "bob@example.org", []string{"carol@example.org"}, "Subject: "+subj+"\r\n\r\n"+subj+"\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	if r.err != nil || !bytes.HasSuffix(r.msg, []byte("Subject: second\r\n\r\nsecond\r\n")) {
		t.Errorf("WaitForMessage(second) = %q, %v", r.msg, r.err)
	}

	// A nil match takes the oldest message; mail to others is not seen.
	if m, err := s.WaitForMessage(ctx, "CAROL@example.org", nil); err != nil || !bytes.HasSuffix(m, []byte("first\r\n")) {
		t.Errorf("WaitForMessage(nil) = %q, %v; want the first message", m, err)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if m, err := s.WaitForMessage(short, "dave@example.org", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForMessage(no mail) = %q, %v; want DeadlineExceeded", m, err)
	}
	canceled, cancel2 := context.WithCancel(ctx)
	cancel2()
	if _, err := s.WaitForMessage(canceled, "carol@example.org", hasHeader("Subject", "never")); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitForMessage(canceled) = %v; want Canceled", err)
	}

	// A closed store is an error, not a hang.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitForMessage(ctx, "carol@example.org", hasHeader("Subject", "never")); err == nil || ctx.Err() != nil {
		t.Errorf("WaitForMessage after Close = %v; want an error at once", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// A wait that is in progress when a delivery commits wakes (through
// Store.Changed) and returns it.
func TestServer_WaitForMessage_wakesOnCommit(t *testing.T) {
	s := mailtest.NewServer(t)
	ctx := testContext(t)
	changed := s.Store.Changed()
	done := make(chan error, 1)
	go func() {
		_, err := s.WaitForMessage(ctx, "erin@example.org", nil)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("WaitForMessage returned %v before any delivery", err)
	case <-changed:
		t.Fatal("store changed before any delivery")
	default:
	}
	if err := s.Store.Deliver(ctx, []string{"erin@example.org"}, []byte("Subject: direct\r\n\r\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With Users, only those users exist, passwords are checked, and SMTP
// refuses mail for other addresses; Send reports the refusal.
func TestNewServerWithOptions_users(t *testing.T) {
	s := mailtest.NewServerWithOptions(t, &mailtest.Options{Users: map[string]string{"alice@example.org": "secret"}})
	ctx := testContext(t)

	c, err := pop3.DialStartTLS(ctx, s.POP3Addr, &pop3.ClientOptions{TLSConfig: s.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pe *pop3.Error
	if err := c.Login("alice@example.org", "wrong"); !errors.As(err, &pe) || pe.Code != "AUTH" {
		t.Errorf("POP3 login with a wrong password = %v; want -ERR [AUTH]", err)
	}
	ic, err := inetimap.DialStartTLS(ctx, s.IMAPAddr, &inetimap.ClientOptions{TLSConfig: s.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login("nobody@example.org", "secret").Wait(); err == nil {
		t.Error("IMAP login of an unknown user succeeded")
	}

	err = s.Send(ctx, "bob@example.org", []string{"alice@example.org", "nobody@example.org"}, "Subject: partly\r\n\r\n")
	var se *smtp.Error
	if !errors.As(err, &se) || se.Code != 550 || !strings.Contains(err.Error(), "nobody@example.org") {
		t.Errorf("Send to a known and an unknown address = %v; want a 550 for nobody@example.org", err)
	}
	if _, err := s.WaitForMessage(ctx, "alice@example.org", hasHeader("Subject", "partly")); err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice@example.org", "secret"); err != nil {
		t.Fatalf("POP3 login with the right password = %v", err)
	}
	if n, _, err := c.Stat(); err != nil || n != 1 {
		t.Errorf("STAT = %d, %v; want 1", n, err)
	}
	if err := s.Send(ctx, "bob@example.org", []string{"nobody@example.org"}, "Subject: nobody\r\n\r\n"); err == nil {
		t.Error("Send to an unknown address only = nil; want an error")
	}
	if users, _ := s.Store.Users(ctx); !slices.Equal(users, []string{"alice@example.org"}) {
		t.Errorf("users %v; want only alice", users)
	}
}

// Every message acknowledged with 250 is in the store after Close and a
// reopen (HARDENING S14/X1, in process): the SMTP server says 250 only
// after the commit. The files as they are right after the last 250, before
// Close, already hold every message.
func TestServer_ackedMessagesAreDurable(t *testing.T) {
	s := mailtest.NewServer(t)
	ctx := testContext(t)
	const sessions, perSession = 4, 10
	var mu sync.Mutex
	acked := map[string]bool{} // Message-ID → 250 received
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			c, err := smtp.DialStartTLS(ctx, s.SMTPAddr, &smtp.ClientOptions{TLSConfig: s.TLSConfig()})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for j := range perSession {
				id := fmt.Sprintf("<%d.%d@durable>", i, j)
				msg := fmt.Sprintf("Message-ID: %s\r\nSubject: durable\r\n\r\n%s\r\n", id, strings.Repeat("x", 1000*j))
				if err := sendOne(c, "bob@example.org", "dora@example.org", []byte(msg)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
			c.Quit()
		})
	}
	wg.Wait()
	if len(acked) != sessions*perSession {
		t.Fatalf("%d messages acknowledged; want %d", len(acked), sessions*perSession)
	}
	check := func(st *store.Store, what string) {
		t.Helper()
		msgs, err := st.Messages(ctx, "dora@example.org", "INBOX")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		found := map[string]bool{}
		for _, m := range msgs {
			for id := range acked {
				if bytes.Contains(m.Body, []byte("\r\nMessage-ID: "+id+"\r\n")) {
					var i, j int
					fmt.Sscanf(id, "<%d.%d@durable>", &i, &j)
					if !bytes.HasSuffix(m.Body, []byte("\r\n\r\n"+strings.Repeat("x", 1000*j)+"\r\n")) || int64(len(m.Body)) != m.Size {
						t.Errorf("%s: message %s is damaged", what, id)
					}
					found[id] = true
				}
			}
		}
		if len(found) != len(acked) || len(msgs) != len(acked) {
			t.Errorf("%s: %d of %d acknowledged messages found among %d", what, len(found), len(acked), len(msgs))
		}
		var ic string
		if err := st.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
			t.Errorf("%s: integrity_check = %q, %v", what, ic, err)
		}
	}

	// The database and its WAL as they are on disk now, without Close or
	// checkpoint: what a crash would leave (short of losing the page cache,
	// which synchronous=FULL guards against).
	crash := t.TempDir()
	copyDB(t, s.Store.Dir(), crash)
	st, err := store.Open(crash, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(st, "copy taken before Close")
	st.Close()

	dir := s.Store.Dir()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	check(st, "after Close and reopen")
}

// sendOne sends one message over an open connection and returns nil only
// for a 250 to the end of data.
func sendOne(c *smtp.Client, from, to string, msg []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// copyDB copies the store's database file and its write-ahead log from
// dir to dst, as they are on disk now.
func copyDB(t testing.TB, dir, dst string) {
	t.Helper()
	for _, name := range []string{store.FileName, store.FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
