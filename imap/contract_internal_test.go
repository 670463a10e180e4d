package imap

// The guard in front of go-imap's imapserver depends on how imapserver reads
// and writes (see conn). These tests pin those internals of go-imap
// v2.0.0-beta.8 by talking to a bare imapserver.Server, without the guard,
// over a connection that records every read and write. If one fails after
// an upgrade of go-imap, the guard must be checked against the new
// behaviour before the test is changed.

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// recConn is a net.Conn that reports, in order, each read it has to wait for
// (with the read deadline then set) and each write, and reads what the test
// feeds it.
type recConn struct {
	events   chan string
	feed     chan []byte
	closed   chan struct{}
	pending  []byte
	deadline time.Time
}

func newRecConn() *recConn {
	return &recConn{events: make(chan string, 64), feed: make(chan []byte), closed: make(chan struct{})}
}

func (c *recConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		d := "none"
		if !c.deadline.IsZero() {
			d = time.Until(c.deadline).Round(time.Second).String()
		}
		c.events <- "read " + d
		select {
		case c.pending = <-c.feed:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *recConn) Write(p []byte) (int, error) {
	select {
	case c.events <- "write " + string(p):
	case <-c.closed:
		return 0, net.ErrClosed
	}
	return len(p), nil
}

func (c *recConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

func (c *recConn) SetReadDeadline(t time.Time) error { c.deadline = t; return nil }
func (c *recConn) SetWriteDeadline(time.Time) error  { return nil }
func (c *recConn) SetDeadline(t time.Time) error     { c.deadline = t; return nil }
func (c *recConn) LocalAddr() net.Addr               { return chanAddr{} }
func (c *recConn) RemoteAddr() net.Addr              { return chanAddr{} }

// contract serves one recConn with a bare imapserver over imapmemserver,
// with the capabilities of Server, user alice/secret and an empty INBOX.
type contract struct {
	t *testing.T
	c *recConn
}

func newContract(t *testing.T) *contract {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("alice", "secret")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
	})
	l := newChanListener()
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	c := newRecConn()
	l.deliver(t.Context(), c)
	t.Cleanup(func() {
		c.Close()
		l.Close()
		<-done
		srv.Close()
	})
	return &contract{t: t, c: c}
}

// next returns the next event.
func (k *contract) next() string {
	k.t.Helper()
	select {
	case e := <-k.c.events:
		return e
	case <-time.After(5 * time.Second):
		k.t.Fatal("imapserver neither read nor wrote for 5s")
	}
	return ""
}

// expect checks that the next event starts with prefix and returns it.
func (k *contract) expect(prefix string) string {
	k.t.Helper()
	e := k.next()
	if !strings.HasPrefix(e, prefix) {
		k.t.Fatalf("imapserver: %.100q; want %q...", e, prefix)
	}
	return e
}

// send feeds data to the read imapserver waits for.
func (k *contract) send(data string) {
	k.t.Helper()
	select {
	case k.c.feed <- []byte(data):
	case <-time.After(5 * time.Second):
		k.t.Fatal("imapserver does not read")
	}
}

// greeted reads the greeting and the first read.
func (k *contract) greeted() {
	k.t.Helper()
	k.expect("write * OK [CAPABILITY ")
	k.expect("read ")
}

// login logs in as alice and selects INBOX.
func (k *contract) login() {
	k.t.Helper()
	k.greeted()
	k.send("L LOGIN alice secret\r\n")
	k.expect("write L OK ")
	k.expect("read ")
	k.send("S SELECT INBOX\r\n")
	for !strings.HasPrefix(k.next(), "write S OK ") {
	}
	k.expect("read ")
}

// imapserver serves one command at a time: given one line, it writes its
// whole reply before it reads again, so that the guard, which hands it one
// line per read, can answer a line itself in imapserver's place. Each
// response line, and the tagged reply, is one Write.
func TestGoIMAPContract_oneCommandAtATime(t *testing.T) {
	k := newContract(t)
	k.greeted()
	k.send("a NOOP\r\n")
	if e := k.next(); e != "write a OK NOOP completed\r\n" {
		t.Fatalf("after a NOOP line: %q; want its tagged reply in one write", e)
	}
	k.expect("read ")
	k.send("b CAPABILITY\r\n")
	k.expect("write * CAPABILITY ")
	if e := k.next(); e != "write b OK CAPABILITY completed\r\n" {
		t.Fatalf("after the CAPABILITY line: %q; want its tagged reply in one write", e)
	}
	k.expect("read ")
}

// The greeting, the CAPABILITY response and the reply to LOGIN are each one
// Write holding one line, in the form rewriteCaps rewrites.
func TestGoIMAPContract_capabilityFormat(t *testing.T) {
	k := newContract(t)
	greeting := strings.TrimPrefix(k.expect("write * OK [CAPABILITY "), "write ")
	k.expect("read ")
	k.send("a CAPABILITY\r\n")
	capLine := strings.TrimPrefix(k.expect("write * CAPABILITY "), "write ")
	k.expect("write a OK")
	k.expect("read ")
	k.send("b LOGIN alice secret\r\n")
	login := strings.TrimPrefix(k.expect("write b OK [CAPABILITY "), "write ")
	for _, w := range []string{greeting, capLine, login} {
		q, ok := rewriteCaps([]byte(w))
		if !ok || !bytes.Contains(q, []byte(" ID")) {
			t.Errorf("rewriteCaps(%q) = %q, %v; want ID added", w, q, ok)
		}
	}
}

