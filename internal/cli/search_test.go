package cli

import (
	"bufio"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/google/go-cmp/cmp"
)

// The clients of these tests use no TLS: the servers are on loopback, where
// plain-text logins are allowed, and TLS is not what they test.

// sendTestMail sends a message with `inetkit send`.
func sendTestMail(t testing.TB, smtpAddr, from, to, subject string) {
	t.Helper()
	code, stdout, stderr := runMain(t, "", "send", "smtp://"+smtpAddr, "--tls", "none",
		"--from", from, "--to", to, "--subject", subject, "--body", "body of "+subject)
	if code != exitOK || !strings.HasPrefix(stdout, "250 ") {
		t.Fatalf("send %q = %d, %q, %q", subject, code, stdout, stderr)
	}
}

// getMain runs `inetkit get --tls none ARGS...`.
func getMain(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runMain(t, "", append([]string{"get", "--tls", "none"}, args...)...)
}

// searchServe runs the mail servers with four messages for alice.
func searchServe(t *testing.T) map[string]string {
	t.Helper()
	srv, _ := mailServe(t)
	a := srv.addrs
	for _, m := range []struct{ from, subject string }{
		{"bob@example.org", "hello"},
		{"bob@example.org", "Hello again"},
		{"bob@example.org", "other"},
		{"carol@example.net", "from carol"},
	} {
		sendTestMail(t, a["smtp"], m.from, "alice@example.org", m.subject)
	}
	return a
}

// subjectsOf returns the last column of each line of a listing after its
// heading: the subject of an IMAP listing.
func subjectsOf(listing string) []string {
	var out []string
	lines := strings.Split(strings.TrimSuffix(listing, "\n"), "\n")
	for _, l := range lines[1:] {
		f := regexp.MustCompile(`  +`).Split(l, 5)
		out = append(out, f[len(f)-1])
	}
	return out
}

func TestGetIMAP_search(t *testing.T) {
	a := searchServe(t)
	inbox := userURL("imap", "alice@example.org", "pw", a["imap"], "/INBOX")
	for _, tc := range []struct {
		name  string
		query string // the URL's, after "?"
		flags []string
		want  []string
	}{
		{"none", "", nil, []string{"hello", "Hello again", "other", "from carol"}},
		{"KEY=VALUE", "SUBJECT=hello", nil, []string{"hello", "Hello again"}},
		{"RFC 5092", "SUBJECT%20hello", nil, []string{"hello", "Hello again"}},
		{"two keys", "SUBJECT=hello&FROM=bob", nil, []string{"hello", "Hello again"}},
		{"quoted", `SUBJECT%20%22hello%20again%22`, nil, []string{"Hello again"}},
		{"OR", "OR%20(FROM%20carol)%20(SUBJECT%20other)", nil, []string{"other", "from carol"}},
		{"NOT", "SUBJECT%20hello%20NOT%20SUBJECT%20again", nil, []string{"hello"}},
		{"BODY", "BODY=of%20other", nil, []string{"other"}},
		{"TEXT", "TEXT=carol", nil, []string{"from carol"}},
		{"TO", "TO=alice", nil, []string{"hello", "Hello again", "other", "from carol"}},
		{"HEADER", "HEADER=Subject:again", nil, []string{"Hello again"}},
		{"UNSEEN", "UNSEEN", nil, []string{"hello", "Hello again", "other", "from carol"}},
		{"SEEN", "SEEN", nil, nil},
		{"SINCE", "SINCE=2000-01-01", nil, []string{"hello", "Hello again", "other", "from carol"}},
		{"BEFORE", "BEFORE=1-Jan-2000", nil, nil},
		{"flag", "", []string{"--from", "CAROL"}, []string{"from carol"}},
		{"flags", "", []string{"--subject", "hello", "--to", "alice@example.org"}, []string{"hello", "Hello again"}},
		{"flag and query", "FROM=bob", []string{"--subject", "again"}, []string{"Hello again"}},
		{"since a duration", "", []string{"--since", "1h"}, []string{"hello", "Hello again", "other", "from carol"}},
		{"since a day", "", []string{"--since", time.Now().UTC().AddDate(0, 0, 2).Format("2006-01-02")}, nil},
		{"since a time to come", "", []string{"--since", time.Now().Add(time.Hour).Format(time.RFC3339)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := inbox
			if tc.query != "" {
				u += "?" + tc.query
			}
			code, stdout, stderr := getMain(t, append([]string{u}, tc.flags...)...)
			if code != exitOK {
				t.Fatalf("get %s %q = %d, %q", u, tc.flags, code, stderr)
			}
			// The FLAGS column is as wide as its widest value (\Recent,
			// which the server shows an IMAP4rev1 client).
			if !regexp.MustCompile(`^UID +FLAGS +DATE`).MatchString(stdout) {
				t.Errorf("listing without its heading:\n%s", stdout)
			}
			if diff := cmp.Diff(tc.want, subjectsOf(stdout)); diff != "" {
				t.Errorf("get %s %q (-want +got):\n%s", u, tc.flags, diff)
			}
		})
	}
}

