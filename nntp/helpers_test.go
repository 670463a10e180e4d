package nntp_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
)

// newServer starts an nntptest server for be with short timeouts and
// small limits, changed by configure, and closes it at the end of the test.
func newServer(t testing.TB, be nntp.Backend, configure ...func(*nntp.Server)) *nntptest.Server {
	t.Helper()
	s := nntptest.NewUnstartedServer(be)
	s.Config.IdleTimeout = 10 * time.Second
	s.Config.CommandTimeout = 10 * time.Second
	s.Config.WriteTimeout = 10 * time.Second
	s.Config.AuthFailureDelay = time.Millisecond
	s.Config.ErrorDelay = time.Millisecond
	s.Config.SoftErrorLimit = 50
	s.Config.HardErrorLimit = 100
	for _, f := range configure {
		f(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// newSpool returns a Spool with alice/secret and the groups misc.test and
// alt.test.
func newSpool() *nntptest.Spool {
	return nntptest.NewSpool("alice", "secret", "misc.test", "alt.test")
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// greeted dials the server and checks its greeting.
func greeted(t testing.TB, s *nntptest.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, s.Addr)
	r := prototest.Client(t, c, `S: 20? inetkit NNTP server ready*`)
	return c, r
}

func startTLS(t testing.TB, c net.Conn) net.Conn {
	t.Helper()
	tc := tls.Client(c, testcert.ClientConfig())
	tc.SetDeadline(time.Now().Add(prototest.Timeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	return tc
}

// readAll reads from r until EOF or an error, with a deadline on c, and
// returns what it read and whether it ended in EOF (or a reset).
func readAll(t testing.TB, c net.Conn, r io.Reader) (string, bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(prototest.Timeout))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, r)
	return buf.String(), err == nil || !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// readLine reads one line with a deadline.
func readLine(t testing.TB, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(prototest.Timeout))
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (after %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// write sends raw octets.
func write(t testing.TB, c net.Conn, s string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(prototest.Timeout))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// article is a small valid article for misc.test with message-id id.
func article(id string) string {
	return "From: Alice <alice@example.org>\r\nNewsgroups: misc.test\r\nSubject: test " + id + "\r\nMessage-ID: " + id + "\r\n\r\nbody of " + id + "\r\n"
}

// post posts articles through a client of s.
func post(t testing.TB, s *nntptest.Server, arts ...string) {
	t.Helper()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, a := range arts {
		if _, err := c.Post(strings.NewReader(a)); err != nil {
			t.Fatalf("Post: %v", err)
		}
	}
}

func newTLSServer(t testing.TB) *nntptest.Server {
	s := nntptest.NewUnstartedServer(newSpool())
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}
