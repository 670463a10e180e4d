package imapwire

import (
	"strconv"
	"strings"
)

// A FetchItemKind is what a FETCH item asks for (RFC 9051 §6.4.5).
type FetchItemKind int

// The kinds of FETCH items.
const (
	FetchEnvelope      FetchItemKind = iota + 1 // ENVELOPE
	FetchFlags                                  // FLAGS
	FetchInternalDate                           // INTERNALDATE
	FetchRFC822                                 // RFC822 (BODY[], not peek)
	FetchRFC822Header                           // RFC822.HEADER (BODY.PEEK[HEADER])
	FetchRFC822Size                             // RFC822.SIZE
	FetchRFC822Text                             // RFC822.TEXT (BODY[TEXT])
	FetchBody                                   // BODY: BODYSTRUCTURE without extension data
	FetchBodyStructure                          // BODYSTRUCTURE
	FetchUID                                    // UID
	FetchModSeq                                 // MODSEQ (RFC 7162)
	FetchBodySection                            // BODY[section]<partial> and BODY.PEEK
	FetchBinarySection                          // BINARY[part]<partial> and BINARY.PEEK (RFC 3516)
	FetchBinarySize                             // BINARY.SIZE[part] (RFC 3516)
)

var fetchItemNames = map[string]FetchItemKind{
	"ENVELOPE": FetchEnvelope, "FLAGS": FetchFlags, "INTERNALDATE": FetchInternalDate,
	"RFC822": FetchRFC822, "RFC822.HEADER": FetchRFC822Header, "RFC822.SIZE": FetchRFC822Size,
	"RFC822.TEXT": FetchRFC822Text, "BODY": FetchBody, "BODYSTRUCTURE": FetchBodyStructure,
	"UID": FetchUID, "MODSEQ": FetchModSeq,
}

var fetchKindNames = [...]string{FetchEnvelope: "ENVELOPE", FetchFlags: "FLAGS", FetchInternalDate: "INTERNALDATE",
	FetchRFC822: "RFC822", FetchRFC822Header: "RFC822.HEADER", FetchRFC822Size: "RFC822.SIZE",
	FetchRFC822Text: "RFC822.TEXT", FetchBody: "BODY", FetchBodyStructure: "BODYSTRUCTURE",
	FetchUID: "UID", FetchModSeq: "MODSEQ", FetchBodySection: "", FetchBinarySection: "", FetchBinarySize: ""}

// A Section is a body section (RFC 9051 §6.4.5): a part number (empty for
// the whole message), then a specifier: "", "HEADER", "HEADER.FIELDS",
// "HEADER.FIELDS.NOT", "TEXT" or "MIME" (the last with a part only).
type Section struct {
	Part      []uint32
	Specifier string
	Fields    []string // of HEADER.FIELDS and HEADER.FIELDS.NOT, as sent
}

// A Partial is the <offset.count> of a section (RFC 9051 §6.4.5).
type Partial struct {
	Offset, Count int64
}

// A FetchItem is one item of a FETCH command.
type FetchItem struct {
	Kind    FetchItemKind
	Peek    bool     // BODY.PEEK, BINARY.PEEK (and RFC822.HEADER): \Seen not set
	Section Section  // of FetchBodySection, FetchBinarySection, FetchBinarySize
	Partial *Partial // of FetchBodySection, FetchBinarySection; nil if none
}

// String returns the item as it is named in a FETCH response: BODY[1.2]<0>
// for BODY.PEEK[1.2]<0.100>, as RFC 9051 §7.5.2 asks.
func (it FetchItem) String() string { return string(it.AppendName(nil)) }

// AppendName appends the item's name in a FETCH response to b.
func (it FetchItem) AppendName(b []byte) []byte {
	switch it.Kind {
	case FetchBodySection:
		b = append(b, "BODY"...)
	case FetchBinarySection:
		b = append(b, "BINARY"...)
	case FetchBinarySize:
		b = append(b, "BINARY.SIZE"...)
	default:
		if it.Kind > 0 && int(it.Kind) < len(fetchKindNames) {
			b = append(b, fetchKindNames[it.Kind]...)
		}
		return b
	}
	b = append(b, '[')
	b = it.Section.appendTo(b)
	b = append(b, ']')
	if it.Partial != nil && it.Kind != FetchBinarySize {
		b = append(b, '<')
		b = strconv.AppendInt(b, it.Partial.Offset, 10)
		b = append(b, '>')
	}
	return b
}

func (s Section) appendTo(b []byte) []byte {
	for i, p := range s.Part {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(p), 10)
	}
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			b = append(b, '.')
		}
		b = append(b, s.Specifier...)
	}
	if s.Specifier == "HEADER.FIELDS" || s.Specifier == "HEADER.FIELDS.NOT" {
		b = append(b, " ("...)
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendAString(b, f)
		}
		b = append(b, ')')
	}
	return b
}

// FetchArgs are the arguments of FETCH and UID FETCH.
type FetchArgs struct {
	Seq   SeqSet
	Items []FetchItem // macros expanded
	// ChangedSince is the CHANGEDSINCE modifier (RFC 7162 §3.1.4), or 0.
	ChangedSince uint64
	// HasChangedSince is whether CHANGEDSINCE was given: its value may be
	// 0 (mod-sequence-valzer), which every message is above.
	HasChangedSince bool
	// Vanished is the VANISHED modifier (RFC 7162 §3.2.6), UID FETCH only.
	Vanished bool
}

