package console

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// Bounds of the work parseMessage and openPart do on one message, as the
// store's IMAP BODYSTRUCTURE has them.
const (
	// maxMIMEDepth is the deepest nesting of multipart and message/rfc822
	// parts that is taken apart; a container deeper than that is shown as
	// a part without children.
	maxMIMEDepth = 100
	// maxMIMEParts is the number of parts (containers included) listed; a
	// message with more is shown with its first maxMIMEParts and Truncated.
	maxMIMEParts = 1000
	// maxHeaderBytes caps the header of the message (not of its parts,
	// which the size of the message bounds).
	maxHeaderBytes = 1 << 20
	// maxBodyTextBytes caps the text and the HTML body kept, each.
	maxBodyTextBytes = 16 << 20
)

// A Part is one node of a message's MIME tree (RFC 2045, 2046).
//
// ID is the part's section number as IMAP gives it (RFC 3501 §6.4.5
// FETCH BODY[section]): a message that is not multipart has one part, "1";
// the parts of a multipart message are "1", "2", ..., those of a multipart
// part "2" are "2.1", "2.2", ...; the body of a message/rfc822 part "3" is
// "3.1" if it is not multipart, and its parts "3.1", "3.2", ... if it is. A
// multipart that is the body of a whole message (the top one, or that of a
// message/rfc822 part) has no section number: its ID is "".
type Part struct {
	ID          string `json:"id"`
	ContentType string `json:"contentType"`       // lower case, without parameters
	Charset     string `json:"charset,omitempty"` // of a text part, lower case, as declared
	// Filename is the name the part suggests (Content-Disposition's
	// filename, or Content-Type's name), decoded, without any directory.
	Filename    string `json:"filename,omitempty"`
	Disposition string `json:"disposition,omitempty"` // "inline", "attachment" or ""
	ContentID   string `json:"contentId,omitempty"`   // without <>
	// Size is the size of the part's body once its Content-Transfer-
	// Encoding is undone (for a multipart, its body as written).
	Size  int64  `json:"size"`
	Parts []Part `json:"parts,omitempty"`
}

// A HeaderField is one field of a header: its name as written, its value
// unfolded, not decoded.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// A ParsedMessage is a message taken apart for the message view and the
// API: its header, its text and HTML bodies (decoded to UTF-8), its MIME tree,
// and the parts a user downloads (attachments and inline parts).
//
// Text is the first text/plain part that is not an attachment (further
// such parts of a multipart/mixed are appended, as mail clients show them),
// HTML the first text/html part that is not an attachment; parts of an
// attached message (message/rfc822) are never taken as the message's own
// text. Inline lists the other parts that have a Content-ID and are not
// attachments: those an HTML body shows with "cid:" URLs (RFC 2392).
// Attachments lists every other part that is not a container (an attached
// message is one attachment).
type ParsedMessage struct {
	Header      []HeaderField `json:"headers"`
	Text        string        `json:"text"`
	HTML        string        `json:"html"`
	Root        Part          `json:"mime"`
	Attachments []Part        `json:"attachments"`
	Inline      []Part        `json:"inline"`
	// Truncated is set when the message had more parts, or deeper
	// nesting, than the console takes apart, or a text longer than it
	// keeps.
	Truncated bool `json:"truncated,omitempty"`
}

// errPartNotFound is openPart's answer for a part the message does not
// have.
var errPartNotFound = errors.New("console: no such part")

// errStopWalk ends a walk early; it is never returned to callers.
var errStopWalk = errors.New("console: stop walk")

