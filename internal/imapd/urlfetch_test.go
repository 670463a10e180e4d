package imapd_test

import (
	"strconv"
	"strings"
	"testing"
)

// catenate returns an APPEND command, tagged tag, of one CATENATE message
// of parts: URLs as they are, and texts (those starting with "text:") as
// literals.
func catenate(tag, mailbox string, parts ...string) string {
	var b strings.Builder
	b.WriteString(tag + " APPEND " + mailbox + " CATENATE (")
	for i, p := range parts {
		if i > 0 {
			b.WriteString(" ")
		}
		if text, ok := strings.CutPrefix(p, "text:"); ok {
			b.WriteString("TEXT {" + strconv.Itoa(len(text)) + "+}\r\n" + text)
		} else {
			b.WriteString(`URL "` + p + `"`)
		}
	}
	b.WriteString(")")
	return b.String()
}

func TestCatenate_urls(t *testing.T) {
	s, c, r := fetchSelected(t, false, fetchMsgPlain, fetchMsgParts)
	addr := s.addr[:strings.LastIndexByte(s.addr, ':')]
	out := fetchRun(t, c, r, "N1 CREATE Other")
	if !strings.Contains(out, "N1 OK") {
		t.Fatal(out)
	}
	uidv := ""
	if out := fetchRun(t, c, r, "N2 STATUS INBOX (UIDVALIDITY)"); strings.Contains(out, "UIDVALIDITY ") {
		uidv = strings.Fields(strings.SplitAfter(out, "UIDVALIDITY ")[1])[0]
		uidv = strings.TrimSuffix(strings.TrimSuffix(uidv, "\r\n"), ")")
	} else {
		t.Fatal(out)
	}
	fetchCheck(t, c, r,
		// The header of a message of the selected mailbox, and a text.
		[2]string{catenate("A1", "Other", "/INBOX;UIDVALIDITY="+uidv+"/;UID=1/;SECTION=HEADER", "text:new body\r\n"), "A1 OK [APPENDUID %% 1] Append completed.\n"},
		// Relative to the selected mailbox; a part; a partial range.
		[2]string{catenate("A2", "Other", "text:Subject: x\r\n\r\n", ";UID=2/;SECTION=1", "/INBOX/;UID=1/;SECTION=TEXT/;PARTIAL=6.3"), "A2 OK [APPENDUID %% 2] Append completed.\n"},
		// Absolute, with the user and this server's address.
		[2]string{catenate("A3", "Other", "imap://alice@"+addr+"/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(Subject%20From)", "text:\r\n"), "A3 OK [APPENDUID %% 3] Append completed.\n"},
		// A mailbox that is not selected, opened for the URL.
		[2]string{catenate("A4", "INBOX", "/Other/;UID=1"), "* 3 EXISTS\n* 3 RECENT\nA4 OK [APPENDUID %% 3] Append completed.\n"},
		[2]string{"F0 FETCH 3 BODY.PEEK[]", "* 3 FETCH (BODY[] {" + strconv.Itoa(len(fetchMsgPlain)-18+10) + "}\n" + fetchMsgPlain[:len(fetchMsgPlain)-18] + "new body\n)\nF0 OK Fetch completed.\n"},
	)
	if out := fetchRun(t, c, r, "S2 SELECT Other"); !strings.Contains(out, "S2 OK") {
		t.Fatal(out)
	}
	fetchCheck(t, c, r,
		[2]string{"F1 FETCH 1:3 BODY.PEEK[]",
			"* 1 FETCH (BODY[] {" + strconv.Itoa(len(fetchMsgPlain)-18+10) + "}\n" + fetchMsgPlain[:len(fetchMsgPlain)-18] + "new body\n)\n" +
				"* 2 FETCH (BODY[] {22}\nSubject: x\n\nfirstBob)\n" +
				"* 3 FETCH (BODY[] {53}\nFrom: Alice <alice@example.org>\nSubject: Hello\n\n\n)\n" +
				"F1 OK Fetch completed.\n"},
	)
	if out := fetchRun(t, c, r, "X UNSELECT"); !strings.Contains(out, "X OK") {
		t.Fatal(out)
	}
	fetchCheck(t, c, r,
		// No mailbox selected: the mailbox must be named.
		[2]string{catenate("B1", "Other", ";UID=1"), "B1 NO [BADURL ;UID=1] Mailbox-relative IMAP URL, but no mailbox selected\n"},
		[2]string{catenate("B2", "Other", "/INBOX;UIDVALIDITY=1/;UID=1"), "B2 NO [BADURL /INBOX;UIDVALIDITY=1/;UID=1] Invalid UIDVALIDITY\n"},
		[2]string{catenate("B3", "Other", "/INBOX/;UID=9"), "B3 NO [BADURL /INBOX/;UID=9] Message not found\n"},
		[2]string{catenate("B4", "Other", "/Nonexistent/;UID=1"), "B4 NO [BADURL /Nonexistent/;UID=1] Mailbox doesn't exist.\n"},
		[2]string{catenate("B5", "Other", "imap://bob@"+addr+"/INBOX/;UID=1"), "B5 NO [BADURL imap://bob@" + addr + "/INBOX/;UID=1] IMAP URL names another user\n"},
		[2]string{catenate("B6", "Other", "imap://alice@mail.example.com/INBOX/;UID=1"), "B6 NO [BADURL imap://alice@mail.example.com/INBOX/;UID=1] IMAP URL names another server\n"},
		[2]string{catenate("B7", "Other", "imap://mail.example.com/INBOX/;UID=1"), "B7 NO [BADURL imap://mail.example.com/INBOX/;UID=1] Invalid IMAP URL: no user named\n"},
		[2]string{catenate("B8", "Other", "/INBOX/;UID=1/;URLAUTH=anonymous:internal:x"), "B8 NO [BADURL /INBOX/;UID=1/;URLAUTH=anonymous:internal:x] Invalid IMAP URL: unsupported parameter URLAUTH\n"},
		[2]string{catenate("B9", "Other", "/INBOX;UID=1"), "B9 NO [BADURL /INBOX;UID=1] Invalid IMAP URL: misplaced UID\n"},
		[2]string{catenate("B10", "Other", "/INBOX/;UID=1/;SECTION=1.X"), "B10 NO [BADURL /INBOX/;UID=1/;SECTION=1.X] Invalid IMAP URL: bad section\n"},
		[2]string{catenate("B11", "Other", "/INBOX/;UID=0"), "B11 NO [BADURL /INBOX/;UID=0] Invalid IMAP URL: bad number\n"},
		[2]string{catenate("B12", "Other", "/INBOX/;UID=1/;PARTIAL=x"), "B12 NO [BADURL /INBOX/;UID=1/;PARTIAL=x] Invalid IMAP URL: bad partial\n"},
		[2]string{catenate("B13", "Other", "http://example.com/"), "B13 NO [BADURL http://example.com/] Invalid IMAP URL: not an imap URL\n"},
		// "]" and spaces would end the response code: escaped.
		[2]string{catenate("B14", "Other", "/a]b c/;UID=1"), "B14 NO [BADURL /a%5Db%20c/;UID=1] Mailbox doesn't exist.\n"},
		[2]string{catenate("B16", "Other", "/a//b/;UID=1"), "B16 NO [BADURL /a//b/;UID=1] %%\n"},
		[2]string{catenate("B15", "Other", "/INBOX/;UID=1?SUBJECT%20x"), "B15 NO [BADURL /INBOX/;UID=1?SUBJECT%20x] Invalid IMAP URL: not a message part URL\n"},
	)
}