// ReadFetch reads the arguments of FETCH, after "FETCH" SP, and the end of
// the command.
func (d *Decoder) ReadFetch() (*FetchArgs, error) {
	var a FetchArgs
	var err error
	if a.Seq, err = d.SeqSet(); err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if d.Peek('(') {
		err = d.List(func() error {
			it, err := d.fetchItem()
			a.Items = append(a.Items, it)
			return err
		})
	} else {
		var w []byte
		start := d.pos
		if w, err = d.fetchName(); err == nil {
			switch upperString(w) {
			case "ALL":
				a.Items = []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}, {Kind: FetchEnvelope}}
			case "FAST":
				a.Items = []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}}
			case "FULL":
				a.Items = []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}, {Kind: FetchEnvelope}, {Kind: FetchBody}}
			default:
				d.pos = start
				var it FetchItem
				it, err = d.fetchItem()
				a.Items = []FetchItem{it}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if d.Accept(' ') {
		err := d.List(func() error {
			k, err := d.Keyword()
			if err != nil {
				return err
			}
			switch k {
			case "CHANGEDSINCE":
				if err := d.SP(); err != nil {
					return err
				}
				a.ChangedSince, err = d.ModSeq(true)
				a.HasChangedSince = err == nil
				return err
			case "VANISHED":
				a.Vanished = true
				return nil
			}
			return syntaxError("Unknown FETCH modifier %s", k)
		})
		if err != nil {
			return nil, err
		}
	}
	return &a, d.End()
}

// fetchName reads the letters, digits and dots of a fetch item name.
func (d *Decoder) fetchName() ([]byte, error) {
	if err := d.token(); err != nil {
		return nil, err
	}
	i := d.pos
	for i < len(d.line) {
		c := d.line[i] | 0x20
		if !(c >= 'a' && c <= 'z' || isDigit(d.line[i]) || d.line[i] == '.') || (d.lit.ok && i >= d.lit.start) {
			break
		}
		i++
	}
	w := d.line[d.pos:i]
	d.pos = i
	if len(w) == 0 {
		return nil, d.expected("FETCH item")
	}
	return w, nil
}

func (d *Decoder) fetchItem() (FetchItem, error) {
	w, err := d.fetchName()
	if err != nil {
		return FetchItem{}, err
	}
	name := upperString(w)
	var it FetchItem
	switch name {
	case "BODY", "BODY.PEEK":
		if !d.Peek('[') {
			if name == "BODY" {
				return FetchItem{Kind: FetchBody}, nil
			}
			return it, d.expected("'['")
		}
		it = FetchItem{Kind: FetchBodySection, Peek: name == "BODY.PEEK"}
	case "BINARY", "BINARY.PEEK":
		it = FetchItem{Kind: FetchBinarySection, Peek: name == "BINARY.PEEK"}
	case "BINARY.SIZE":
		it = FetchItem{Kind: FetchBinarySize}
	default:
		k, ok := fetchItemNames[name]
		if !ok {
			return it, syntaxError("Unknown FETCH item %s", snippet(w))
		}
		return FetchItem{Kind: k, Peek: k == FetchRFC822Header}, nil
	}
	if err := d.Expect('['); err != nil {
		return it, err
	}
	if it.Section, err = d.section(it.Kind == FetchBodySection); err != nil {
		return it, err
	}
	if err := d.Expect(']'); err != nil {
		return it, err
	}
	if it.Kind != FetchBinarySize && d.Accept('<') {
		off, err := d.Number64()
		if err != nil {
			return it, err
		}
		if err := d.Expect('.'); err != nil {
			return it, err
		}
		n, err := d.number(1<<63-1, true)
		if err != nil {
			return it, err
		}
		if err := d.Expect('>'); err != nil {
			return it, err
		}
		it.Partial = &Partial{Offset: off, Count: int64(n)}
	}
	return it, nil
}

// section reads section-spec (text) or section-binary's part (!text).
func (d *Decoder) section(text bool) (Section, error) {
	var s Section
	dot := false // a part number and "." came last
	for d.pos < len(d.line) && isDigit(d.line[d.pos]) {
		n, err := d.NzNumber()
		if err != nil {
			return s, err
		}
		s.Part = append(s.Part, n)
		dot = d.Accept('.')
		if !dot {
			break
		}
	}
	if !text {
		if dot {
			return s, d.expected("part number")
		}
		return s, nil
	}
	if !dot && (len(s.Part) > 0 || d.Peek(']')) {
		return s, nil
	}
	w, err := d.fetchName()
	if err != nil {
		return s, err
	}
	s.Specifier = upperString(w)
	switch s.Specifier {
	case "HEADER", "TEXT":
	case "MIME":
		if len(s.Part) == 0 {
			return s, syntaxError("MIME needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if err := d.SP(); err != nil {
			return s, err
		}
		err := d.List(func() error {
			f, err := d.AString()
			s.Fields = append(s.Fields, f)
			return err
		})
		if err != nil {
			return s, err
		}
		if len(s.Fields) == 0 {
			return s, syntaxError("Empty header list")
		}
	default:
		return s, syntaxError("Unknown section %s", snippet(w))
	}
	return s, nil
}

// appendAString appends s as an astring (atom if it can be, else quoted,
// else literal) to b.
func appendAString(b []byte, s string) []byte {
	switch stringForm(s, false) {
	case formAtom:
		return append(b, s...)
	case formQuoted:
		return appendQuoted(b, s)
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, "}\r\n"...)
	return append(b, s...)
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	if strings.ContainsAny(s, `"\`) {
		for i := 0; i < len(s); i++ {
			if s[i] == '"' || s[i] == '\\' {
				b = append(b, '\\')
			}
			b = append(b, s[i])
		}
	} else {
		b = append(b, s...)
	}
	return append(b, '"')
}