// parseMessage parses the message r. It never fails because of what the
// message holds: a malformed header ends where it stops making sense, a
// malformed multipart ends at its last good part, an unknown transfer
// encoding is taken as binary, an unknown charset as UTF-8 (invalid
// sequences replaced by U+FFFD). It returns an error only when reading r
// fails.
func parseMessage(r io.Reader) (*ParsedMessage, error) {
	src := &sourceReader{r: r}
	w := &walker{}
	pm := &ParsedMessage{Header: []HeaderField{}, Attachments: []Part{}, Inline: []Part{}}
	var text, html bytes.Buffer
	var haveText, haveHTML bool
	w.leaf = func(p *Part, body io.Reader, attached bool) error {
		// A text part is the message's text unless it is an attachment:
		// disposition attachment, a file name (but for the message's only
		// part), or a part of an attached message.
		bodyText := !attached && p.Disposition != "attachment" && (p.Filename == "" || p.ID == "1")
		switch {
		case bodyText && p.ContentType == "text/plain":
			s, n, trunc, err := readText(body, p.Charset, false)
			p.Size = n
			if err != nil {
				return err
			}
			if haveText {
				s = "\n" + s
			}
			haveText = true
			if text.Len()+len(s) > maxBodyTextBytes {
				pm.Truncated = true
				return nil
			}
			pm.Truncated = pm.Truncated || trunc
			text.WriteString(s)
			return nil
		case bodyText && p.ContentType == "text/html" && !haveHTML:
			s, n, trunc, err := readText(body, p.Charset, true)
			p.Size = n
			if err != nil {
				return err
			}
			haveHTML = true
			pm.Truncated = pm.Truncated || trunc
			html.WriteString(s)
			return nil
		}
		n, err := io.Copy(io.Discard, body)
		p.Size = n
		if err != nil || attached {
			return err
		}
		if p.ContentID != "" && p.Disposition != "attachment" {
			pm.Inline = append(pm.Inline, *p)
		} else {
			pm.Attachments = append(pm.Attachments, *p)
		}
		return nil
	}
	w.attachedMessage = func(p *Part) {
		c := *p
		c.Parts = nil
		pm.Attachments = append(pm.Attachments, c)
	}
	h, br := readHeader(src)
	pm.Header = headerFields(h)
	root, err := w.message(h, br, "", 0, false)
	if src.err != nil {
		return nil, src.err.err
	}
	if err != nil && !errors.Is(err, errStopWalk) {
		return nil, err
	}
	pm.Root = root
	pm.Text = text.String()
	pm.HTML = html.String()
	pm.Truncated = pm.Truncated || w.truncated
	return pm, nil
}

// openPart returns the decoded content of part id of the message r (a part
// ID of ParsedMessage.Root, or a Content-ID given as "cid:ID"), with the
// part's description (without its children, and its Size unknown: -1). The
// content is the part's body with its Content-Transfer-Encoding undone, in
// its own charset (Part.Charset); for a message/rfc822 part, the attached
// message. The reader reads from r: it is valid until r is closed.
// Multipart containers cannot be opened. It returns errPartNotFound if the
// message has no such part.
func openPart(r io.Reader, id string) (*Part, io.Reader, error) {
	cid, byCID := strings.CutPrefix(id, "cid:")
	if id == "" || (byCID && cid == "") {
		return nil, nil, errPartNotFound
	}
	src := &sourceReader{r: r}
	w := &walker{}
	var found *Part
	var content io.Reader
	match := func(p *Part, body io.Reader) error {
		if isContainer(p.ContentType) && p.ContentType != "message/rfc822" {
			return nil
		}
		if (byCID && p.ContentID == cid) || (!byCID && p.ID == id) {
			c := *p
			c.Parts, c.Size = nil, -1
			found, content = &c, body
			return errStopWalk
		}
		return nil
	}
	w.visit = func(p *Part, body io.Reader, _ bool) error { return match(p, body) }
	w.leaf = func(p *Part, body io.Reader, _ bool) error { return match(p, body) }
	h, br := readHeader(src)
	_, err := w.message(h, br, "", 0, false)
	if found != nil {
		return found, &sourceCheck{r: content, src: src}, nil
	}
	if src.err != nil {
		return nil, nil, src.err.err
	}
	if err != nil && !errors.Is(err, errStopWalk) {
		return nil, nil, err
	}
	return nil, nil, errPartNotFound
}

// readHeader reads a header from r, at most maxHeaderBytes of it, and
// returns it with the reader of what follows. A malformed header ends at
// its first bad line.
func readHeader(r io.Reader) (textproto.Header, *bufio.Reader) {
	lim := &headerLimit{r: r, n: maxHeaderBytes}
	br := bufio.NewReader(lim)
	h, _ := textproto.ReadHeader(br)
	lim.n = -1
	return h, br
}

