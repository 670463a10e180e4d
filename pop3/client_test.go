package pop3_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
)

// pipeClient returns a Client talking to a prototest.Server playing script
// over net.Pipe, and a channel closed when the script is over.
func pipeClient(t *testing.T, script string) (*pop3.Client, <-chan struct{}) {
	t.Helper()
	cc, sc := net.Pipe()
	done := prototest.Server(t, sc, script)
	c, err := pop3.NewClient(cc, &pop3.ClientOptions{Timeout: prototest.Timeout})
	if err != nil {
		t.Fatalf("NewClient = %v", err)
	}
	t.Cleanup(func() { c.Close(); <-done })
	return c, done
}

// readString returns a function that reads a message reader to the end
// and closes it: readString(t)(c.Retrieve(1)).
func readString(t *testing.T) func(io.ReadCloser, error) string {
	return func(rc io.ReadCloser, err error) string {
		t.Helper()
		return readMessage(t, rc, err)
	}
}

func readMessage(t *testing.T, rc io.ReadCloser, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading the message: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("closing the message: %v", err)
	}
	return string(b)
}

func TestClient(t *testing.T) {
	md := pop3test.NewMaildrop("alice", "secret", msg1, msg2)
	s := newServer(t, md)
	var dbg bytes.Buffer
	c, err := s.Client(&pop3.ClientOptions{DebugWriter: &dbg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g := c.Greeting(); !strings.HasPrefix(g, "inetkit POP3 server ready <") {
		t.Errorf("Greeting() = %q", g)
	}
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(caps["SASL"], []string{"PLAIN"}) || caps["TOP"] == nil || caps["IMPLEMENTATION"][0] != "inetkit" {
		t.Errorf("Capabilities() = %v", caps)
	}
	var e *pop3.Error
	if err := c.Login("alice", "wrong"); !errors.As(err, &e) || e.Code != "AUTH" || e.Message != "authentication failed" {
		t.Errorf("Login with a wrong password = %v; want a *pop3.Error with Code AUTH", err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatalf("Login = %v", err)
	}
	if n, size, err := c.Stat(); n != 2 || size != int64(len(msg1)+len(msg2)) || err != nil {
		t.Errorf("Stat() = %d, %d, %v; want 2, %d, nil", n, size, err, len(msg1)+len(msg2))
	}
	list, err := c.List()
	if want := []pop3.MessageSize{{1, int64(len(msg1))}, {2, int64(len(msg2))}}; err != nil || !cmp.Equal(list, want) {
		t.Errorf("List() = %v, %v; want %v", list, err, want)
	}
	if m, err := c.ListOne(2); m != (pop3.MessageSize{Number: 2, Size: int64(len(msg2))}) || err != nil {
		t.Errorf("ListOne(2) = %v, %v", m, err)
	}
	if _, err := c.ListOne(3); !errors.As(err, &e) || e.Message != "no such message" {
		t.Errorf("ListOne(3) = %v; want -ERR no such message", err)
	}
	uids, err := c.UIDL()
	if want := []pop3.MessageUID{{1, "uid-1"}, {2, "uid-2"}}; err != nil || !cmp.Equal(uids, want) {
		t.Errorf("UIDL() = %v, %v; want %v", uids, err, want)
	}
	if uid, err := c.UIDLOne(1); uid != "uid-1" || err != nil {
		t.Errorf("UIDLOne(1) = %q, %v", uid, err)
	}
	if got := readString(t)(c.Retrieve(2)); got != msg2 {
		t.Errorf("Retrieve(2) = %q; want %q", got, msg2)
	}
	if got := readString(t)(c.Top(2, 1)); got != "Subject: two\r\n\r\n.dot\r\n" {
		t.Errorf("Top(2, 1) = %q", got)
	}
	// Close without reading.
	rc, err := c.Retrieve(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err == nil {
		t.Error("Noop with a message reader open succeeded")
	}
	rc.Close()
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop() = %v", err)
	}
	if err := c.Delete(1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retrieve(1); !errors.As(err, &e) {
		t.Errorf("Retrieve of a deleted message = %v; want a *pop3.Error", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit() = %v", err)
	}
	if got := md.Messages(); !slices.Equal(got, []string{msg1}) {
		t.Errorf("after DELE 2 and QUIT the maildrop holds %q", got)
	}
	if !strings.Contains(dbg.String(), "PASS secret\r\n") || !strings.Contains(dbg.String(), "+OK 2 ") {
		t.Errorf("debug output lacks the traffic: %q", dbg.String())
	}
}

func TestClient_LoginPlain(t *testing.T) {
	long := strings.Repeat("p", 300)
	for _, pass := range []string{"secret", long} {
		s := newServer(t, pop3test.NewMaildrop("alice", pass))
		c, err := s.Client(nil)
		if err != nil {
			t.Fatal(err)
		}
		var e *pop3.Error
		if err := c.LoginPlain("alice", pass+"x"); !errors.As(err, &e) || e.Code != "AUTH" {
			t.Errorf("LoginPlain with a wrong %d-octet password = %v; want -ERR [AUTH]", len(pass), err)
		}
		if err := c.LoginPlain("alice", pass); err != nil {
			t.Errorf("LoginPlain with a %d-octet password = %v", len(pass), err)
		}
		c.Close()
	}
}

func TestClient_APOP(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"))
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.APOP("alice", "wrong"); err == nil {
		t.Error("APOP with a wrong secret succeeded")
	}
	if err := c.APOP("alice", "secret"); err != nil {
		t.Errorf("APOP = %v", err)
	}

	// A server without APOP has no timestamp.
	s = newServer(t, &rawBackend{})
	c, err = s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.APOP("alice", "secret"); err == nil || strings.Contains(err.Error(), "-ERR") {
		t.Errorf("APOP without a timestamp = %v; want a client-side error", err)
	}
}

func TestClient_StartTLS(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.InsecureAuth = false
		s.TLSConfig = testcert.ServerConfig()
	})
	c, err := pop3.DialStartTLS(context.Background(), s.Addr, &pop3.ClientOptions{TLSConfig: testcert.ClientConfig()})
	if err != nil {
		t.Fatalf("DialStartTLS = %v", err)
	}
	defer c.Close()
	if err := c.StartTLS(nil); err == nil {
		t.Error("a second StartTLS succeeded")
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Errorf("Login after STLS = %v", err)
	}

	// Without the test CA the handshake fails.
	if _, err := pop3.DialStartTLS(context.Background(), s.Addr, nil); err == nil {
		t.Error("DialStartTLS trusting no test CA succeeded")
	}
}

func TestClient_DialTLS(t *testing.T) {
	s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("alice", "secret", msg1))
	s.StartTLS()
	defer s.Close()
	c, err := pop3.DialTLS(context.Background(), s.Addr, &pop3.ClientOptions{TLSConfig: testcert.ClientConfig()})
	if err != nil {
		t.Fatalf("DialTLS = %v", err)
	}
	defer c.Close()
	if err := c.StartTLS(nil); err == nil {
		t.Error("StartTLS over implicit TLS succeeded")
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if got := readString(t)(c.Retrieve(1)); got != msg1 {
		t.Errorf("Retrieve(1) = %q", got)
	}
}

func TestClient_Dial_refused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := pop3.Dial(context.Background(), addr, nil); err == nil {
		t.Error("Dial to a closed port succeeded")
	}
}

// TestClient_transcript checks the exact lines the client sends, and its
// parsing of canned replies.
func TestClient_transcript(t *testing.T) {
	c, done := pipeClient(t, `
S: +OK hello <1896.697170952@dbc.mtview.ca.us>
C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
S: +OK mrose's maildrop has 2 messages (320 octets)
C: STAT
S: +OK 2 320
C: LIST
S: +OK 2 messages (320 octets)
S: 1 120
S: 2 200
S: .
C: UIDL
S: +OK
S: 1 whqtswO00WBw418f9t5JxYwZ
S: 2 QhdPYR:00WBw1Ph7x7
S: .
C: RETR 1
S: +OK 120 octets
S: ..leading dot
S: ..
S: last
S: .
C: TOP 2 0
S: +OK
S: Subject: x
S:
S: .
C: DELE 1
S: +OK message 1 deleted
C: RSET
S: +OK
C: NOOP
S: +OK
C: QUIT
S: +OK dewey POP3 server signing off
`)
	// The RFC 1939 §7 example: secret "tanstaaf".
	if err := c.APOP("mrose", "tanstaaf"); err != nil {
		t.Fatalf("APOP = %v", err)
	}
	if n, size, err := c.Stat(); n != 2 || size != 320 || err != nil {
		t.Errorf("Stat() = %d, %d, %v", n, size, err)
	}
	if l, err := c.List(); err != nil || len(l) != 2 || l[1] != (pop3.MessageSize{Number: 2, Size: 200}) {
		t.Errorf("List() = %v, %v", l, err)
	}
	if u, err := c.UIDL(); err != nil || len(u) != 2 || u[1].UID != "QhdPYR:00WBw1Ph7x7" {
		t.Errorf("UIDL() = %v, %v", u, err)
	}
	if got := readString(t)(c.Retrieve(1)); got != ".leading dot\r\n.\r\nlast\r\n" {
		t.Errorf("Retrieve(1) = %q", got)
	}
	if got := readString(t)(c.Top(2, 0)); got != "Subject: x\r\n\r\n" {
		t.Errorf("Top(2, 0) = %q", got)
	}
	for _, f := range []func() error{func() error { return c.Delete(1) }, c.Reset, c.Noop, c.Quit} {
		if err := f(); err != nil {
			t.Error(err)
		}
	}
	<-done
}

func TestClient_transcriptErrors(t *testing.T) {
	c, _ := pipeClient(t, `
S: +OK ready
C: DELE 1
S: -ERR [SYS/TEMP] try later
C: RSET
S: -ERR
C: DELE 2
S: -ERR [not a code] text
C: NOOP
S: garbage
`)
	var e *pop3.Error
	if err := c.Delete(1); !errors.As(err, &e) || *e != (pop3.Error{Code: "SYS/TEMP", Message: "try later"}) || !e.Temporary() {
		t.Errorf("Delete(1) = %#v; want [SYS/TEMP] try later", err)
	}
	if err := c.Reset(); !errors.As(err, &e) || *e != (pop3.Error{}) {
		t.Errorf("Reset() = %#v; want a bare -ERR", err)
	}
	if err := c.Delete(2); !errors.As(err, &e) || *e != (pop3.Error{Message: "[not a code] text"}) {
		t.Errorf("Delete(2) = %#v", err)
	}
	var pe textproto.ProtocolError
	if err := c.Noop(); !errors.As(err, &pe) {
		t.Errorf("Noop() with a garbage reply = %v; want a ProtocolError", err)
	}
}

func TestClient_retrieveDotStuffing(t *testing.T) {
	c, _ := pipeClient(t, `
S: +OK ready
C: RETR 1
S: +OK
S: ..
S: ...
S: ..x
S: x.
S:
S: .
C: TOP 1 5
S: +OK
S: a
S: .
C: QUIT
S: +OK bye
`)
	if got := readString(t)(c.Retrieve(1)); got != ".\r\n..\r\n.x\r\nx.\r\n\r\n" {
		t.Errorf("Retrieve(1) = %q", got)
	}
	if got := readString(t)(c.Top(1, 5)); got != "a\r\n" {
		t.Errorf("Top(1, 5) = %q", got)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit() = %v", err)
	}
}

func TestClient_badGreeting(t *testing.T) {
	for _, g := range []string{"-ERR [SYS/TEMP] go away", "* OK IMAP4 ready", "+OKAY"} {
		cc, sc := net.Pipe()
		done := prototest.Server(t, sc, "S: "+g)
		if c, err := pop3.NewClient(cc, nil); err == nil {
			c.Close()
			t.Errorf("NewClient with greeting %q succeeded", g)
		}
		<-done
	}
}

func TestClient_eof(t *testing.T) {
	c, done := pipeClient(t, `
S: +OK ready
C: RETR 1
S: +OK
S: half a message
`)
	rc, err := c.Retrieve(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a message cut short = %v; want io.ErrUnexpectedEOF", err)
	}
	<-done
}

func TestClient_longReply(t *testing.T) {
	cc, sc := net.Pipe()
	go func() {
		sc.Write([]byte("+OK " + strings.Repeat("x", pop3.MaxReplyBytes) + "\r\n"))
		sc.Close()
	}()
	if c, err := pop3.NewClient(cc, nil); err == nil {
		c.Close()
		t.Error("NewClient with a greeting over MaxReplyBytes succeeded")
	}
}

func TestClient_injection(t *testing.T) {
	c, _ := pipeClient(t, `S: +OK ready`)
	if err := c.Login("alice\r\nDELE 1", "x"); err == nil {
		t.Error("Login with CRLF in the user name succeeded")
	}
}

// TestClient_stlsResponseInjection: data the server sends after the STLS
// reply, before the handshake, is refused, not read as if it came inside
// TLS.
func TestClient_stlsResponseInjection(t *testing.T) {
	cc, sc := net.Pipe()
	defer sc.Close()
	go func() {
		sc.Write([]byte("+OK ready\r\n"))
		buf := make([]byte, 100)
		sc.Read(buf)
		sc.Write([]byte("+OK begin\r\n+OK injected\r\n"))
	}()
	c, err := pop3.NewClient(cc, &pop3.ClientOptions{Timeout: prototest.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pe textproto.ProtocolError
	if err := c.StartTLS(testcert.ClientConfig()); !errors.As(err, &pe) {
		t.Errorf("StartTLS with injected data = %v; want a ProtocolError", err)
	}
}

func TestClient_timeout(t *testing.T) {
	cc, sc := net.Pipe()
	defer sc.Close()
	go func() {
		sc.Write([]byte("+OK ready\r\n"))
		io.Copy(io.Discard, sc) // never answers
	}()
	c, err := pop3.NewClient(cc, &pop3.ClientOptions{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Noop()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Noop() on a silent server = %v; want a timeout", err)
	}
}

func TestClient_malformedReplies(t *testing.T) {
	tests := []struct {
		name   string
		script string
		call   func(c *pop3.Client) error
	}{
		{"STAT", "C: STAT\nS: +OK two 320", func(c *pop3.Client) error { _, _, err := c.Stat(); return err }},
		{"STAT short", "C: STAT\nS: +OK 2", func(c *pop3.Client) error { _, _, err := c.Stat(); return err }},
		{"LIST", "C: LIST\nS: +OK\nS: 1\nS: .", func(c *pop3.Client) error { _, err := c.List(); return err }},
		{"LIST n", "C: LIST 1\nS: +OK 0 -5", func(c *pop3.Client) error { _, err := c.ListOne(1); return err }},
		{"UIDL", "C: UIDL\nS: +OK\nS: x uid\nS: .", func(c *pop3.Client) error { _, err := c.UIDL(); return err }},
		{"UIDL n", "C: UIDL 1\nS: +OK 1", func(c *pop3.Client) error { _, err := c.UIDLOne(1); return err }},
		{"CAPA", "C: CAPA\nS: +OK\nS: TOP", func(c *pop3.Client) error { _, err := c.Capabilities(); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := pipeClient(t, "S: +OK ready\n"+tc.script)
			if err := tc.call(c); err == nil {
				t.Errorf("%s with a malformed reply succeeded", tc.name)
			}
		})
	}
}

// TestClient_LoginPlain_continuation checks the exact exchange of AUTH
// PLAIN without an initial response, and a server that refuses it.
func TestClient_LoginPlain_continuation(t *testing.T) {
	pass := strings.Repeat("p", 200)
	resp := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + pass))
	c, _ := pipeClient(t, `
S: +OK ready
C: AUTH PLAIN
S: + 
C: `+resp+`
S: +OK logged in
`)
	if err := c.LoginPlain("alice", pass); err != nil {
		t.Errorf("LoginPlain = %v", err)
	}
	c, _ = pipeClient(t, `
S: +OK ready
C: AUTH PLAIN
S: -ERR [AUTH] no
`)
	var e *pop3.Error
	if err := c.LoginPlain("alice", pass); !errors.As(err, &e) || e.Code != "AUTH" {
		t.Errorf("LoginPlain refused = %v; want -ERR [AUTH]", err)
	}
}

// TestClient_retrieveBareLF: a server that ends lines with LF alone is
// understood, the terminating line too; a dot before a CR is a stuffed dot;
// and the reader stops at the end of the reply, so the next command reads
// its own.
func TestClient_retrieveBareLF(t *testing.T) {
	cc, sc := net.Pipe()
	defer cc.Close()
	go func() {
		defer sc.Close()
		r := bufio.NewReader(sc)
		sc.Write([]byte("+OK ready\r\n"))
		r.ReadString('\n') // RETR 1
		sc.Write([]byte("+OK\r\na\n..\n.\rx\n.\n"))
		r.ReadString('\n') // NOOP
		sc.Write([]byte("+OK\r\n"))
	}()
	c, err := pop3.NewClient(cc, &pop3.ClientOptions{Timeout: prototest.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	if got := readString(t)(c.Retrieve(1)); got != "a\n.\n\rx\n" {
		t.Errorf("Retrieve(1) = %q; want %q", got, "a\n.\n\rx\n")
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop() after the message = %v", err)
	}
}
