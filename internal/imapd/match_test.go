package imapd

import (
	"strings"
	"testing"
)

const matchMsg = "From: \"Doe, John\" <john@example.com>\r\n" +
	"To: team: =?utf-8?q?Ren=C3=A9e?= <renee@example.org>, bob@example.org;\r\n" +
	"Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus\r\n" +
	"  Berlin\r\n" +
	"X-Empty:\r\n" +
	"Content-Type: multipart/alternative; boundary=\"xx\"\r\n" +
	"\r\n" +
	"preamble not searched\r\n" +
	"--xx\r\n" +
	"Content-Type: text/plain; charset=koi8-r\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"=F0=D2=C9=D7=C5=D4 world\r\n" +
	"--xx\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PGI+w5xiZXJzaWNodDwvYj4=\r\n" +
	"--xx\r\n" +
	"Content-Type: image/png\r\n" +
	"\r\n" +
	"pngdata\r\n" +
	"--xx--\r\n"

func TestMsgText(t *testing.T) {
	m := newMsgText([]byte(matchMsg))
	tests := []struct {
		name string
		f    func(string) bool
		in   string
		want bool
	}{
		{"from name", func(s string) bool { return m.matchAddresses("from", s) }, "doe, john", true},
		{"from addr", func(s string) bool { return m.matchAddresses("from", s) }, "JOHN@EXAMPLE.COM", true},
		{"from empty", func(s string) bool { return m.matchAddresses("from", s) }, "", true},
		{"cc absent", func(s string) bool { return m.matchAddresses("cc", s) }, "", false},
		{"to group", func(s string) bool { return m.matchAddresses("to", s) }, "team:", true},
		{"to decoded name", func(s string) bool { return m.matchAddresses("to", s) }, "renée <renee@", true},
		{"to member", func(s string) bool { return m.matchAddresses("to", s) }, "bob@example.org", true},
		{"to other", func(s string) bool { return m.matchAddresses("to", s) }, "carol", false},
		{"subject decoded", func(s string) bool { return m.matchHeader("subject", s) }, "grüße aus berlin", true},
		{"subject folded", func(s string) bool { return m.matchHeader("subject", s) }, "GRÜSSE", true},
		{"header empty value", func(s string) bool { return m.matchHeader("x-empty", s) }, "", true},
		{"header absent", func(s string) bool { return m.matchHeader("x-other", s) }, "", false},
		{"header from by address", func(s string) bool { return m.matchHeader("from", s) }, "doe, john <john@", true},
		{"body koi8-r qp", m.matchBody, "привет world", true},
		{"body utf-8 base64", m.matchBody, "übersicht", true},
		{"body not image", m.matchBody, "pngdata", false},
		{"body not preamble", m.matchBody, "preamble", false},
		{"body not header", m.matchBody, "berlin", false},
		{"text header", m.matchText, "berlin", true},
		{"text body", m.matchText, "world", true},
		{"text field name", m.matchText, "x-empty:", true},
		{"text absent", m.matchText, "nowhere", false},
	}
	for _, tc := range tests {
		if got := tc.f(fold(tc.in)); got != tc.want {
			t.Errorf("%s: match(%q) = %v; want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestMsgText_unknownCharset(t *testing.T) {
	m := newMsgText([]byte("Subject: =?x-nope?q?abc?= =?utf-8?q?d=C3=A9f?=\r\n" +
		"Content-Type: text/plain; charset=x-nope\r\n\r\nraw \xff text\r\n"))
	if !m.matchHeader("subject", fold("déf")) {
		t.Error("a word in a known charset is not decoded beside one in an unknown charset")
	}
	if !m.matchBody("raw \uFFFD text") {
		t.Error("a body in an unknown charset is not searched as it is")
	}
}

func FuzzMatch(f *testing.F) {
	f.Add([]byte(matchMsg), "world")
	f.Add([]byte("Subject: =?utf-8?b?w6k=?=\r\n\r\nbody"), "é")
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\n=?x?="), "in")
	f.Fuzz(func(t *testing.T, msg []byte, needle string) {
		m := newMsgText(msg)
		n := fold(needle)
		body := m.matchBody(n)
		text := m.matchText(n)
		if body && !text {
			t.Errorf("BODY %q matches but TEXT does not", needle)
		}
		for _, name := range []string{"from", "to", "subject"} {
			if m.matchHeader(name, n) && !text && n != "" && !strings.ContainsAny(n, "<>@,;: ") {
				// A header value matches TEXT too, but for the address
				// form, whose punctuation TEXT does not have.
				if !m.matchAddresses(name, n) {
					t.Errorf("HEADER %s %q matches but TEXT does not", name, needle)
				}
			}
		}
		if !m.matchText("") {
			t.Error("TEXT \"\" does not match")
		}
	})
}

// countingReaderAt counts the octets read from it.
type countingReaderAt struct {
	r *strings.Reader
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestReadMessage(t *testing.T) {
	long := "X-Long: " + strings.Repeat("y", 20000) + "\r\n"
	body := strings.Repeat("body line\r\n", 100000)
	tests := []struct {
		name, msg, header string
	}{
		{"crlf", "A: b\r\n\r\n" + body, "A: b\r\n\r\n"},
		{"lf", "A: b\n\n" + body, "A: b\n\n"},
		{"empty header", "\r\n" + body, "\r\n"},
		{"long header", long + "\r\n" + body, long + "\r\n"},
		{"no blank line", "A: b\r\nC: d", "A: b\r\nC: d"},
		{"empty", "", ""},
	}
	var buf []byte
	for _, tc := range tests {
		r := &countingReaderAt{r: strings.NewReader(tc.msg)}
		msg := &Message{Size: int64(len(tc.msg)), Body: r}
		got, err := readMessage(msg, buf, true)
		if err != nil || string(got) != tc.header {
			t.Errorf("%s: header = %.40q, %v; want %.40q", tc.name, got, err, tc.header)
		}
		if r.n > int64(2*len(tc.header)+8<<10) {
			t.Errorf("%s: read %d octets for a header of %d", tc.name, r.n, len(tc.header))
		}
		buf = got
		all, err := readMessage(msg, buf, false)
		if err != nil || string(all) != tc.msg {
			t.Errorf("%s: whole message = %d octets, %v; want %d", tc.name, len(all), err, len(tc.msg))
		}
	}
	short := &Message{Size: 100, Body: strings.NewReader("A: b\r\n")}
	if _, err := readMessage(short, nil, false); err == nil {
		t.Error("a message shorter than its size: no error")
	}
}
