package imap_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/google/go-cmp/cmp"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
	"github.com/inetkit/inetkit/internal/testcert"
)

func loggedIn(t *testing.T, c *imapclient.Client, err error) *imapclient.Client {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// flagsBut returns flags without those of skip.
func flagsBut(flags []imap.Flag, skip ...imap.Flag) []imap.Flag {
	var out []imap.Flag
	for _, f := range flags {
		if !slices.Contains(skip, f) {
			out = append(out, f)
		}
	}
	return out
}

func TestListMessages(t *testing.T) {
	s, be := newRegressServer(t, nil)
	be.Deliver("alice", []byte("From: carol@example.net\r\nSubject: Second\r\n\r\n2\r\n"))
	c0, err := s.Client(nil)
	c := loggedIn(t, c0, err)
	ctx := context.Background()
	msgs, err := inetimap.ListMessages(ctx, c, "INBOX")
	if err != nil {
		t.Fatalf("ListMessages = %v", err)
	}
	var got []string
	for _, m := range msgs {
		if m.InternalDate.IsZero() || len(flagsBut(m.Flags, imap.Flag(`\Recent`))) != 0 {
			t.Errorf("summary %+v: want a date and no flags (\\Recent aside)", m)
		}
		got = append(got, strings.Join([]string{m.From, m.Subject}, "|"))
	}
	want := []string{"Bob <bob@example.org>|Hello", "carol@example.net|Second"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListMessages (-want +got):\n%s", diff)
	}
	if msgs[0].UID >= msgs[1].UID || msgs[0].Size != int64(len(testMsg)) {
		t.Errorf("UIDs %d, %d, size %d; want ascending UIDs and size %d", msgs[0].UID, msgs[1].UID, msgs[0].Size, len(testMsg))
	}
	if _, err := inetimap.ListMessages(ctx, c, "Nonexistent"); err == nil {
		t.Errorf("ListMessages(Nonexistent) = nil error")
	}
	if err := c.Create("Empty", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if msgs, err := inetimap.ListMessages(ctx, c, "Empty"); err != nil || len(msgs) != 0 {
		t.Errorf("ListMessages(Empty) = %v, %v; want none", msgs, err)
	}
}

func TestFetchMessage(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c0, err := s.Client(nil)
	c := loggedIn(t, c0, err)
	ctx := context.Background()
	msgs, err := inetimap.ListMessages(ctx, c, "INBOX")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("ListMessages = %v, %v", msgs, err)
	}
	b, err := inetimap.FetchMessage(ctx, c, "INBOX", msgs[0].UID)
	if err != nil || string(b) != testMsg {
		t.Errorf("FetchMessage = %q, %v; want %q", b, err, testMsg)
	}
	// BODY.PEEK: the message stays unseen. \Recent is the server's to show
	// an IMAP4rev1 client (RFC 3501 §2.3.2) and is not the client's doing.
	if msgs, _ := inetimap.ListMessages(ctx, c, "INBOX"); len(flagsBut(msgs[0].Flags, imap.Flag(`\Recent`))) != 0 {
		t.Errorf("flags after FetchMessage = %v; want none (\\Recent aside)", msgs[0].Flags)
	}
	if _, err := inetimap.FetchMessage(ctx, c, "INBOX", msgs[0].UID+10); !errors.Is(err, inetimap.ErrNoMessage) {
		t.Errorf("FetchMessage(missing UID) = %v; want ErrNoMessage", err)
	}
}

func TestWatch(t *testing.T) {
	s, be := newRegressServer(t, nil)
	c0, err := s.Client(nil)
	c := loggedIn(t, c0, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan inetimap.MessageSummary, 4)
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- inetimap.Watch(ctx, c, "INBOX", func(m inetimap.MessageSummary) error { got <- m; return nil }, &inetimap.WatchOptions{Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Watch returned %v before it was ready", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not start IDLE")
	}
	subjects := []string{"one", "two"}
	for _, subj := range subjects {
		if err := be.Deliver("alice", []byte("From: x@example.org\r\nSubject: "+subj+"\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m.Subject != subj {
				t.Errorf("Watch reported %q; want %q", m.Subject, subj)
			}
		case err := <-done:
			t.Fatalf("Watch returned %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("Watch did not report %q", subj)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch after cancel = %v; want context.Canceled", err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Errorf("client after Watch: NOOP = %v", err)
	}
	plain, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := inetimap.Watch(ctx, plain, "INBOX", func(inetimap.MessageSummary) error { return nil }, nil); err == nil {
		t.Errorf("Watch with a client not from Dial = nil error")
	}
}

func TestDialStartTLS(t *testing.T) {
	s, _ := newRegressServer(t, func(s *inetimap.Server) { s.InsecureAuth = false })
	ctx := context.Background()
	c, err := inetimap.DialStartTLS(ctx, s.Addr, &inetimap.ClientOptions{TLSConfig: testcert.ClientConfig()})
	c = loggedIn(t, c, err)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// A server without STARTTLS fails it.
	s2 := imaptest.NewServer(imaptest.NewMemBackend())
	defer s2.Close()
	if c, err := inetimap.DialStartTLS(ctx, s2.Addr, &inetimap.ClientOptions{TLSConfig: testcert.ClientConfig()}); err == nil {
		c.Close()
		t.Errorf("DialStartTLS to a server without STARTTLS = nil error")
	}
	// An untrusted certificate fails.
	if c, err := inetimap.DialStartTLS(ctx, s.Addr, nil); err == nil {
		c.Close()
		t.Errorf("DialStartTLS without the test CA = nil error")
	}
}

func TestDialTLS(t *testing.T) {
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	s := imaptest.NewUnstartedServer(be)
	s.StartTLS()
	defer s.Close()
	ctx := context.Background()
	c, err := inetimap.DialTLS(ctx, s.Addr, &inetimap.ClientOptions{TLSConfig: testcert.ClientConfig()})
	loggedIn(t, c, err)
	if c, err := inetimap.DialTLS(ctx, s.Addr, nil); err == nil {
		c.Close()
		t.Errorf("DialTLS without the test CA = nil error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if c, err := inetimap.Dial(cctx, s.Addr, nil); err == nil {
		c.Close()
		t.Errorf("Dial with a cancelled context = nil error")
	}
}
