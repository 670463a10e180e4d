//go:build unix

package peers_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/peers"
)

// clientTimeout bounds each command of the clients under test.
const clientTimeout = 10 * time.Second

// testContext returns a context that ends with the test, or after 20 s.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// imapLogin connects to Dovecot with inetkit's imap.Dial and logs in.
func imapLogin(t *testing.T, d *peers.Dovecot, opts *inetimap.ClientOptions) *imapclient.Client {
	t.Helper()
	c, err := inetimap.Dial(testContext(t), d.IMAPAddr, opts)
	if err != nil {
		t.Fatalf("imap.Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(d.User, d.Pass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	return c
}

// deliver appends msgs to the INBOX of Dovecot's user with IMAP APPEND, and
// returns their UIDs. Dovecot must serve IMAP.
func deliver(t *testing.T, d *peers.Dovecot, msgs ...string) []imap.UID {
	t.Helper()
	if d.IMAPAddr == "" {
		t.Fatal("deliver: Dovecot was started without peers.IMAP")
	}
	c := imapLogin(t, d, nil)
	defer c.Close()
	uids := make([]imap.UID, 0, len(msgs))
	for _, m := range msgs {
		uids = append(uids, appendMessage(t, c, "INBOX", m))
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatalf("LOGOUT: %v", err)
	}
	return uids
}

// appendMessage appends msg to mailbox with c and returns its UID.
func appendMessage(t *testing.T, c *imapclient.Client, mailbox, msg string) imap.UID {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(msg)), nil)
	if _, err := io.WriteString(cmd, msg); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	if data.UID == 0 {
		t.Fatal("APPEND: no APPENDUID from Dovecot")
	}
	return data.UID
}

// message returns a message with the subject and body, CRLF line endings.
func message(subject, body string) string {
	return "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@example.org>\r\n\r\n" + body
}

// watchWriter is a DebugWriter that signals on ch each time the traffic
// holds pattern.
type watchWriter struct {
	pattern []byte
	ch      chan struct{}
	mu      sync.Mutex
	buf     []byte
}

func newWatchWriter(pattern string) *watchWriter {
	return &watchWriter{pattern: []byte(pattern), ch: make(chan struct{}, 16)}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.Index(w.buf, w.pattern)
		if i < 0 {
			break
		}
		w.buf = w.buf[i+len(w.pattern):]
		w.ch <- struct{}{}
	}
	if keep := len(w.pattern) - 1; len(w.buf) > keep {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-keep:]...)
	}
	return len(p), nil
}

// wait waits for the next sighting of the pattern.
func (w *watchWriter) wait(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-w.ch:
	case <-ctx.Done():
		t.Fatalf("waiting for %q: %v", w.pattern, ctx.Err())
	}
}

// recordingProxy forwards each connection it accepts to addr and records
// the bytes the client sent, so a test can check what went on the wire.
type recordingProxy struct {
	Addr string
	mu   sync.Mutex
	sent bytes.Buffer
	wg   sync.WaitGroup
}

func startRecordingProxy(t *testing.T, addr string) *recordingProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{Addr: l.Addr().String()}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c, addr)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		p.wg.Wait()
	})
	return p
}

func (p *recordingProxy) forward(c net.Conn, addr string) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", addr, clientTimeout)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(c, up)
		c.Close()
		close(done)
	}()
	io.Copy(io.MultiWriter(lockedWriter{p}, up), c)
	up.Close()
	<-done
}

type lockedWriter struct{ p *recordingProxy }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.sent.Write(b)
}

// Sent returns what clients have sent so far.
func (p *recordingProxy) Sent() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.sent.Bytes())
}
