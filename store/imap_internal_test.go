package store

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

func TestMatchList(t *testing.T) {
	for _, tc := range []struct {
		name, ref, pattern string
		want               bool
	}{
		{"INBOX", "", "*", true},
		{"INBOX", "", "inbox", true},
		{"INBOX/a", "", "Inbox/%", true},
		{"a/b/c", "", "%", false},
		{"a/b/c", "", "a/%", false},
		{"a/b/c", "", "a/%/c", true},
		{"a/b/c", "", "a/*", true},
		{"a/b/c", "a", "%/c", true},
		{"a/b/c", "a/", "*", true},
		{"a/b/c", "x", "/a/*", true},
		{"abc", "", "a%c", true},
		{"abc", "", "a%%%c", true},
		{"a/c", "", "a%c", false},
		{"a/c", "", "a*c", true},
		{"", "", "*", true},
		{"a", "", "", false},
		{strings.Repeat("a", 200), "", strings.Repeat("*a", 50) + "*b", false},
	} {
		if got := matchList(tc.name, tc.ref, tc.pattern); got != tc.want {
			t.Errorf("matchList(%q, %q, %q) = %v; want %v", tc.name, tc.ref, tc.pattern, got, tc.want)
		}
	}
}

// FuzzMatchList checks matchList against go-imap's MatchList, on inputs
// small enough for MatchList's backtracking.
func FuzzMatchList(f *testing.F) {
	f.Add("a/b/c", "", "a/%")
	f.Add("Work/Projects", "Work", "%")
	f.Add("x/y", "x/", "*")
	f.Add("abc", "", "a*%c")
	f.Fuzz(func(t *testing.T, name, ref, pattern string) {
		if len(name) > 30 || len(ref) > 10 || len(pattern) > 12 {
			return
		}
		// matchList treats INBOX case-insensitively; MatchList does not.
		for _, s := range []string{name, ref, pattern} {
			if len(s) >= 5 && strings.EqualFold(s[:5], "inbox") {
				return
			}
		}
		if len(ref+pattern) >= 5 && strings.EqualFold((ref + pattern)[:5], "inbox") {
			return
		}
		got := matchList(name, ref, pattern)
		want := imapserver.MatchList(name, '/', ref, pattern)
		if got != want {
			t.Errorf("matchList(%q, %q, %q) = %v; MatchList says %v", name, ref, pattern, got, want)
		}
	})
}

// FuzzParseStoredMessage runs the parsing FETCH and SEARCH do on stored
// messages over arbitrary bytes (HARDENING I14): no panic, bounded depth.
func FuzzParseStoredMessage(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nbody\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n"))
	f.Add([]byte("From: =?utf-8?q?=E2=82=AC?= <a@b>\r\nDate: bogus\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		bs := bodyStructure(msg)
		if d := depth(bs); d > maxMIMEDepth+2 {
			t.Errorf("BODYSTRUCTURE depth %d", d)
		}
		envelope(bytes.NewReader(msg))
		matchBody(msg, "hello", true)
		sm := &searchMsg{meta: &msgMeta{}, body: msg}
		sm.match(&imap.SearchCriteria{
			Header:     []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "x"}},
			SentBefore: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		})
		imapserver.ExtractBodySection(bytes.NewReader(msg), &imap.FetchItemBodySection{Part: []int{1, 1}, Specifier: imap.PartSpecifierMIME})
	})
}

func depth(bs imap.BodyStructure) int {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		d := 0
		for _, c := range bs.Children {
			d = max(d, depth(c))
		}
		return d + 1
	case *imap.BodyStructureSinglePart:
		if bs.MessageRFC822 != nil {
			return depth(bs.MessageRFC822.BodyStructure) + 1
		}
	}
	return 1
}
