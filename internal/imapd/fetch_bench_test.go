//go:build unix

// The FETCH of this server measured, and compared with Dovecot's, the
// reference: same answers to the same commands, and throughput.

package imapd_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
)

// fetchBenchMsg is a 10 KB message, as the store's benchmarks use: a
// usual header and 78-character lines.
var fetchBenchMsg = "From: Bench <bench@example.org>\r\n" +
	"To: rcpt@example.org\r\n" +
	"Subject: benchmark\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
	"Message-ID: <bench@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n" +
	"\r\n" +
	strings.Repeat(strings.Repeat("x", 78)+"\r\n", (10<<10)/80)

const (
	fetchBenchMessages = 100 // messages in the mailbox
	fetchBenchSessions = 10  // concurrent sessions, as the store's IMAP benchmark
)

// fetchBenchItems are what the benchmarks fetch: the whole message, the
// header fields a mail client lists a mailbox with (Thunderbird's), and
// the ENVELOPE and BODYSTRUCTURE other clients ask for.
var fetchBenchItems = []struct{ name, items string }{
	{"body", "BODY.PEEK[]"},
	{"headers", "UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]"},
	{"envelope", "UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE"},
}

// BenchmarkFetch fetches 10 KB messages from a MemBackend over loopback,
// from 10 concurrent sessions, one message per command and 100 per
// command. It reports messages per second; allocations are those of client
// and server together.
func BenchmarkFetch(b *testing.B) {
	s := newServer(b, nil)
	for range fetchBenchMessages {
		if err := s.be.Deliver("alice", []byte(fetchBenchMsg)); err != nil {
			b.Fatal(err)
		}
	}
	var sessions [fetchBenchSessions]fetchBenchConn
	for i := range sessions {
		sessions[i].c, sessions[i].r = s.loggedIn(b)
	}
	fetchBenchRun(b, sessions[:])
}

// fetchBenchConn is a session of the benchmarks.
type fetchBenchConn struct {
	c net.Conn
	r *bufio.Reader
}

