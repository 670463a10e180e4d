package imapd_test

import (
	"bufio"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// searchMsgs are delivered to alice's INBOX by searchServer, in order.
var searchMsgs = []string{
	"From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: Re: hello world\r\n" +
		"Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n\r\nfirst body asdfghjkl\r\n",
	"From: =?iso-8859-1?q?J=F6rg?= <joerg@example.com>\r\nTo: groupname: g1@example.com, g2@example.com;\r\n" +
		"Subject: =?utf-8?q?caf=C3=A9?=\r\nX-Extra: hello beautiful header\r\nX-Extra: another one\r\n\r\n" +
		"second body\r\n",
	"From: <carol (comment)@ (comment) example.net>\r\nCc: dave@example.net (Real Dave)\r\nSubject: base64 body\r\n" +
		"Date: Mon, 26 Mar 2007 00:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"6XTpIHN1bW1lcg==\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\nsecretword\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner subject\r\n\r\ninner body qp=3Dx\r\n--b--\r\n",
	"From: eve@example.org\r\nSubject: quoted\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak and =C3=BCber\r\n",
}

// searchServer returns a connection to a server whose INBOX holds
// searchMsgs, selected.
func searchServer(t *testing.T, pre ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	s := newServer(t, nil)
	for _, m := range searchMsgs {
		if err := s.be.Deliver("alice", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	c, r, _ := s.selected(t, pre...)
	return c, r
}

// searchLine runs cmd and returns its one "* SEARCH" or "* ESEARCH"
// response (the first if several), or fails.
func searchLine(t *testing.T, c net.Conn, r *bufio.Reader, cmd string) string {
	t.Helper()
	u := mustOK(t, c, r, "T", cmd)
	for _, l := range u {
		if strings.HasPrefix(l, "* SEARCH") || strings.HasPrefix(l, "* ESEARCH") ||
			strings.HasPrefix(l, "* SORT") || strings.HasPrefix(l, "* THREAD") {
			return l
		}
	}
	t.Fatalf("%s: no result in %q", cmd, u)
	return ""
}

func TestSearch_keys(t *testing.T) {
	c, r := searchServer(t)
	mustOK(t, c, r, "F", `STORE 2 +FLAGS (\Seen $Label)`)
	mustOK(t, c, r, "F", `STORE 4 +FLAGS (\Flagged)`)
	tests := []struct{ cmd, want string }{
		{"SEARCH ALL", "* SEARCH 1 2 3 4"},
		{"SEARCH SEEN", "* SEARCH 2"},
		{"SEARCH UNSEEN NOT FLAGGED", "* SEARCH 1 3"},
		{"SEARCH KEYWORD $label", "* SEARCH 2"},
		{"SEARCH UNKEYWORD $Label", "* SEARCH 1 3 4"},
		{"SEARCH OR SEEN FLAGGED", "* SEARCH 2 4"},
		{"SEARCH RECENT", "* SEARCH 1 2 3 4"},
		{"SEARCH NEW", "* SEARCH 1 3 4"},
		{"SEARCH OLD", "* SEARCH"},
		{"SEARCH 4:2", "* SEARCH 2 3 4"},
		{"SEARCH *", "* SEARCH 4"},
		{"SEARCH 1000", "* SEARCH"},
		{"SEARCH NOT 2,4", "* SEARCH 1 3"},
		{"SEARCH (3) UID 3", "* SEARCH 3"},
		{"SEARCH UID 2:*", "* SEARCH 2 3 4"},
		{"UID SEARCH UID 10:*", "* SEARCH 4"},
		{"SEARCH LARGER 100000", "* SEARCH"},
		{"SEARCH SMALLER 100000", "* SEARCH 1 2 3 4"},
		{"SEARCH YOUNGER 3600", "* SEARCH 1 2 3 4"},
		{"SEARCH OLDER 3600", "* SEARCH"},
		{"SEARCH SINCE 1-Jan-2000", "* SEARCH 1 2 3 4"},
		{"SEARCH BEFORE 1-Jan-2000", "* SEARCH"},
		{"SEARCH SENTON 24-Mar-2007", "* SEARCH 1"},
		{"SEARCH SENTSINCE 25-Mar-2007", "* SEARCH 3"},
		{"SEARCH SENTBEFORE 25-Mar-2007", "* SEARCH 1 2 4"},
		{"SEARCH FROM bob@example.org", "* SEARCH 1"},
		{"SEARCH CHARSET UTF-8 FROM {5+}\r\njörg", "* SEARCH 2"},
		{"SEARCH FROM carol@example.net", "* SEARCH 3"},
		{"SEARCH CC \"real dave\"", "* SEARCH 3"},
		{"SEARCH TO groupname", "* SEARCH 2"},
		{"SEARCH TO g2@", "* SEARCH 2"},
		{"SEARCH SUBJECT {5+}\r\nCAFÉ", "* SEARCH 2"},
		{"SEARCH SUBJECT \"lo wor\"", "* SEARCH 1"},
		{"SEARCH HEADER X-Extra \"\"", "* SEARCH 2"},
		{"SEARCH NOT HEADER X-Extra \"\"", "* SEARCH 1 3 4"},
		{"SEARCH HEADER x-extra another", "* SEARCH 2"},
		{"SEARCH BODY asdfghjkl", "* SEARCH 1"},
		{"SEARCH BODY {12+}\r\nété summer", "* SEARCH 3"},
		{"SEARCH BODY secretword", "* SEARCH"},
		{"SEARCH BODY \"inner subject\"", "* SEARCH 3"},
		{"SEARCH BODY {19+}\r\nsoftbreak and über", "* SEARCH 4"},
		{"SEARCH BODY hello", "* SEARCH"},
		{"SEARCH TEXT hello", "* SEARCH 1 2"},
		{"SEARCH CHARSET UTF-8 TEXT {5+}\r\nÜBER", "* SEARCH 4"},
		{"SEARCH SEEN BODY second", "* SEARCH 2"},
		{"SEARCH UNSEEN BODY second", "* SEARCH"},
		{"SEARCH OR BODY first SUBJECT quoted", "* SEARCH 1 4"},
	}
	for _, tc := range tests {
		if got := searchLine(t, c, r, tc.cmd); got != tc.want {
			t.Errorf("%s: %q; want %q", tc.cmd, got, tc.want)
		}
	}
}

func TestSearch_badCharset(t *testing.T) {
	c, r := searchServer(t)
	_, tagged := exchange(t, c, r, "B", "SEARCH CHARSET KOI8-R ALL")
	if tagged != "B NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset." {
		t.Errorf("SEARCH CHARSET KOI8-R = %q; want NO [BADCHARSET ...]", tagged)
	}
	mustOK(t, c, r, "A", "SEARCH CHARSET US-ASCII ALL")
}

func TestSearch_esearch(t *testing.T) {
	c, r := searchServer(t)
	mustOK(t, c, r, "F", `STORE 2,4 +FLAGS (\Seen)`)
	uids := number(t, mustOK(t, c, r, "U", "UID SEARCH 2"), "SEARCH")
	tests := []struct{ cmd, want string }{
		{"SEARCH RETURN () ALL", `* ESEARCH (TAG "T") ALL 1:4`},
		{"SEARCH RETURN (MIN MAX COUNT) SEEN", `* ESEARCH (TAG "T") MIN 2 MAX 4 COUNT 2`},
		{"SEARCH RETURN (COUNT) 1000", `* ESEARCH (TAG "T") COUNT 0`},
		{"SEARCH RETURN (MIN) 1000", `* ESEARCH (TAG "T")`},
		{"UID SEARCH RETURN (MIN) SEEN", `* ESEARCH (TAG "T") UID MIN ` + u64s(uids)},
		{"SEARCH RETURN (PARTIAL 2:3) ALL", `* ESEARCH (TAG "T") PARTIAL (2:3 2:3)`},
		{"SEARCH RETURN (PARTIAL 3:2) 1,3:4", `* ESEARCH (TAG "T") PARTIAL (2:3 3:4)`},
		{"SEARCH RETURN (PARTIAL -1:-2) ALL", `* ESEARCH (TAG "T") PARTIAL (-2:-1 3:4)`},
		{"SEARCH RETURN (PARTIAL 5:9) ALL", `* ESEARCH (TAG "T") PARTIAL (5:9 NIL)`},
	}
	for _, tc := range tests {
		if got := searchLine(t, c, r, tc.cmd); got != tc.want {
			t.Errorf("%s: %q; want %q", tc.cmd, got, tc.want)
		}
	}
}

// u64s formats n in decimal.
func u64s(n uint64) string { return strconv.FormatUint(n, 10) }

func TestSearch_rev2(t *testing.T) {
	c, r := searchServer(t, "ENABLE IMAP4rev2")
	if got := searchLine(t, c, r, "SEARCH 2:3"); got != `* ESEARCH (TAG "T") ALL 2:3` {
		t.Errorf("SEARCH with IMAP4rev2 = %q; want ESEARCH ALL", got)
	}
}

func TestSearch_save(t *testing.T) {
	c, r := searchServer(t)
	u := mustOK(t, c, r, "S", "SEARCH RETURN (SAVE) 2:3")
	if len(u) != 0 {
		t.Errorf("SEARCH RETURN (SAVE) wrote %q; want nothing", u)
	}
	if got := searchLine(t, c, r, "SEARCH $"); got != "* SEARCH 2 3" {
		t.Errorf("SEARCH $ = %q; want 2 3", got)
	}
	mustOK(t, c, r, "S", "SEARCH RETURN (SAVE MIN MAX) 1:4")
	if got := searchLine(t, c, r, "SEARCH NOT $"); got != "* SEARCH 2 3" {
		t.Errorf("SEARCH NOT $ after MIN MAX = %q; want 2 3", got)
	}
	if got := searchLine(t, c, r, "SEARCH RETURN (SAVE PARTIAL -1:-2) ALL"); got != `* ESEARCH (TAG "T") PARTIAL (-2:-1 3:4)` {
		t.Errorf("SEARCH RETURN (SAVE PARTIAL -1:-2) = %q", got)
	}
	if got := searchLine(t, c, r, "SEARCH $"); got != "* SEARCH 3 4" {
		t.Errorf("SEARCH $ after PARTIAL = %q; want 3 4", got)
	}
	exchange(t, c, r, "S", "SEARCH RETURN (SAVE) CHARSET X-UNKNOWN ALL")
	if got := searchLine(t, c, r, "SEARCH UID $"); got != "* SEARCH" {
		t.Errorf("SEARCH UID $ after a failed SAVE = %q; want empty", got)
	}
}

func TestSearch_modseq(t *testing.T) {
	c, r := searchServer(t)
	mustOK(t, c, r, "F", `STORE 3 +FLAGS (\Seen)`)
	// The message just changed has the highest mod-sequence.
	ms := number(t, mustOK(t, c, r, "G", "SEARCH MODSEQ 1"), "MODSEQ")
	want := "* SEARCH 3 (MODSEQ " + u64s(ms) + ")"
	if got := searchLine(t, c, r, "SEARCH MODSEQ "+u64s(ms)); got != want {
		t.Errorf("SEARCH MODSEQ = %q; want %q", got, want)
	}
	want = `* ESEARCH (TAG "T") COUNT 1 MODSEQ ` + u64s(ms)
	if got := searchLine(t, c, r, `SEARCH RETURN (COUNT) MODSEQ "/flags/\\seen" all `+u64s(ms)); got != want {
		t.Errorf("ESEARCH MODSEQ = %q; want %q", got, want)
	}
}

func TestSearch_contextUpdate(t *testing.T) {
	s := newServer(t, nil)
	for range 3 {
		if err := s.be.Deliver("alice", []byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	c, r, _ := s.selected(t)
	u := mustOK(t, c, r, "A1", "SEARCH RETURN (UPDATE) SEEN")
	if !slices.Equal(u, []string{`* ESEARCH (TAG "A1")`}) {
		t.Errorf("SEARCH RETURN (UPDATE) = %q", u)
	}
	// Another session changes the flags: the update comes with the next
	// command's answer.
	c2, r2, _ := s.selected(t)
	mustOK(t, c2, r2, "B", `STORE 1,3 +FLAGS (\Seen)`)
	u = mustOK(t, c, r, "N", "NOOP")
	if !slices.Contains(u, `* ESEARCH (TAG "A1") ADDTO (0 1,3)`) {
		t.Errorf("after STORE elsewhere: %q; want ADDTO (0 1,3)", u)
	}
	mustOK(t, c2, r2, "B", `STORE 1 -FLAGS (\Seen)`)
	mustOK(t, c2, r2, "B", `STORE 3 +FLAGS (\Deleted)`)
	mustOK(t, c2, r2, "B", `EXPUNGE`)
	u = mustOK(t, c, r, "N", "NOOP")
	if !slices.Contains(u, `* ESEARCH (TAG "A1") REMOVEFROM (0 1,3)`) && !(slices.Contains(u, `* ESEARCH (TAG "A1") REMOVEFROM (0 1)`) &&
		slices.Contains(u, `* ESEARCH (TAG "A1") REMOVEFROM (0 3)`)) {
		t.Errorf("after unflag and expunge elsewhere: %q; want REMOVEFROM 1 and 3", u)
	}
	if err := s.be.Deliver("alice", []byte("Subject: y\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	mustOK(t, c2, r2, "B", `NOOP`)
	mustOK(t, c2, r2, "B", `STORE 3 +FLAGS (\Seen)`)
	u = mustOK(t, c, r, "N", "NOOP")
	if !slices.Contains(u, `* ESEARCH (TAG "A1") ADDTO (0 3)`) {
		t.Errorf("after a new seen message: %q; want ADDTO (0 3)", u)
	}
	mustOK(t, c, r, "C", `CANCELUPDATE "A1"`)
	mustOK(t, c2, r2, "B", `STORE 1 +FLAGS (\Seen)`)
	u = mustOK(t, c, r, "N", "NOOP")
	for _, l := range u {
		if strings.Contains(l, "ESEARCH") {
			t.Errorf("after CANCELUPDATE: %q", u)
		}
	}
}

func TestSearch_tooManyUpdates(t *testing.T) {
	c, r := searchServer(t)
	for i := range 16 {
		if u := mustOK(t, c, r, "U"+u64s(uint64(i)), "SEARCH RETURN (UPDATE) SEEN"); slices.ContainsFunc(u, noUpdate) {
			t.Fatalf("search %d: %q", i, u)
		}
	}
	// Replacing a tag's search does not count twice.
	if u := mustOK(t, c, r, "U0", "SEARCH RETURN (UPDATE) SEEN"); slices.ContainsFunc(u, noUpdate) {
		t.Fatalf("search again with tag U0: %q", u)
	}
	if u := mustOK(t, c, r, "X", "SEARCH RETURN (UPDATE) SEEN"); !slices.Contains(u, `* NO [NOUPDATE "X"] Too many searches kept updated.`) {
		t.Errorf("17th search kept updated: %q; want * NO [NOUPDATE \"X\"]", u)
	}
	if _, tagged := exchange(t, c, r, "C", `CANCELUPDATE "U3" "nope"`); tagged != "C NO Unknown tag." {
		t.Errorf("CANCELUPDATE of an unknown tag = %q; want NO", tagged)
	}
	if u := mustOK(t, c, r, "Y", "SEARCH RETURN (UPDATE) SEEN"); slices.ContainsFunc(u, noUpdate) {
		t.Errorf("search after CANCELUPDATE: %q", u)
	}
}

func noUpdate(line string) bool { return strings.Contains(line, "NOUPDATE") }

// TestSearch_deepNesting checks that a search program nested deeper than
// the decoder allows is refused with BAD, and the connection goes on.
func TestSearch_deepNesting(t *testing.T) {
	c, r := searchServer(t)
	for _, prog := range []string{
		strings.Repeat("(", 5000) + "ALL" + strings.Repeat(")", 5000),
		strings.Repeat("NOT ", 5000) + "ALL",
		strings.Repeat("OR ALL ", 5000) + "ALL",
	} {
		if _, tagged := exchange(t, c, r, "D", "SEARCH "+prog); !strings.HasPrefix(tagged, "D BAD") {
			t.Errorf("SEARCH nested %.10q... = %q; want BAD", prog, tagged)
		}
	}
	if got := searchLine(t, c, r, "SEARCH NOT NOT (OR 1 (2))"); got != "* SEARCH 1 2" {
		t.Errorf("SEARCH NOT NOT (OR 1 (2)) = %q; want 1 2", got)
	}
}