// headerLimit ends r after n bytes, while n is not negative.
type headerLimit struct {
	r io.Reader
	n int64
}

func (l *headerLimit) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// A walker goes through a message's MIME tree in order, numbering its parts
// as IMAP does.
type walker struct {
	// visit, if not nil, is called for each message/rfc822 part before
	// its attached message is read, and for each multipart before its
	// parts are, with the part's body (transfer encoding undone). It may
	// only return errStopWalk and keep body, or nil and leave it.
	visit func(p *Part, body io.Reader, attached bool) error
	// leaf is called for every other part, with its body (transfer
	// encoding undone), which it may read; a malformed body ends early,
	// only a failure to read the message is an error. attached is true
	// inside a message/rfc822 part.
	leaf func(p *Part, body io.Reader, attached bool) error
	// attachedMessage is called for a message/rfc822 part outside any
	// other, once its Size is known.
	attachedMessage func(p *Part)

	parts     int
	truncated bool
}

// message walks a message (the top one or an attached one) whose header
// is h and body the rest of body; prefix is "" for the top message and
// "N." for the message attached as part N.
func (w *walker) message(h textproto.Header, body io.Reader, prefix string, depth int, attached bool) (Part, error) {
	mt, _ := contentType(&h, "")
	id := prefix + "1"
	if strings.HasPrefix(mt, "multipart/") {
		id = ""
	}
	return w.entity(h, body, id, prefix, depth, attached)
}

// entity walks one entity, whose number is id ("" for a multipart without
// one, whose parts are then numbered prefix+"1", ...).
func (w *walker) entity(h textproto.Header, raw io.Reader, id, prefix string, depth int, attached bool) (Part, error) {
	p := describePart(&h, id, "")
	if w.parts++; w.parts > maxMIMEParts {
		w.truncated = true
		return p, errStopWalk
	}
	return w.walkEntity(&p, h, raw, prefix, depth, attached)
}

func (w *walker) walkEntity(p *Part, h textproto.Header, raw io.Reader, prefix string, depth int, attached bool) (Part, error) {
	mt, params := contentType(&h, "")
	cr := &countReader{r: raw}
	var body io.Reader = cr
	if !strings.HasPrefix(mt, "multipart/") {
		cr.r = transferDecoder(h.Get("Content-Transfer-Encoding"), raw)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" && depth < maxMIMEDepth:
		if w.visit != nil {
			if err := w.visit(p, body, attached); err != nil {
				return *p, err
			}
		}
		childPrefix := prefix
		if p.ID != "" {
			childPrefix = p.ID + "."
		}
		def := ""
		if mt == "multipart/digest" {
			def = "message/rfc822" // RFC 2046 §5.1.5
		}
		mr := textproto.NewMultipartReader(cr, params["boundary"])
		for i := 1; ; i++ {
			part, err := mr.NextPart()
			if err != nil {
				break // io.EOF, or a malformed multipart: its good parts stay
			}
			child, err := w.child(part.Header, part, childPrefix+fmt.Sprint(i), def, depth+1, attached)
			if w.parts <= maxMIMEParts {
				p.Parts = append(p.Parts, child)
			}
			if err != nil {
				p.Size = cr.n
				return *p, err
			}
		}
		io.Copy(io.Discard, cr)
		p.Size = cr.n
		return *p, nil
	case mt == "message/rfc822" && depth < maxMIMEDepth:
		if w.visit != nil {
			if err := w.visit(p, body, attached); err != nil {
				return *p, err
			}
		}
		ih, br := readHeader(cr)
		inner, err := w.message(ih, br, p.ID+".", depth+1, true)
		p.Parts = []Part{inner}
		if err != nil {
			p.Size = cr.n
			return *p, err
		}
		io.Copy(io.Discard, cr)
		p.Size = cr.n
		if !attached && w.attachedMessage != nil {
			w.attachedMessage(p)
		}
		return *p, nil
	}
	if isContainer(mt) {
		w.truncated = true // too deep, or a multipart without a boundary
	}
	err := w.leaf(p, &tolerantReader{r: body}, attached)
	if err != nil {
		return *p, err // errStopWalk: the caller reads the body
	}
	io.Copy(io.Discard, cr)
	p.Size = cr.n
	return *p, err
}

