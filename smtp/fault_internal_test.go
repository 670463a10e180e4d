package smtp

import (
	"strings"
	"testing"

	"github.com/inetkit/inetkit/fault"
)

func TestReplyError(t *testing.T) {
	tests := []struct {
		text string
		code int
		enh  [3]int
		msg  string
	}{
		{"451 4.3.0 try later", 451, [3]int{4, 3, 0}, "try later"},
		{"550 no such user", 550, [3]int{-1, -1, -1}, "no such user"},
		{"452 4.3.1", 452, [3]int{4, 3, 1}, "Error"},
		{"554", 554, [3]int{-1, -1, -1}, "Error"},
		{"421-4.3.2 bye", 421, [3]int{4, 3, 2}, "bye"},
	}
	for _, tc := range tests {
		e := replyError(tc.text)
		if e.Code != tc.code || [3]int(e.EnhancedCode) != tc.enh || e.Message != tc.msg {
			t.Errorf("replyError(%q) = %d %v %q; want %d %v %q", tc.text, e.Code, e.EnhancedCode, e.Message, tc.code, tc.enh, tc.msg)
		}
	}
}

// FuzzReplyError: every reply text a rule accepts becomes an SMTP error with
// its code and a text on one line.
func FuzzReplyError(f *testing.F) {
	for _, s := range []string{"451 4.3.0 try later", "550 x", "452 4.3.1", "421", "250 9.9.9999 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := fault.ParseRule("smtp MAIL reply=" + quote(text))
		if err != nil {
			return
		}
		e := replyError(r.Text)
		if e.Code < 100 || e.Code > 599 || e.Message == "" || strings.ContainsAny(e.Message, "\r\n") {
			t.Fatalf("replyError(%q) = %+v", r.Text, e)
		}
	})
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzRcptAddress: the address of a RCPT argument is part of it, and
// never holds the closing bracket of a bracketed one.
func FuzzRcptAddress(f *testing.F) {
	for _, s := range []string{"TO:<a@b>", "to: <a@b> NOTIFY=NEVER", "TO:a@b", "TO:<", "TO:<>", "FROM:<a@b>", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		a := rcptAddress(arg)
		bracketed := strings.HasPrefix(strings.TrimLeft(arg[min(3, len(arg)):], " "), "<")
		if !strings.Contains(arg, a) || bracketed && strings.Contains(a, ">") {
			t.Fatalf("rcptAddress(%q) = %q", arg, a)
		}
	})
}
