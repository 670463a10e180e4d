package pop3_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
)

// FuzzServer is HARDENING G12: a server on net.Pipe, greeted, logged in or
// not (the first octet of the input decides), gets the rest of the input.
// A panic anywhere fails the test (ServeConn recovers it and returns it as
// an error).
func FuzzServer(f *testing.F) {
	for _, s := range []string{
		"CAPA\r\nQUIT\r\n",
		"USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nRSET\r\nQUIT\r\n",
		"AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nLIST 1\r\n",
		"AUTH PLAIN\r\n*\r\n", "APOP alice 0123456789abcdef0123456789abcdef\r\n",
		"STLS\r\nCAPA\r\n", "NOOP\x00\r\nEHLO \xff\xfe\r\n", "NOOP\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"USER " + strings.Repeat("a", 300) + "\r\nCAPA\r\n", strings.Repeat("XYZZY\r\n", 30),
		"RETR 0\r\nRETR 99999999999\r\nTOP 1 -1\r\nLIST -1\r\n", "DELE 1\r\nDELE 1\r\nRETR 1\r\nQUIT\r\n",
	} {
		f.Add(byte(0), []byte(s))
		f.Add(byte(1), []byte(s))
	}
	f.Fuzz(func(t *testing.T, mode byte, input []byte) {
		srv := &pop3.Server{
			Backend:      pop3test.NewMaildrop("alice", "secret", msg1, msg2, ".\n..\nx"),
			TLSConfig:    testcert.ServerConfig(),
			InsecureAuth: mode&2 == 0,
			Limits: lineproto.Limits{IdleTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second,
				WriteTimeout: 2 * time.Second, AuthFailureDelay: -1, ErrorDelay: -1},
			Logger: slog.New(slog.DiscardHandler),
		}
		cc, sc := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- srv.ServeConn(context.Background(), sc) }()
		drained := make(chan struct{})
		go func() { io.Copy(io.Discard, cc); close(drained) }()
		if mode&1 == 1 {
			cc.Write([]byte("USER alice\r\nPASS secret\r\n"))
		}
		cc.Write(input)
		cc.Close()
		if err := <-done; err != nil && strings.Contains(err.Error(), "panic") {
			t.Fatalf("ServeConn = %v", err)
		}
		<-drained
	})
}

// FuzzRetrieve sends any message through the server's RETR and the
// client's Retrieve: it comes back with its line endings made CRLF and a
// final line ending added, whatever dots and line endings it holds (a
// stored "\n.\n" never ends the reply early: HARDENING P1, P2), and the
// session goes on after it.
func FuzzRetrieve(f *testing.F) {
	for _, s := range []string{
		"", "a", ".", "..", ".\r\n", "\n.\n", "x\n.\nDELE 1\n", "a\r\nb", "a\r", "\r\n.\r\n",
		"Subject: x\r\n\r\n.body\r\n", "\r.\r", "\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		srv := &pop3.Server{
			Backend:      &rawBackend{msgs: []string{string(msg)}},
			InsecureAuth: true,
			Logger:       slog.New(slog.DiscardHandler),
		}
		cc, sc := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeConn(context.Background(), sc)
		}()
		defer func() { cc.Close(); <-done }()
		c, err := pop3.NewClient(cc, &pop3.ClientOptions{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice", "secret"); err != nil {
			t.Fatal(err)
		}
		rc, err := c.Retrieve(1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("Retrieve(1) of %q: %v", msg, err)
		}
		rc.Close()
		if want := normalize(msg); string(got) != want {
			t.Fatalf("Retrieve(1) of %q = %q; want %q", msg, got, want)
		}
		if err := c.Noop(); err != nil {
			t.Fatalf("Noop() after Retrieve(1) of %q = %v", msg, err)
		}
	})
}

// normalize is what the server sends of msg: bare LFs made CRLF, and a
// final line ending added.
func normalize(msg []byte) string {
	var b strings.Builder
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(c)
	}
	s := b.String()
	switch {
	case s == "" || strings.HasSuffix(s, "\r\n"):
	case strings.HasSuffix(s, "\r"):
		s += "\n"
	default:
		s += "\r\n"
	}
	return s
}
