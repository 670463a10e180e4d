package imapd_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
)

// sortMsgs are appended by sortServer, each with its internal date.
var sortMsgs = []struct{ date, msg string }{
	{"01-Jan-2020 10:00:00 +0000", "From: Carol <carol@c.example>\r\nTo: zed@z.example\r\nSubject: Re: beta\r\n" +
		"Date: Wed, 01 Jan 2020 09:00:00 +0000\r\nMessage-ID: <2@x>\r\nReferences: <1@x>\r\n\r\nshort\r\n"},
	{"01-Jan-2020 08:00:00 +0000", "From: alice@a.example\r\nTo: Bob <bob@b.example>\r\nCc: x@x.example\r\nSubject: alpha\r\n" +
		"Date: Wed, 01 Jan 2020 07:00:00 -0100\r\nMessage-ID: <3@x>\r\n\r\na longer body than the others\r\n"},
	{"01-Jan-2020 08:30:00 +0000", "From: =?utf-8?q?=C3=89mile?= <bob@b.example>\r\nTo: amy@a.example\r\nSubject: beta\r\n" +
		"Message-ID: <1@x>\r\n\r\nmid\r\n"},
	{"01-Jan-2020 07:00:00 +0000", "From: dave@d.example\r\nSubject: [list] Fwd: Alpha\r\n" +
		"Date: Wed, 01 Jan 2020 11:00:00 +0000\r\nMessage-ID: <4@x>\r\nIn-Reply-To: <3@x>\r\n\r\nx\r\n"},
}

// sortServer returns a connection to a server whose INBOX holds sortMsgs,
// selected.
func sortServer(t testing.TB) (net.Conn, *bufio.Reader) {
	t.Helper()
	s := newServer(t, nil)
	c, r, _ := s.selected(t)
	for i, m := range sortMsgs {
		mustOK(t, c, r, fmt.Sprintf("A%d", i), fmt.Sprintf("APPEND INBOX \"%s\" {%d+}\r\n%s", m.date, len(m.msg), m.msg))
	}
	mustOK(t, c, r, "N", "NOOP")
	return c, r
}

func TestSort(t *testing.T) {
	c, r := sortServer(t)
	uids := strings.Fields(strings.TrimPrefix(searchLine(t, c, r, "UID SEARCH ALL"), "* SEARCH "))
	tests := []struct{ cmd, want string }{
		{"SORT (ARRIVAL) UTF-8 ALL", "* SORT 4 2 3 1"},
		{"SORT (REVERSE ARRIVAL) UTF-8 ALL", "* SORT 1 3 2 4"},
		// Message 3 has no Date: its internal date stands in.
		{"SORT (DATE) US-ASCII ALL", "* SORT 2 3 1 4"},
		{"SORT (SIZE) US-ASCII ALL", "* SORT 3 4 1 2"},
		{"SORT (SUBJECT) US-ASCII ALL", "* SORT 2 4 1 3"},
		{"SORT (SUBJECT REVERSE DATE) US-ASCII ALL", "* SORT 4 2 1 3"},
		{"SORT (REVERSE SUBJECT) US-ASCII ALL", "* SORT 1 3 2 4"},
		{"SORT (FROM) US-ASCII ALL", "* SORT 2 3 1 4"},
		{"SORT (TO) US-ASCII ALL", "* SORT 4 3 2 1"},
		{"SORT (CC SIZE) US-ASCII ALL", "* SORT 3 4 1 2"},
		{"SORT (DISPLAYFROM) US-ASCII ALL", "* SORT 2 1 4 3"},
		{"SORT (DISPLAYTO) US-ASCII ALL", "* SORT 4 3 2 1"},
		{"SORT (SUBJECT) US-ASCII NOT FROM bob", "* SORT 2 4 1"},
		{"UID SORT (ARRIVAL) US-ASCII 1:2", "* SORT " + uids[1] + " " + uids[0]},
		{"SORT RETURN (MIN MAX COUNT) (SUBJECT) US-ASCII ALL", `* ESEARCH (TAG "T") MIN 2 MAX 3 COUNT 4`},
		{"SORT RETURN () (SUBJECT) US-ASCII ALL", `* ESEARCH (TAG "T") ALL 2,4,1,3`},
		{"SORT RETURN (ALL) (ARRIVAL) US-ASCII ALL", `* ESEARCH (TAG "T") ALL 4,2:3,1`},
		{"SORT RETURN (PARTIAL 2:3) (ARRIVAL) US-ASCII ALL", `* ESEARCH (TAG "T") PARTIAL (2:3 2:3)`},
		{"UID SORT RETURN (COUNT) (ARRIVAL) US-ASCII 9999", `* ESEARCH (TAG "T") UID COUNT 0`},
		{"THREAD REFERENCES US-ASCII ALL", "* THREAD (2 4)(3 1)"},
		{"THREAD ORDEREDSUBJECT US-ASCII ALL", "* THREAD (2 4)(3 1)"},
		{"UID THREAD REFERENCES US-ASCII 1:2", "* THREAD (" + uids[1] + ")(" + uids[0] + ")"},
		{"THREAD REFERENCES US-ASCII 1000", "* THREAD"},
	}
	for _, tc := range tests {
		if got := searchLine(t, c, r, tc.cmd); got != tc.want {
			t.Errorf("%s: %q; want %q", tc.cmd, got, tc.want)
		}
	}
}

