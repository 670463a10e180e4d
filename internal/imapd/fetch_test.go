package imapd_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/prototest"
)

// Messages of the FETCH tests.
const (
	fetchMsgPlain = "From: Alice <alice@example.org>\r\n" +
		"To: bob@example.org\r\n" +
		"Subject: Hello\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <1@example.org>\r\n" +
		"\r\n" +
		"Hello Bob,\r\nbye.\r\n"
	fetchMsgParts = "From: a@example.org\r\n" +
		"Subject: parts\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n" +
		"\r\n" +
		"--b\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"first\r\n" +
		"--b\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"AAECaGk=\r\n" +
		"--b\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Transfer-Encoding: x-uuencode\r\n" +
		"\r\n" +
		"begin\r\n" +
		"--b\r\n" +
		"Content-Type: message/rfc822\r\n" +
		"\r\n" +
		"Subject: inner\r\n" +
		"\r\n" +
		"inner body\r\n" +
		"--b--\r\n"
)

// fetchSelected starts a server, delivers msgs to alice's INBOX, logs in
// and selects INBOX (read-only with examine).
func fetchSelected(t testing.TB, examine bool, msgs ...string) (*testServer, net.Conn, *bufio.Reader) {
	t.Helper()
	s := newServer(t, nil)
	for _, m := range msgs {
		if err := s.be.Deliver("alice", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	c, r := s.loggedIn(t)
	cmd := "SELECT"
	if examine {
		cmd = "EXAMINE"
	}
	if out := fetchRun(t, c, r, "S "+cmd+" INBOX"); !strings.Contains(out, "\r\nS OK ") {
		t.Fatalf("%s INBOX: %q", cmd, out)
	}
	return s, c, r
}

// fetchRun sends the command line cmd, whose first word is its tag, and
// returns everything the server answers up to and including the tagged
// response, literals included, with CRLF line endings.
func fetchRun(t testing.TB, c net.Conn, r *bufio.Reader, cmd string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(prototest.Timeout))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		t.Fatal(err)
	}
	out, err := fetchReadUntil(r, strings.Fields(cmd)[0])
	if err != nil {
		t.Fatalf("%s: %v (after %q)", cmd, err, out)
	}
	return out
}

var fetchLiteral = regexp.MustCompile(`~?\{(\d+)\}\r\n$`)

// fetchReadUntil reads responses up to the one tagged tag.
func fetchReadUntil(r *bufio.Reader, tag string) (string, error) {
	var b strings.Builder
	start := true // at the start of a response
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if start && strings.HasPrefix(line, tag+" ") {
			return b.String(), nil
		}
		start = true
		if !strings.HasSuffix(line, "}\r\n") {
			continue
		}
		if m := fetchLiteral.FindStringSubmatch(line[max(0, strings.LastIndexByte(line, '{')-1):]); m != nil {
			n, _ := strconv.Atoi(m[1])
			lit := make([]byte, n)
			if _, err := io.ReadFull(r, lit); err != nil {
				return b.String(), err
			}
			b.Write(lit)
			start = false
		}
	}
}

// crlf turns the bare LF line endings of s into CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// fetchCheck runs each command and compares the answer with the
// transcript of want, in which a bare "\n" stands for CRLF and "%%" for
// any text within a line.
func fetchCheck(t *testing.T, c net.Conn, r *bufio.Reader, steps ...[2]string) {
	t.Helper()
	for _, st := range steps {
		got, want := fetchRun(t, c, r, st[0]), crlf(st[1])
		re := "^" + strings.ReplaceAll(regexp.QuoteMeta(want), "%%", `[^\r\n]*`) + "$"
		if got != want && (!strings.Contains(want, "%%") || !regexp.MustCompile(re).MatchString(got)) {
			t.Errorf("%s:\ngot  %q\nwant %q", st[0], got, want)
		}
	}
}

