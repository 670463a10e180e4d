package smtp

// The guard in conn.go depends on details of go-smtp that its API does not
// promise. These tests run go-smtp, configured as Server.goSMTP configures
// it, without the guard, and fail if an upgrade changes one of them.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// contractSession is a go-smtp session that accepts everything and keeps
// the messages; its AUTH PLAIN and LOGIN accept "user"/"secret" and refuse
// other credentials with ErrAuthFailed, as Server's do.
type contractSession struct {
	mu   sync.Mutex
	msgs []string
	rcpt func(to string) // called by Rcpt, if not nil
}

func (s *contractSession) Reset()                                 {}
func (s *contractSession) Logout() error                          { return nil }
func (s *contractSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *contractSession) AuthMechanisms() []string               { return []string{sasl.Plain, sasl.Login} }
func (s *contractSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.rcpt != nil {
		s.rcpt(to)
	}
	return nil
}

func (s *contractSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, string(b))
	return nil
}

func (s *contractSession) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if username == "user" && password == "secret" {
			return nil
		}
		return &gosmtp.SMTPError{Code: ErrAuthFailed.Code, EnhancedCode: gosmtp.EnhancedCode(ErrAuthFailed.EnhancedCode), Message: ErrAuthFailed.Message}
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error { return check(username, password) }), nil
	case sasl.Login:
		return &loginServer{authenticate: check}, nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

func (s *contractSession) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// contractServer returns a go-smtp server configured as Server.goSMTP
// configures it (with the default limits), serving sess.
func contractServer(t *testing.T, sess gosmtp.Session, onConn func(*gosmtp.Conn)) *gosmtp.Server {
	t.Helper()
	s := &Server{Domain: "contract.local", Logger: slog.New(slog.DiscardHandler)}
	s.setup()
	gs := s.goSMTP()
	gs.Backend = gosmtp.BackendFunc(func(gc *gosmtp.Conn) (gosmtp.Session, error) {
		if onConn != nil {
			onConn(gc)
		}
		return sess, nil
	})
	return gs
}

// serveOne serves nc with gs, as ServeConn does, on a oneShot listener,
// and returns a channel that receives what Serve returned once Serve and the
// connection's goroutine are done.
func serveOne(gs *gosmtp.Server, nc net.Conn, closed <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := gs.Serve(&oneShot{nc: nc, closed: closed})
		gs.Shutdown(context.Background())
		done <- err
	}()
	return done
}

// oneShot yields nc, then waits for closed, as oneConnListener does.
type oneShot struct {
	nc     net.Conn
	closed <-chan struct{}
	sent   bool
}

