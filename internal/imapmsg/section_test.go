package imapmsg_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

func section(t *testing.T, msg string, s imapwire.Section) (string, bool) {
	t.Helper()
	root := imapmsg.Parse([]byte(msg))
	r, ok := root.Section(s)
	if !ok {
		return "", false
	}
	return msg[r.Offset : r.Offset+r.Length], true
}

func TestPart_Section(t *testing.T) {
	single := crlf("Subject: s\n\nbody\n")
	rfc822 := crlf("Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n")
	nested := crlf(nestedMessage)
	tests := []struct {
		name string
		msg  string
		sec  imapwire.Section
		want string
		ok   bool
	}{
		{"whole", single, imapwire.Section{}, single, true},
		{"header", single, imapwire.Section{Specifier: "HEADER"}, "Subject: s\r\n\r\n", true},
		{"text", single, imapwire.Section{Specifier: "TEXT"}, "body\r\n", true},
		{"part 1 of a single part message is its body", single, imapwire.Section{Part: []uint32{1}}, "body\r\n", true},
		{"1.MIME of a single part message is its header", single, imapwire.Section{Part: []uint32{1}, Specifier: "MIME"}, "Subject: s\r\n\r\n", true},
		{"no part 2", single, imapwire.Section{Part: []uint32{2}}, "", false},
		{"no part 1.1 of text", single, imapwire.Section{Part: []uint32{1, 1}}, "", false},
		{"HEADER of a part that is not a message", single, imapwire.Section{Part: []uint32{1}, Specifier: "HEADER"}, "", false},
		{"message/rfc822 at the top: 1 is the message", rfc822, imapwire.Section{Part: []uint32{1}}, "Subject: inner\r\n\r\ninner body\r\n", true},
		{"message/rfc822 at the top: 1.1 is its body", rfc822, imapwire.Section{Part: []uint32{1, 1}}, "inner body\r\n", true},
		{"message/rfc822 at the top: 1.HEADER", rfc822, imapwire.Section{Part: []uint32{1}, Specifier: "HEADER"}, "Subject: inner\r\n\r\n", true},
		{"nested 2.HEADER", nested, imapwire.Section{Part: []uint32{2}, Specifier: "HEADER"},
			"From: Inner <in@x.org>\r\nSubject: inner\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n", true},
		{"nested 2.MIME", nested, imapwire.Section{Part: []uint32{2}, Specifier: "MIME"}, "Content-Type: message/rfc822\r\n\r\n", true},
		{"nested 2.2", nested, imapwire.Section{Part: []uint32{2, 2}}, "<b>html</b>", true},
		{"nested 2.2.MIME", nested, imapwire.Section{Part: []uint32{2, 2}, Specifier: "MIME"}, "Content-Type: text/html\r\n\r\n", true},
		{"nested 2.1.MIME: an empty header", nested, imapwire.Section{Part: []uint32{2, 1}, Specifier: "MIME"}, "\r\n", true},
		{"nested 2.3", nested, imapwire.Section{Part: []uint32{2, 3}}, "", false},
		{"nested 0", nested, imapwire.Section{Part: []uint32{0}}, "", false},
		{"nested 1.1", nested, imapwire.Section{Part: []uint32{1, 1}}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := section(t, tt.msg, tt.sec)
			if ok != tt.ok || got != tt.want {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFilterHeader(t *testing.T) {
	header := []byte("From: a@b\r\nSubject: folded\r\n\tline\r\nX-Bare: lf\nsubject: second\r\nNoColon\r\n\r\n")
	tests := []struct {
		names []string
		not   bool
		want  string
	}{
		{[]string{"SUBJECT"}, false, "Subject: folded\r\n\tline\r\nsubject: second\r\n\r\n"},
		{[]string{"from", "x-bare"}, false, "From: a@b\r\nX-Bare: lf\n\r\n"},
		{[]string{"subject"}, true, "From: a@b\r\nX-Bare: lf\n\r\n"},
		{[]string{"nothing"}, false, "\r\n"},
	}
	for _, tt := range tests {
		if got := string(imapmsg.FilterHeader(nil, header, tt.names, tt.not)); got != tt.want {
			t.Errorf("%v not=%v: got %q, want %q", tt.names, tt.not, got, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		enc, in, want string
		err           error
	}{
		{"", "as is\r\n", "as is\r\n", nil},
		{"8BIT", "as is\xff", "as is\xff", nil},
		{"base64", "aGVs\r\n bG8g\td29y bGQ=\r\n", "hello world", nil},
		{"BASE64", "aGVsbG8", "hello", nil},
		{"base64", "aG!V*sbG8=ignored", "hello", nil},
		{"quoted-printable", "a=3Db=\r\nc  \r\nd=\nx=ZZ=4\r\n", "a=bc\r\ndx=ZZ=4\r\n", nil},
		{"Quoted-Printable", "caf=E9", "caf\xe9", nil},
		{"x-uuencode", "begin", "", imapmsg.ErrUnknownEncoding},
	}
	for _, tt := range tests {
		got, err := imapmsg.Decode(nil, []byte(tt.in), tt.enc)
		if !errors.Is(err, tt.err) || string(got) != tt.want {
			t.Errorf("%s %q: got %q, %v; want %q, %v", tt.enc, tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseReaderAt(t *testing.T) {
	msg := []byte(crlf(nestedMessage))
	root, err := imapmsg.ParseReaderAt(bytes.NewReader(msg), int64(len(msg)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := shape(root), shape(imapmsg.Parse(msg)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := imapmsg.ParseReaderAt(bytes.NewReader(msg), int64(len(msg))+1); err == nil {
		t.Error("short message: no error")
	}
	if _, err := imapmsg.ParseReaderAt(bytes.NewReader(nil), 0); err != nil {
		t.Errorf("empty message: %v", err)
	}
}
