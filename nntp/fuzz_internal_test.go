package nntp

import (
	"github.com/inetkit/inetkit/lineproto"

	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// refMatch is the obvious recursive matcher of one wildmat pattern, for
// short inputs only: it backtracks.
func refMatch(p, s []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if refMatch(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return len(s) > 0 && refMatch(p[1:], s[1:])
	}
	return len(s) > 0 && s[0] == p[0] && refMatch(p[1:], s[1:])
}

func refWildmat(w, name string) bool {
	pats := strings.Split(w, ",")
	for i := len(pats) - 1; i >= 0; i-- {
		p, neg := pats[i], false
		if strings.HasPrefix(p, "!") {
			p, neg = p[1:], true
		}
		if refMatch([]rune(p), []rune(name)) {
			return !neg
		}
	}
	return false
}

func FuzzWildmat(f *testing.F) {
	for _, s := range [][2]string{
		{"*", "misc.test"}, {"misc.*", "misc.test"}, {"*,!misc.*", "misc.test"}, {"a*b*c", "aXbYc"},
		{"?", "é"}, {"*x", "xxxx"}, {"a?c", "abc"}, {"*.*.*", "a.b"}, {"ab*ba", "aba"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, w, name string) {
		if len(w) > 40 || len(name) > 40 || !utf8.ValidString(name) {
			return
		}
		m, ok := ParseWildmat(w)
		if !ok {
			return
		}
		if got, want := m.Match(name), refWildmat(w, name); got != want {
			t.Errorf("Wildmat(%q).Match(%q) = %v; want %v", w, name, got, want)
		}
	})
}

// TestWildmat_linear is HARDENING N5 for the matcher itself: 2000 stars
// and an x, against long names, without backtracking.
func TestWildmat_linear(t *testing.T) {
	w, ok := ParseWildmat(strings.Repeat("*", 2000) + "x")
	if !ok {
		t.Fatal("not parsed")
	}
	name := strings.Repeat("a", 500)
	start := time.Now()
	for range 1000 {
		if w.Match(name) {
			t.Fatal("matched")
		}
	}
	w2, _ := ParseWildmat(strings.Repeat("a*", 200) + "b")
	for range 100 {
		if w2.Match(name) {
			t.Fatal("matched")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestParseWildmat(t *testing.T) {
	for _, tc := range []struct {
		w  string
		ok bool
	}{{"*", true}, {"a,!b", true}, {"", false}, {"a,,b", false}, {"!", false}, {"a[b]", false}, {"a\\b", false}, {"\xff", false}} {
		if _, ok := ParseWildmat(tc.w); ok != tc.ok {
			t.Errorf("ParseWildmat(%q) ok = %v; want %v", tc.w, ok, tc.ok)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"GROUP misc.test", "LIST ACTIVE *", "OVER 1-", "AUTHINFO USER a", "", "\x00", "ARTICLE <a@b>", "NEWNEWS * 240101 000000 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, ok := parseCommand([]byte(line))
		if !ok {
			return
		}
		if cmd.name == "" || cmd.name != lineproto.UpperASCII(cmd.name) {
			t.Errorf("name %q", cmd.name)
		}
		for _, a := range append([]string{cmd.name}, cmd.args...) {
			if a == "" || strings.ContainsAny(a, " \t\r\n\x00") {
				t.Errorf("field %q of %q", a, line)
			}
		}
		if len(cmd.args) > 0 {
			if lo, hi, ok := parseRange(cmd.args[0]); ok && (lo < 0 || hi < 0) {
				t.Errorf("range %q = %d-%d", cmd.args[0], lo, hi)
			}
			parseDateTime(cmd.args, time.Now())
		}
	})
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		s         string
		low, high int64
		ok        bool
	}{
		{"1", 1, 1, true}, {"1-", 1, maxArticleNumber, true}, {"3-5", 3, 5, true}, {"5-3", 5, 3, true},
		{"1-4294967295", 1, 4294967295, true}, {"", 0, 0, false}, {"-5", 0, 0, false}, {"a-b", 0, 0, false},
		{"99999999999999999", 0, 0, false},
	} {
		low, high, ok := parseRange(tc.s)
		if ok != tc.ok || ok && (low != tc.low || high != tc.high) {
			t.Errorf("parseRange(%q) = %d, %d, %v; want %d, %d, %v", tc.s, low, high, ok, tc.low, tc.high, tc.ok)
		}
	}
}

func TestParseDateTime(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		args []string
		want time.Time
		ok   bool
	}{
		{[]string{"20240102", "030405", "GMT"}, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{[]string{"240102", "030405", "GMT"}, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{[]string{"990102", "030405", "GMT"}, time.Date(1999, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{[]string{"20240102", "030405"}, time.Date(2024, 1, 2, 3, 4, 5, 0, time.Local), true},
		{[]string{"20240231", "000000", "GMT"}, time.Time{}, false},
		{[]string{"20240102", "250000", "GMT"}, time.Time{}, false},
		{[]string{"2024010", "000000", "GMT"}, time.Time{}, false},
		{[]string{"20240102", "000000", "UTC"}, time.Time{}, false},
	} {
		got, ok := parseDateTime(tc.args, now)
		if ok != tc.ok || ok && !got.Equal(tc.want) {
			t.Errorf("parseDateTime(%q) = %v, %v; want %v, %v", tc.args, got, ok, tc.want, tc.ok)
		}
	}
}

// bytesPeeker serves readArticle from a byte slice, a few octets at a time.
type bytesPeeker struct {
	data []byte
	step int
}

func (p *bytesPeeker) Peek() ([]byte, error) {
	if len(p.data) == 0 {
		return nil, errEOF
	}
	return p.data[:min(p.step, len(p.data))], nil
}

func (p *bytesPeeker) Skip(n int) { p.data = p.data[n:] }

var errEOF = bytes.ErrTooLarge // any error will do

// refReadArticle is the plain reading of a dot-stuffed block: the block
// ends at the first CRLF.CRLF (or a leading .CRLF); in it, a dot after
// CRLF (or at the start) is removed.
func refReadArticle(data []byte) (article []byte, rest []byte, ok bool) {
	var end int
	if bytes.HasPrefix(data, []byte(".\r\n")) {
		end = 0
		rest = data[3:]
	} else {
		i := bytes.Index(data, []byte("\r\n.\r\n"))
		if i < 0 {
			return nil, nil, false
		}
		end = i + 2
		rest = data[i+5:]
	}
	body := data[:end]
	var out []byte
	for i := 0; i < len(body); i++ {
		if body[i] == '.' && (i == 0 || i >= 2 && body[i-2] == '\r' && body[i-1] == '\n') {
			continue
		}
		out = append(out, body[i])
	}
	return out, rest, true
}

func FuzzReadArticle(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", ".\r\n", "..x\r\n.\r\nQUIT\r\n", "a\n.\nb\r\n.\r\n", "a\r\n.\rb\r\n.\r\n", "\r\r\n.\r\n"} {
		f.Add([]byte(s), uint8(3), int64(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8, max int64) {
		if step == 0 || max < 0 {
			return
		}
		want, rest, ok := refReadArticle(data)
		p := &bytesPeeker{data: data, step: int(step)}
		got, tooBig, err := readArticle(p, max, func() {})
		if !ok {
			if err == nil {
				t.Fatalf("readArticle(%q) ended without a terminator", data)
			}
			return
		}
		if err != nil {
			t.Fatalf("readArticle(%q) = %v", data, err)
		}
		if !bytes.Equal(p.data, rest) {
			t.Fatalf("readArticle(%q) left %q; want %q", data, p.data, rest)
		}
		wire := int64(len(data) - len(rest) - 3)
		if tooBig != (wire > max) {
			t.Fatalf("readArticle(%q, max %d) tooBig = %v; wire %d", data, max, tooBig, wire)
		}
		if !tooBig && !bytes.Equal(got, want) {
			t.Fatalf("readArticle(%q) = %q; want %q", data, got, want)
		}
	})
}

func FuzzCheckArticle(f *testing.F) {
	for _, s := range []string{
		"From: a@b\r\nNewsgroups: misc.test\r\nSubject: x\r\n\r\nbody\r\n",
		"From: a@b\r\nNewsgroups: a,b,,c\r\nSubject: x\r\n",
		"From: a@b\r\n Subject: folded\r\nNewsgroups: x\r\nSubject: y\r\nMessage-ID: <a@b>\r\nXref: h g:1\r\n\r\n",
		": empty name\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = normalizeCRLF(data)
		c, reason := checkArticle(data, articleOptions{host: "h", newID: func() string { return "<new@h>" }, now: func() string { return "now" }})
		if reason != "" {
			if c != nil {
				t.Fatal("a refused article came back")
			}
			return
		}
		p := c.p
		if !validMessageID(p.MessageID) || len(c.newsgroups) == 0 || len(c.newsgroups) > MaxNewsgroups {
			t.Fatalf("accepted %q as %+v", data, c)
		}
		if p.Bytes != int64(len(p.Header)+2+len(p.Body)) {
			t.Fatalf("Bytes %d", p.Bytes)
		}
		fields, r := parseHeader(p.Header)
		if r != "" {
			t.Fatalf("completed header %q does not parse: %s", p.Header, r)
		}
		for _, name := range []string{"Path", "Date", "Message-ID", "From", "Subject", "Newsgroups"} {
			if _, n := fieldValue(fields, name); n != 1 {
				t.Fatalf("completed header %q has %d %s fields", p.Header, n, name)
			}
		}
		if _, n := fieldValue(fields, "Xref"); n != 0 {
			t.Fatalf("completed header %q keeps an Xref", p.Header)
		}
	})
}