// A synchronising literal is accepted with a "+" continuation, written
// before imapserver reads the literal; a non-synchronising one is read
// without. A buffered literal (any but the APPEND message) over 4096 octets
// (checkBufferedLiteral, maxBufferedLiteral) gets no continuation, and no
// reply either: imapserver then reads the next line as the rest of the
// command, which is why the guard answers it itself.
func TestGoIMAPContract_literals(t *testing.T) {
	k := newContract(t)
	k.greeted()
	k.send("a LOGIN {5}\r\n")
	k.expect("write + ")
	k.expect("read ")
	k.send("alice")
	k.expect("read ")
	k.send(" {6+}\r\n")
	k.expect("read ")
	k.send("wrong\r\n")
	k.expect("write a NO [AUTHENTICATIONFAILED]")
	k.expect("read ")

	k.send(fmt.Sprintf("b LOGIN {%d}\r\n", maxBufferedLiteral))
	k.expect("write + ")
	k.expect("read ")
	k.send(strings.Repeat("x", maxBufferedLiteral) + " y\r\n")
	k.expect("write b NO [AUTHENTICATIONFAILED]")
	k.expect("read ")

	k.send(fmt.Sprintf("c LOGIN {%d}\r\n", maxBufferedLiteral+1))
	if e := k.next(); e != "read 30s" {
		t.Fatalf("after a buffered literal of %d octets: %.60q; want a read and no reply", maxBufferedLiteral+1, e)
	}
}

// An APPEND message is a literal of its own limit (AppendLimit), accepted
// with a continuation and read within literalReadTimeout, 5 minutes: a
// LiteralReadTimeout above that has no effect.
func TestGoIMAPContract_appendLiteral(t *testing.T) {
	k := newContract(t)
	k.login()
	k.send("a APPEND INBOX {10000}\r\n")
	k.expect("write + ")
	if e := k.next(); e != "read "+DefaultLiteralReadTimeout.String() {
		t.Errorf("reading the APPEND message: %q; want a read within %v", e, DefaultLiteralReadTimeout)
	}
}

// imapserver's own read deadlines, which the guard applies when sooner than
// its own: 30 seconds for a command, and to wait for one before login
// (cmdReadTimeout); 35 minutes to wait for one after login, and for the DONE
// of IDLE (idleReadTimeout), longer than DefaultIdleTimeout.
func TestGoIMAPContract_readTimeouts(t *testing.T) {
	k := newContract(t)
	k.expect("write * OK")
	if e := k.next(); e != "read 30s" {
		t.Errorf("waiting for a command before login: %q; want read 30s", e)
	}
	k.send("L LOGIN alice secret\r\n")
	k.expect("write L OK")
	if e := k.next(); e != "read 35m0s" {
		t.Errorf("waiting for a command after login: %q; want read 35m0s", e)
	}
	k.send("S SELECT INBOX\r\n")
	for !strings.HasPrefix(k.next(), "write S OK ") {
	}
	k.expect("read ")
	k.send("i IDLE\r\n")
	k.expect("write + idling")
	if e := k.next(); e != "read 35m0s" {
		t.Errorf("waiting for DONE: %q; want read 35m0s", e)
	}
	k.send("DONE\r\n")
	k.expect("write i OK")
	if 35*time.Minute <= DefaultIdleTimeout {
		t.Errorf("idleReadTimeout (35m) <= DefaultIdleTimeout (%v): the guard's idle timeout would never apply", DefaultIdleTimeout)
	}
}

// imapserver reads a command of DefaultMaxLineBytes (maxCommandSize, 50 KiB)
// and not much more: a longer line is answered "NO [SERVERBUG]". The guard's
// line limit must not be above it.
func TestGoIMAPContract_maxCommandSize(t *testing.T) {
	line := func(tag string, size int) string {
		head := tag + " LOGIN alice "
		return head + strings.Repeat("x", size-len(head)-2) + "\r\n"
	}
	k := newContract(t)
	k.greeted()
	k.send(line("a", DefaultMaxLineBytes))
	k.expect("write a NO [AUTHENTICATIONFAILED]")
	k.expect("read ")
	k.send(line("b", DefaultMaxLineBytes+16))
	// Its parser stops at maxCommandSize and answers as for a server fault.
	k.expect("write b NO [SERVERBUG]")
}

// go-imap answers these client mistakes "NO [SERVERBUG]", which is why the
// guard refuses them with a BAD before imapserver sees them: a list nested
// 1000 deep (its parser's maxListDepth; the guard stops at maxNesting), a
// CR in a quoted string, and invalid UTF-8. A list nested maxNesting deep is
// parsed.
func TestGoIMAPContract_parserErrors(t *testing.T) {
	k := newContract(t)
	k.login()
	nested := func(tag string, depth int) string {
		return tag + " SEARCH " + strings.Repeat("(", depth) + "ALL" + strings.Repeat(")", depth) + "\r\n"
	}
	k.send(nested("a", maxNesting))
	k.expect("write * SEARCH")
	k.expect("write a OK")
	k.expect("read ")
	k.send(nested("b", 1000))
	k.expect("write b NO [SERVERBUG]")
	k.expect("read ")
	k.send("c SELECT \"IN\rBOX\"\r\n")
	k.expect("write c NO [SERVERBUG]")
	k.expect("read ")
	k.send("d SELECT \"IN\xffBOX\"\r\n")
	k.expect("write d NO [SERVERBUG]")
}