func TestFetch_items(t *testing.T) {
	_, c, r := fetchSelected(t, false, fetchMsgPlain)
	size := strconv.Itoa(len(fetchMsgPlain))
	fetchCheck(t, c, r,
		[2]string{"F1 FETCH 1 (UID FLAGS RFC822.SIZE)", "* 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE " + size + ")\nF1 OK Fetch completed.\n"},
		// UID FETCH writes UID first; repeated items are written once.
		[2]string{"F2 UID FETCH 1 (FLAGS FLAGS UID)", "* 1 FETCH (UID 1 FLAGS (\\Recent))\nF2 OK Fetch completed.\n"},
		// Items of the view first, then the others, each in the order asked.
		[2]string{"F3 FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] UID ENVELOPE RFC822.SIZE)",
			"* 1 FETCH (UID 1 RFC822.SIZE " + size + " BODY[HEADER.FIELDS (Subject)] {18}\nSubject: Hello\n\n" +
				` ENVELOPE ("Mon, 02 Jan 2006 15:04:05 +0000" "Hello" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" "example.org")) NIL NIL NIL "<1@example.org>"))` +
				"\nF3 OK Fetch completed.\n"},
		[2]string{"F4 FETCH 1 BODY", `* 1 FETCH (BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 18 2))` + "\nF4 OK Fetch completed.\n"},
		[2]string{"F5 FETCH 1 BODYSTRUCTURE", `* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 18 2 NIL NIL NIL NIL))` + "\nF5 OK Fetch completed.\n"},
		[2]string{"F6 FETCH 1 RFC822.HEADER", "* 1 FETCH (RFC822.HEADER {" + strconv.Itoa(len(fetchMsgPlain)-18) + "}\n" + fetchMsgPlain[:len(fetchMsgPlain)-18] + ")\nF6 OK Fetch completed.\n"},
		[2]string{"F7 FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT]<3.4> BODY.PEEK[TEXT]<100.4>)",
			"* 1 FETCH (BODY[] {" + size + "}\n" + fetchMsgPlain + " BODY[TEXT]<3> {4}\nlo B BODY[TEXT]<100> {0}\n)\nF7 OK Fetch completed.\n"},
		[2]string{"F8 FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (To Date Message-ID)] BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[1.MIME])",
			"* 1 FETCH (BODY[HEADER.FIELDS.NOT (To Date Message-ID)] {51}\nFrom: Alice <alice@example.org>\nSubject: Hello\n\n" +
				" BODY[1] {18}\nHello Bob,\nbye.\n BODY[2] {0}\n BODY[1.MIME] {" + strconv.Itoa(len(fetchMsgPlain)-18) + "}\n" + fetchMsgPlain[:len(fetchMsgPlain)-18] + ")\nF8 OK Fetch completed.\n"},
	)
}

func TestFetch_internalDate(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	lit := "{" + strconv.Itoa(len(fetchMsgPlain)) + "+}\r\n" + fetchMsgPlain
	fetchCheck(t, c, r,
		[2]string{`A1 APPEND INBOX (\Flagged $Work) "02-Jan-2006 15:04:05 +0100" ` + lit, "A1 OK [APPENDUID %% 1] Append completed.\n"},
	)
	if out := fetchRun(t, c, r, "S EXAMINE INBOX"); !strings.Contains(out, "S OK") {
		t.Fatal(out)
	}
	fetchCheck(t, c, r,
		[2]string{"F1 FETCH 1 FAST", "* 1 FETCH (FLAGS (\\Flagged $Work%%) INTERNALDATE \"02-Jan-2006 15:04:05 +0100\" RFC822.SIZE " + strconv.Itoa(len(fetchMsgPlain)) + ")\nF1 OK Fetch completed.\n"},
	)
}

func TestFetch_setsSeen(t *testing.T) {
	_, c, r := fetchSelected(t, false, fetchMsgPlain, fetchMsgPlain, fetchMsgPlain)
	fetchCheck(t, c, r,
		// FLAGS, not asked for, reports the \Seen the FETCH set.
		[2]string{"F1 FETCH 1 BODY[TEXT]", "* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT] {18}\nHello Bob,\nbye.\n)\nF1 OK Fetch completed.\n"},
		// Set already: no FLAGS.
		[2]string{"F2 FETCH 1 RFC822.TEXT", "* 1 FETCH (RFC822.TEXT {18}\nHello Bob,\nbye.\n)\nF2 OK Fetch completed.\n"},
		// Asked for: where it was asked, with \Seen.
		[2]string{"F3 UID FETCH 2 (BODY[TEXT]<0.5> FLAGS)", "* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent) BODY[TEXT]<0> {5}\nHello)\nF3 OK Fetch completed.\n"},
		// PEEK sets nothing.
		[2]string{"F4 FETCH 3 BODY.PEEK[TEXT]<0.5>", "* 3 FETCH (BODY[TEXT]<0> {5}\nHello)\nF4 OK Fetch completed.\n"},
		// The view took the change: NOOP reports nothing more.
		[2]string{"N1 NOOP", "N1 OK Noop completed.\n"},
		[2]string{"F5 FETCH 1:3 FLAGS", "* 1 FETCH (FLAGS (\\Seen \\Recent))\n* 2 FETCH (FLAGS (\\Seen \\Recent))\n* 3 FETCH (FLAGS (\\Recent))\nF5 OK Fetch completed.\n"},
	)
}