// FuzzCatenateURL sends arbitrary URLs as CATENATE parts: each must be
// answered, OK for a URL that names a message, NO [BADURL] or BAD
// otherwise, and the session must go on.
func FuzzCatenateURL(f *testing.F) {
	for _, u := range []string{"/INBOX/;UID=1", "/INBOX;UIDVALIDITY=1/;UID=1/;SECTION=1.MIME/;PARTIAL=0.1", ";UID=1/;SECTION=HEADER.FIELDS.NOT%20(A%20B)",
		"imap://alice@127.0.0.1/INBOX/;UID=1/;SECTION=TEXT", "imap://alice;AUTH=*@[::1]:143/INBOX/;UID=1", "/%FF/;UID=1", "/;uid=1;section=1", "//;;;", "imap://", ";UID=1/;PARTIAL=99999999999999999999"} {
		f.Add(u)
	}
	s := newServer(f, nil)
	s.be.Deliver("alice", []byte(fetchMsgParts))
	c, r := s.loggedIn(f)
	if out := fetchRun(f, c, r, "S SELECT INBOX"); !strings.Contains(out, "S OK") {
		f.Fatal(out)
	}
	f.Fuzz(func(t *testing.T, url string) {
		if strings.ContainsRune(url, 0) {
			return // a literal holds no NUL: refused before the URL is read
		}
		out := fetchRun(t, c, r, "A APPEND INBOX CATENATE (URL {"+strconv.Itoa(len(url))+"+}\r\n"+url+" TEXT {3+}\r\nx\r\n)")
		last := out[strings.LastIndex(out[:len(out)-2], "\n")+1:]
		if !strings.HasPrefix(last, "A OK") && !strings.HasPrefix(last, "A NO [BADURL ") && !strings.HasPrefix(last, "A BAD ") &&
			!strings.HasPrefix(last, "A NO [TOOBIG]") {
			t.Fatalf("URL %q: %q", url, out)
		}
		if i := strings.Index(last, "[BADURL "); i >= 0 && strings.ContainsAny(last[i+8:strings.IndexByte(last[i:], ']')+i], " \x7f") {
			t.Fatalf("URL %q: response code not one atom: %q", url, last)
		}
		if out := fetchRun(t, c, r, "N NOOP"); !strings.Contains(out, "N OK") {
			t.Fatalf("after URL %q: NOOP = %q", url, out)
		}
	})
}
