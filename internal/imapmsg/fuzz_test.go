package imapmsg_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(crlf(mixedAlternativeRelated)))
	f.Add([]byte(crlf(nestedMessage)))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n--x--"))
	f.Add([]byte("Content-Type: multipart/digest; boundary=\"\"\n\n--\n\n--\n--"))
	files, _ := filepath.Glob("testdata/imaptest/*.mbox")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range splitMbox(b) {
			f.Add(m)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		root := imapmsg.Parse(msg)
		if root.Start != 0 || root.End != int64(len(msg)) {
			t.Fatalf("message is %d-%d of %d octets", root.Start, root.End, len(msg))
		}
		checkPart(t, msg, root, root.Start, root.End)
		out := render(t, false, func(e *imapwire.Encoder) {
			imapmsg.WriteBodyStructure(e, root, true)
			imapmsg.WriteBodyStructure(e, root, false)
			imapmsg.WriteEnvelope(e, root.Envelope)
		})
		if strings.IndexByte(out, 0) >= 0 {
			t.Fatalf("NUL in %q", out)
		}
		// Every section of every part is in the message, and a part's
		// sections are its header and body.
		for _, s := range sections(root, nil) {
			r, ok := root.Section(s)
			if !ok {
				t.Fatalf("%v %s: no section", s.Part, s.Specifier)
			}
			if r.Offset < 0 || r.Length < 0 || r.Offset+r.Length > int64(len(msg)) {
				t.Fatalf("%v %s: range %+v out of %d octets", s.Part, s.Specifier, r, len(msg))
			}
			p, _ := root.Find(s.Part)
			if s.Specifier == "MIME" && r.Offset+r.Length != p.BodyStart {
				t.Fatalf("%v MIME: %+v does not end at the body, %d", s.Part, r, p.BodyStart)
			}
			if s.Specifier == "HEADER" {
				imapmsg.FilterHeader(nil, msg[r.Offset:r.Offset+r.Length], []string{"Subject"}, true)
			}
			if s.Specifier == "" && len(s.Part) > 0 {
				br, enc, ok := root.Binary(s.Part)
				if !ok || br != r {
					t.Fatalf("%v: BINARY %+v, BODY %+v", s.Part, br, r)
				}
				imapmsg.Decode(nil, msg[br.Offset:br.Offset+br.Length], enc)
			}
		}
	})
}

// checkPart checks that p lies in [start, end] and its parts in p.
func checkPart(t *testing.T, msg []byte, p *imapmsg.Part, start, end int64) {
	t.Helper()
	if !(start <= p.Start && p.Start <= p.BodyStart && p.BodyStart <= p.End && p.End <= end) {
		t.Fatalf("part %d-%d-%d not in %d-%d", p.Start, p.BodyStart, p.End, start, end)
	}
	if n := int64(bytes.Count(msg[p.BodyStart:p.End], []byte("\n"))); n != p.Lines {
		t.Fatalf("part at %d: %d lines, counted %d", p.Start, p.Lines, n)
	}
	last := p.BodyStart
	for _, c := range p.Parts {
		checkPart(t, msg, c, last, p.End)
		last = c.End
	}
	if p.Kind == imapmsg.KindMessage {
		if p.Message == nil || p.Message.Start != p.BodyStart || p.Message.End != p.End {
			t.Fatalf("message/rfc822 at %d: the message is not its body", p.Start)
		}
		checkPart(t, msg, p.Message, p.BodyStart, p.End)
	}
	if (p.Kind == imapmsg.KindMultipart) != (p.Parts != nil) && len(p.Parts) > 0 {
		t.Fatalf("part at %d: kind %d with %d parts", p.Start, p.Kind, len(p.Parts))
	}
}

func FuzzAddressList(f *testing.F) {
	for _, s := range []string{
		"user@domain", "A <a@b>, B <b@c>", "g: a@b, c@d;, e@f", "g:;", "<@r1,@r2:u@d>",
		"<user (c)@ (c) domain.org>", `"a\"b" <x@y>`, "=?utf-8?q?x?= <a@b>", "a@b (c (nested) d)",
		"x", "@", "<", "<<<@@@:::>>>", ";;,,", "(unterminated", `"unterminated`, "[", "a@[b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := imapmsg.ParseAddressList(s)
		depth := 0
		for _, a := range l {
			switch {
			case a.GroupStart:
				depth++
				if depth > 1 {
					t.Fatalf("%q: nested group in %+v", s, l)
				}
			case a.GroupEnd:
				depth--
				if depth < 0 {
					t.Fatalf("%q: group end without start in %+v", s, l)
				}
			case a.Host == "":
				// The mailbox may be "", as in `""@example.org`.
				t.Fatalf("%q: empty host in %+v", s, l)
			}
		}
		if depth != 0 {
			t.Fatalf("%q: unclosed group in %+v", s, l)
		}
		out := render(t, false, func(e *imapwire.Encoder) {
			imapmsg.WriteEnvelope(e, &imapmsg.Envelope{From: l})
		})
		if strings.IndexByte(out, 0) >= 0 {
			t.Fatalf("NUL in %q", out)
		}
	})
}
