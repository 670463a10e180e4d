package imap

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/lineproto"
)

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want lineInfo
	}{
		{"a NOOP", lineInfo{literal: -1}},
		{"a LOGIN {5}", lineInfo{literal: 5}},
		{"a LOGIN {5+}", lineInfo{literal: 5, nonSync: true}},
		{"a APPEND INBOX (\\Seen) ~{0}", lineInfo{literal: 0, deepest: 1}},
		{"a SEARCH ((ALL) (\"(\"", lineInfo{literal: -1, depth: 2, deepest: 2}},
		{"a FETCH 1 (BODY[HEADER.FIELDS (A B)]))", lineInfo{literal: -1, depth: -1, deepest: 2}},
		{`a LOGIN "{5}"`, lineInfo{literal: -1}},
		{`a LOGIN "x\"y" {12}`, lineInfo{literal: 12}},
		{`a LOGIN "x\\" {3}`, lineInfo{literal: 3}},
		{`a LOGIN "unterminated {3}`, lineInfo{literal: -1, unterminated: true}},
		{`a LOGIN "x\"`, lineInfo{literal: -1, unterminated: true}},
		{"a LOGIN foo}", lineInfo{literal: -1}},
		{"a LOGIN {5 }", lineInfo{literal: -1}},
		{"a LOGIN {}", lineInfo{literal: -1, malformed: true}},
		{"a LOGIN {+}", lineInfo{literal: -1, malformed: true, nonSync: true}},
		{"a LOGIN {-1}", lineInfo{literal: -1, malformed: true}},
		{"a LOGIN {1a}", lineInfo{literal: -1, malformed: true}},
		{"a LOGIN {99999999999999999999}", lineInfo{literal: -1, tooBig: true}},
		{"a LOGIN {9223372036854775807}", lineInfo{literal: 9223372036854775807}},
	} {
		if got := parseLine([]byte(tc.in)); got != tc.want {
			t.Errorf("parseLine(%q) = %+v; want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		in, tag, name string
		ok            bool
	}{
		{"a1 noop", "a1", "NOOP", true},
		{"a1 uid fetch 1 FLAGS", "a1", "UID FETCH", true},
		{"a1 UID", "a1", "UID", true},
		{"a+ NOOP", "", "", false},
		{"* NOOP", "", "", false},
		{" NOOP", "", "", false},
		{"NOOP", "", "", false},
		{"a\x01 NOOP", "", "", false},
	} {
		tag, name, ok := parseCommand([]byte(tc.in))
		if tag != tc.tag || name != tc.name || ok != tc.ok {
			t.Errorf("parseCommand(%q) = %q, %q, %v; want %q, %q, %v", tc.in, tag, name, ok, tc.tag, tc.name, tc.ok)
		}
	}
}

func TestRewriteCaps(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"* CAPABILITY IMAP4rev1\r\n", "* CAPABILITY IMAP4rev1 ID\r\n"},
		{"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n", "* OK [CAPABILITY IMAP4rev1 STARTTLS ID] ready\r\n"},
		{"a OK [CAPABILITY IMAP4rev1] Logged in\r\n", "a OK [CAPABILITY IMAP4rev1 ID] Logged in\r\n"},
		// LITERAL+ in every state, never with LITERAL- (RFC 7888 §5).
		{"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL- STARTTLS] ready\r\n", "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ STARTTLS ID] ready\r\n"},
		{"* CAPABILITY IMAP4rev1 LITERAL- IDLE LITERAL+ APPENDLIMIT=5\r\n", "* CAPABILITY IMAP4rev1 IDLE LITERAL+ APPENDLIMIT=5 ID\r\n"},
		{"* CAPABILITY IMAP4rev1 ID LITERAL+\r\n", "* CAPABILITY IMAP4rev1 LITERAL+ ID\r\n"},
		{"* CAPABILITY IMAP4rev1\r\n* 1 EXISTS\r\n", ""},
		{"* CAPABILITY IMAP4rev1", ""},
		{"a NO [ALERT] x [CAPABILITY y]\r\n", ""},
		{"+ idling\r\n", ""},
	} {
		got, ok := rewriteCaps([]byte(tc.in))
		if !ok {
			got = nil
		}
		if string(got) != tc.want {
			t.Errorf("rewriteCaps(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"a LOGIN {5}", "a LOGIN {5+}", `a "x\"y" {1}`, "{-1}", "{}", "{1a}", "{9999999999}", `"`, "a ID (\"name\" {3}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info := parseLine(b)
		if info.literal >= 0 {
			if !bytes.HasSuffix(b, []byte("}")) || info.malformed || info.tooBig || info.unterminated {
				t.Fatalf("parseLine(%q) = %+v", b, info)
			}
			s := strings.TrimSuffix(strings.TrimSuffix(string(b), "}"), "+")
			n, err := strconv.ParseInt(s[strings.LastIndexByte(s, '{')+1:], 10, 64)
			if err != nil || n != info.literal {
				t.Fatalf("parseLine(%q) = %+v: literal size does not match its digits (%d, %v)", b, info, n, err)
			}
		}
	})
}

// FuzzGuard feeds arbitrary client bytes to the guard, read as imapserver
// would read it (without its replies: every synchronising literal counts as
// refused), and checks that it ends, passes no more bytes than it got (but
// the CR of a line ended by LF alone), and never hands imapserver a command
// line with a CR or NUL in it.
func FuzzGuard(f *testing.F) {
	for _, s := range []string{
		"a1 NOOP\r\n",
		"a1 LOGIN {999999999}\r\n",
		"a1 LOGIN {999999999+}\r\nxxxx",
		"a1 LOGIN {-1}\r\na2 LOGIN {}\r\na3 LOGIN {1a}\r\n",
		"a1 APPEND INBOX {10+}\r\n0123456789\r\n",
		"a1 APPEND {5+}\r\nINBOX {3+}\r\nabc\r\n",
		"a1 LOGIN \"us\\\"er\" \"p\\\\w\"\r\na2 LOGIN \"user\r\n",
		"a1 SEARCH " + strings.Repeat("(", 300) + "\r\n",
		"A STARTTLS\r\nXYZAB NOOP\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"a ID (\"name\" {3}\r\nfoo)\r\n",
		"a IDLE\r\nDONE\r\n",
		"a AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n",
		strings.Repeat("x", 1000),
		"a1 NOOP\x00\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := &Server{MaxLineBytes: 256, MaxLiteralBytes: 1024, LiteralReadTimeout: time.Second}
		srv.limits = lineproto.Limits{ErrorDelay: -1}.Resolve(lineproto.Limits{IdleTimeout: time.Second})
		a, b := net.Pipe()
		defer b.Close()
		g := newConn(context.Background(), srv, a, a, nil)
		defer g.Close()
		go func() {
			b.SetWriteDeadline(time.Now().Add(5 * time.Second))
			b.Write(in)
			b.Close()
		}()
		go io.Copy(io.Discard, b)
		total := 0
		buf := make([]byte, 7)
		for {
			n, err := g.Read(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("Read returned %d", n)
			}
			total += n
			if l := g.outBuf; len(l) > 0 && (!bytes.HasSuffix(l, []byte("\r\n")) || bytes.ContainsAny(l[:len(l)-2], "\x00\r")) && !g.raw2 {
				t.Fatalf("guard passed the line %q", l)
			}
			if err != nil {
				break
			}
		}
		// Lines go to imapserver with CRLF, whatever their ending was.
		if max := len(in) + bytes.Count(in, []byte("\n")); total > max {
			t.Fatalf("guard passed %d bytes of %d (at most %d with a CR added to every line)", total, len(in), max)
		}
	})
}

// scanOutputLocked finds the tagged BAD or NO reply of the current command
// (a login here, so that NO counts), however imapserver's output is split,
// and never in a literal's text.
// A NO to a command other than a login is an answer, not an error.
func TestScanOutput_noToOrdinaryCommand(t *testing.T) {
	g := &conn{}
	g.setErrTag("a1", "SELECT")
	if g.scanOutputLocked([]byte("a1 NO [NONEXISTENT] No such mailbox\r\n")) {
		t.Error("NO to SELECT counted as an error")
	}
	g.setErrTag("a2", "LOGIN")
	if !g.scanOutputLocked([]byte("a2 NO [AUTHENTICATIONFAILED] Invalid\r\n")) {
		t.Error("NO to LOGIN not counted")
	}
	g.setErrTag("a3", "SELECT")
	if !g.scanOutputLocked([]byte("a3 BAD Syntax\r\n")) {
		t.Error("BAD to SELECT not counted")
	}
}

func TestScanOutput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   []bool // per write
	}{
		{"BAD", []string{"a1 BAD Unknown command\r\n"}, []bool{true}},
		{"NO", []string{"* 1 EXISTS\r\n", "a1 NO [NONEXISTENT] No such mailbox\r\n"}, []bool{false, true}},
		{"OK", []string{"a1 OK done\r\n", "a1 NO late\r\n"}, []bool{false, false}},
		{"other tag", []string{"a10 NO x\r\n", "b1 BAD x\r\n"}, []bool{false, false}},
		{"untagged", []string{"* BAD x\r\n", "* NO x\r\n"}, []bool{false, false}},
		{"literal", []string{"* 1 FETCH (BODY[] {10}\r\n", "a1 NO x\r\n", ")\r\n", "a1 OK done\r\n"}, []bool{false, false, false, false}},
		{"literal with lines", []string{"* 1 FETCH (BODY[] {20}\r\n", "x\r\na1 BAD y\r\na1 NO z", ")\r\n", "a1 NO real\r\n"}, []bool{false, false, false, true}},
		{"split announcement", []string{"* 1 FETCH (BODY[] {1", "0}\r\n", "a1 NO x\r\n)\r\n", "a1 BAD real\r\n"}, []bool{false, false, false, true}},
		{"binary literal", []string{"* 1 FETCH (BINARY[] ~{7}\r\n", "a1 NO ", ")\r\n", "a1 NO real\r\n"}, []bool{false, false, false, true}},
		{"long line", []string{"* 1 FETCH (ENVELOPE (\"" + strings.Repeat("x", 5000), "\"))\r\n", "a1 NO real\r\n"}, []bool{false, false, true}},
		{"mid-line", []string{"* 1 FETCH (FLAGS ()", "a1 NO x)\r\n", "a1 NO real\r\n"}, []bool{false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &conn{errTag: "a1", errNO: true}
			for i, w := range tc.writes {
				if got := g.scanOutputLocked([]byte(w)); got != tc.want[i] {
					t.Errorf("write %d %q: error reply %v; want %v", i, w, got, tc.want[i])
				}
			}
		})
	}
}