func TestFetch_readOnlySetsNoSeen(t *testing.T) {
	_, c, r := fetchSelected(t, true, fetchMsgPlain)
	fetchCheck(t, c, r,
		[2]string{"F1 FETCH 1 BODY[TEXT]", "* 1 FETCH (BODY[TEXT] {18}\nHello Bob,\nbye.\n)\nF1 OK Fetch completed.\n"},
	)
	// Whether EXAMINE shows \Recent is the backend's choice; \Seen it must
	// not set.
	if out := fetchRun(t, c, r, "F2 FETCH 1 FLAGS"); strings.Contains(out, `\Seen`) || !strings.Contains(out, "F2 OK") {
		t.Errorf("FETCH 1 FLAGS after BODY[TEXT] on EXAMINE = %q; want no \\Seen", out)
	}
}

func TestFetch_mime(t *testing.T) {
	_, c, r := fetchSelected(t, true, fetchMsgParts)
	fetchCheck(t, c, r,
		[2]string{"F1 FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[4.HEADER] BODY.PEEK[4.TEXT] BODY.PEEK[4.1] BODY.PEEK[5] BODY.PEEK[1.2.3])",
			"* 1 FETCH (BODY[1] {5}\nfirst BODY[2.MIME] {77}\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
				" BODY[4.HEADER] {18}\nSubject: inner\n\n BODY[4.TEXT] {10}\ninner body BODY[4.1] {10}\ninner body BODY[5] {0}\n BODY[1.2.3] {0}\n)\nF1 OK Fetch completed.\n"},
		[2]string{"F2 FETCH 1 BODY", `* 1 FETCH (BODY (("text" "plain" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 5 0)("application" "octet-stream" NIL NIL NIL "base64" 8)("text" "plain" ("CHARSET" "US-ASCII") NIL NIL "x-uuencode" 5 0)("message" "rfc822" NIL NIL NIL "7BIT" 28 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 0) 2) "mixed"))` + "\nF2 OK Fetch completed.\n"},
	)
}

func TestFetch_binary(t *testing.T) {
	_, c, r := fetchSelected(t, true, fetchMsgParts)
	fetchCheck(t, c, r,
		// The decoded part has NUL: a literal8.
		[2]string{"F1 FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2] BINARY.PEEK[2]<3.10> BINARY.PEEK[1] BINARY.SIZE[1])",
			"* 1 FETCH (BINARY.SIZE[2] 5 BINARY[2] ~{5}\n\x00\x01\x02hi BINARY[2]<3> ~{2}\nhi BINARY[1] {5}\nfirst BINARY.SIZE[1] 5)\nF1 OK Fetch completed.\n"},
		// In BODY[], NUL is written as 0x80.
		[2]string{"F2 FETCH 1 (BINARY.SIZE[] BINARY.SIZE[9])", "* 1 FETCH (BINARY.SIZE[] " + strconv.Itoa(len(fetchMsgParts)) + " BINARY.SIZE[9] 0)\nF2 OK Fetch completed.\n"},
		// An encoding the server cannot decode: NO [UNKNOWN-CTE], the
		// other items written.
		[2]string{"F3 FETCH 1 (UID BINARY.PEEK[3] BINARY.SIZE[1])", "* 1 FETCH (UID 1 BINARY.SIZE[1] 5)\nF3 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.\n"},
		[2]string{"F4 FETCH 1 BINARY.SIZE[3]", "F4 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.\n"},
	)
}

func TestFetch_nulAsHighOctet(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	msg := "Subject: nul\r\n\r\na\x00b\r\n"
	fetchCheck(t, c, r,
		[2]string{"A1 APPEND INBOX ~{" + strconv.Itoa(len(msg)) + "+}\r\n" + msg, "A1 OK [APPENDUID %% 1] Append completed.\n"},
	)
	if out := fetchRun(t, c, r, "S EXAMINE INBOX"); !strings.Contains(out, "S OK") {
		t.Fatal(out)
	}
	fetchCheck(t, c, r,
		// A literal must not hold NUL: BODY[] writes it as 0x80, as
		// Dovecot does; BINARY[] sends a literal8.
		[2]string{"F1 FETCH 1 (BODY.PEEK[TEXT] BINARY.PEEK[1] BINARY.SIZE[1] BODY.PEEK[TEXT]<1.1>)",
			"* 1 FETCH (BODY[TEXT] {5}\na\x80b\n BINARY[1] ~{5}\na\x00b\n BINARY.SIZE[1] 5 BODY[TEXT]<1> {1}\n\x80)\nF1 OK Fetch completed.\n"},
	)
}