func (l *oneShot) Accept() (net.Conn, error) {
	if !l.sent {
		l.sent = true
		return l.nc, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneShot) Close() error   { return nil }
func (l *oneShot) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// closeConn reports the first Close of a net.Conn.
type closeConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func newCloseConn(nc net.Conn) *closeConn { return &closeConn{Conn: nc, closed: make(chan struct{})} }

func (c *closeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// dialGoSMTP serves one net.Pipe connection with go-smtp, as contractServer
// configures it, and returns the client end, reading the greeting.
func dialGoSMTP(t *testing.T, sess gosmtp.Session) (net.Conn, *bufio.Reader) {
	t.Helper()
	client, server := net.Pipe()
	sc := newCloseConn(server)
	done := serveOne(contractServer(t, sess, nil), sc, sc.closed)
	t.Cleanup(func() {
		client.Close()
		<-done
	})
	client.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(client)
	if l := readLine(t, r); !strings.HasPrefix(l, "220 contract.local ") {
		t.Fatalf("greeting %q", l)
	}
	return client, r
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// exchange sends cmd and returns the lines of the reply.
func exchange(t *testing.T, c net.Conn, r *bufio.Reader, cmd string) []string {
	t.Helper()
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		l := readLine(t, r)
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

// go-smtp's dataReader ends DATA exactly where nextDataState does: at the
// first CRLF.CRLF counting the CRLF of the DATA command, whatever bare CRs,
// LFs and dots come before. If it ended earlier, text the guard passed as
// the message would be run as commands; later, commands as the message.
func TestGoSMTPContract_dataEnd(t *testing.T) {
	// go-smtp's own quirk, which the guard must share: a CR after a CR
	// leaves the state machine in the middle of a line, so "\r\r\n.\r\n"
	// does not end DATA (net/textproto's dotReader would end it).
	inputs := []string{"\r\n.\r\n", ".\r\n", "..\r\n.\r\n", "\r\r\n.\r\nQUIT\r\n.\r\n", ".\r.\r\n.\r\n"}
	for _, v := range []string{"\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\r\n\x00.\r\n"} {
		inputs = append(inputs, "body"+v+"MAIL FROM:<evil@x>\r\n.\r\n")
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		b := make([]byte, rnd.IntN(16))
		for i := range b {
			b[i] = "\r\n.a"[rnd.IntN(4)]
		}
		inputs = append(inputs, string(b)+"\n\r\n.\r\n")
	}
	sess := &contractSession{}
	c, r := dialGoSMTP(t, sess)
	exchange(t, c, r, "EHLO x")
	for n, in := range inputs {
		end := -1
		for i, st := 0, dataBeginLine; i < len(in); i++ {
			if st = nextDataState(st, in[i]); st == dataEOF {
				end = i + 1
				break
			}
		}
		if end < 0 {
			t.Fatalf("input %q has no end", in)
		}
		exchange(t, c, r, "MAIL FROM:<a@x>")
		exchange(t, c, r, "RCPT TO:<b@x>")
		if l := exchange(t, c, r, "DATA"); !strings.HasPrefix(l[0], "354 ") {
			t.Fatalf("DATA: %q", l)
		}
		// The NOOP is a command only if go-smtp ended DATA where the
		// guard does.
		if l := exchange(t, c, r, in[:end]+"NOOP"); !strings.HasPrefix(l[0], "250 2.0.0 OK") {
			t.Fatalf("end of %q: %q; want the 250 of the message", in[:end], l)
		}
		if l := readLine(t, r); !strings.HasPrefix(l, "250 2.0.0 ") || strings.Contains(l, "OK") {
			t.Fatalf("after %q: %q; want the 250 of NOOP", in[:end], l)
		}
		if msgs := sess.messages(); len(msgs) != n+1 || strings.Contains(msgs[n], "NOOP") {
			t.Fatalf("after %q: messages %q", in[:end], msgs)
		}
	}
}

// lineConn gives go-smtp one line per Read, and records whether go-smtp
// read again before it had written anything since the last line.
type lineConn struct {
	lines    []string
	out      bytes.Buffer
	awaiting string // the last line given, until a Write
	early    []string
	closed   chan struct{}
	once     sync.Once
}

func (c *lineConn) Read(p []byte) (int, error) {
	if c.awaiting != "" {
		c.early = append(c.early, c.awaiting)
	}
	if len(c.lines) == 0 {
		return 0, io.EOF
	}
	line := c.lines[0] + "\r\n"
	if len(p) < len(line) {
		return 0, fmt.Errorf("Read of %d octets, shorter than %q", len(p), line)
	}
	c.lines = c.lines[1:]
	c.awaiting = line
	return copy(p, line), nil
}

func (c *lineConn) Write(p []byte) (int, error) {
	c.awaiting = ""
	return c.out.Write(p)
}

func (c *lineConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *lineConn) LocalAddr() net.Addr                { return pipeAddr{} }
func (c *lineConn) RemoteAddr() net.Addr               { return pipeAddr{} }
func (c *lineConn) SetDeadline(t time.Time) error      { return nil }
func (c *lineConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *lineConn) SetWriteDeadline(t time.Time) error { return nil }

// Given one line per Read, go-smtp answers it before it reads again, so the
// guard always knows which command a reply answers; it passes the session
// the net.Conn it was given (Conn.Conn); it ends the session without a
// word when Read returns io.EOF, calls Close, and its Serve returns once the
// listener fails to accept.
func TestGoSMTPContract_oneLinePerRead(t *testing.T) {
	lc := &lineConn{closed: make(chan struct{}), lines: []string{
		"EHLO x", "NOOP", "VRFY a", "HELP", "MAIL FROM:<a@x>", "RCPT TO:<b@x>", "RSET",
		"AUTH LOGIN", "dXNlcg==", "c2VjcmV0", "HELO y", "MAIL FROM:<a@x>",
	}}
	var gotConn net.Conn
	gs := contractServer(t, &contractSession{}, func(gc *gosmtp.Conn) { gotConn = gc.Conn() })
	select {
	case err := <-serveOne(gs, lc, lc.closed):
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve = %v; want the listener's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("go-smtp did not close the connection after EOF")
	}
	if len(lc.early) > 0 {
		t.Errorf("go-smtp read again before answering %q", lc.early)
	}
	if gotConn != lc {
		t.Errorf("Conn.Conn() = %v; want the net.Conn served", gotConn)
	}
	out := lc.out.String()
	if n := strings.Count(out, "\r\n"); !strings.HasSuffix(out, "250 2.0.0 Roger, accepting mail from <a@x>\r\n") {
		t.Errorf("go-smtp wrote %d lines, ending %q; want the 250 to the last MAIL, then nothing", n, out[max(0, len(out)-80):])
	}
}

// The EHLO reply, as go-smtp writes it and rewriteEHLO rewrites it: "250-"
// lines and a last "250 " line, "Hello" and the client's name first, one
// capability per line, AUTH as "AUTH " and the mechanisms, and no STARTTLS,
// which the guard offers itself.
func TestGoSMTPContract_ehlo(t *testing.T) {
	c, r := dialGoSMTP(t, &contractSession{})
	got := exchange(t, c, r, "EHLO client.example")
	want := []string{
		"250-Hello client.example",
		"250-PIPELINING",
		"250-8BITMIME",
		"250-ENHANCEDSTATUSCODES",
		"250-CHUNKING",
		"250-AUTH PLAIN LOGIN",
		"250-SMTPUTF8",
		fmt.Sprintf("250-SIZE %d", DefaultMaxMessageBytes),
		fmt.Sprintf("250 LIMITS RCPTMAX=%d", DefaultMaxRecipients),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("EHLO reply:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if l := exchange(t, c, r, "HELO client.example"); len(l) != 1 || !strings.HasPrefix(l[0], "250 ") {
		t.Errorf("HELO reply %q; want one 250 line", l)
	}
}

// AUTH continuations are "334" replies, each answered by one line; a
// failed check is sent with the code of the *SMTPError the session returns
// (535, which the guard counts as a failed login); "*" cancels with 501.
func TestGoSMTPContract_auth(t *testing.T) {
	c, r := dialGoSMTP(t, &contractSession{})
	exchange(t, c, r, "EHLO x")
	for _, step := range [][2]string{
		{"AUTH LOGIN", "334 VXNlcm5hbWU6"},
		{"dXNlcg==", "334 UGFzc3dvcmQ6"},
		{"d3Jvbmc=", "535 5.7.8 Authentication credentials invalid"},
		{"AUTH PLAIN", "334 "},
		{"*", "501 5.0.0 Negotiation cancelled"},
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "235 2.0.0 Authentication succeeded"},
	} {
		if got := exchange(t, c, r, step[0]); len(got) != 1 || got[0] != step[1] {
			t.Errorf("%s: %q; want %q", step[0], got, step[1])
		}
	}
}

// go-smtp refuses exactly the BDAT arguments parseBDAT refuses (with 501,
// before any chunk), and reads exactly size octets after the others.
func TestGoSMTPContract_bdatSize(t *testing.T) {
	for _, arg := range []string{
		"0", "5", "5 LAST", "5 last", "05", "0 LAST", "4294967295", "4294967296", "99999999999",
		"-1", "+5", "0x5", "5 LAST x", "", "x", "5 FIRST", "5.0", "1e3",
	} {
		t.Run(arg, func(t *testing.T) {
			c, r := dialGoSMTP(t, &contractSession{})
			exchange(t, c, r, "EHLO x")
			exchange(t, c, r, "MAIL FROM:<a@x>")
			exchange(t, c, r, "RCPT TO:<b@x>")
			size, ok := parseBDAT(arg)
			cmd := strings.TrimSpace("BDAT " + arg)
			if !ok {
				if l := exchange(t, c, r, cmd); !strings.HasPrefix(l[0], "501 5.5.4 ") {
					t.Errorf("%s: %q; want 501 5.5.4, as parseBDAT refuses it", cmd, l)
				}
				return
			}
			if size > 100 {
				// Too many octets to send: go-smtp waits for them, or
				// refuses them for their size (552) and skips them. That
				// it does not say 501 is enough.
				io.WriteString(c, cmd+"\r\n")
				c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if l, err := r.ReadString('\n'); err == nil && !strings.HasPrefix(l, "552 5.3.4 ") {
					t.Errorf("%s: %q before the chunk; want a wait for %d octets, or 552", cmd, l, size)
				}
				return
			}
			l := exchange(t, c, r, cmd+"\r\n"+strings.Repeat("z", int(size))+"NOOP")
			if !strings.HasPrefix(l[0], "250 2.0.0 ") {
				t.Fatalf("%s: %q; want 250", cmd, l)
			}
			if l := readLine(t, r); l != "250 2.0.0 I have successfully done nothing" {
				t.Errorf("after %s and %d octets: %q; want the 250 of NOOP", cmd, size, l)
			}
		})
	}
}

// A panic in the session is answered "421 4.0.0" (the guard ends the
// session on any 421) and the connection is closed.
func TestGoSMTPContract_panic(t *testing.T) {
	sess := &contractSession{rcpt: func(string) { panic("boom") }}
	c, r := dialGoSMTP(t, sess)
	exchange(t, c, r, "HELO x")
	exchange(t, c, r, "MAIL FROM:<a@x>")
	if l := exchange(t, c, r, "RCPT TO:<b@x>"); !strings.HasPrefix(l[0], "421 4.0.0 ") {
		t.Errorf("reply to a panic %q; want 421 4.0.0", l)
	}
	if b, err := io.ReadAll(r); len(b) != 0 || err != nil {
		t.Errorf("after the 421: %q, %v; want EOF", b, err)
	}
}