func TestSort_save(t *testing.T) {
	c, r := sortServer(t)
	// MIN of a SORT is the first message in the sort order (RFC 5267 §3.1).
	if got := searchLine(t, c, r, "SORT RETURN (SAVE MIN) (REVERSE ARRIVAL) US-ASCII ALL"); got != `* ESEARCH (TAG "T") MIN 1` {
		t.Errorf("SORT RETURN (SAVE MIN) = %q", got)
	}
	if got := searchLine(t, c, r, "SEARCH $"); got != "* SEARCH 1" {
		t.Errorf("SEARCH $ after SORT RETURN (SAVE MIN) = %q; want 1", got)
	}
	mustOK(t, c, r, "S", "SORT RETURN (SAVE) (SUBJECT) US-ASCII 2:4")
	if got := searchLine(t, c, r, "SORT (ARRIVAL) US-ASCII $"); got != "* SORT 4 2 3" {
		t.Errorf("SORT $ = %q; want 4 2 3", got)
	}
}

func TestSort_errors(t *testing.T) {
	c, r := sortServer(t)
	tests := []struct{ cmd, want string }{
		{"SORT (SUBJECT) KOI8-R ALL", "E NO [BADCHARSET (UTF-8 US-ASCII)]"},
		{"SORT (BOGUS) US-ASCII ALL", "E BAD"},
		{"SORT () US-ASCII ALL", "E BAD"},
		{"THREAD REFS US-ASCII ALL", "E BAD"},
		{"THREAD REFERENCES KOI8-R ALL", "E NO [BADCHARSET (UTF-8 US-ASCII)]"},
		{"SORT RETURN (UPDATE) (SUBJECT) US-ASCII ALL", "E BAD"},
	}
	for _, tc := range tests {
		if _, tagged := exchange(t, c, r, "E", tc.cmd); !strings.HasPrefix(tagged, tc.want) {
			t.Errorf("%s = %q; want %s...", tc.cmd, tagged, tc.want)
		}
	}
	mustOK(t, c, r, "N", "NOOP")
}

// benchServer returns a connection to a server whose INBOX holds n
// messages of a few kinds, selected; a tenth are \Flagged.
func benchServer(b *testing.B, n int) (net.Conn, *bufio.Reader) {
	b.Helper()
	s := newServer(b, nil)
	for i := range n {
		msg := fmt.Sprintf("From: User %d <user%d@example.org>\r\nTo: list@example.org\r\n"+
			"Subject: Re: topic %d\r\nDate: Mon, 02 Jan 2006 15:%02d:05 +0000\r\n"+
			"Message-ID: <%d@example.org>\r\nReferences: <%d@example.org>\r\n\r\n"+
			"line one of message %d\r\n%s\r\n", i%50, i%50, i%100, i%60, i, i-i%10, i, strings.Repeat("filler text ", 40))
		if err := s.be.Deliver("alice", []byte(msg)); err != nil {
			b.Fatal(err)
		}
	}
	c, r, _ := s.selected(b)
	mustOK(b, c, r, "F", fmt.Sprintf(`STORE 1:%d +FLAGS.SILENT (\Flagged)`, n/10))
	return c, r
}

func benchCommand(b *testing.B, cmd string) {
	c, r := benchServer(b, 5000)
	b.ResetTimer()
	for b.Loop() {
		mustOK(b, c, r, "B", cmd)
	}
}

func BenchmarkSearch_flag(b *testing.B)   { benchCommand(b, "SEARCH FLAGGED") }
func BenchmarkSearch_header(b *testing.B) { benchCommand(b, "SEARCH FROM user7@") }
func BenchmarkSearch_body(b *testing.B)   { benchCommand(b, "SEARCH BODY \"message 4999\"") }
func BenchmarkSort_subject(b *testing.B)  { benchCommand(b, "SORT (SUBJECT DATE) US-ASCII ALL") }
func BenchmarkThread_references(b *testing.B) {
	benchCommand(b, "THREAD REFERENCES US-ASCII ALL")
}
