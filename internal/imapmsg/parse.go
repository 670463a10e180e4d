package imapmsg

import (
	"bytes"
	"io"
	"strings"
)

// Parse reads the message msg in one pass and returns its part tree. It
// never fails: malformed MIME is read as Dovecot reads it (a multipart
// with no boundary parameter has no parts, a part with no Content-Type is
// text/plain, or message/rfc822 inside multipart/digest). The tree holds
// no reference to msg.
func Parse(msg []byte) *Part {
	ps := parser{b: msg}
	p, _, _, _ := ps.entity(0, 0, false, false, true)
	return p
}

// ParseReaderAt reads the size octets of a message from r and parses
// them as [Parse] does.
func ParseReaderAt(r io.ReaderAt, size int64) (*Part, error) {
	b := make([]byte, size)
	if _, err := r.ReadAt(b, 0); err != nil && !(err == io.EOF && size == 0) {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return Parse(b), nil
}

type parser struct {
	b      []byte
	bounds []string // active boundaries, innermost last
	parts  int
}

// lineEnd returns the end of the line at i, after its LF.
func (ps *parser) lineEnd(i int) int {
	j := bytes.IndexByte(ps.b[i:], '\n')
	if j < 0 {
		return len(ps.b)
	}
	return i + j + 1
}

// boundaryAt reports whether the line at i is a boundary line of an
// active multipart: the index of the boundary in ps.bounds (the longest
// that matches, inner ones first, as RFC 2046 §5.1.2 asks) or -1, whether
// it is a close-delimiter, and where the next line starts.
func (ps *parser) boundaryAt(i int) (idx int, closing bool, next int) {
	b := ps.b
	if len(ps.bounds) == 0 || i+2 > len(b) || b[i] != '-' || b[i+1] != '-' ||
		ps.parts >= MaxParts {
		return -1, false, 0
	}
	next = ps.lineEnd(i)
	line := b[i+2 : next]
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	idx = -1
	for k := len(ps.bounds) - 1; k >= 0; k-- {
		bd := ps.bounds[k]
		if len(bd) > len(line) || string(line[:len(bd)]) != bd {
			continue
		}
		if idx < 0 || len(bd) > len(ps.bounds[idx]) {
			idx = k
			if len(bd) == len(line) || len(bd)+2 == len(line) && bytes.HasSuffix(line, []byte("--")) {
				break
			}
		}
	}
	if idx < 0 {
		return -1, false, 0
	}
	bd := ps.bounds[idx]
	closing = len(line) >= len(bd)+2 && line[len(bd)] == '-' && line[len(bd)+1] == '-'
	return idx, closing, next
}

// beforeNewline returns i moved back over the line break that ends at i,
// but not before min.
func (ps *parser) beforeNewline(i, min int) int {
	if i > min && ps.b[i-1] == '\n' {
		i--
		if i > min && ps.b[i-1] == '\r' {
			i--
		}
	}
	return i
}

// scan reads a body from i to the next boundary line of an active
// multipart, or to the end. It returns where the body ends (before the
// line break that belongs to the boundary) and the boundary found.
//
// The line break before a boundary line at i belongs to the body only if
// it is before min.
func (ps *parser) scan(i, min int) (end, idx int, closing bool, next int) {
	if len(ps.bounds) == 0 {
		return len(ps.b), -1, false, len(ps.b)
	}
	start := min
	for i < len(ps.b) {
		if idx, closing, next := ps.boundaryAt(i); idx >= 0 {
			return ps.beforeNewline(i, start), idx, closing, next
		}
		j := bytes.Index(ps.b[i:], []byte("\n--"))
		if j < 0 {
			break
		}
		i += j + 1
	}
	return len(ps.b), -1, false, len(ps.b)
}

type field struct {
	name       string
	start, end int // value, after the colon, with its line breaks
}

// entity parses the entity at pos: its header, then its body up to the
// next boundary of an enclosing multipart (returned as scan does) or the
// end. isMessage is set for a message (the top level or inside
// message/rfc822), which gets an envelope.
func (ps *parser) entity(pos, depth int, inMultipart, inDigest, isMessage bool) (p *Part, idx int, closing bool, next int) {
	ps.parts++
	p = &Part{Start: int64(pos)}
	b := ps.b

	// The header, which a boundary line may cut short.
	var fields []field
	i := pos
	idx = -1
	bodyStart, cut := len(b), false
	for i < len(b) {
		if k, cl, nx := ps.boundaryAt(i); k >= 0 {
			idx, closing, next = k, cl, nx
			bodyStart, cut = ps.beforeNewline(i, pos), true
			break
		}
		e := ps.lineEnd(i)
		line := b[i:e]
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
		}
		if len(line) == 0 {
			bodyStart = e
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fields) > 0 {
				fields[len(fields)-1].end = e
			}
		} else if c := bytes.IndexByte(line, ':'); c > 0 {
			name := string(bytes.TrimRight(line[:c], " \t"))
			if interesting(name, isMessage) {
				fields = append(fields, field{name, i + c + 1, e})
			} else {
				fields = append(fields, field{"", 0, 0})
			}
		}
		i = e
	}
	p.BodyStart = int64(bodyStart)

	isMIME := inMultipart
	sawType := false
	for _, f := range fields {
		if f.name == "" {
			continue
		}
		v := string(b[f.start:f.end])
		switch {
		case strings.EqualFold(f.name, "Mime-Version"):
			isMIME = true
		case len(f.name) > 8 && strings.EqualFold(f.name[:8], "Content-"):
			if strings.EqualFold(f.name, "Content-Type") {
				isMIME = true
				if sawType {
					continue
				}
				sawType = true
			}
			p.contentField(f.name[8:], v)
		}
		if isMessage {
			p.envelopeField(f.name, v)
		}
	}
	if isMessage && p.Envelope == nil {
		p.Envelope = &Envelope{}
	}
	if !isMIME {
		env := p.Envelope
		*p = Part{Start: p.Start, BodyStart: p.BodyStart, Envelope: env}
	}
	var boundary string
	hasBoundary := false
	switch {
	case p.Type == "" && inDigest:
		p.Kind = KindMessage
	case p.Type == "" || strings.EqualFold(p.Type, "text"):
		p.Kind = KindText
	case strings.EqualFold(p.Type, "message") && strings.EqualFold(p.Subtype, "rfc822"):
		p.Kind = KindMessage
	case strings.EqualFold(p.Type, "multipart"):
		p.Kind = KindMultipart
		for _, pa := range p.Params {
			if strings.EqualFold(pa.Name, "boundary") {
				boundary, hasBoundary = pa.Value, true
				break
			}
		}
	}
	if p.Kind == KindMultipart || p.Kind == KindMessage {
		if depth+1 >= MaxDepth || ps.parts >= MaxParts {
			p.Kind = KindTruncated
		}
	}

	if cut {
		// A boundary line came before the end of the header: no body.
		p.End = p.BodyStart
		if p.Kind == KindMessage {
			ps.parts++
			p.Message = &Part{Start: p.End, BodyStart: p.End, End: p.End, Kind: KindText, Envelope: &Envelope{}}
		}
		return p, idx, closing, next
	}

	switch {
	case p.Kind == KindMultipart && hasBoundary:
		digest := strings.EqualFold(p.Subtype, "digest")
		mine := len(ps.bounds)
		ps.bounds = append(ps.bounds, boundary)
		var end int
		end, idx, closing, next = ps.scan(bodyStart, bodyStart)
		for idx == mine && !closing {
			var c *Part
			c, idx, closing, next = ps.entity(next, depth+1, true, digest, false)
			p.Parts = append(p.Parts, c)
			end = int(c.End)
		}
		ps.bounds = ps.bounds[:mine]
		if idx == mine {
			// The close-delimiter; then the epilogue, to an outer
			// boundary or the end.
			// The line break that ends the close-delimiter line is the
			// one before a boundary line that follows at once.
			end, idx, closing, next = ps.scan(next, ps.beforeNewline(next, end))
		}
		p.End = int64(end)
	case p.Kind == KindMessage:
		var m *Part
		m, idx, closing, next = ps.entity(bodyStart, depth+1, false, false, true)
		p.Message = m
		p.End = m.End
	default:
		var end int
		end, idx, closing, next = ps.scan(bodyStart, bodyStart)
		p.End = int64(end)
	}
	p.Lines = int64(bytes.Count(b[p.BodyStart:p.End], []byte("\n")))
	return p, idx, closing, next
}

