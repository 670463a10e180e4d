package imapdtest_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/imapd/imapdtest"
)

const testMsg = "From: Bob <bob@example.org>\r\n" +
	"To: alice@example.org\r\n" +
	"Subject: Hello\r\n" +
	"\r\n" +
	"Hi.\r\n"

// newMem returns a MemBackend with user alice, password secret.
func newMem() *imapdtest.MemBackend {
	be := imapdtest.NewMemBackend()
	be.AddUser("alice", "secret")
	return be
}

// login returns a client of s logged in as alice, closed at the end of the
// test.
func login(t *testing.T, s *imapdtest.Server, opts *inetimap.ClientOptions) *imapclient.Client {
	t.Helper()
	c, err := s.Client(opts)
	if err != nil {
		t.Fatalf("Client() = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Fatalf("LOGIN alice secret = %v", err)
	}
	return c
}

// greeting reads the first line the server at addr sends over conn.
func greeting(t *testing.T, conn net.Conn) string {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the greeting: %v", err)
	}
	return line
}

func TestServer_Start(t *testing.T) {
	be := newMem()
	s := imapdtest.NewServer(be)
	defer s.Close()
	if host, _, err := net.SplitHostPort(s.Addr); err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("Addr = %q; want a loopback address", s.Addr)
	}
	c := login(t, s, nil)
	if err := be.Deliver("alice", []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages != 1 {
		t.Errorf("STATUS INBOX (MESSAGES) after Deliver = %+v, %v; want 1 message", st, err)
	}
	if c, err := s.Client(nil); err != nil {
		t.Fatal(err)
	} else {
		defer c.Close()
		if err := c.Login("alice", "wrong").Wait(); err == nil {
			t.Errorf("LOGIN with a wrong password succeeded")
		}
	}
}

func TestServer_StartTLS(t *testing.T) {
	s := imapdtest.NewUnstartedServer(newMem())
	s.StartTLS()
	defer s.Close()
	conn, err := tls.Dial("tcp", s.Addr, s.ClientTLSConfig())
	if err != nil {
		t.Fatalf("TLS handshake with the test certificate: %v", err)
	}
	defer conn.Close()
	if g := greeting(t, conn); !strings.HasPrefix(g, "* OK") {
		t.Errorf("greeting over TLS = %q; want * OK", g)
	}
	login(t, s, nil)
}

func TestServer_StartSTARTTLS(t *testing.T) {
	s := imapdtest.NewUnstartedServer(newMem())
	s.StartSTARTTLS()
	defer s.Close()
	if s.Config.TLSConfig == nil {
		t.Fatalf("StartSTARTTLS left Config.TLSConfig nil")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	plain, err := inetimap.Dial(ctx, s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if caps, err := plain.Capability().Wait(); err != nil || !caps.Has(imap.CapStartTLS) {
		t.Errorf("CAPABILITY in plaintext = %v, %v; want STARTTLS offered", caps, err)
	}
	c := login(t, s, nil)
	if caps, err := c.Capability().Wait(); err != nil || caps.Has(imap.CapStartTLS) {
		t.Errorf("CAPABILITY after STARTTLS = %v, %v; want no STARTTLS offered again", caps, err)
	}
}

func TestServer_Close(t *testing.T) {
	s := imapdtest.NewUnstartedServer(newMem())
	s.Close() // never started: nothing to do
	s = imapdtest.NewServer(newMem())
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.Close()
	s.Close()
	if err := c.Noop().Wait(); err == nil {
		t.Errorf("NOOP after Close succeeded")
	}
	if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		t.Errorf("a connection after Close was accepted")
	}
}

func TestMemBackend_Deliver(t *testing.T) {
	be := newMem()
	if err := be.Deliver("nobody", []byte(testMsg)); err == nil {
		t.Errorf("Deliver to an unknown user succeeded")
	}
	be.AddUser("alice", "new") // a new password, the mailbox kept
	if err := be.Deliver("alice", []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	s := imapdtest.NewServer(be)
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "new").Wait(); err != nil {
		t.Fatalf("LOGIN with the password AddUser replaced = %v", err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages != 1 {
		t.Errorf("STATUS INBOX = %+v, %v; want the message delivered before AddUser", st, err)
	}
}

// TestServer_idleDeliver checks that a client in IDLE learns of a delivery
// at once, and that the message is there after DONE.
func TestServer_idleDeliver(t *testing.T) {
	be := newMem()
	s := imapdtest.NewServer(be)
	defer s.Close()
	exists := make(chan uint32, 16)
	c := login(t, s, &inetimap.ClientOptions{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT INBOX = %v", err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE = %v", err)
	}
	if err := be.Deliver("alice", []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("* %d EXISTS in IDLE; want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no EXISTS in IDLE within 10s of a delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE ... DONE = %v", err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{RFC822Size: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].RFC822Size != int64(len(testMsg)) {
		t.Errorf("FETCH 1 RFC822.SIZE = %v, %v; want the delivered message, %d octets", msgs, err, len(testMsg))
	}
}

// existsWatcher records the EXISTS and EXPUNGE responses a client gets.
type existsWatcher struct {
	exists   chan uint32
	mu       sync.Mutex
	expunged []uint32
}

func newExistsWatcher() *existsWatcher { return &existsWatcher{exists: make(chan uint32, 64)} }

func (w *existsWatcher) options() *inetimap.ClientOptions {
	return &inetimap.ClientOptions{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				w.exists <- *d.NumMessages
			}
		},
		Expunge: func(seq uint32) {
			w.mu.Lock()
			w.expunged = append(w.expunged, seq)
			w.mu.Unlock()
		},
	}}
}

// wait fails t unless "* n EXISTS" comes within 10 seconds.
func (w *existsWatcher) wait(t *testing.T, n uint32) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case got := <-w.exists:
			if got == n {
				return
			}
		case <-timer.C:
			t.Fatalf("no \"* %d EXISTS\" within 10s", n)
		}
	}
}