// A failed login is counted once, by the session, and its reply waits the
// longer of AuthFailureDelay and the error delay, not their sum; the NO that
// imapserver then writes is not counted again. A NO to LOGIN that is not a
// failed login (LOGINDISABLED) is counted as an error reply.
func TestConn_authFailedCountedOnce(t *testing.T) {
	limits := lineproto.Limits{SoftErrorLimit: 1, HardErrorLimit: 3, ErrorDelay: time.Second, AuthFailureDelay: 300 * time.Millisecond, MaxAuthFailures: 10}
	g := &conn{counter: lineproto.NewCounter(limits.Resolve(lineproto.Limits{}))}
	g.setErrTag("a1", "LOGIN")
	if d, n := g.authFailed(); d != 300*time.Millisecond || n != 1 {
		t.Errorf("failure 1 (error 1, at the soft limit): delay %v, failures %d; want 300ms, 1", d, n)
	}
	if g.scanOutputLocked([]byte("a1 NO [AUTHENTICATIONFAILED] Invalid\r\n")) {
		t.Error("the NO of a failed login counted again")
	}
	g.setErrTag("a2", "LOGIN")
	if d, _ := g.authFailed(); d != time.Second {
		t.Errorf("failure 2 (error 2, past the soft limit): delay %v; want 1s, the longer", d)
	}
	g.scanOutputLocked([]byte("a2 NO [AUTHENTICATIONFAILED] Invalid\r\n"))
	g.setErrTag("a3", "LOGIN")
	if !g.scanOutputLocked([]byte("a3 NO [PRIVACYREQUIRED] TLS is required\r\n")) {
		t.Error("a NO to LOGIN without a failed login was not counted")
	}
	if got := g.counter.Errors(); got != 2 {
		t.Errorf("errors counted by the session = %d; want 2", got)
	}
	if g.bye != lineproto.ReasonNone {
		t.Errorf("goodbye %v before the hard limit", g.bye)
	}
	g.setErrTag("a4", "LOGIN")
	g.authFailed()
	if g.bye != lineproto.ReasonTooManyErrors {
		t.Errorf("at the hard limit: goodbye %v; want too many errors", g.bye)
	}
}

// FuzzScanOutput feeds scanOutputLocked server output cut into writes at
// arbitrary places: it must not panic, and its state stays bounded.
func FuzzScanOutput(f *testing.F) {
	f.Add([]byte("* 1 FETCH (BODY[] {10}\r\na1 NO x\r\n)\r\na1 BAD y\r\n"), uint8(7))
	f.Add([]byte("* 1 FETCH (BINARY[] ~{3}\r\na1 )\r\na1 NO z\r\n"), uint8(1))
	f.Add([]byte("a1 OK done\r\n* 2 EXISTS\r\n{99999999999999999999}\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, out []byte, cut uint8) {
		g := &conn{errTag: "a1"}
		for len(out) > 0 {
			n := min(int(cut)%16+1, len(out))
			g.scanOutputLocked(out[:n])
			out = out[n:]
			if g.outLit < 0 || len(g.outTail) > maxOutTail {
				t.Fatalf("state outLit %d, tail %q", g.outLit, g.outTail)
			}
		}
	})
}
