package nntp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/nntp"
)

// TestConn_dotStuffing is HARDENING N1: lines starting with dots are
// stored unstuffed and stuffed again on the way out.
func TestConn_dotStuffing(t *testing.T) {
	sp := newSpool()
	s := newServer(t, sp)
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: POST
S: 340 *
C: From: a@example.org
C: Newsgroups: misc.test
C: Subject: dots
C: Message-ID: <dots@example.org>
C:
C: ..hidden
C: ..
C: ...
C: .
S: 240 *
C: BODY <dots@example.org>
S: 222 0 <dots@example.org>
S: ..hidden
S: ..
S: ...
S: .
`)
	got, _ := sp.Stored("<dots@example.org>")
	if _, body, _ := strings.Cut(got, "\r\n\r\n"); body != ".hidden\r\n.\r\n..\r\n" {
		t.Errorf("stored body = %q; want the dots unstuffed", body)
	}
}

// TestConn_smuggling is HARDENING N2: only CRLF.CRLF ends an article; the
// bare-LF and bare-CR dot lines are data, and the commands after them are
// never run.
func TestConn_smuggling(t *testing.T) {
	for _, v := range []string{"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\r\n.\rGROUP x\r\n"} {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			sp := newSpool()
			s := newServer(t, sp)
			c, r := greeted(t, s)
			prototest.Run(t, c, r, "C: POST\nS: 340 *")
			write(t, c, article("<smug@example.org>")+"text"+v+"POST\r\nGROUP misc.test\r\nmore\r\n.\r\nDATE\r\n")
			prototest.Run(t, c, r, "S: 240 *\nS: 111 *")
			if sp.Len() != 1 {
				t.Errorf("%d articles stored; want 1", sp.Len())
			}
			got, _ := sp.Stored("<smug@example.org>")
			if !strings.Contains(got, "POST") || !strings.Contains(got, "GROUP misc.test") {
				t.Errorf("stored %q; want the smuggled commands as data", got)
			}
		})
	}
}

// TestConn_tooLarge is HARDENING N3: an article over MaxArticleBytes on the
// wire is read to its end and refused with 441; nothing is stored; the
// session goes on. An article of exactly the limit is accepted.
func TestConn_tooLarge(t *testing.T) {
	sp := newSpool()
	s := newServer(t, sp, func(s *nntp.Server) { s.MaxArticleBytes = 1000 })
	c, r := greeted(t, s)
	head := article("<big@example.org>")
	body := strings.Repeat("x", 78) + "\r\n"
	big := head + strings.Repeat(body, 25) // > 1000 octets
	prototest.Run(t, c, r, "C: POST\nS: 340 *")
	write(t, c, big+".\r\n")
	prototest.Run(t, c, r, "S: 441 Article too large\nC: IHAVE <big@example.org>\nS: 335 *")
	write(t, c, big+".\r\n")
	prototest.Run(t, c, r, "S: 437 *\nC: DATE\nS: 111 *")
	exact := head + strings.Repeat("y", 1000-len(head)-2) + "\r\n"
	if len(exact) != 1000 {
		t.Fatalf("article of %d octets", len(exact))
	}
	prototest.Run(t, c, r, "C: POST\nS: 340 *")
	write(t, c, exact+".\r\n")
	prototest.Run(t, c, r, "S: 240 *")
	if sp.Len() != 1 {
		t.Errorf("%d articles stored; want 1", sp.Len())
	}
	// Dot-stuffing counts: 999 octets of text become 1000+ on the wire.
	stuffed := head + strings.Repeat(".\r\n", 300)
	prototest.Run(t, c, r, "C: POST\nS: 340 *")
	write(t, c, strings.ReplaceAll(stuffed, "\r\n.\r\n", "\r\n..\r\n")+".\r\n")
	prototest.Run(t, c, r, "S: 441 *")
}

// TestConn_postChecks is HARDENING N8: an article without a required
// header field, with an unknown group, too many groups, a malformed or a
// duplicate Message-ID is refused with 441 and a reason; nothing is stored.
func TestConn_postChecks(t *testing.T) {
	sp := newSpool()
	sp.AddGroup("ro.test", "", nntp.StatusPostingNotAllowed)
	s := newServer(t, sp)
	post(t, s, article("<dup@example.org>"))
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprintf("g%d.test", i)
	}
	for _, tc := range []struct{ name, art, reason string }{
		{"no From", "Newsgroups: misc.test\r\nSubject: x\r\n\r\nb\r\n", "missing From header field"},
		{"no Newsgroups", "From: a@b\r\nSubject: x\r\n\r\nb\r\n", "missing Newsgroups header field"},
		{"no Subject", "From: a@b\r\nNewsgroups: misc.test\r\n\r\nb\r\n", "missing Subject header field"},
		{"empty Subject", "From: a@b\r\nNewsgroups: misc.test\r\nSubject: \r\n\r\nb\r\n", "empty Subject header field"},
		{"unknown group", "From: a@b\r\nNewsgroups: misc.test,no.such\r\nSubject: x\r\n\r\nb\r\n", "no such newsgroup no.such"},
		{"read-only group", "From: a@b\r\nNewsgroups: ro.test\r\nSubject: x\r\n\r\nb\r\n", "posting to ro.test is not allowed"},
		{"10k groups", "From: a@b\r\nNewsgroups: " + strings.Join(many, ",") + "\r\nSubject: x\r\n\r\nb\r\n", "too many newsgroups"},
		{"bad group name", "From: a@b\r\nNewsgroups: a b\r\nSubject: x\r\n\r\nb\r\n", "invalid newsgroup name in Newsgroups"},
		{"bad Message-ID", "From: a@b\r\nNewsgroups: misc.test\r\nSubject: x\r\nMessage-ID: no-brackets\r\n\r\nb\r\n", "malformed Message-ID"},
		{"duplicate", article("<dup@example.org>"), "duplicate message-id <dup@example.org>"},
		{"two Subjects", "From: a@b\r\nNewsgroups: misc.test\r\nSubject: x\r\nSubject: y\r\n\r\nb\r\n", "duplicate Subject header field"},
		{"bad header line", "From: a@b\r\nNewsgroups: misc.test\r\nSubject: x\r\nno colon here\r\n\r\nb\r\n", "malformed header line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r := greeted(t, s)
			prototest.Run(t, c, r, "C: POST\nS: 340 *")
			write(t, c, tc.art+".\r\n")
			if got, want := readLine(t, c, r), "441 Posting failed: "+tc.reason; got != want {
				t.Errorf("reply %q; want %q", got, want)
			}
		})
	}
	if sp.Len() != 1 {
		t.Errorf("%d articles stored; want 1", sp.Len())
	}
}

// TestConn_postAdds checks the fields the server adds: Path, Date and
// Message-ID when missing, and that an Xref sent is dropped.
func TestConn_postAdds(t *testing.T) {
	sp := newSpool()
	s := newServer(t, sp)
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.Post(strings.NewReader("From: a@example.org\nNewsgroups: misc.test\nSubject: bare\nXref: evil misc.test:99\n\nbody\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(id, "@news.test>") {
		t.Errorf("message-id %q; want one made by the server", id)
	}
	got, ok := sp.Stored(id)
	if !ok {
		t.Fatalf("article %s not stored", id)
	}
	if !strings.HasPrefix(got, "Path: news.test!not-for-mail\r\n") || !strings.Contains(got, "\r\nDate: ") ||
		!strings.Contains(got, "\r\nMessage-ID: "+id+"\r\n") || strings.Contains(got, "Xref") || !strings.HasSuffix(got, "\r\n\r\nbody\r\n") {
		t.Errorf("stored %q", got)
	}
}

// TestConn_longLine is HARDENING N4 (and G1): a command line over 512
// octets gets 501 and the session goes on; a line with no end within 64 KiB
// closes the connection.
func TestConn_longLine(t *testing.T) {
	s := newServer(t, newSpool())
	c, r := greeted(t, s)
	write(t, c, "GROUP "+strings.Repeat("a", 1000)+"\r\n")
	prototest.Run(t, c, r, "S: 501 Command line too long\nC: DATE\nS: 111 *")
	// 512 octets with CRLF is accepted.
	write(t, c, "GROUP "+strings.Repeat("a", 512-8)+"\r\n")
	prototest.Run(t, c, r, "S: 411 *")
	c.SetWriteDeadline(time.Now().Add(prototest.Timeout))
	go c.Write([]byte(strings.Repeat("A", 1<<20)))
	prototest.Run(t, c, r, "S: 501 *")
	if _, eof := readAll(t, c, r); !eof {
		t.Error("connection not closed after 1 MiB without an end of line")
	}
}

// TestConn_wildmatBlowup is HARDENING N5: a wildmat of many stars is
// answered at once.
func TestConn_wildmatBlowup(t *testing.T) {
	sp := newSpool()
	for i := range 200 {
		sp.AddGroup(fmt.Sprintf("group%03d.%s", i, strings.Repeat("a", 200)), "", 'y')
	}
	s := newServer(t, sp)
	post(t, s, article("<w@example.org>"))
	c, r := greeted(t, s)
	stars := strings.Repeat("*", 490) + "x"
	start := time.Now()
	prototest.Run(t, c, r, "C: LIST ACTIVE "+stars+"\nS: 215 *\nS: .\nC: NEWNEWS "+stars[10:]+" 19700101 000000 GMT\nS: 230 *\nS: .")
	write(t, c, "LIST ACTIVE "+strings.Repeat("*", 2000)+"x\r\n")
	prototest.Run(t, c, r, "S: 501 *")
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

// TestConn_starttlsInjection is HARDENING N6: a command pipelined after
// STARTTLS in plaintext is not run inside TLS.
func TestConn_starttlsInjection(t *testing.T) {
	s := newServer(t, newSpool(), func(s *nntp.Server) { s.TLSConfig = testcert.ServerConfig() })
	c, r := greeted(t, s)
	prototest.Run(t, c, r, "C: CAPABILITIES\nS: 101 *\nS: VERSION 2\nS: READER\nS: IHAVE\nS: POST\nS: NEWNEWS\nS: HDR\nS: OVER MSGID\nS: LIST *\nS: STARTTLS\nS: AUTHINFO USER SASL\nS: SASL PLAIN\nS: IMPLEMENTATION inetkit\nS: .")
	write(t, c, "STARTTLS\r\nLIST\r\n")
	prototest.Run(t, c, r, "S: 382 *")
	tc := startTLS(t, c)
	r2 := prototest.Client(t, tc, "C: DATE\nS: 111 *\nC: STARTTLS\nS: 502 *")
	_ = r2
}

// TestConn_authinfo is HARDENING N7 and the RFC 4643 codes: 483 without
// TLS, 381/281, 481, 482, 502 after login; SASL PLAIN.
func TestConn_authinfo(t *testing.T) {
	s := newServer(t, newSpool(), func(s *nntp.Server) {
		s.InsecureAuth = false
		s.AllowAnonymousPost = false
		s.TLSConfig = testcert.ServerConfig()
	})
	c := dial(t, s.Addr)
	r := prototest.Client(t, c, `
S: 201 inetkit NNTP server ready, no posting
C: AUTHINFO USER alice
S: 483 Encryption required for authentication
C: AUTHINFO SASL PLAIN AGFsaWNlAHNlY3JldA==
S: 483 *
C: POST
S: 480 Authentication required
C: IHAVE <x@example.org>
S: 480 *
C: MODE READER
S: 201 *
C: STARTTLS
S: 382 *
`)
	_ = r
	tc := startTLS(t, c)
	prototest.Client(t, tc, `
C: AUTHINFO PASS secret
S: 482 *
C: AUTHINFO USER alice
S: 381 Password required
C: AUTHINFO PASS wrong
S: 481 Authentication failed
C: AUTHINFO USER alice
S: 381 *
C: AUTHINFO PASS secret
S: 281 Authentication accepted
C: AUTHINFO USER alice
S: 502 *
C: MODE READER
S: 200 *
C: POST
S: 340 *
C: From: a@example.org
C: Newsgroups: misc.test
C: Subject: authed
C:
C: x
C: .
S: 240 *
`)
	// SASL PLAIN, with and without an initial response.
	c2 := startTLS(t, func() net.Conn {
		c := dial(t, s.Addr)
		prototest.Client(t, c, "S: 201 *\nC: STARTTLS\nS: 382 *")
		return c
	}())
	prototest.Client(t, c2, `
C: AUTHINFO SASL CRAM-MD5
S: 503 *
C: AUTHINFO SASL PLAIN
S: 383 =
C: *
S: 481 *
C: AUTHINFO SASL PLAIN
S: 383 =
C: AGFsaWNlAHNlY3JldA==
S: 281 *
`)
}

// TestConn_ihave checks IHAVE: 435 for an article the server has, 335 and
// 235, and 437 for a transfer it refuses.
func TestConn_ihave(t *testing.T) {
	sp := newSpool()
	s := newServer(t, sp)
	post(t, s, article("<have@example.org>"))
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: IHAVE <have@example.org>
S: 435 Article not wanted
C: IHAVE bad-id
S: 501 *
C: IHAVE <new@example.org>
S: 335 *
C: Path: peer.example!poster
C: From: a@example.org
C: Newsgroups: no.such,misc.test
C: Subject: transferred
C: Message-ID: <new@example.org>
C:
C: body
C: .
S: 235 Article transferred OK
C: IHAVE <other@example.org>
S: 335 *
C: From: a@example.org
C: Newsgroups: no.such
C: Subject: unwanted
C:
C: body
C: .
S: 437 Transfer rejected: no wanted newsgroups
C: IHAVE <third@example.org>
S: 335 *
C: From: a@example.org
C: Newsgroups: misc.test
C: Subject: mismatch
C: Message-ID: <fourth@example.org>
C:
C: body
C: .
S: 437 Transfer rejected: Message-ID differs from the one offered
`)
	got, _ := sp.Stored("<new@example.org>")
	if !strings.HasPrefix(got, "Path: news.test!peer.example!poster\r\n") {
		t.Errorf("stored %q; want the server's name in front of the Path", got)
	}
	if sp.Len() != 2 {
		t.Errorf("%d articles; want 2", sp.Len())
	}
}