func TestGetPOP3_search(t *testing.T) {
	a := searchServe(t)
	maildrop := userURL("pop3", "alice@example.org", "pw", a["pop3"], "/")
	for _, tc := range []struct {
		flags []string
		want  []string // message numbers
	}{
		{nil, []string{"1", "2", "3", "4"}},
		{[]string{"--subject", "HELLO"}, []string{"1", "2"}},
		{[]string{"--from", "carol"}, []string{"4"}},
		{[]string{"--from", "bob", "--subject", "again"}, []string{"2"}},
		{[]string{"--to", "alice@"}, []string{"1", "2", "3", "4"}},
		{[]string{"--to", "bob"}, nil},
		{[]string{"--since", "1h"}, []string{"1", "2", "3", "4"}},
		{[]string{"--since", "2000-01-01"}, []string{"1", "2", "3", "4"}},
		{[]string{"--since", time.Now().UTC().AddDate(0, 0, 2).Format("2006-01-02")}, nil},
	} {
		code, stdout, stderr := getMain(t, append([]string{maildrop}, tc.flags...)...)
		if code != exitOK {
			t.Fatalf("get pop3 %q = %d, %q", tc.flags, code, stderr)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] {
			got = append(got, strings.Fields(l)[0])
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("get pop3 %q (-want +got):\n%s", tc.flags, diff)
		}
	}
}

// --delete deletes exactly what was listed, and says how many on stderr.
func TestGet_delete(t *testing.T) {
	a := searchServe(t)
	inbox := userURL("imap", "alice@example.org", "pw", a["imap"], "/INBOX")
	maildrop := userURL("pop3", "alice@example.org", "pw", a["pop3"], "/")

	code, stdout, stderr := getMain(t, inbox+"?SUBJECT=hello", "--delete")
	if code != exitOK || !cmp.Equal(subjectsOf(stdout), []string{"hello", "Hello again"}) || stderr != "deleted 2 messages\n" {
		t.Fatalf("get IMAP search --delete = %d, %q, %q; want the two listed and 'deleted 2 messages'", code, stdout, stderr)
	}
	if _, stdout, _ = getMain(t, inbox); !cmp.Equal(subjectsOf(stdout), []string{"other", "from carol"}) {
		t.Errorf("after deleting the matches, INBOX holds:\n%s", stdout)
	}
	// Nothing matches: nothing deleted.
	if code, _, stderr = getMain(t, inbox, "--subject", "nothing like it", "--delete"); code != exitOK || stderr != "deleted 0 messages\n" {
		t.Errorf("get --delete of no match = %d, %q", code, stderr)
	}

	// POP3: DELE and QUIT.
	code, stdout, stderr = getMain(t, maildrop, "--from", "carol", "--delete")
	if code != exitOK || !regexp.MustCompile(`(?m)^2 +\d+ +\S+$`).MatchString(stdout) || stderr != "deleted 1 message\n" {
		t.Fatalf("get POP3 --from carol --delete = %d, %q, %q", code, stdout, stderr)
	}
	if _, stdout, _ = getMain(t, inbox); !cmp.Equal(subjectsOf(stdout), []string{"other"}) {
		t.Errorf("after the POP3 delete, INBOX holds:\n%s", stdout)
	}

	// One message: printed, then deleted.
	sendTestMail(t, a["smtp"], "dave@example.org", "alice@example.org", "last")
	_, stdout, _ = getMain(t, inbox, "--subject", "last")
	uid := strings.Fields(strings.Split(stdout, "\n")[1])[0]
	code, stdout, stderr = getMain(t, userURL("imap", "alice@example.org", "pw", a["imap"], "/INBOX;UID="+uid), "--delete")
	if code != exitOK || !strings.Contains(stdout, "body of last") || stderr != "deleted 1 message\n" {
		t.Errorf("get IMAP message --delete = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr = getMain(t, maildrop+"1", "--delete")
	if code != exitOK || !strings.Contains(stdout, "Subject: other") || stderr != "deleted 1 message\n" {
		t.Errorf("get POP3 message --delete = %d, %q, %q", code, stdout, stderr)
	}
	if _, stdout, _ = getMain(t, maildrop); strings.Count(stdout, "\n") != 1 {
		t.Errorf("maildrop after every delete:\n%s", stdout)
	}
}

func TestGetUsageErrors(t *testing.T) {
	imapURL := "imap://u:p@127.0.0.1:1/"
	pop3URL := "pop3://u:p@127.0.0.1:1/"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", imapURL, "--subject", "x"}, "need a mailbox"},
		{[]string{"get", imapURL, "--delete"}, "need a mailbox"},
		{[]string{"get", imapURL + "INBOX;UID=1", "--from", "x"}, "names one message"},
		{[]string{"get", imapURL + "INBOX;UID=1?SUBJECT=x"}, "names one message"},
		{[]string{"get", imapURL + "INBOX;UID=1", "--json"}, "--json is for listings"},
		{[]string{"get", imapURL + "INBOX?FOO=1"}, `unknown search key "FOO"`},
		{[]string{"get", imapURL + "INBOX?SUBJECT"}, "SUBJECT needs an argument"},
		{[]string{"get", imapURL + "INBOX?HEADER=X-Test"}, "HEADER=FIELD:VALUE"},
		{[]string{"get", imapURL + "INBOX", "--since", "yesterday"}, "--since wants a day"},
		{[]string{"get", pop3URL + "?SUBJECT=x"}, "a POP3 URL has no search"},
		{[]string{"get", pop3URL + "1", "--subject", "x"}, "names one message"},
		{[]string{"get", pop3URL + "1", "--json"}, "--json is for listings"},
		{[]string{"imap", "idle", imapURL + "INBOX?SUBJECT=x"}, "not a search in the URL"},
		{[]string{"imap", "idle", imapURL + "INBOX;UID=3"}, "names one message"},
		{[]string{"imap", "idle", imapURL, "--count", "-1"}, "--count must not be negative"},
		{[]string{"imap", "idle", imapURL, "--timeout", "-1s"}, "--timeout must not be negative"},
	} {
		code, _, stderr := runMain(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q = %d, %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The flags' criteria and the URL's search, together.
func TestGetOptions_criteria(t *testing.T) {
	now := time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC)
	parse := func(raw string, flags mailMatch) *imap.SearchCriteria {
		t.Helper()
		o := &getOptions{match: flags, timeout: time.Second, tls: tlsOptions{mode: "auto"}}
		if err := o.parse(raw, now); err != nil {
			t.Fatalf("parse(%q, %+v) = %v", raw, flags, err)
		}
		return o.criteria
	}
	u := "imap://u:p@h/INBOX"
	if c := parse(u, mailMatch{}); c != nil {
		t.Errorf("no search: criteria %+v; want nil (every message)", c)
	}
	got := parse(u+"?SMALLER%202000%20UNSEEN", mailMatch{subject: "hi", sinceFlag: "1h"})
	want := &imap.SearchCriteria{
		Header:  []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "hi"}},
		Since:   time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), // the day before 23:30 on the 9th
		NotFlag: []imap.Flag{imap.FlagSeen},
		Smaller: 2000,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("criteria (-want +got):\n%s", diff)
	}
	got = parse(u, mailMatch{sinceFlag: "2026-03-01"})
	if want := (&imap.SearchCriteria{Since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}); !cmp.Equal(want, got) {
		t.Errorf("--since a day: criteria %+v; want %+v", got, want)
	}
}

