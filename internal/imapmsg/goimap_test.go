package imapmsg_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

// crossCheckCorpus returns well-formed messages, on which go-imap v2's
// server computes the right answers.
func crossCheckCorpus(t *testing.T) map[string][]byte {
	corpus := map[string][]byte{
		"mixed-alternative-related": []byte(crlf(mixedAlternativeRelated)),
		"nested-message":            []byte(crlf(nestedMessage)),
	}
	files, _ := filepath.Glob("testdata/imaptest/*.mbox")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range splitMbox(b) {
			corpus[fmt.Sprintf("%s#%d", filepath.Base(f), i+1)] = m
		}
	}
	return corpus
}

// goIMAPWrong names the messages whose body structure go-imap gets wrong:
// it reads the parts of a multipart/digest that have no Content-Type as
// text/plain, not message/rfc822 (RFC 2046 §5.1.5).
var goIMAPWrong = map[string]bool{"fetch-body-message-rfc822-mime.mbox#1": true}

// TestGoIMAP cross-checks the sections and the shape of the body
// structure (types, sizes, line counts) against go-imap v2's server.
func TestGoIMAP(t *testing.T) {
	for name, msg := range crossCheckCorpus(t) {
		t.Run(name, func(t *testing.T) {
			root := imapmsg.Parse(msg)
			want := goShape(imapserver.ExtractBodyStructure(bytes.NewReader(msg)))
			if got := shape(root); !strings.EqualFold(got, want) && !goIMAPWrong[name] {
				t.Errorf("body structure:\ngot  %s\nwant %s", got, want)
			}
			for _, s := range sections(root, nil) {
				r, ok := root.Section(s)
				if !ok {
					t.Errorf("%v: no section", s)
					continue
				}
				got := msg[r.Offset : r.Offset+r.Length]
				part := make([]int, len(s.Part))
				for i, n := range s.Part {
					part[i] = int(n)
				}
				want := imapserver.ExtractBodySection(bytes.NewReader(msg), &imap.FetchItemBodySection{
					Specifier: imap.PartSpecifier(s.Specifier), Part: part,
				})
				if !bytes.Equal(got, want) {
					t.Errorf("BODY[%v %s]:\ngot  %q\nwant %q", s.Part, s.Specifier, got, want)
				}
			}
		})
	}
}

// sections lists the sections of p (at part number path) to check.
func sections(p *imapmsg.Part, path []uint32) []imapwire.Section {
	cp := func() []uint32 { return append([]uint32(nil), path...) }
	var ss []imapwire.Section
	if len(path) == 0 {
		ss = append(ss, imapwire.Section{}, imapwire.Section{Specifier: "HEADER"}, imapwire.Section{Specifier: "TEXT"})
	} else {
		ss = append(ss, imapwire.Section{Part: cp()}, imapwire.Section{Part: cp(), Specifier: "MIME"})
		if p.Kind == imapmsg.KindMessage {
			ss = append(ss, imapwire.Section{Part: cp(), Specifier: "HEADER"}, imapwire.Section{Part: cp(), Specifier: "TEXT"})
		}
	}
	if p.Kind == imapmsg.KindMessage && len(path) > 0 {
		p = p.Message
	}
	if p.Kind == imapmsg.KindMultipart {
		for i, c := range p.Parts {
			ss = append(ss, sections(c, append(cp(), uint32(i+1)))...)
		}
	} else if len(path) == 0 {
		ss = append(ss, imapwire.Section{Part: []uint32{1}})
	}
	return ss
}

func shape(p *imapmsg.Part) string {
	switch p.Kind {
	case imapmsg.KindMultipart:
		var sb strings.Builder
		sb.WriteByte('(')
		for _, c := range p.Parts {
			sb.WriteString(shape(c))
		}
		fmt.Fprintf(&sb, " %s)", p.Subtype)
		return sb.String()
	case imapmsg.KindMessage:
		return fmt.Sprintf("(message/rfc822 %d %s %d)", p.End-p.BodyStart, shape(p.Message), p.Lines)
	}
	typ, sub := p.Type, p.Subtype
	if typ == "" {
		typ, sub = "text", "plain"
	}
	if p.Kind == imapmsg.KindText {
		return fmt.Sprintf("(%s/%s %d %d)", typ, sub, p.End-p.BodyStart, p.Lines)
	}
	return fmt.Sprintf("(%s/%s %d)", typ, sub, p.End-p.BodyStart)
}

func goShape(bs imap.BodyStructure) string {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		var sb strings.Builder
		sb.WriteByte('(')
		for _, c := range bs.Children {
			sb.WriteString(goShape(c))
		}
		fmt.Fprintf(&sb, " %s)", bs.Subtype)
		return sb.String()
	case *imap.BodyStructureSinglePart:
		switch {
		case bs.MessageRFC822 != nil:
			return fmt.Sprintf("(message/rfc822 %d %s %d)", bs.Size, goShape(bs.MessageRFC822.BodyStructure), bs.MessageRFC822.NumLines)
		case bs.Text != nil:
			return fmt.Sprintf("(%s/%s %d %d)", bs.Type, bs.Subtype, bs.Size, bs.Text.NumLines)
		}
		return fmt.Sprintf("(%s/%s %d)", bs.Type, bs.Subtype, bs.Size)
	}
	return "?"
}
