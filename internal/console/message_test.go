package console

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// crlf makes a test message's LF line endings CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

const mixedMessage = `From: Alice <alice@example.org>
To: bob@example.org
SUBJECT: =?utf-8?q?caf=C3=A9?=
X-Folded: one
	two
Content-Type: multipart/mixed; boundary="mixed"

preamble
--mixed
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9 au lait
--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+Y2Fmw6k8aW1nIHNyYz0iY2lkOmxvZ29AeCI+PC9wPg==
--alt--

--rel
Content-Type: image/png
Content-ID: <logo@x>
Content-Transfer-Encoding: base64

iVBORw0K
GgoA
--rel--

--mixed
Content-Type: application/pdf; name="=?utf-8?b?csOpc3Vtw6kucGRm?="
Content-Disposition: attachment; filename*=utf-8''..%2F..%2Fetc%2Fr%C3%A9sum%C3%A9.pdf
Content-Transfer-Encoding: base64

JVBERi0x
LjQK
--mixed
Content-Type: message/rfc822

From: carol@example.org
Subject: inner
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

inner text
--inner
Content-Type: text/html

<p>inner</p>
--inner--
--mixed--
epilogue
`

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name        string
		msg         string
		header      []HeaderField
		text, html  string
		root        Part
		attachments []Part
		inline      []Part
		truncated   bool
	}{{
		name:   "one part",
		msg:    "Subject: hi\nContent-Type: text/plain; charset=\"UTF-8\"\n\nhello\n",
		header: []HeaderField{{"Subject", "hi"}, {"Content-Type", `text/plain; charset="UTF-8"`}},
		text:   "hello\r\n",
		root:   Part{ID: "1", ContentType: "text/plain", Charset: "utf-8", Size: 7},
	}, {
		name:   "no header",
		msg:    "\nhello",
		header: []HeaderField{},
		text:   "hello",
		root:   Part{ID: "1", ContentType: "text/plain", Size: 5},
	}, {
		name: "mixed",
		msg:  mixedMessage,
		header: []HeaderField{
			{"From", "Alice <alice@example.org>"}, {"To", "bob@example.org"},
			{"SUBJECT", "=?utf-8?q?caf=C3=A9?="}, {"X-Folded", "one two"},
			{"Content-Type", `multipart/mixed; boundary="mixed"`},
		},
		text: "café au lait",
		html: `<p>café<img src="cid:logo@x"></p>`,
		root: Part{ID: "", ContentType: "multipart/mixed", Size: 997, Parts: []Part{
			{ID: "1", ContentType: "multipart/related", Size: 439, Parts: []Part{
				{ID: "1.1", ContentType: "multipart/alternative", Size: 259, Parts: []Part{
					{ID: "1.1.1", ContentType: "text/plain", Charset: "iso-8859-1", Size: 12},
					{ID: "1.1.2", ContentType: "text/html", Charset: "utf-8", Size: 34},
				}},
				{ID: "1.2", ContentType: "image/png", ContentID: "logo@x", Size: 9},
			}},
			{ID: "2", ContentType: "application/pdf", Filename: "résumé.pdf", Disposition: "attachment", Size: 9},
			{ID: "3", ContentType: "message/rfc822", Size: 204, Parts: []Part{
				{ID: "", ContentType: "multipart/alternative", Size: 108, Parts: []Part{
					{ID: "3.1", ContentType: "text/plain", Size: 10},
					{ID: "3.2", ContentType: "text/html", Size: 12},
				}},
			}},
		}},
		attachments: []Part{
			{ID: "2", ContentType: "application/pdf", Filename: "résumé.pdf", Disposition: "attachment", Size: 9},
			{ID: "3", ContentType: "message/rfc822", Size: 204},
		},
		inline: []Part{{ID: "1.2", ContentType: "image/png", ContentID: "logo@x", Size: 9}},
	}, {
		name: "html charset from meta",
		msg:  "Content-Type: text/html\n\n<meta charset=\"windows-1252\"><p>\x93hi\x94</p>",
		html: "<meta charset=\"windows-1252\"><p>\u201chi\u201d</p>",
		root: Part{ID: "1", ContentType: "text/html", Size: 40},
	}, {
		name: "unknown charset and encoding",
		msg:  "Content-Type: text/plain; charset=x-nonsense\nContent-Transfer-Encoding: x-weird\n\nok \xff",
		text: "ok \uFFFD",
		root: Part{ID: "1", ContentType: "text/plain", Charset: "x-nonsense", Size: 4},
	}, {
		name: "unterminated multipart",
		msg:  "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nfirst\n--b\nContent-Type: text/plain\n\nsecond, cut",
		text: "first\nsecond, cut",
		root: Part{ID: "", ContentType: "multipart/mixed", Size: 84, Parts: []Part{
			{ID: "1", ContentType: "text/plain", Size: 5},
			{ID: "2", ContentType: "text/plain", Size: 11},
		}},
	}, {
		name: "bad base64",
		msg:  "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\naGVs!!bG8=garbage==\n",
		root: Part{ID: "1", ContentType: "application/octet-stream", Size: 5},
		attachments: []Part{
			{ID: "1", ContentType: "application/octet-stream", Size: 5},
		},
	}, {
		name: "digest",
		msg:  "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nbody a\n--d--\n",
		root: Part{ID: "", ContentType: "multipart/digest", Size: 36, Parts: []Part{
			{ID: "1", ContentType: "message/rfc822", Size: 20, Parts: []Part{
				{ID: "1.1", ContentType: "text/plain", Size: 6},
			}},
		}},
		attachments: []Part{{ID: "1", ContentType: "message/rfc822", Size: 20}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pm, err := parseMessage(strings.NewReader(crlfUnlessBinary(tc.msg)))
			if err != nil {
				t.Fatalf("parseMessage() error = %v", err)
			}
			if tc.header != nil {
				if diff := cmp.Diff(tc.header, pm.Header); diff != "" {
					t.Errorf("Header (-want +got):\n%s", diff)
				}
			}
			if got, want := strings.ReplaceAll(pm.Text, "\r\n", "\n"), strings.ReplaceAll(tc.text, "\r\n", "\n"); got != want {
				t.Errorf("Text = %q; want %q", got, want)
			}
			if pm.HTML != tc.html {
				t.Errorf("HTML = %q; want %q", pm.HTML, tc.html)
			}
			if diff := cmp.Diff(tc.root, pm.Root); diff != "" {
				t.Errorf("Root (-want +got):\n%s", diff)
			}
			if tc.attachments == nil {
				tc.attachments = []Part{}
			}
			if tc.inline == nil {
				tc.inline = []Part{}
			}
			if diff := cmp.Diff(tc.attachments, pm.Attachments); diff != "" {
				t.Errorf("Attachments (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.inline, pm.Inline); diff != "" {
				t.Errorf("Inline (-want +got):\n%s", diff)
			}
			if pm.Truncated != tc.truncated {
				t.Errorf("Truncated = %v; want %v", pm.Truncated, tc.truncated)
			}
		})
	}
}