func interesting(name string, isMessage bool) bool {
	if len(name) > 8 && strings.EqualFold(name[:8], "Content-") || strings.EqualFold(name, "Mime-Version") {
		return true
	}
	return isMessage && envelopeField(name) != nil
}

var envelopeNames = []string{"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID"}

func envelopeField(name string) *string {
	for i := range envelopeNames {
		if strings.EqualFold(name, envelopeNames[i]) {
			return &envelopeNames[i]
		}
	}
	return nil
}

func (p *Part) envelopeField(name, v string) {
	if p.Envelope == nil {
		p.Envelope = &Envelope{}
	}
	e := p.Envelope
	n := envelopeField(name)
	if n == nil {
		return
	}
	val := strings.TrimLeft(v, " \t")
	str := func(dst **string) {
		// The last one wins, as in Dovecot.
		s := unfold(val)
		*dst = &s
	}
	addrs := func(dst *[]Address) {
		// Several fields are read as one list.
		*dst = append(*dst, ParseAddressList(val)...)
	}
	switch *n {
	case "Date":
		str(&e.Date)
	case "Subject":
		str(&e.Subject)
	case "In-Reply-To":
		str(&e.InReplyTo)
	case "Message-ID":
		str(&e.MessageID)
	case "From":
		addrs(&e.From)
	case "Sender":
		addrs(&e.Sender)
	case "Reply-To":
		addrs(&e.ReplyTo)
	case "To":
		addrs(&e.To)
	case "Cc":
		addrs(&e.Cc)
	case "Bcc":
		addrs(&e.Bcc)
	}
}

// contentField reads the Content-* field named Content-name; the first of
// each wins.
func (p *Part) contentField(name, v string) {
	l := lexer{b: v}
	raw := func(dst **string) {
		if *dst == nil {
			s := unfold(strings.TrimLeft(v, " \t"))
			*dst = &s
		}
	}
	switch {
	case strings.EqualFold(name, "Type"):
		l.skip()
		t := l.token()
		if t == "" {
			return // read as no Content-Type
		}
		p.Type = t
		l.skip()
		if l.peek() == '/' {
			l.i++
			l.skip()
			p.Subtype = l.token()
		}
		p.Params = l.params()
	case strings.EqualFold(name, "Transfer-Encoding"):
		if p.Encoding == nil {
			l.skip()
			t := l.token()
			if t != "" && !l.skip() {
				p.Encoding = &t
			}
		}
	case strings.EqualFold(name, "Disposition"):
		if p.Disposition == nil {
			l.skip()
			if t := l.token(); t != "" {
				p.Disposition = &t
				p.DispositionParams = l.params()
			}
		}
	case strings.EqualFold(name, "Language"):
		if p.Language == nil {
			for l.skip() {
				a := l.atom(false)
				if a == "" {
					break
				}
				p.Language = append(p.Language, a)
				l.skip()
				if l.peek() != ',' {
					break
				}
				l.i++
			}
		}
	case strings.EqualFold(name, "ID"):
		raw(&p.ID)
	case strings.EqualFold(name, "Description"):
		raw(&p.Description)
	case strings.EqualFold(name, "MD5"):
		raw(&p.MD5)
	case strings.EqualFold(name, "Location"):
		raw(&p.Location)
	}
}