func TestFetch_errors(t *testing.T) {
	s, c, r := fetchSelected(t, false, fetchMsgPlain)
	fetchCheck(t, c, r,
		[2]string{"F1 FETCH 2 FLAGS", "F1 BAD Error in IMAP command: Invalid messageset\n"},
		[2]string{"F2 FETCH 1 ()", "F2 BAD Error in IMAP command FETCH: FETCH list is empty.\n"},
		[2]string{"F3 FETCH 1 (FLAGS) (VANISHED)", "F3 BAD Error in IMAP command FETCH: Unknown FETCH modifier\n"},
		[2]string{"F4 UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)", "F4 BAD Error in IMAP command UID FETCH: QRESYNC not enabled\n"},
		[2]string{"F5 UID FETCH 5 FLAGS", "F5 OK Fetch completed.\n"},
		[2]string{"F6 FETCH 1 BODY[FOO]", "F6 BAD %%\n"},
	)
	c2, r2 := s.loggedIn(t)
	fetchCheck(t, c2, r2,
		[2]string{"F1 FETCH 1 FLAGS", "F1 BAD Error in IMAP command FETCH: No mailbox selected.\n"},
	)
}

func TestFetch_condstore(t *testing.T) {
	_, c, r := fetchSelected(t, false, fetchMsgPlain, fetchMsgPlain, fetchMsgPlain)
	out := fetchRun(t, c, r, "F1 FETCH 1:3 MODSEQ")
	mods := regexp.MustCompile(`MODSEQ \((\d+)\)`).FindAllStringSubmatch(out, -1)
	if len(mods) != 3 {
		t.Fatalf("FETCH 1:3 MODSEQ = %q", out)
	}
	m1, _ := strconv.ParseUint(mods[0][1], 10, 64)
	m3, _ := strconv.ParseUint(mods[2][1], 10, 64)
	out = fetchRun(t, c, r, "F2 STORE 2 +FLAGS.SILENT (\\Flagged)")
	if !strings.Contains(out, "F2 OK") {
		t.Fatalf("STORE: %q", out)
	}
	out = fetchRun(t, c, r, fmt.Sprintf("F3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", m3))
	if !regexp.MustCompile(`^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)\r\nF3 OK Fetch completed\.\r\n$`).MatchString(out) {
		t.Errorf("UID FETCH CHANGEDSINCE = %q", out)
	}
	out = fetchRun(t, c, r, fmt.Sprintf("F4 FETCH 1:* (UID) (CHANGEDSINCE %d)", m1-1))
	if n := strings.Count(out, " FETCH (UID "); n != 3 {
		t.Errorf("FETCH CHANGEDSINCE %d = %q: want 3 messages", m1-1, out)
	}
	fetchCheck(t, c, r,
		// CONDSTORE is on (FETCH MODSEQ turned it on): the \Seen a FETCH
		// sets comes with its MODSEQ, after, as Dovecot sends it.
		[2]string{"F5 FETCH 3 BODY[TEXT]<0.5>", "* 3 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT]<0> {5}\nHello)\n* 3 FETCH (MODSEQ (%%))\nF5 OK Fetch completed.\n"},
		// MODSEQ asked for: the new one, in the response.
		[2]string{"F6 FETCH 1 (BODY[TEXT]<0.5> MODSEQ)", "* 1 FETCH (MODSEQ (%%) FLAGS (\\Seen \\Recent) BODY[TEXT]<0> {5}\nHello)\nF6 OK Fetch completed.\n"},
	)
}