// crlfUnlessBinary makes LF line endings CRLF, except in a message with
// bytes that are not ASCII (the charset tests), which keep theirs.
func crlfUnlessBinary(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return s
		}
	}
	return crlf(s)
}

func TestParseMessage_bounds(t *testing.T) {
	t.Run("depth", func(t *testing.T) {
		var b strings.Builder
		for i := range 300 {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\r\n\r\ndeep\r\n")
		pm, err := parseMessage(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if !pm.Truncated {
			t.Error("Truncated = false for 300 nested multiparts")
		}
		depth := 0
		for p := &pm.Root; len(p.Parts) > 0; p = &p.Parts[0] {
			depth++
		}
		if depth > maxMIMEDepth+1 {
			t.Errorf("tree depth = %d; want at most %d", depth, maxMIMEDepth+1)
		}
	})
	t.Run("parts", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
		for range 3000 {
			b.WriteString("--b\r\nContent-Type: application/x-a\r\n\r\nx\r\n")
		}
		b.WriteString("--b--\r\n")
		pm, err := parseMessage(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if !pm.Truncated || len(pm.Root.Parts) >= maxMIMEParts {
			t.Errorf("Truncated = %v, %d parts; want true, fewer than %d", pm.Truncated, len(pm.Root.Parts), maxMIMEParts)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		r := io.MultiReader(strings.NewReader(crlf(mixedMessage)[:300]), iotest.ErrReader(boom))
		if _, err := parseMessage(r); !errors.Is(err, boom) {
			t.Errorf("parseMessage() error = %v; want %v", err, boom)
		}
		r = io.MultiReader(strings.NewReader(crlf(mixedMessage)[:300]), iotest.ErrReader(boom))
		if _, _, err := openPart(r, "2"); !errors.Is(err, boom) {
			t.Errorf("openPart() error = %v; want %v", err, boom)
		}
	})
}

func TestOpenPart(t *testing.T) {
	tests := []struct {
		id      string
		want    Part
		content string
		err     error
	}{
		{id: "1.1.1", want: Part{ID: "1.1.1", ContentType: "text/plain", Charset: "iso-8859-1", Size: -1}, content: "caf\xe9 au lait"},
		{id: "1.2", want: Part{ID: "1.2", ContentType: "image/png", ContentID: "logo@x", Size: -1}, content: "\x89PNG\r\n\x1a\n\x00"},
		{id: "cid:logo@x", want: Part{ID: "1.2", ContentType: "image/png", ContentID: "logo@x", Size: -1}, content: "\x89PNG\r\n\x1a\n\x00"},
		{id: "2", want: Part{ID: "2", ContentType: "application/pdf", Filename: "résumé.pdf", Disposition: "attachment", Size: -1}, content: "%PDF-1.4\n"},
		{id: "3.2", want: Part{ID: "3.2", ContentType: "text/html", Size: -1}, content: "<p>inner</p>"},
		{id: "3", want: Part{ID: "3", ContentType: "message/rfc822", Size: -1}, content: "From: carol@example.org\r\n"},
		{id: "1", err: errPartNotFound},    // a multipart
		{id: "", err: errPartNotFound},     // the whole message is /raw
		{id: "9", err: errPartNotFound},    // none
		{id: "cid:", err: errPartNotFound}, // no id
		{id: "cid:nope", err: errPartNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			p, r, err := openPart(strings.NewReader(crlf(mixedMessage)), tc.id)
			if !errors.Is(err, tc.err) {
				t.Fatalf("openPart(%q) error = %v; want %v", tc.id, err, tc.err)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, *p); diff != "" {
				t.Errorf("openPart(%q) part (-want +got):\n%s", tc.id, diff)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), tc.content) {
				t.Errorf("openPart(%q) content = %q; want %q", tc.id, b, tc.content)
			}
		})
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add(crlf(mixedMessage))
	f.Add("Subject: x\r\n\r\nbody")
	f.Add("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n--b--\r\n")
	f.Add("Content-Type: text/html; charset=shift_jis\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=82=A0=\r\n")
	f.Add(" bad\r\n\r\n")
	f.Fuzz(func(t *testing.T, msg string) {
		pm, err := parseMessage(strings.NewReader(msg))
		if err != nil {
			t.Fatalf("parseMessage() error = %v (only read errors are errors)", err)
		}
		n := 0
		var check func(p *Part, depth int)
		check = func(p *Part, depth int) {
			n++
			if depth > maxMIMEDepth+2 {
				t.Fatalf("depth %d", depth)
			}
			for i := range p.Parts {
				check(&p.Parts[i], depth+1)
			}
			if p.ID == "" {
				return
			}
			q, r, err := openPart(strings.NewReader(msg), p.ID)
			if strings.HasPrefix(p.ContentType, "multipart/") {
				return
			}
			if err != nil {
				t.Fatalf("openPart(%q) error = %v; the part is in the tree", p.ID, err)
			}
			if q.ID != p.ID {
				t.Fatalf("openPart(%q) = part %q", p.ID, q.ID)
			}
			got, err := io.Copy(io.Discard, r)
			if err != nil || got != p.Size {
				t.Fatalf("openPart(%q) read %d bytes, %v; want %d (Size)", p.ID, got, err, p.Size)
			}
		}
		check(&pm.Root, 0)
		if n > maxMIMEParts+maxMIMEDepth {
			t.Fatalf("%d parts", n)
		}
		for _, s := range []string{pm.Text, pm.HTML} {
			if !utf8Valid(s) {
				t.Fatalf("text not UTF-8: %q", s)
			}
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }
