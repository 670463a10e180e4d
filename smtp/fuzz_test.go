package smtp_test

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

// pipeListener hands out net.Pipe connections to a Server.
type pipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() net.Conn {
	c, s := net.Pipe()
	select {
	case l.ch <- s:
	case <-time.After(5 * time.Second):
		panic("the server accepts no connection")
	}
	return c
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// FuzzServer writes arbitrary bytes to a server over net.Pipe, after EHLO
// and inside DATA (HARDENING G12): nothing may panic, and every session
// must end once the client is gone.
func FuzzServer(f *testing.F) {
	seeds := []string{
		"NOOP\r\n", "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"body\n.\nMAIL FROM:<evil@x>\r\n.\r\n", "BDAT 5\r\nabcdeBDAT 0 LAST\r\n", "BDAT 99999999999\r\n",
		"AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n", "AUTH PLAIN\r\n*\r\n", "STARTTLS\r\nEHLO x\r\n",
		"GET / HTTP/1.1\r\n", "NOOP\x00\r\n", "EHLO \xff\r\n", strings.Repeat("A", 3000),
		strings.Repeat("XYZZY\r\n", 30), "RSET\r\n.\r\n\r\n", "\r\n.\r\n",
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "pass"}
	rec.DiscardData = true
	srv := &smtp.Server{
		Domain:          "fuzz.local",
		Backend:         rec,
		TLSConfig:       nil,
		InsecureAuth:    true,
		MaxMessageBytes: 4096,
		MaxRecipients:   5,
		Limits:          lineproto.Limits{IdleTimeout: time.Second, WriteTimeout: time.Second, AuthFailureDelay: -1, ErrorDelay: -1},
		Logger:          slog.New(slog.DiscardHandler),
	}
	l := newPipeListener()
	go srv.Serve(l)
	f.Cleanup(func() { srv.Close() })

	f.Fuzz(func(t *testing.T, input string, inData bool) {
		// Well under the 10 s after which the fuzzing engine gives a
		// worker up as hung (go.dev/issue/56238): a session that stops
		// reading fails here, with its input, instead.
		c := l.dial()
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		readReply := func() {
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("setup: %v", err)
				}
				if len(l) < 4 || l[3] != '-' {
					return
				}
			}
		}
		readReply() // greeting
		cmds := []string{"EHLO fuzz"}
		if inData {
			cmds = append(cmds, "MAIL FROM:<a@x>", "RCPT TO:<b@x>", "DATA")
		}
		for _, cmd := range cmds {
			io.WriteString(c, cmd+"\r\n")
			readReply()
		}
		done := make(chan struct{})
		go func() {
			io.Copy(io.Discard, r)
			close(done)
		}()
		_, err := c.Write([]byte(input))
		c.Close()
		<-done
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the server stopped reading for 5 s without closing the session")
		}
	})
}
