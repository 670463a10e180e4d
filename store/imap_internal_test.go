package store

import (
	"strings"
	"testing"

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