// fetchBenchRun examines INBOX in each session, which it keeps for all the
// sub-benchmarks (Dovecot allows a user 10 sessions from one address), and
// runs the sub-benchmarks, one per item list and batch size.
func fetchBenchRun(b *testing.B, sessions []fetchBenchConn) {
	for _, s := range sessions {
		if out := fetchRun(b, s.c, s.r, "S EXAMINE INBOX"); !strings.Contains(out, "S OK") {
			b.Fatal(out)
		}
		s.c.SetDeadline(time.Time{})
	}
	for _, it := range fetchBenchItems {
		for _, batch := range []int{1, fetchBenchMessages} {
			b.Run(fmt.Sprintf("%s/%d-per-command", it.name, batch), func(b *testing.B) {
				var left atomic.Int64
				left.Store(int64(b.N))
				b.ReportAllocs()
				b.SetBytes(int64(len(fetchBenchMsg)))
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for _, s := range sessions {
					wg.Go(func() {
						if err := fetchBenchSession(s.c, s.r, it.items, batch, &left); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// fetchBenchSession fetches messages, batch per command, until left runs
// out, and checks that each command answered one FETCH per message.
func fetchBenchSession(c net.Conn, r *bufio.Reader, items string, batch int, left *atomic.Int64) error {
	uid := 0
	var cmd []byte
	for {
		k := 0
		cmd = append(cmd[:0], "F UID FETCH "...)
		for ; k < batch && left.Add(-1) >= 0; k++ {
			if k > 0 {
				cmd = append(cmd, ',')
			}
			cmd = strconv.AppendInt(cmd, int64(uid%fetchBenchMessages+1), 10)
			uid++
		}
		if k == 0 {
			return nil
		}
		cmd = append(cmd, " ("...)
		cmd = append(cmd, items...)
		cmd = append(cmd, ")\r\n"...)
		if _, err := c.Write(cmd); err != nil {
			return err
		}
		n, err := fetchBenchRead(r)
		if err != nil {
			return err
		}
		if n != k {
			return fmt.Errorf("%d FETCH responses to %q; want %d", n, cmd, k)
		}
	}
}

// fetchBenchRead reads the answer to a command tagged F, skipping
// literals, and returns how many FETCH responses it held.
func fetchBenchRead(r *bufio.Reader) (int, error) {
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return n, err
		}
		if bytes.HasPrefix(line, []byte("F ")) {
			if !bytes.HasPrefix(line, []byte("F OK")) {
				return n, fmt.Errorf("got %q", line)
			}
			return n, nil
		}
		if bytes.HasPrefix(line, []byte("* ")) && bytes.Contains(line, []byte(" FETCH (")) {
			n++
		}
		for {
			size, ok := fetchBenchLiteral(line)
			if !ok {
				break
			}
			if _, err := r.Discard(size); err != nil {
				return n, err
			}
			if line, err = r.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
				return n, err
			}
		}
	}
}

// fetchBenchLiteral returns the size of the literal that line announces.
func fetchBenchLiteral(line []byte) (int, bool) {
	line = bytes.TrimSuffix(line, []byte("}\r\n"))
	i := bytes.LastIndexByte(line, '{')
	if i < 0 || len(line) == i+1 {
		return 0, false
	}
	size, err := strconv.Atoi(string(line[i+1:]))
	return size, err == nil
}

// fetchDovecotMsgs are the messages of the comparison with Dovecot: MIME
// of every shape, encodings BINARY decodes and one it does not, addresses
// in groups and with routes, an 8-bit header, a header with no body.
var fetchDovecotMsgs = []string{
	fetchMsgPlain,
	fetchMsgParts,
	"From: \"Last, First\" <f@example.org>, group: a@b.example, c@d.example;, <@route:r@example.org>\r\n" +
		"To: undisclosed-recipients:;\r\n" +
		"Subject: =?utf-8?q?caf=C3=A9?= \xc3\xa9t\xc3\xa9\r\n" +
		"Date: Tue, 3 Dec 2024 10:00:00 +0100\r\n" +
		"In-Reply-To: <a@b>\r\n" +
		"Content-Type: text/plain; charset=\"utf-8\"; format=flowed\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"Content-Language: fr, en\r\n" +
		"\r\n" +
		"caf=C3=A9 =\r\nsoft break=20\r\n",
	"Subject: digest\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/digest; boundary=\"d d\"\r\n" +
		"\r\n" +
		"preamble\r\n" +
		"--d d\r\n" +
		"\r\n" +
		"Subject: one\r\n\r\nfirst digest\r\n" +
		"--d d\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Disposition: attachment; filename*0=\"a\"; filename*1=\"b.txt\"\r\n" +
		"Content-ID: <id@x>\r\n" +
		"Content-Description: two\r\n" +
		"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n" +
		"Content-Location: http://example.org/b.txt\r\n" +
		"\r\n" +
		"second\r\n" +
		"--d d--\r\n" +
		"epilogue\r\n",
	"Subject: header only\r\n",
	"Subject: base64\r\n" +
		"Content-Type: application/octet-stream; name=x.bin\r\n" +
		"Content-Transfer-Encoding: BASE64\r\n" +
		"\r\n" +
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
}

// fetchDovecotCommands are the commands whose answers must be the same.
var fetchDovecotCommands = []string{
	"FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)",
	"FETCH 1:* BODY",
	"FETCH 1:* BODYSTRUCTURE",
	"FETCH 1:* (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[4.HEADER] BODY.PEEK[4.1] BODY.PEEK[9])",
	// Not message 5, all header and no blank line: RFC 3501 §6.4.5 adds
	// none to HEADER.FIELDS; Dovecot adds one there (but not to
	// HEADER.FIELDS.NOT).
	"FETCH 1:4,6 (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT X-NONE)] BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT)] BODY.PEEK[1.HEADER.FIELDS (SUBJECT)])",
	"FETCH 5 (BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT)] BODY.PEEK[HEADER] BODY.PEEK[TEXT])",
	"FETCH 1:* (BODY.PEEK[]<5.10> BODY.PEEK[TEXT]<0.3> BODY.PEEK[1]<2.100> BODY.PEEK[]<100000.1>)",
	// Not message 2: Dovecot fails every BINARY item of a message that has
	// a part in an encoding it cannot decode, not only that part's (RFC
	// 3516 §4.3 fails the request for the section's encoding).
	"FETCH 1,3:* (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[1]<1.3>)",
	"FETCH 1,3:* (BINARY.SIZE[2] BINARY.PEEK[2])",
	"FETCH 1,3:* (BINARY.SIZE[4] BINARY.PEEK[4])",
	// BINARY[] of a message with encoded parts: Dovecot decodes them all
	// and rewrites their Content-Transfer-Encoding fields; here it is the
	// message as stored (imapmsg.Part.Binary). Compared where they agree.
	"FETCH 1,4,5 (BINARY.SIZE[])",
	"FETCH 1:* (RFC822.HEADER RFC822.SIZE)",
	"UID FETCH 1:* (FLAGS)",
	"FETCH 2 (ENVELOPE BODY[TEXT] UID RFC822.SIZE)",
	"FETCH 2 (BODY[TEXT] FLAGS)",
	"FETCH 3 RFC822.TEXT",
	"FETCH 4 RFC822",
	"FETCH 1:* FLAGS",
	"FETCH 1:* FAST",
	"FETCH 1:* FULL",
}

// TestFetch_sameAsDovecot appends the same messages to this server and to
// Dovecot, and checks that every FETCH is answered the same: the responses
// byte for byte, but for the order of flags, INTERNALDATE (Dovecot writes it
// in its own time zone) and the text of the tagged response.
func TestFetch_sameAsDovecot(t *testing.T) {
	d := peers.StartDovecot(t, peers.IMAP)
	dc, err := tls.Dial("tcp", d.IMAPSAddr, testcert.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	dr := bufio.NewReader(dc)
	if _, err := dr.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	fetchRun(t, dc, dr, "L LOGIN "+d.User+" "+d.Pass)
	for i, m := range fetchDovecotMsgs {
		cmd := fmt.Sprintf(`A%d APPEND INBOX (\Flagged) "02-Jan-2006 15:04:05 +0000" {%d+}`+"\r\n%s", i, len(m), m)
		for _, conn := range []struct {
			c net.Conn
			r *bufio.Reader
		}{{c, r}, {dc, dr}} {
			if out := fetchRun(t, conn.c, conn.r, cmd); !strings.Contains(out, "OK") {
				t.Fatalf("APPEND of message %d: %q", i+1, out)
			}
		}
	}
	fetchRun(t, c, r, "S SELECT INBOX")
	fetchRun(t, dc, dr, "S SELECT INBOX")
	commands := append(fetchDovecotCommands[:len(fetchDovecotCommands):len(fetchDovecotCommands)],
		// With CONDSTORE: the \Seen a FETCH sets comes with its MODSEQ.
		// (When MODSEQ is asked for, Dovecot writes the one before the
		// change, then the new one in a FETCH of its own; this server
		// writes the new one at once.)
		"ENABLE CONDSTORE", "FETCH 5 BODY[TEXT]", "FETCH 6 (BODY.PEEK[]<0.4> MODSEQ)", "FETCH 1:* (UID MODSEQ)")
	for i, cmd := range commands {
		tagged := fmt.Sprintf("F%d %s", i, cmd)
		got, want := fetchDovecotNormal(fetchRun(t, c, r, tagged)), fetchDovecotNormal(fetchRun(t, dc, dr, tagged))
		if got != want {
			t.Errorf("%s:\ngot     %q\nDovecot %q", cmd, got, want)
		}
	}
}

var (
	fetchFlagsRE    = regexp.MustCompile(`FLAGS \(([^)]*)\)`)
	fetchDateRE     = regexp.MustCompile(`INTERNALDATE "[^"]*"`)
	fetchTaggedRE   = regexp.MustCompile(`(?m)^(F\d+ (OK|NO|BAD))( \[[^\]]*\])?.*$`)
	fetchModSeqRE   = regexp.MustCompile(`MODSEQ \(\d+\)`)
	fetchUntaggedOK = regexp.MustCompile(`(?m)^\* OK \[HIGHESTMODSEQ \d+\].*\r\n`)
)

// fetchDefaults are the values BODY and BODYSTRUCTURE give what a message
// leaves out (RFC 2045): Dovecot 2.3 writes them in lower case, imapmsg as
// the RFC examples do.
var fetchDefaults = strings.NewReplacer(`"TEXT" "PLAIN"`, `"text" "plain"`, `("CHARSET" "US-ASCII")`, `("charset" "us-ascii")`,
	`"7BIT"`, `"7bit"`, `"MESSAGE" "RFC822"`, `"message" "rfc822"`)

// fetchDovecotNormal returns the answer out without what may differ
// between two correct servers. Dovecot also sends a decoded BINARY[] part
// as a literal8 whether or not it holds NUL; this server does when it does,
// as RFC 3516 §4.2 asks: "~{" is read as "{".
func fetchDovecotNormal(out string) string {
	out = fetchDefaults.Replace(out)
	out = fetchModSeqRE.ReplaceAllString(out, "MODSEQ (n)")
	out = strings.ReplaceAll(out, "~{", "{")
	out = fetchFlagsRE.ReplaceAllStringFunc(out, func(f string) string {
		flags := strings.Fields(f[len("FLAGS (") : len(f)-1])
		slices.Sort(flags)
		return "FLAGS (" + strings.Join(flags, " ") + ")"
	})
	out = fetchDateRE.ReplaceAllString(out, `INTERNALDATE "..."`)
	out = fetchUntaggedOK.ReplaceAllString(out, "")
	return fetchTaggedRE.ReplaceAllString(out, "$1$3")
}

// BenchmarkFetchDovecot runs BenchmarkFetch's load against Dovecot (with
// its Maildir on disk and TLS, so the figures are a reference, not a
// match).
func BenchmarkFetchDovecot(b *testing.B) {
	d := peers.StartDovecot(b, peers.IMAP)
	var sessions [fetchBenchSessions]fetchBenchConn
	for i := range sessions {
		c, err := tls.Dial("tcp", d.IMAPSAddr, testcert.ClientConfig())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		r := bufio.NewReaderSize(c, 64<<10)
		c.SetDeadline(time.Now().Add(prototest.Timeout))
		if _, err := r.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
		fetchRun(b, c, r, "L LOGIN "+d.User+" "+d.Pass)
		sessions[i] = fetchBenchConn{c, r}
	}
	for i := range fetchBenchMessages {
		fetchRun(b, sessions[0].c, sessions[0].r, fmt.Sprintf("A%d APPEND INBOX {%d+}\r\n%s", i, len(fetchBenchMsg), fetchBenchMsg))
	}
	fetchBenchRun(b, sessions[:])
}
