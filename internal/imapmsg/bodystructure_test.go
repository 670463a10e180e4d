package imapmsg_test

import (
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/imapmsg"
)

const mixedAlternativeRelated = `From: a@b
Subject: s
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

hi=
 there
--alt
Content-Type: multipart/related; boundary="rel"; type="text/html"

--rel
Content-Type: text/html; charset="utf-8"

<p>hi</p>
--rel
Content-Type: image/png
Content-ID: <img1@x>
Content-Transfer-Encoding: BASE64
Content-Disposition: inline

iVBORw0KGgo=
--rel--
--alt--
--outer
Content-Type: application/pdf; name*0*=utf-8''r%C3%A9sum; name*1*=%C3%A9.pdf
Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf
Content-Language: en, fr
Content-Location: http://example.org/cv.pdf
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-Description: my CV

JVBERi0=
--outer--
epilogue
`

const nestedMessage = `From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

see attached
--b
Content-Type: message/rfc822

From: Inner <in@x.org>
Subject: inner
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=c

--c

plain
--c
Content-Type: text/html

<b>html</b>
--c--
--b--
`

func TestWriteBodyStructure(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		extended bool
		want     string
	}{
		{"no MIME header: text/plain, US-ASCII, 7BIT", "Subject: x\n\nhello\nworld\n", true,
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 14 2 NIL NIL NIL NIL)`},
		{"BODY", "Subject: x\n\nhello\nworld\n", false,
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 14 2)`},
		{"missing charset gets US-ASCII, encoding as written", "MIME-Version: 1.0\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\nPGI+aGk8L2I+\n", true,
			`("text" "html" ("CHARSET" "US-ASCII") NIL NIL "base64" 14 1 NIL NIL NIL NIL)`},
		{"charset kept, other params first", "Content-Type: text/plain; format=flowed; CharSet=\"ISO-8859-1\"\n\nx", false,
			`("text" "plain" ("format" "flowed" "CharSet" "ISO-8859-1") NIL NIL "7BIT" 1 0)`},
		{"Content-* without MIME-Version or Content-Type is not MIME", "Content-Transfer-Encoding: base64\nContent-Description: d\n\nx\n", false,
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3 1)`},
		{"Content-Type without MIME-Version counts", "Content-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lG\n", false,
			`("image" "gif" NIL NIL NIL "base64" 6)`},
		{"comments and folding in Content-Type", "MIME-Version: 1.0\nContent-Type: text (c) / plain (d);\n charset = us-ascii (e)\n\nx", false,
			`("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 1 0)`},
		{"RFC 2231 continuations in order and out of order", "MIME-Version: 1.0\nContent-Type: application/x-stuff;\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\n title*0*=us-ascii'en'This%20is%20even%20more%20;\n title*2=\"isn't it!\"\n\nx", false,
			`("application" "x-stuff" ("title*" "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!") NIL NIL "7BIT" 1)`},
		{"RFC 2231: joined sections go after the other parameters, as in Dovecot 2.3", "MIME-Version: 1.0\nContent-Type: application/x; name*0=b; name=a; name*1=c\n\n", false,
			`("application" "x" ("name" "a" "name" "bc") NIL NIL "7BIT" 0)`},
		{"RFC 2231: a plain section first, with an extended one", "MIME-Version: 1.0\nContent-Type: application/x; t*0=\"50%\"; t*1*=%20off\n\n", false,
			`("application" "x" ("t*" "''50%25%20off") NIL NIL "7BIT" 0)`},
		{"RFC 2231: sections with a number missing are left alone", "MIME-Version: 1.0\nContent-Type: application/x; t*0=a; t*2*=c\n\n", false,
			`("application" "x" ("t*0" "a" "t*2*" "c") NIL NIL "7BIT" 0)`},
		{"RFC 2231: name* alone", "MIME-Version: 1.0\nContent-Disposition: attachment; filename*=utf-8''%C3%A9.txt; size=3\n\n", true,
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 NIL ("attachment" ("size" "3" "filename*" "utf-8''%C3%A9.txt")) NIL NIL)`},
		{"multipart/mixed, alternative, related, extension data", mixedAlternativeRelated, true,
			`(` +
				`(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 11 1 NIL NIL NIL NIL)` +
				`(("text" "html" ("charset" "utf-8") NIL NIL "7BIT" 9 0 NIL NIL NIL NIL)` +
				`("image" "png" NIL "<img1@x>" NIL "BASE64" 12 NIL ("inline" NIL) NIL NIL)` +
				` "related" ("boundary" "rel" "type" "text/html") NIL NIL NIL)` +
				` "alternative" ("boundary" "alt") NIL NIL NIL)` +
				`("application" "pdf" ("name*" "utf-8''r%C3%A9sum%C3%A9.pdf") NIL "my CV" "7BIT" 8 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename*" "utf-8''r%C3%A9sum%C3%A9.pdf")) ("en" "fr") "http://example.org/cv.pdf")` +
				` "mixed" ("boundary" "outer") NIL NIL NIL)`},
		{"nested message/rfc822", nestedMessage, false,
			`(("text" "plain" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 12 0)` +
				`("message" "rfc822" NIL NIL NIL "7BIT" 174 (NIL "inner" (("Inner" NIL "in" "x.org")) (("Inner" NIL "in" "x.org")) (("Inner" NIL "in" "x.org")) NIL NIL NIL NIL NIL)` +
				` (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 5 0)("text" "html" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 0) "alternative") 12)` +
				` "mixed")`},
		{"multipart/digest parts default to message/rfc822", "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody\n--d--\n", false,
			`(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 20 (NIL "one" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 4 0) 2) "digest")`},
		// Malformed MIME, read as Dovecot reads it.
		{"multipart without boundary has one empty part", "Content-Type: multipart/mixed\n\nhello\n", true,
			`(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)`},
		{"boundary never found", "Content-Type: multipart/mixed; boundary=x\n\nhello\n--y\n", false,
			`(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) "mixed")`},
		{"no close delimiter: the last part runs to the end", "Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nabc\n", false,
			`(("text" "plain" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 5 1) "mixed")`},
		{"boundary line in a part's header", "Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/html\n--x\n\nabc\n--x--\n", false,
			`(("text" "html" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3 0) "mixed")`},
		{"type without subtype", "Content-Type: text\n\nx", false,
			`("text" "" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1 0)`},
		{"empty type is no type", "Content-Type: ; charset=x\n\nx", false,
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1 0)`},
		{"first Content-Type wins", "Content-Type: text/html\nContent-Type: image/png\n\nx", false,
			`("text" "html" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1 0)`},
		{"header without end", "Subject: x", false,
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)`},
		{"empty message", "", true,
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)`},
		{"encoding with garbage after it is ignored", "MIME-Version: 1.0\nContent-Transfer-Encoding: base64 x\n\n", false,
			`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)`},
		{"boundary prefix of another: the longest matches", "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=ab\n\n--ab\n\nin\n--ab--\n--a--\n", false,
			`(((("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 2 0) "mixed") "mixed")`[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bodyStructure(t, crlf(tt.msg), tt.extended)
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParse_limits(t *testing.T) {
	// Messages nested deeper than MaxDepth: the innermost is cut.
	var sb strings.Builder
	for i := 0; i < 150; i++ {
		sb.WriteString("Content-Type: message/rfc822\r\n\r\n")
	}
	sb.WriteString("Subject: deep\r\n\r\nbody\r\n")
	got := bodyStructure(t, sb.String(), true)
	if !strings.Contains(got, `"APPLICATION" "OCTET-STREAM"`) {
		t.Errorf("no truncated part in %.200s", got)
	}
	if n := strings.Count(got, `"message" "rfc822"`); n != 99 {
		t.Errorf("%d message/rfc822 levels, want 99", n)
	}
}

func TestParse_partCount(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("Content-Type: multipart/mixed; boundary=x\r\n\r\n")
	for i := 0; i < imapmsg.MaxParts+500; i++ {
		sb.WriteString("--x\r\n\r\np\r\n")
	}
	sb.WriteString("--x--\r\n")
	root := imapmsg.Parse([]byte(sb.String()))
	if n := len(root.Parts); n >= imapmsg.MaxParts {
		t.Errorf("%d parts, more than MaxParts", n)
	}
	if last := root.Parts[len(root.Parts)-1]; last.End != root.End {
		t.Errorf("the last part ends at %d, not at the end of the message, %d", last.End, root.End)
	}
}

func TestParse_paramLimit(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("Content-Type: text/plain")
	for i := 0; i < 200; i++ {
		sb.WriteString("; a=b")
	}
	sb.WriteString("\r\n\r\n")
	if n := len(imapmsg.Parse([]byte(sb.String())).Params); n != 128 {
		t.Errorf("%d parameters, want 128", n)
	}
}