func TestFetch_vanished(t *testing.T) {
	s := newServer(t, nil)
	for range 3 {
		s.be.Deliver("alice", []byte(fetchMsgPlain))
	}
	c, r := s.loggedIn(t)
	for _, cmd := range []string{"E ENABLE QRESYNC", "S SELECT INBOX", "T STORE 2 +FLAGS.SILENT (\\Deleted)", "X EXPUNGE"} {
		if out := fetchRun(t, c, r, cmd); !strings.Contains(out, "\n"+strings.Fields(cmd)[0]+" OK") && !strings.HasPrefix(out, strings.Fields(cmd)[0]+" OK") {
			t.Fatalf("%s: %q", cmd, out)
		}
	}
	out := fetchRun(t, c, r, "F1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
	if !regexp.MustCompile(`^\* VANISHED \(EARLIER\) 2\r\n\* 2 FETCH \(UID 3 FLAGS \(\\Recent\) MODSEQ \(\d+\)\)\r\nF1 OK Fetch completed\.\r\n$`).MatchString(out) {
		t.Errorf("UID FETCH VANISHED = %q", out)
	}
	fetchCheck(t, c, r,
		[2]string{"F2 UID FETCH 3:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", "* 2 FETCH (UID 3 FLAGS (\\Recent) MODSEQ (%%))\nF2 OK Fetch completed.\n"},
		// CHANGEDSINCE 0 (mod-sequence-valzer): every message, and every
		// UID expunged.
		[2]string{"F4 UID FETCH 1:* (UID) (CHANGEDSINCE 0 VANISHED)", "* VANISHED (EARLIER) 2\n* 1 FETCH (UID 1 MODSEQ (%%))\n* 2 FETCH (UID 3 MODSEQ (%%))\nF4 OK Fetch completed.\n"},
		[2]string{"F3 UID FETCH 1 (FLAGS) (VANISHED)", "F3 BAD Error in IMAP command UID FETCH: VANISHED used without CHANGEDSINCE\n"},
	)
}

func TestFetch_expungedByAnother(t *testing.T) {
	s, c, r := fetchSelected(t, false, fetchMsgPlain, fetchMsgPlain)
	c2, r2 := s.loggedIn(t)
	for _, cmd := range []string{"S SELECT INBOX", "T STORE 1 +FLAGS.SILENT (\\Deleted)", "X EXPUNGE"} {
		if out := fetchRun(t, c2, r2, cmd); !strings.Contains(out, strings.Fields(cmd)[0]+" OK") {
			t.Fatalf("%s: %q", cmd, out)
		}
	}
	fetchCheck(t, c, r,
		// FETCH answers from the view and NIL for the content.
		[2]string{"F1 FETCH 1:2 (UID BODY.PEEK[HEADER.FIELDS (Subject)] ENVELOPE)",
			"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (Subject)] NIL ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\n" +
				"* 2 FETCH (UID 2 BODY[HEADER.FIELDS (Subject)] {18}\nSubject: Hello\n\n" +
				` ENVELOPE ("Mon, 02 Jan 2006 15:04:05 +0000" "Hello" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" "example.org")) NIL NIL NIL "<1@example.org>"))` +
				"\nF1 OK [EXPUNGEISSUED] Some messages were already expunged.\n"},
		// UID FETCH leaves it out.
		[2]string{"F2 UID FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (Subject)])", "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (Subject)] {18}\nSubject: Hello\n\n)\n* 1 EXPUNGE\nF2 OK Fetch completed.\n"},
	)
}

// FuzzFetch appends arbitrary messages and fetches every item of them: the
// server must answer each FETCH in full (no panic, which would end the
// connection), and the items read from the header alone must be written
// as they are from the parsed message.
func FuzzFetch(f *testing.F) {
	for _, m := range []string{fetchMsgPlain, fetchMsgParts, "", "\r\n", "Subject: x", "a: b\n\nc\x00d",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nFrom: y\r\n\r\n--x--\r\n",
		"Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc\r\n"} {
		f.Add([]byte(m))
	}
	s := newServer(f, nil)
	c, r := s.loggedIn(f)
	if out := fetchRun(f, c, r, "S SELECT INBOX"); !strings.Contains(out, "S OK") {
		f.Fatal(out)
	}
	uidRE := regexp.MustCompile(`APPENDUID \d+ (\d+)\]`)
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) == 0 {
			return // APPEND takes no empty message
		}
		out := fetchRun(t, c, r, "A APPEND INBOX ~{"+strconv.Itoa(len(msg))+"+}\r\n"+string(msg))
		m := uidRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("APPEND: %q", out)
		}
		uid := m[1]
		fetchRun(t, c, r, "N NOOP")
		all := fetchRun(t, c, r, "F1 UID FETCH "+uid+" (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE RFC822.HEADER "+
			"RFC822.TEXT BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2.HEADER] BODY.PEEK[1.2.TEXT] BINARY.PEEK[1] BINARY.SIZE[2] BODY.PEEK[TEXT]<0.10> MODSEQ)")
		if !strings.Contains(all, "\r\nF1 OK ") && !strings.Contains(all, "\r\nF1 NO [UNKNOWN-CTE]") &&
			!strings.HasPrefix(all, "F1 NO [UNKNOWN-CTE]") {
			t.Fatalf("FETCH of %q = %q", msg, all)
		}
		// The same items, answered from the header alone, then from the
		// parsed message (BODY makes the server parse it).
		const items = "BODY.PEEK[HEADER] ENVELOPE BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (From Subject)] RFC822.HEADER BINARY.PEEK[] BINARY.SIZE[]"
		hdr := fetchRun(t, c, r, "F2 UID FETCH "+uid+" ("+items+")")
		tree := fetchRun(t, c, r, "F3 UID FETCH "+uid+" ("+items+" BODY)")
		hdr = strings.TrimSuffix(hdr, ")\r\nF2 OK Fetch completed.\r\n")
		if !strings.HasPrefix(tree, hdr+" BODY (") {
			t.Fatalf("message %q: from the header:\n%q\nparsed:\n%q", msg, hdr, tree)
		}
		fetchRun(t, c, r, "X UID STORE "+uid+" +FLAGS.SILENT (\\Deleted)")
		fetchRun(t, c, r, "Y EXPUNGE")
	})
}

