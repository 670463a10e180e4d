package imapd

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestBaseSubject(t *testing.T) {
	tests := []struct {
		in   string
		want string
		re   bool
	}{
		{"a", "a", false},
		{"", "", false},
		{"  ", "", false},
		{"[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", true},
		{"b (a)", "b (a)", false},
		{"Re: [FWD: c]", "c", true},
		{"[xyz]", "[xyz]", false},
		{"[xyz] abc", "abc", false},
		{"Ad: Re: Ad: Re: Ad: x", "Ad: Re: Ad: Re: Ad: x", false},
		{"re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", true},
		{"Re:   hello\t world ", "hello world", true},
		{"RE [blob]: x", "x", true},
		{"Fwd : x", "x", true},
		{"Re x", "Re x", false},
		{"[fwd: x", "[fwd: x", false},
		{"x (fwd) y", "x (fwd) y", false},
	}
	for _, tc := range tests {
		got, re := baseSubject(tc.in)
		if got != tc.want || re != tc.re {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", tc.in, got, re, tc.want, tc.re)
		}
	}
}

func TestNewSortData(t *testing.T) {
	header := "From: =?iso-8859-1?q?J=F6rg?= <joerg@example.com>\r\n" +
		"To: undisclosed:;, \"Bob\" <bob@b.example>\r\n" +
		"Cc: carol@c.example\r\n" +
		"Subject: =?utf-8?q?Re:_caf=C3=A9?=\r\n" +
		"  (fwd)\r\n" +
		"Date: Fri, 22 Feb 2008 23:00:00 +0200\r\n" +
		"Message-ID: <id1@host>\r\n" +
		"In-Reply-To: Joe's message <id0@host> and <other@host>\r\n" +
		"References: <a@host> (comment)\r\n <b (x) @host>\r\n" +
		"\r\n" +
		"Subject: not a header\r\n"
	d := NewSortData(7, []byte(header))
	want := SortData{
		UID:         7,
		Date:        time.Date(2008, 2, 22, 23, 0, 0, 0, time.FixedZone("", 7200)),
		BaseSubject: "café",
		HasRe:       true,
		From:        "joerg",
		DisplayFrom: "Jörg",
		To:          "undisclosed",
		DisplayTo:   "undisclosed",
		Cc:          "carol",
		MessageID:   "id1@host",
		InReplyTo:   "id0@host",
		References:  []string{"a@host", "b@host"},
	}
	if !d.Date.Equal(want.Date) {
		t.Errorf("Date = %v; want %v", d.Date, want.Date)
	}
	d.Date = want.Date
	if d.BaseSubject != want.BaseSubject || d.HasRe != want.HasRe || d.From != want.From ||
		d.DisplayFrom != want.DisplayFrom || d.To != want.To || d.DisplayTo != want.DisplayTo ||
		d.Cc != want.Cc || d.MessageID != want.MessageID || d.InReplyTo != want.InReplyTo ||
		!slices.Equal(d.References, want.References) || d.UID != 7 {
		t.Errorf("NewSortData() = %+v\nwant %+v", d, want)
	}
}

