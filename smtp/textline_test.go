package smtp_test

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

// writeLine writes a text line of n octets of 'a' and its CRLF to w, from
// one small buffer, so that the writer allocates nothing in proportion to n.
func writeLine(t *testing.T, w io.Writer, n int) {
	t.Helper()
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if _, err := io.WriteString(w, "\r\n"); err != nil {
		t.Fatal(err)
	}
}

// The text lines of a message have no cap of their own: RFC 5321
// §4.5.3.1.6 asks a server to take lines of 1000 octets and §4.5.3.1 to
// impose no limit where it can. A 2 MB line is stored as sent.
func TestServer_longTextLineAccepted(t *testing.T) {
	const n = 2 << 20
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *\nC: Subject: long\nC: ")
	writeLine(t, c, n)
	prototest.Run(t, c, r, "C: .\nS: 250 2.0.0 *")
	msgs := waitMessages(t, rec, 1)
	want := "Subject: long\r\n\r\n" + string(bytes.Repeat([]byte("a"), n)) + "\r\n"
	if body := msgs[0].Body(); string(body) != want {
		t.Errorf("stored body: %d octets, want %d", len(body), len(want))
	}
}

// The one bound on a text line is the message size limit: a line far
// longer than MaxMessageBytes is refused with 552 before any 250, nothing
// is stored, the session goes on, and the server holds no more than about
// the limit in memory while it reads the line (go-smtp's DATA reader and
// the guard stream the text; only the message buffer grows, up to the
// limit).
func TestServer_longTextLineOverLimit(t *testing.T) {
	const limit, n = 256 << 10, 24 << 20
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.MaxMessageBytes = limit })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *\nC: Subject: long\nC: ")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	writeLine(t, c, n)
	prototest.Run(t, c, r, "C: .\nS: 552 5.3.4 *")
	runtime.ReadMemStats(&after)
	prototest.Run(t, c, r, "C: NOOP\nS: 250 2.0.0 *")
	if got := len(rec.Messages()); got != 0 {
		t.Errorf("%d messages stored; want none", got)
	}
	// The message buffer doubles up to the limit: about 2×limit in all,
	// plus the connection's buffers. A server that buffered the line would
	// allocate n or more.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > n/4 {
		t.Errorf("reading a %d-octet line against a %d-octet limit allocated %d octets; want well under the line", n, limit, alloc)
	}
}