// TestFetch_manyRanges sends sequence sets of thousands of ranges that
// each cover the mailbox: the work is bounded by the messages, not by the
// ranges times the messages (HARDENING I10).
func TestFetch_manyRanges(t *testing.T) {
	_, c, r := fetchSelected(t, true, fetchMsgPlain, fetchMsgPlain)
	for _, cmd := range []string{
		"F1 UID FETCH " + strings.Repeat("1:4294967295,", 4500) + "* (UID)",
		"F2 FETCH " + strings.Repeat("1:2,", 12000) + "* (UID)",
	} {
		start := time.Now()
		out := fetchRun(t, c, r, cmd)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%.20s...: %v; want under a second", cmd, d)
		}
		if tag := strings.Fields(cmd)[0]; out != "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n"+tag+" OK Fetch completed.\r\n" {
			t.Errorf("%.20s... = %q", cmd, out)
		}
	}
}

func TestFetch_imap4rev2(t *testing.T) {
	s := newServer(t, nil)
	s.be.Deliver("alice", []byte(fetchMsgPlain))
	c, r := s.loggedIn(t)
	for _, cmd := range []string{"E ENABLE IMAP4rev2", "S SELECT INBOX"} {
		if out := fetchRun(t, c, r, cmd); !strings.Contains(out, strings.Fields(cmd)[0]+" OK") {
			t.Fatalf("%s: %q", cmd, out)
		}
	}
	fetchCheck(t, c, r,
		// IMAP4rev2 has no \Recent (RFC 9051 §2.3.2).
		[2]string{"F1 FETCH 1 (FLAGS BINARY.SIZE[1])", "* 1 FETCH (FLAGS () BINARY.SIZE[1] 18)\nF1 OK Fetch completed.\n"},
		[2]string{"F2 FETCH 1 BINARY[1]", "* 1 FETCH (FLAGS (\\Seen) BINARY[1] {18}\nHello Bob,\nbye.\n)\nF2 OK Fetch completed.\n"},
	)
}

func TestFetch_savedResult(t *testing.T) {
	_, c, r := fetchSelected(t, true, fetchMsgPlain, fetchMsgParts, fetchMsgPlain)
	fetchCheck(t, c, r,
		[2]string{"S1 SEARCH RETURN (SAVE) SUBJECT parts", "S1 OK %%\n"},
		// "$" is the saved result (RFC 5182), for FETCH and UID FETCH.
		[2]string{"F1 FETCH $ (UID)", "* 2 FETCH (UID 2)\nF1 OK Fetch completed.\n"},
		[2]string{"F2 UID FETCH $ (FLAGS)", "* 2 FETCH (UID 2 FLAGS (%%))\nF2 OK Fetch completed.\n"},
	)
}

