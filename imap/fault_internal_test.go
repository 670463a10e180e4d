package imap

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestStatusError(t *testing.T) {
	tests := []struct {
		text string
		want imap.Error
	}{
		{"NO [UNAVAILABLE] try later", imap.Error{Type: imap.StatusResponseTypeNo, Code: "UNAVAILABLE", Text: "try later"}},
		{"BAD nope", imap.Error{Type: imap.StatusResponseTypeBad, Text: "nope"}},
		{"NO [OVERQUOTA]", imap.Error{Type: imap.StatusResponseTypeNo, Code: "OVERQUOTA", Text: "Failed"}},
		{"NO [unclosed text", imap.Error{Type: imap.StatusResponseTypeNo, Text: "[unclosed text"}},
	}
	for _, tc := range tests {
		if got := statusError(tc.text); *got != tc.want {
			t.Errorf("statusError(%q) = %+v; want %+v", tc.text, *got, tc.want)
		}
	}
}

// FuzzStatusError: a rule's reply text always makes a NO or BAD with a
// text.
func FuzzStatusError(f *testing.F) {
	for _, s := range []string{"NO [UNAVAILABLE] try later", "BAD x", "NO []", "NO [", "OK x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		e := statusError(text)
		if e.Type != imap.StatusResponseTypeNo && e.Type != imap.StatusResponseTypeBad || e.Text == "" || strings.ContainsAny(string(e.Code), "]") {
			t.Fatalf("statusError(%q) = %+v", text, e)
		}
	})
}