// TestServer_idleRace delivers a message as IDLE starts: just before the
// command, while it is on its way, or as soon as "+ idling" is received.
// Each time the EXISTS must come before DONE: a wake-up lost between the
// server's last poll and its wait would keep it for DONE.
func TestServer_idleRace(t *testing.T) {
	const rounds = 60
	be := newMem()
	s := imapdtest.NewServer(be)
	defer s.Close()
	w := newExistsWatcher()
	c := login(t, s, w.options())
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	deliver := func() {
		if err := be.Deliver("alice", []byte(testMsg)); err != nil {
			t.Error(err)
		}
	}
	for i := uint32(1); i <= rounds; i++ {
		delivered := make(chan struct{})
		switch i % 3 {
		case 0:
			deliver()
			close(delivered)
		case 1:
			go func() {
				defer close(delivered)
				deliver()
			}()
		}
		idle, err := c.Idle()
		if err != nil {
			t.Fatalf("round %d: IDLE = %v", i, err)
		}
		if i%3 == 2 {
			deliver()
			close(delivered)
		}
		<-delivered
		w.wait(t, i)
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatalf("round %d: IDLE ... DONE = %v", i, err)
		}
	}
}

// TestServer_twoSessions checks that each of two sessions on one mailbox
// learns of the other's changes (RFC 9051 §5.2): an APPEND, flags stored
// at once by both, an EXPUNGE.
func TestServer_twoSessions(t *testing.T) {
	be := newMem()
	if err := be.Deliver("alice", []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	s := imapdtest.NewServer(be)
	defer s.Close()
	w2 := newExistsWatcher()
	c1, c2 := login(t, s, nil), login(t, s, w2.options())
	for _, c := range []*imapclient.Client{c1, c2} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	cmd := c1.Append("INBOX", int64(len(testMsg)), nil)
	if _, err := cmd.Write([]byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("S1 APPEND = %v", err)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	w2.wait(t, 2)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []struct {
		c    *imapclient.Client
		flag imap.Flag
	}{{c1, imap.FlagSeen}, {c2, imap.FlagFlagged}} {
		wg.Go(func() {
			_, errs[i] = p.c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{p.flag}}, nil).Collect()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent STORE = %v", err)
	}
	for i, c := range []*imapclient.Client{c1, c2} {
		// NOOP first: the other's STORE may have come after this
		// session's view was last brought up to date.
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
		if err != nil || len(msgs) != 1 || !slices.Contains(msgs[0].Flags, imap.FlagSeen) || !slices.Contains(msgs[0].Flags, imap.FlagFlagged) {
			t.Errorf("S%d: FETCH 1 FLAGS after concurrent STOREs = %v, %v; want \\Seen and \\Flagged", i+1, fetchedFlags(msgs), err)
		}
	}

	if _, err := c1.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	w2.mu.Lock()
	expunged := slices.Clone(w2.expunged)
	w2.mu.Unlock()
	if !slices.Equal(expunged, []uint32{1}) {
		t.Errorf("S2: EXPUNGE responses after S1's EXPUNGE = %v; want [1]", expunged)
	}
}

// fetchedFlags returns the flags of each message of msgs, for a message.
func fetchedFlags(msgs []*imapclient.FetchMessageBuffer) [][]imap.Flag {
	var out [][]imap.Flag
	for _, m := range msgs {
		out = append(out, m.Flags)
	}
	return out
}