// TestFetch_large fetches a message larger than the connection's buffers,
// with NUL in it: the sections that need no parsing are streamed from the
// backend, NUL written as 0x80 all the same.
func TestFetch_large(t *testing.T) {
	body := strings.Repeat(strings.Repeat("y", 998)+"\r\n", 1000) + "nul\x00here\r\n"
	msg := "Subject: large\r\n\r\n" + body
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	out := fetchRun(t, c, r, "A1 APPEND INBOX ~{"+strconv.Itoa(len(msg))+"+}\r\n"+msg)
	if !strings.Contains(out, "A1 OK") {
		t.Fatal(out)
	}
	if out := fetchRun(t, c, r, "S EXAMINE INBOX"); !strings.Contains(out, "S OK") {
		t.Fatal(out)
	}
	clean := strings.ReplaceAll(msg, "\x00", "\x80")
	off := len(msg) - 20
	fetchCheck(t, c, r,
		[2]string{"F1 FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT]<" + strconv.Itoa(off-18) + ".100>)",
			"* 1 FETCH (BODY[] {" + strconv.Itoa(len(msg)) + "}\r\n" + clean + " BODY[TEXT]<" + strconv.Itoa(off-18) + "> {20}\r\n" + clean[off:] + ")\r\nF1 OK Fetch completed.\r\n"},
		// BINARY[] is the message as it is, NUL included: a literal8.
		[2]string{"F2 FETCH 1 BINARY.PEEK[]", "* 1 FETCH (BINARY[] ~{" + strconv.Itoa(len(msg)) + "}\r\n" + msg + ")\r\nF2 OK Fetch completed.\r\n"},
	)
}

// TestFetch_goIMAPClient checks that go-imap's client reads the FETCH
// responses: structures, sections, partials, BINARY with its literal8, and
// the FLAGS a FETCH that set \Seen reports.
func TestFetch_goIMAPClient(t *testing.T) {
	s := newServer(t, nil)
	s.be.Deliver("alice", []byte(fetchMsgPlain))
	s.be.Deliver("alice", []byte(fetchMsgParts))
	c, err := imapclient.DialInsecure(s.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
	}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("FETCH = %d messages, %v", len(msgs), err)
	}
	if m := msgs[0]; m.UID != 1 || m.RFC822Size != int64(len(fetchMsgPlain)) || m.InternalDate.IsZero() ||
		m.Envelope == nil || m.Envelope.Subject != "Hello" || len(m.Envelope.From) != 1 || m.Envelope.From[0].Host != "example.org" {
		t.Errorf("FETCH 1 = %+v", m)
	}
	mp, ok := msgs[1].BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 4 || mp.Subtype != "mixed" {
		t.Fatalf("FETCH 2 BODYSTRUCTURE = %#v", msgs[1].BodyStructure)
	}
	if inner, ok := mp.Children[3].(*imap.BodyStructureSinglePart); !ok || inner.MessageRFC822 == nil || inner.MessageRFC822.Envelope.Subject != "inner" {
		t.Errorf("FETCH 2 BODYSTRUCTURE part 4 = %#v", mp.Children[3])
	}

	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}
	partial := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 5}}
	bin := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{
		BodySection:       []*imap.FetchItemBodySection{part1, hdr, partial},
		BinarySection:     []*imap.FetchItemBinarySection{bin},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{2}}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH sections: %v", err)
	}
	m := msgs[0]
	if got := string(m.FindBodySection(part1)); got != "first" {
		t.Errorf("BODY[1] = %q", got)
	}
	if got := string(m.FindBodySection(hdr)); got != "Subject: parts\r\n\r\n" {
		t.Errorf("BODY[HEADER.FIELDS (Subject)] = %q", got)
	}
	if got := string(m.FindBodySection(partial)); got != "a@exa" {
		t.Errorf("BODY[]<6.5> = %q", got)
	}
	if len(m.BinarySection) != 1 || string(m.BinarySection[0].Bytes) != "\x00\x01\x02hi" {
		t.Errorf("BINARY[2] = %+v", m.BinarySection)
	}
	if len(m.BinarySectionSize) != 1 || m.BinarySectionSize[0].Size != 5 {
		t.Errorf("BINARY.SIZE[2] = %+v", m.BinarySectionSize)
	}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}}).Collect()
	if err != nil || len(msgs) != 1 || !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Errorf("FETCH BODY[TEXT] = %+v, %v; want \\Seen reported", msgs, err)
	}
}

