package imapmsg_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

// The files in testdata/imaptest are the FETCH scripts of Dovecot's
// imaptest (MIT licence, testdata/imaptest/COPYING.MIT) with their
// mailboxes. TestImaptest checks every untagged FETCH item they expect
// that this package computes (ENVELOPE, BODY, BODYSTRUCTURE, BODY[section],
// BINARY[section], BINARY.SIZE) against the message in the mailbox, as
// imaptest would: structures compared without regard to case, contents
// exactly.
func TestImaptest(t *testing.T) {
	scripts, err := filepath.Glob("testdata/imaptest/fetch-*")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, script := range scripts {
		if strings.HasSuffix(script, ".mbox") {
			continue
		}
		t.Run(filepath.Base(script), func(t *testing.T) {
			mbox, err := os.ReadFile(script + ".mbox")
			if err != nil {
				t.Fatal(err)
			}
			msgs := splitMbox(mbox)
			text, err := os.ReadFile(script)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range fetchResponses(string(text)) {
				if r.seq < 1 || r.seq > len(msgs) {
					t.Fatalf("message %d: not in the mailbox", r.seq)
				}
				msg := msgs[r.seq-1]
				root := imapmsg.Parse(msg)
				for _, it := range r.items {
					got, ok := computeItem(t, root, msg, it.name)
					if !ok {
						continue
					}
					checked++
					if it.literal {
						// imaptest's files cannot tell a bare LF from
						// CRLF: compare with CRLF for both.
						// A partial (which is the server's work, not
						// this package's) may end in the middle of a
						// CRLF: it is only looked for in the whole.
						var bad bool
						if it.partial {
							cr := strings.NewReplacer("\r", "")
							bad = !strings.Contains(cr.Replace(string(got)), cr.Replace(it.value))
						} else {
							bad = crlf(string(got)) != it.value
						}
						if bad {
							t.Errorf("message %d %s:\ngot  %q\nwant %q", r.seq, it.name, got, it.value)
						}
					} else if !strings.EqualFold(string(got), it.value) {
						t.Errorf("message %d %s:\ngot  %s\nwant %s", r.seq, it.name, got, it.value)
					}
				}
			}
		})
	}
	t.Logf("%d items checked", checked)
	if checked < 50 {
		t.Errorf("only %d items checked", checked)
	}
}

// splitMbox returns the messages of an mbox file with CRLF line endings;
// as in imaptest, the blank line before a From line stays in the message.
func splitMbox(b []byte) [][]byte {
	var msgs [][]byte
	parts := bytes.Split(b, []byte("\nFrom "))
	for i, m := range parts {
		if i < len(parts)-1 {
			m = append(m, '\n')
		}
		i := bytes.IndexByte(m, '\n')
		if i < 0 {
			continue
		}
		m = m[i+1:] // the From line
		msgs = append(msgs, m)
	}
	for i := range msgs {
		msgs[i] = []byte(crlf(string(msgs[i])))
	}
	return msgs
}

type response struct {
	seq   int
	items []item
}

type item struct {
	name    string
	value   string
	literal bool
	partial bool
}

// fetchResponses reads the expected "* n FETCH (...)" responses of an
// imaptest script.
func fetchResponses(s string) []response {
	var rs []response
	for {
		i := strings.Index(s, "\n* ")
		if i < 0 {
			return rs
		}
		s = s[i+3:]
		sp := strings.IndexByte(s, ' ')
		seq, err := strconv.Atoi(s[:sp])
		if err != nil || !strings.HasPrefix(strings.ToLower(s[sp+1:]), "fetch (") {
			continue
		}
		s = s[sp+len(" fetch ("):]
		r := response{seq: seq}
		for len(s) > 0 && s[0] != ')' {
			s = strings.TrimLeft(s, " ")
			// The name, with its brackets.
			depth, j := 0, 0
			for ; j < len(s) && (depth > 0 || s[j] != ' '); j++ {
				switch s[j] {
				case '[':
					depth++
				case ']':
					depth--
				}
			}
			it := item{name: s[:j]}
			s = s[j+1:]
			if k := strings.IndexByte(it.name, '<'); k > 0 {
				it.name, it.partial = it.name[:k], true
			}
			switch {
			case strings.HasPrefix(s, "{{{\n"), strings.HasPrefix(s, "~{{{\n"):
				s = s[strings.IndexByte(s, '\n')+1:]
				end := strings.Index(s, "\n}}}")
				it.value, it.literal = crlf(s[:end]), true
				s = s[end+len("\n}}}"):]
			case s[0] == '"':
				end := 1 + strings.IndexByte(s[1:], '"')
				it.value, it.literal = s[1:end], true
				s = s[end+1:]
			case s[0] == '(':
				depth, inq := 0, false
				j := 0
				for ; j < len(s); j++ {
					c := s[j]
					switch {
					case inq && c == '\\':
						j++
					case c == '"':
						inq = !inq
					case !inq && c == '(':
						depth++
					case !inq && c == ')':
						depth--
					}
					if depth == 0 {
						break
					}
				}
				it.value = s[:j+1]
				s = s[j+1:]
			default:
				j := strings.IndexAny(s, " )")
				it.value = s[:j]
				s = s[j:]
			}
			if !strings.HasPrefix(it.value, "$") {
				r.items = append(r.items, it)
			}
		}
		rs = append(rs, r)
	}
}

// computeItem returns this package's value of the FETCH item name, or
// false for items it does not compute.
func computeItem(t *testing.T, root *imapmsg.Part, msg []byte, name string) ([]byte, bool) {
	lower := strings.ToLower(name)
	switch lower {
	case "envelope":
		return []byte(render(t, false, func(e *imapwire.Encoder) { imapmsg.WriteEnvelope(e, root.Envelope) })), true
	case "body", "bodystructure":
		return []byte(render(t, false, func(e *imapwire.Encoder) { imapmsg.WriteBodyStructure(e, root, lower == "bodystructure") })), true
	}
	kind, sec, ok := strings.Cut(lower, "[")
	if !ok {
		return nil, false
	}
	s := parseSection(strings.TrimSuffix(sec, "]"))
	switch kind {
	case "body":
		r, ok := root.Section(s)
		if !ok {
			t.Errorf("%s: no such section", name)
			return nil, false
		}
		b := msg[r.Offset : r.Offset+r.Length]
		if strings.HasPrefix(s.Specifier, "HEADER.FIELDS") {
			b = imapmsg.FilterHeader(nil, b, s.Fields, s.Specifier == "HEADER.FIELDS.NOT")
		}
		return b, true
	case "binary", "binary.size":
		r, enc, ok := root.Binary(s.Part)
		if !ok {
			t.Errorf("%s: no such part", name)
			return nil, false
		}
		b, err := imapmsg.Decode(nil, msg[r.Offset:r.Offset+r.Length], enc)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if kind == "binary.size" {
			return []byte(strconv.Itoa(len(b))), true
		}
		return b, true
	}
	return nil, false
}

func parseSection(s string) imapwire.Section {
	var sec imapwire.Section
	for s != "" && s[0] >= '0' && s[0] <= '9' {
		num, rest, _ := strings.Cut(s, ".")
		n, _ := strconv.Atoi(num)
		sec.Part = append(sec.Part, uint32(n))
		s = rest
	}
	spec, fields, ok := strings.Cut(s, " ")
	sec.Specifier = strings.ToUpper(spec)
	if ok {
		sec.Fields = strings.Fields(strings.Trim(fields, "()"))
	}
	return sec
}