// POP3 matching reads the header as an IMAP server would.
func TestMailMatch_header(t *testing.T) {
	const msg = "Received: from a (b)\r\n\tby localhost (inetkit) with ESMTP id 1; Tue, 10 Mar 2026 12:00:00 +0000\r\n" +
		"Received: from older; Mon, 9 Mar 2026 12:00:00 +0000\r\n" +
		"Date: Sun, 1 Mar 2026 08:00:00 +0100\r\n" +
		"From: =?utf-8?q?Andr=C3=A9?= <andre@example.org>\r\n" +
		"To: a@example.org, b@example.org\r\n" +
		"Subject: =?utf-8?q?caf=C3=A9_time?=\r\n\r\n"
	th, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(msg)))
	if err != nil {
		t.Fatal(err)
	}
	h := mail.Header{Header: gomessage.Header{Header: th}}
	noDate, _ := textproto.ReadHeader(bufio.NewReader(strings.NewReader("Subject: x\r\n\r\n")))
	now := time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		m    mailMatch
		h    mail.Header
		want bool
	}{
		{mailMatch{subject: "CAFÉ"}, h, true},
		{mailMatch{subject: "tea"}, h, false},
		{mailMatch{from: "andré"}, h, true},
		{mailMatch{from: "andre@"}, h, true},
		{mailMatch{to: "b@example"}, h, true},
		{mailMatch{to: "c@"}, h, false},
		{mailMatch{sinceFlag: "2h"}, h, true},   // arrived at 12:00, the first Received says
		{mailMatch{sinceFlag: "30m"}, h, false}, // not since 12:30
		{mailMatch{sinceFlag: "2026-03-10"}, h, true},
		{mailMatch{sinceFlag: "2026-03-11"}, h, false},
		{mailMatch{sinceFlag: "2026-03-10"}, mail.Header{Header: gomessage.Header{Header: noDate}}, false},
	} {
		if err := tc.m.parse(now); err != nil {
			t.Fatal(err)
		}
		if got := tc.m.header(tc.h); got != tc.want {
			t.Errorf("%+v: header match = %v; want %v", tc.m, got, tc.want)
		}
	}
	// Without a Received field, the Date field counts.
	th.Del("Received")
	m := mailMatch{sinceFlag: "2026-03-01"}
	m.parse(now)
	if !m.header(h) {
		t.Errorf("--since 2026-03-01 with Date on the 1st and no Received: no match")
	}
}
