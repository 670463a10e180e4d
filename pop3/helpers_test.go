package pop3_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
)

const (
	msg1 = "Subject: one\r\n\r\nfirst\r\n"
	msg2 = "Subject: two\r\n\r\n.dot\r\nline2\r\nline3\r\n"
)

// newServer starts a pop3test server for be with short timeouts and small
// limits, changed by configure, and closes it at the end of the test.
func newServer(t testing.TB, be pop3.Backend, configure ...func(*pop3.Server)) *pop3test.Server {
	t.Helper()
	s := pop3test.NewUnstartedServer(be)
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

// dial connects to addr and closes the connection at the end of the test.
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
func greeted(t testing.TB, s *pop3test.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, s.Addr)
	r := prototest.Client(t, c, `S: +OK inetkit POP3 server ready*`)
	return c, r
}

// loggedIn dials the server and logs in as alice.
func loggedIn(t testing.TB, s *pop3test.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: USER alice
S: +OK*
C: PASS secret
S: +OK maildrop has * messages (* octets)
`)
	return c, r
}

// startTLS starts the client side of TLS on c, trusting the test
// certificate.
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

// notifyBackend wraps a Backend and reports every Session.Close on closed.
type notifyBackend struct {
	pop3.Backend
	closed chan struct{}
}

func newNotifyBackend(be pop3.Backend) *notifyBackend {
	return &notifyBackend{Backend: be, closed: make(chan struct{}, 16)}
}

func (b *notifyBackend) Login(ctx context.Context, user, pass string) (pop3.Session, error) {
	sess, err := b.Backend.Login(ctx, user, pass)
	if err != nil {
		return nil, err
	}
	return &notifySession{Session: sess, closed: b.closed}, nil
}

// waitClosed waits until a session has been closed.
func (b *notifyBackend) waitClosed(t testing.TB) {
	t.Helper()
	select {
	case <-b.closed:
	case <-time.After(prototest.Timeout):
		t.Fatal("the session was not closed")
	}
}

type notifySession struct {
	pop3.Session
	closed chan struct{}
}

func (s *notifySession) Close() error {
	err := s.Session.Close()
	s.closed <- struct{}{}
	return err
}

// rawBackend serves its messages exactly as given, bare LFs and all, for
// the tests of the server's dot-stuffing and line endings. The password of
// every user is "secret".
type rawBackend struct {
	msgs []string
	// openErr, if set, is returned by Open; listErr by List; loginErr by
	// Login; commitErr by Commit.
	openErr, listErr, loginErr, commitErr error
	// panicOpen makes Open panic.
	panicOpen bool

	mu        sync.Mutex
	committed [][]int
}

func (b *rawBackend) Login(ctx context.Context, user, pass string) (pop3.Session, error) {
	if b.loginErr != nil {
		return nil, b.loginErr
	}
	if pass != "secret" {
		return nil, pop3.ErrAuthFailed
	}
	return &rawSession{b: b}, nil
}

type rawSession struct{ b *rawBackend }

func (s *rawSession) List(ctx context.Context) ([]pop3.MessageInfo, error) {
	if s.b.listErr != nil {
		return nil, s.b.listErr
	}
	var l []pop3.MessageInfo
	for i, m := range s.b.msgs {
		l = append(l, pop3.MessageInfo{Size: int64(len(m)), UID: "u" + strings.Repeat("x", i)})
	}
	return l, nil
}

func (s *rawSession) Open(ctx context.Context, n int) (io.ReadCloser, error) {
	if s.b.panicOpen {
		panic("test panic in Open")
	}
	if s.b.openErr != nil {
		return nil, s.b.openErr
	}
	// One octet per read, so that line endings and dots split across
	// reads are covered too.
	return io.NopCloser(&oneByteReader{r: strings.NewReader(s.b.msgs[n-1])}), nil
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func (s *rawSession) Commit(ctx context.Context, deleted []int) error {
	s.b.mu.Lock()
	s.b.committed = append(s.b.committed, deleted)
	s.b.mu.Unlock()
	return s.b.commitErr
}

func (s *rawSession) Close() error { return nil }

// logBuffer collects log output for assertions.
type logBuffer = prototest.Buffer

// textLogger returns a logger writing text to l.
func textLogger(l *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, nil))
}