func TestNewSortData_displayFallback(t *testing.T) {
	d := NewSortData(1, []byte("from: user@domain\nto: <x@y>\ncc: \"Bob\" <bob@b.example>, c@d\n\n"))
	if d.DisplayFrom != "user@domain" || d.From != "user" || d.DisplayTo != "x@y" || d.Cc != "bob" {
		t.Errorf("NewSortData() = %+v; want DisplayFrom user@domain, From user, DisplayTo x@y, Cc bob", d)
	}
	d = NewSortData(1, []byte("From: d\r\nTo: <@x>\r\n\r\n"))
	if d.DisplayFrom != "d" || d.From != "d" || d.To != "" {
		t.Errorf("NewSortData() = %+v; want DisplayFrom d, From d, To empty", d)
	}
	d = NewSortData(1, nil)
	if d.UID != 1 || d.BaseSubject != "" || !d.Date.IsZero() || d.References != nil {
		t.Errorf("NewSortData(nil) = %+v; want empty", d)
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"Fri, 22 Feb 2008 23:00:00 +0200", time.Date(2008, 2, 22, 21, 0, 0, 0, time.UTC), true},
		{"22 Feb 08 23:00 GMT", time.Date(2008, 2, 22, 23, 0, 0, 0, time.UTC), true},
		{"22 Feb 99 23:00:00 EST", time.Date(1999, 2, 23, 4, 0, 0, 0, time.UTC), true},
		{"Friday, 22 February 2008 23:00:00 (Central European Time) +0100", time.Date(2008, 2, 22, 22, 0, 0, 0, time.UTC), true},
		{"22 Feb 2008 23:00:00 A", time.Date(2008, 2, 22, 23, 0, 0, 0, time.UTC), true},
		{"22 Feb 108 23:00:00 +0000", time.Date(2008, 2, 22, 23, 0, 0, 0, time.UTC), true},
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
		{"32 Feb 2008 10:00", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := parseDate(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMessageIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"<a@b>", []string{"a@b"}},
		{"<a@b> <c@d>", []string{"a@b", "c@d"}},
		{"<<a@b>", []string{"a@b"}},
		{"<>", nil},
		{"<no-at> <x@y>", []string{"x@y"}},
		{"no id", nil},
		{"<a@b", nil},
		{"<\"q x\"@b>", []string{"\"qx\"@b"}},
	}
	for _, tc := range tests {
		if got := messageIDs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("messageIDs(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzNewSortData(f *testing.F) {
	f.Add([]byte("Subject: Re: [fwd: x] (fwd)\r\nFrom: \"A\" <a@b>\r\nDate: 1 Jan 70 00:00 EST\r\nReferences: <a@b> <c(x)@d>\r\n\r\n"))
	f.Add([]byte("subject: =?utf-8?b?w6k=?= =?x-unknown?q?a?=\n\tcont\nto: g: a@b, c@d;\n"))
	f.Add([]byte("Subject: [[[]]] re re: fwd[x]: [fwd: [fwd: ]]\r\n"))
	f.Fuzz(func(t *testing.T, header []byte) {
		d := NewSortData(1, header)
		for _, s := range []string{d.BaseSubject, d.DisplayFrom, d.DisplayTo} {
			if !utf8.ValidString(s) {
				t.Errorf("invalid UTF-8 %q", s)
			}
		}
		if b, _ := baseSubject(d.BaseSubject); b != d.BaseSubject {
			t.Errorf("base subject %q not a fixed point: %q", d.BaseSubject, b)
		}
		if strings.HasPrefix(d.BaseSubject, " ") || strings.HasSuffix(d.BaseSubject, " ") {
			t.Errorf("base subject %q has edge spaces", d.BaseSubject)
		}
	})
}

// TestBaseSubject_long checks that a long subject made of prefixes or
// trailers is reduced in about linear time.
func TestBaseSubject_long(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("re: ", 50000) + "x",
		"x" + strings.Repeat(" (fwd)", 50000),
		strings.Repeat("[fwd: ", 20000) + "x" + strings.Repeat("]", 20000),
		strings.Repeat("[a]", 50000) + "re: x",
		strings.Repeat("[a]", 50000) + "x",
		strings.Repeat("[a]re: [b] ", 50000) + "x",
	} {
		start := time.Now()
		got, _ := baseSubject(s)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("baseSubject(%.20q...) took %v", s, d)
		}
		if got != "x" {
			t.Errorf("baseSubject(%.20q...) = %.20q; want x", s, got)
		}
	}
}

// TestCasemapKey checks the i;ascii-casemap order: a-z as A-Z, so that
// "[" and "_" sort after the letters' upper case, octets kept as they are.
func TestCasemapKey(t *testing.T) {
	in := []string{"_", "b", "[x]", "A", "\xff", "a\xffz", "é", "Ba"}
	slices.SortFunc(in, func(a, b string) int { return strings.Compare(casemapKey(a), casemapKey(b)) })
	want := []string{"A", "a\xffz", "b", "Ba", "[x]", "_", "é", "\xff"}
	if !slices.Equal(in, want) {
		t.Errorf("sorted by casemapKey: %q; want %q", in, want)
	}
	if casemapKey("aBc\xffd") != "ABC\xffD" {
		t.Errorf("casemapKey(%q) = %q; want %q", "aBc\xffd", casemapKey("aBc\xffd"), "ABC\xffD")
	}
}