// child walks a part of a multipart; def is the default content type of
// its parts.
func (w *walker) child(h textproto.Header, raw io.Reader, id, def string, depth int, attached bool) (Part, error) {
	p := describePart(&h, id, def)
	if w.parts++; w.parts > maxMIMEParts {
		w.truncated = true
		return p, errStopWalk
	}
	if def != "" && h.Get("Content-Type") == "" {
		h.Set("Content-Type", def)
	}
	return w.walkEntity(&p, h, raw, id+".", depth, attached)
}

// isContainer says whether a content type has parts of its own.
func isContainer(mt string) bool {
	return strings.HasPrefix(mt, "multipart/") || mt == "message/rfc822"
}

// describePart returns the Part for an entity with header h; def is the
// content type of one that has none ("" for text/plain).
func describePart(h *textproto.Header, id, def string) Part {
	mt, params := contentType(h, def)
	p := Part{ID: id, ContentType: mt}
	if strings.HasPrefix(mt, "text/") {
		p.Charset = strings.ToLower(strings.TrimSpace(params["charset"]))
	}
	var dparams map[string]string
	if d := h.Get("Content-Disposition"); d != "" {
		disp, dp, err := mime.ParseMediaType(d)
		if err != nil {
			disp, _, _ = strings.Cut(d, ";")
			disp = strings.ToLower(strings.TrimSpace(disp))
		}
		switch disp {
		case "inline", "attachment":
			p.Disposition = disp
		default:
			if disp != "" {
				p.Disposition = "attachment" // RFC 2183 §2.8: unknown means attachment
			}
		}
		dparams = dp
	}
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	p.Filename = cleanFilename(decodeWords(name))
	cid := strings.TrimSpace(h.Get("Content-Id"))
	cid = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")
	p.ContentID = strings.TrimSpace(cid)
	return p
}

// contentType returns the media type of h's Content-Type, lower case, and
// its parameters. A missing or malformed field is def, or text/plain (RFC
// 2045 §5.2).
func contentType(h *textproto.Header, def string) (string, map[string]string) {
	v := h.Get("Content-Type")
	if def == "" {
		def = "text/plain"
	}
	if strings.TrimSpace(v) == "" {
		return def, map[string]string{}
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		t, _, _ := strings.Cut(v, ";")
		t = strings.ToLower(strings.TrimSpace(t))
		if a, b, ok := strings.Cut(t, "/"); ok && a != "" && b != "" && !strings.ContainsAny(t, " \t\"") {
			return t, map[string]string{}
		}
		return "text/plain", map[string]string{}
	}
	if !strings.Contains(mt, "/") {
		return "text/plain", map[string]string{}
	}
	return mt, params
}

// cleanFilename returns name without any directory (either separator) and
// without control characters.
func cleanFilename(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if name == "." || name == ".." {
		return ""
	}
	if len(name) > 255 {
		name = name[:255]
		for !utf8.ValidString(name) {
			name = name[:len(name)-1]
		}
	}
	return path.Clean("/" + name)[1:]
}

// decodeWords decodes RFC 2047 encoded words in s, in any charset
// decodeCharset knows; s is returned as it is if that fails.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d := mime.WordDecoder{CharsetReader: func(label string, input io.Reader) (io.Reader, error) {
		enc := charsetEncoding(label)
		if enc == nil {
			return input, nil
		}
		return enc.NewDecoder().Reader(input), nil
	}}
	out, err := d.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}

// headerFields lists h's fields in order, each name as written.
func headerFields(h textproto.Header) []HeaderField {
	out := make([]HeaderField, 0, h.Len())
	fs := h.Fields()
	for fs.Next() {
		name := fs.Key()
		if raw, err := fs.Raw(); err == nil {
			if i := bytes.IndexByte(raw, ':'); i > 0 {
				name = string(bytes.TrimSpace(raw[:i]))
			}
		}
		out = append(out, HeaderField{Name: strings.ToValidUTF8(name, "\uFFFD"), Value: strings.ToValidUTF8(fs.Value(), "\uFFFD")})
	}
	return out
}

