package imap_test

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
)

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"imap://minbari.example.org/gray-council;UIDVALIDITY=385759045/;UID=20/;PARTIAL=0.1024",
		"imap://;AUTH=*@minbari.example.org/gray%20council?SUBJECT%20shadows",
		"imap://michael;AUTH=GSSAPI@minbari.example.org/users.*",
		"imaps://user:pass@127.0.0.1:993/INBOX;UID=1",
		"imap://h/a%2F",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := imap.ParseURL(s)
		if err != nil {
			return
		}
		again, err := imap.ParseURL(u.String())
		if err != nil {
			t.Fatalf("ParseURL(%q).String() = %q: %v", s, u.String(), err)
		}
		if diff := cmp.Diff(u, again); diff != "" {
			t.Fatalf("round trip of %q through %q (-first +second):\n%s", s, u.String(), diff)
		}
	})
}

// FuzzServer drives a real server to a state (greeting, logged in, INBOX
// selected; the first byte chooses) and sends the fuzz input (HARDENING G12).
// No panic may reach the log, and the server must keep serving.
func FuzzServer(f *testing.F) {
	for _, s := range []string{
		"\x00a1 NOOP\r\n",
		"\x01a1 LOGIN {999999999}\r\n",
		"\x02a1 APPEND INBOX {5+}\r\nhello\r\n",
		"\x02a1 FETCH 1:* (BODY[] BODYSTRUCTURE ENVELOPE)\r\n",
		"\x02a1 SEARCH " + strings.Repeat("(", 1200) + "ALL" + strings.Repeat(")", 1200) + "\r\n",
		"\x02a1 UID STORE 1:* +FLAGS (\\Deleted)\r\na2 EXPUNGE\r\n",
		"\x01a1 IDLE\r\nDONE\r\n",
		"\x00a1 AUTHENTICATE PLAIN\r\n*\r\n",
		"\x00A STARTTLS\r\nXYZAB NOOP\r\n",
		"\x02a1 MOVE 1 INBOX\r\na2 COPY 1:* Nope\r\n",
		"\x01a1 ID (\"name\" {3}\r\nabc)\r\n",
	} {
		f.Add([]byte(s))
	}
	var logs syncBuffer
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	be.Deliver("alice", []byte(testMsg))
	srv := imaptest.NewUnstartedServer(be)
	srv.Config.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv.Config.IdleTimeout = 300 * time.Millisecond
	srv.Config.LiteralReadTimeout = 300 * time.Millisecond
	srv.Config.AuthFailureDelay = -1
	srv.Config.ErrorDelay = time.Millisecond
	srv.Config.MaxLineBytes = 8192
	srv.Start()
	defer srv.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		var prefix string
		switch in[0] % 3 {
		case 1:
			prefix = "F1 LOGIN alice secret\r\n"
		case 2:
			prefix = "F1 LOGIN alice secret\r\nF2 SELECT INBOX\r\n"
		}
		go func() {
			io.WriteString(c, prefix)
			c.Write(in[1:])
			io.WriteString(c, "\r\nF9 LOGOUT\r\n")
		}()
		io.Copy(io.Discard, c)
		if strings.Contains(logs.String(), "panic") {
			t.Fatalf("server panicked on %q:\n%s", in, logs.String())
		}
		probe, err := srv.Client(nil)
		if err != nil {
			t.Fatalf("server stopped serving after %q: %v", in, err)
		}
		probe.Close()
	})
}