// TestFetch_mimeBombs fetches the structure and parts of a message nested
// 10,000 multiparts deep and of one with 200,000 empty parts: each FETCH
// answers within a second (HARDENING S11, I14).
func TestFetch_mimeBombs(t *testing.T) {
	var deep strings.Builder
	deep.WriteString("Subject: deep\r\n")
	for i := range 10000 {
		fmt.Fprintf(&deep, "Content-Type: multipart/mixed; boundary=%d\r\n\r\n--%d\r\n", i, i)
	}
	deep.WriteString("\r\nleaf\r\n")
	wide := "Subject: wide\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\n", 200000) + "--b--\r\n"
	_, c, r := fetchSelected(t, true, deep.String(), wide)
	for _, cmd := range []string{
		"F1 FETCH 1:2 (BODYSTRUCTURE ENVELOPE)",
		"F2 FETCH 1:2 (BODY.PEEK[" + strings.Repeat("1.", 5000) + "1] BINARY.PEEK[" + strings.Repeat("1.", 200) + "1] BINARY.SIZE[1])",
		"F3 FETCH 2 (BODY.PEEK[200000] BODY.PEEK[150000.MIME])",
	} {
		start := time.Now()
		out := fetchRun(t, c, r, cmd)
		tag := strings.Fields(cmd)[0]
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: %v; want under a second", tag, d)
		}
		if !strings.Contains(out, "\r\n"+tag+" OK ") {
			t.Errorf("%s = %.200q...", tag, out)
		}
	}
}

// TestFetch_noBlankLine fetches the header fields of a message that is
// all header, with no blank line: none is added (RFC 3501 §6.4.5).
func TestFetch_noBlankLine(t *testing.T) {
	_, c, r := fetchSelected(t, true, "Subject: header only\r\nX-A: 1\r\n")
	fetchCheck(t, c, r,
		[2]string{"F1 FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT X-A)] BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)])",
			"* 1 FETCH (BODY[HEADER] {30}\nSubject: header only\nX-A: 1\n BODY[TEXT] {0}\n BODY[HEADER.FIELDS (SUBJECT)] {22}\nSubject: header only\n" +
				" BODY[HEADER.FIELDS.NOT (SUBJECT X-A)] {0}\n BODY[HEADER.FIELDS.NOT (SUBJECT)] {8}\nX-A: 1\n)\nF1 OK Fetch completed.\n"},
		// The same read from the parsed message (BODY).
		[2]string{"F2 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY)",
			"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {22}\nSubject: header only\n BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0))\nF2 OK Fetch completed.\n"},
	)
}

// shortBackend is a backend whose messages claim 10 octets more than they
// hold, as a broken store could.
type shortBackend struct{ imapd.Backend }

type shortUser struct{ imapd.User }

type shortMailbox struct{ imapd.Mailbox }

func (b shortBackend) Login(ctx context.Context, user, pass string) (imapd.User, error) {
	u, err := b.Backend.Login(ctx, user, pass)
	if err != nil {
		return nil, err
	}
	return shortUser{u}, nil
}

func (u shortUser) Open(ctx context.Context, name string, readOnly bool) (imapd.Mailbox, error) {
	m, err := u.User.Open(ctx, name, readOnly)
	if err != nil {
		return nil, err
	}
	return shortMailbox{m}, nil
}

func (m shortMailbox) Fetch(ctx context.Context, uids []uint32, fn func(*imapd.Message) error) error {
	return m.Mailbox.Fetch(ctx, uids, func(msg *imapd.Message) error {
		msg.Size += 10
		return fn(msg)
	})
}

// TestFetch_shortMessage fetches from a backend whose message is shorter
// than it says: before anything of it is written, the command fails and
// the session goes on; once its literal is announced, the connection
// closes, the framing lost.
func TestFetch_shortMessage(t *testing.T) {
	s := newServer(t, func(srv *imapd.Server) { srv.Backend = shortBackend{srv.Backend} })
	s.be.Deliver("alice", []byte(fetchMsgPlain))
	c, r := s.loggedIn(t)
	fetchCheck(t, c, r,
		[2]string{"S EXAMINE INBOX", "%%\n%%\n%%\n%%\n%%\n%%\n%%\n%%\nS OK [READ-ONLY] %%\n"},
		[2]string{"F1 FETCH 1 BODY.PEEK[1]", "F1 NO [SERVERBUG] %%\n"},
		[2]string{"F2 FETCH 1 FLAGS", "* 1 FETCH (FLAGS (%%))\nF2 OK Fetch completed.\n"},
	)
	if _, err := io.WriteString(c, "F3 FETCH 1 BODY.PEEK[]\r\n"); err != nil {
		t.Fatal(err)
	}
	want := "* 1 FETCH (BODY[] {" + strconv.Itoa(len(fetchMsgPlain)+10) + "}\r\n" + fetchMsgPlain
	if got := readUntilEOF(t, c, r); got != want {
		t.Errorf("FETCH of the streamed message = %q; want %q, then the end of the connection", got, want)
	}
}
