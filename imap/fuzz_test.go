package imap_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/lineproto"
)

// panicWatch is a slog.Handler that notes the panics a server logs (it
// recovers them, so the fuzzer would not see them otherwise).
type panicWatch struct{ panics *atomic.Int64 }

func (h panicWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h panicWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "panic serving connection" {
		h.panics.Add(1)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "panic" || a.Key == "stack" {
				println(a.Value.String())
			}
			return true
		})
	}
	return nil
}
func (h panicWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicWatch) WithGroup(string) slog.Handler      { return h }

var fuzzSeeds = []string{
	"a CAPABILITY\r\nb NOOP\r\nc LOGOUT\r\n",
	"a LOGIN alice secret\r\nb LIST \"\" *\r\nc LSUB \"\" %\r\n",
	"a AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nb ENABLE QRESYNC UTF8=ACCEPT\r\nc LIST \"\" \"ä*\"\r\n",
	"a LOGIN alice secret\r\nb CREATE x/y (USE (\\Sent))\r\nc LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (x* %) RETURN (CHILDREN STATUS (MESSAGES SIZE))\r\nd RENAME x z\r\ne DELETE z/y\r\n",
	"a LOGIN alice secret\r\nb APPEND INBOX (\\Seen) {5+}\r\nhello {3}\r\nabc\r\nc STATUS INBOX (MESSAGES UNSEEN HIGHESTMODSEQ APPENDLIMIT)\r\n",
	"a LOGIN alice secret\r\nb APPEND INBOX CATENATE (TEXT {3+}\r\nabc URL \"/INBOX;UID=1\")\r\n",
	"a LOGIN alice secret\r\nb APPEND INBOX ~{3+}\r\na\x00b\r\nc SUBSCRIBE foo\r\nd UNSUBSCRIBE foo\r\n",
	"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1:* (FLAGS)\r\nd IDLE\r\nDONE\r\ne ID (\"a\" \"b\")\r\n",
	"* x\r\n+\r\na {99999999999}\r\n\x00\x01\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"a STARTTLS\r\nb NAMESPACE\r\n",
}

// FuzzConn sends arbitrary bytes to a server as a client, then ends its
// side: the server must neither panic nor hang, and must close the
// connection.
func FuzzConn(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	var panics atomic.Int64
	s := newServer(f, func(s *imap.Server) {
		s.Logger = slog.New(panicWatch{&panics})
		s.MaxConnsPerIP = -1
		s.Limits = lineproto.Limits{
			IdleTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second,
			AuthFailureDelay: -1, ErrorDelay: -1,
		}
		s.LiteralReadTimeout = time.Second
		s.MaxLiteralBytes = 1 << 16
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			c.Write(in)
			c.(*net.TCPConn).CloseWrite()
		}()
		if _, err := io.Copy(io.Discard, c); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server did not close the connection within 10 s of input %q", in)
			}
		}
		if n := panics.Load(); n > 0 {
			t.Fatalf("%d panics serving %q", n, in)
		}
	})
}
