package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzIMAPName checks the mailbox names IMAPBackend accepts: UTF-8,
// without control characters, no level empty, "." or "..", and the check
// is idempotent (a name it returns is accepted as it is).
func FuzzIMAPName(f *testing.F) {
	for _, s := range []string{"INBOX", "inbox/Sub", "a/b/c", "a//b", "/a", "a/", ".", "a/../b", "Sent Items",
		"caf\u00e9", "\xff", "tab\tname", "x*y", "Inbox", "INBOXfoo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := imapName(name)
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || got == "" || len(got) > maxMailboxNameBytes {
			t.Fatalf("imapName(%q) = %q", name, got)
		}
		for _, r := range got {
			if r < ' ' || r == 0x7f {
				t.Fatalf("imapName(%q) = %q, with a control character", name, got)
			}
		}
		for _, level := range strings.Split(got, "/") {
			if level == "" || level == "." || level == ".." {
				t.Fatalf("imapName(%q) = %q, with level %q", name, got, level)
			}
		}
		if strings.EqualFold(got, "INBOX") && got != "INBOX" || strings.HasPrefix(strings.ToUpper(got), "INBOX/") && !strings.HasPrefix(got, "INBOX/") {
			t.Fatalf("imapName(%q) = %q: INBOX not upper case", name, got)
		}
		if again, err := imapName(got); err != nil || again != got {
			t.Fatalf("imapName(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}