// TestConn_idleTimeout is HARDENING G3: 400 after the idle timeout.
func TestConn_idleTimeout(t *testing.T) {
	s := newServer(t, newSpool(), func(s *nntp.Server) { s.IdleTimeout = 200 * time.Millisecond })
	c, r := greeted(t, s)
	start := time.Now()
	prototest.Run(t, c, r, "S: 400 idle timeout, closing connection")
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("closed after %v", d)
	}
}

// TestConn_slowloris is HARDENING G2: a command trickled in is cut at the
// command timeout, whatever the pace.
func TestConn_slowloris(t *testing.T) {
	s := newServer(t, newSpool(), func(s *nntp.Server) { s.CommandTimeout = 300 * time.Millisecond })
	c, r := greeted(t, s)
	start := time.Now()
	go func() {
		for _, b := range []byte("DATE\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	got, _ := readAll(t, c, r)
	if !strings.HasPrefix(got, "400 command timeout") {
		t.Errorf("got %q; want 400 command timeout", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v", d)
	}
}

// TestConn_articleStall: a client that stops in the middle of an article
// is cut after the command timeout; nothing is stored.
func TestConn_articleStall(t *testing.T) {
	sp := newSpool()
	s := newServer(t, sp, func(s *nntp.Server) { s.CommandTimeout = 300 * time.Millisecond })
	c, r := greeted(t, s)
	prototest.Run(t, c, r, "C: POST\nS: 340 *")
	write(t, c, article("<stall@example.org>"))
	if _, eof := readAll(t, c, r); !eof {
		t.Error("connection not closed")
	}
	if sp.Len() != 0 {
		t.Error("a partial article was stored")
	}
}

// TestConn_errorFlood is HARDENING G5: past the soft limit replies are
// late; at the hard limit, 400 and close.
func TestConn_errorFlood(t *testing.T) {
	s := newServer(t, newSpool(), func(s *nntp.Server) {
		s.SoftErrorLimit = 3
		s.HardErrorLimit = 6
		s.ErrorDelay = 50 * time.Millisecond
	})
	c, r := greeted(t, s)
	start := time.Now()
	write(t, c, strings.Repeat("XYZZY\r\n", 100))
	got, eof := readAll(t, c, r)
	if n := strings.Count(got, "500 Unknown command"); n != 5 || !strings.HasSuffix(got, "400 too many errors, closing connection\r\n") || !eof {
		t.Errorf("got %q (eof %v); want 5 replies of 500, then 400 and close", got, eof)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("took %v; want the replies past the soft limit delayed", d)
	}
	// Outcomes that are not the client's mistakes do not count.
	c, r = greeted(t, s)
	write(t, c, strings.Repeat("GROUP no.such\r\n", 20)+"DATE\r\n")
	for range 20 {
		if l := readLine(t, c, r); !strings.HasPrefix(l, "411 ") {
			t.Fatalf("got %q; want 411", l)
		}
	}
	prototest.Run(t, c, r, "S: 111 *")
}

// TestConn_http is HARDENING G6: an HTTP request closes the connection
// without echoing it.
func TestConn_http(t *testing.T) {
	s := newServer(t, newSpool())
	for _, req := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST / HTTP/1.1\r\n", "CONNECT x:119 HTTP/1.1\r\n"} {
		c, r := greeted(t, s)
		write(t, c, req)
		got, eof := readAll(t, c, r)
		if !eof || strings.Contains(got, "GET") || strings.Contains(got, "Host") {
			t.Errorf("%q: got %q, eof %v", req, got, eof)
		}
	}
}

// TestConn_badBytes is HARDENING G7 and G8: NUL and invalid UTF-8 get 501
// and the session goes on; a bare LF ends a command line.
func TestConn_badBytes(t *testing.T) {
	s := newServer(t, newSpool())
	c, r := greeted(t, s)
	write(t, c, "DATE\x00\r\nGROUP \xff\xfe\r\nDATE\n")
	prototest.Run(t, c, r, "S: 501 *\nS: 501 *\nS: 111 *")
}

// TestServer_maxConnsPerIP is HARDENING G10: past the limit, 400 and close.
func TestServer_maxConnsPerIP(t *testing.T) {
	s := newServer(t, newSpool(), func(s *nntp.Server) { s.MaxConnsPerIP = 2 })
	greeted(t, s)
	greeted(t, s)
	c := dial(t, s.Addr)
	prototest.Client(t, c, "S: 400 too many connections, try again later")
}

// TestServer_shutdown: an idle session gets "400 server shutting down"; a
// POST in flight finishes and is answered 240.
func TestServer_shutdown(t *testing.T) {
	sp := newSpool()
	s := newServer(t, sp)
	idle, ir := greeted(t, s)
	busy, br := greeted(t, s)
	prototest.Run(t, busy, br, "C: POST\nS: 340 *")
	art := article("<inflight@example.org>")
	write(t, busy, art[:40])
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Config.Shutdown(ctx)
	}()
	prototest.Run(t, idle, ir, "S: 400 server shutting down")
	time.Sleep(200 * time.Millisecond) // past the drain grace
	write(t, busy, art[40:]+".\r\n")
	prototest.Run(t, busy, br, "S: 240 *")
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if sp.Len() != 1 {
		t.Errorf("%d articles; want the one in flight", sp.Len())
	}
	if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// TestConn_panic: a panic in the backend ends that connection only.
func TestConn_panic(t *testing.T) {
	s := newServer(t, panicBackend{newSpool()})
	c, r := greeted(t, s)
	write(t, c, "LIST\r\n")
	if _, eof := readAll(t, c, r); !eof {
		t.Error("connection not closed")
	}
	c, r = greeted(t, s)
	prototest.Run(t, c, r, "C: DATE\nS: 111 *")
}

type panicBackend struct{ nntp.Backend }

func (panicBackend) Groups(ctx context.Context) ([]nntp.Group, error) { panic("test panic") }

// TestConn_backendErrors: an error of the backend is 403 (436 to IHAVE),
// never its text; a *nntp.Error is sent as it is.
func TestConn_backendErrors(t *testing.T) {
	s := newServer(t, errBackend{newSpool()})
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: LIST
S: 403 Internal fault
C: GROUP misc.test
S: 480 custom reply
C: IHAVE <x@example.org>
S: 436 *
`)
}

type errBackend struct{ nntp.Backend }

func (errBackend) Groups(ctx context.Context) ([]nntp.Group, error) {
	return nil, errors.New("disk on fire at /secret/path")
}
func (errBackend) Group(ctx context.Context, name string) (nntp.Group, error) {
	return nntp.Group{}, &nntp.Error{Code: 480, Message: "custom reply"}
}
func (errBackend) ArticleByID(ctx context.Context, id string, body bool) (*nntp.Article, error) {
	return nil, errors.New("db locked")
}

// TestServer_implicitTLS serves NNTPS.
func TestServer_implicitTLS(t *testing.T) {
	s := newServer(t, newSpool())
	_ = s
	s2 := newTLSServer(t)
	c, err := s2.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := caps["STARTTLS"]; ok {
		t.Error("STARTTLS offered over implicit TLS")
	}
}