// readText reads a text part's body (at most maxBodyTextBytes of it kept)
// and returns it decoded from its charset to UTF-8, the size of the body
// and whether it was cut.
func readText(body io.Reader, label string, isHTML bool) (text string, size int64, truncated bool, err error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(body, maxBodyTextBytes))
	if err != nil {
		return "", n, false, err
	}
	rest, err := io.Copy(io.Discard, body)
	if err != nil {
		return "", n + rest, false, err
	}
	return decodeCharset(buf.Bytes(), label, isHTML), n + rest, rest > 0, nil
}

// decodeCharset returns b, text in charset label, as UTF-8. A charset it
// does not know is taken as UTF-8; invalid UTF-8 is replaced by U+FFFD. An
// HTML part without a charset gets the one its <meta> names, if it is not
// valid UTF-8.
func decodeCharset(b []byte, label string, isHTML bool) string {
	enc := charsetEncoding(label)
	if enc == nil && label == "" && isHTML && !utf8.Valid(b) {
		enc, _, _ = charset.DetermineEncoding(b, "text/html")
	}
	if enc != nil {
		if out, err := enc.NewDecoder().Bytes(b); err == nil {
			b = out
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// charsetEncoding returns the encoding named label (IANA and WHATWG
// names), or nil for UTF-8, US-ASCII and the names it does not know.
func charsetEncoding(label string) encoding.Encoding {
	label = strings.ToLower(strings.Trim(label, " \t\"'"))
	switch label {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return nil
	}
	enc, err := ianaindex.MIME.Encoding(label)
	if err != nil || enc == nil {
		enc, err = ianaindex.MIME.Encoding("cs" + label)
	}
	if err != nil || enc == nil {
		enc, err = htmlindex.Get(label)
	}
	if err != nil || enc == nil {
		return nil
	}
	return enc
}

// transferDecoder undoes a Content-Transfer-Encoding (RFC 2045 §6). An
// unknown encoding is taken as binary; garbage in base64 is skipped.
func transferDecoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return &lenientReader{r: quotedprintable.NewReader(r), src: r}
	case "base64":
		return &lenientReader{r: base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r}), src: r}
	}
	return r
}

// A lenientReader ends, instead of failing, at a decoding error of r, and
// reads what is left of src so that the part's end is reached.
type lenientReader struct {
	r, src io.Reader
	done   bool
}

func (l *lenientReader) Read(p []byte) (int, error) {
	if l.done {
		return 0, io.EOF
	}
	n, err := l.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		var se *sourceError
		if errors.As(err, &se) {
			return n, err
		}
		l.done = true
		if _, err := io.Copy(io.Discard, l.src); err != nil {
			return n, err
		}
		return n, io.EOF
	}
	return n, err
}

// base64Filter passes the characters of the base64 alphabet and "=", and
// drops everything else (line breaks, spaces, garbage); after padding it
// passes nothing more.
type base64Filter struct {
	r      io.Reader
	padded bool
}

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		if f.padded {
			if _, err := io.Copy(io.Discard, f.r); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		n, err := f.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			switch {
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
				if f.padded {
					continue
				}
				p[j] = c
				j++
			case c == '=':
				p[j] = c
				j++
				f.padded = true
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// A tolerantReader ends, instead of failing, where a malformed part ends
// early; it fails only when reading the message fails.
type tolerantReader struct{ r io.Reader }

func (t *tolerantReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		if se := (*sourceError)(nil); errors.As(err, &se) {
			return n, err
		}
		return n, io.EOF
	}
	return n, err
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A sourceReader is the message being parsed: it keeps the first error of
// reading it (other than EOF), which parseMessage returns, marked so that
// the parsing layers tell it from a malformed message.
type sourceReader struct {
	r   io.Reader
	err *sourceError
}

// sourceError is an error of reading the message itself.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func (s *sourceReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = &sourceError{err}
		return n, s.err
	}
	return n, err
}

// sourceCheck reads a part found by openPart; a read error of the message
// is returned as the error it is, a malformed rest as the end of the part.
type sourceCheck struct {
	r   io.Reader
	src *sourceReader
}

func (c *sourceCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		if c.src.err != nil {
			return n, c.src.err.err
		}
		return n, io.EOF
	}
	return n, err
}
