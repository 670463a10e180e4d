package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"html"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"

	"github.com/inetkit/inetkit/internal/imapd"
)

// The bounds of the parse of a message for its meta: what it costs stays
// small beside storing the message, whatever the message.
const (
	// maxMetaHeaderBytes bounds a header section read.
	maxMetaHeaderBytes = 256 << 10
	// maxMetaParts and maxMetaDepth bound the MIME parts visited (RFC
	// 2046 §5.1): the attachments of a message with more are not all
	// counted.
	maxMetaParts = 1000
	maxMetaDepth = 20
	// maxTextRawBytes bounds the encoded text of the text (or HTML) part
	// decoded.
	maxTextRawBytes = 256 << 10
	// maxSearchBytes bounds a message's search text.
	maxSearchBytes = 64 << 10
	// maxSnippetRunes is the length of a snippet.
	maxSnippetRunes = 250
)

// A messageMeta is what a message list shows and searches of a message
// body: the values of the meta columns of its row of bodies.
type messageMeta struct {
	from, to, cc []Address
	subject      string
	date         time.Time // zero if the Date field is missing or bad
	messageID    string
	attachments  int
	snippet      string
	search       []byte // lower case, valid UTF-8

	// The columns made of the fields above, made by encode.
	fromJSON, toJSON, ccJSON string
	fromLC, toLC, subjectLC  string

	// sort is what IMAP's SORT and THREAD read (schema/009_imap.sql).
	sort imapd.SortData
}

// encode makes the columns of m that are made of its other fields.
func (m *messageMeta) encode() {
	m.fromJSON, m.toJSON, m.ccJSON = addressesJSON(m.from), addressesJSON(m.to), addressesJSON(m.cc)
	m.fromLC = strings.ToLower(addressesText(m.from))
	m.toLC = strings.ToLower(addressesText(m.to) + " " + addressesText(m.cc))
	m.subjectLC = strings.ToLower(m.subject)
}

// parseMessageMeta parses msg (CRLF line endings) for its meta: the header
// fields, the first text part (or, without one, the first HTML part) and
// the count of attachments. It never fails: what does not parse is kept
// as written, or left empty. It is meant to run before the write lock is
// taken: it only reads msg.
func parseMessageMeta(msg []byte) *messageMeta {
	m := &messageMeta{}
	func() {
		// A bug here must not take the store's writer down with it: the
		// message is stored with what was parsed before.
		defer func() {
			if recover() != nil {
				m.snippet, m.search = "", nil
			}
		}()
		m.parse(msg)
	}()
	func() {
		defer func() {
			if recover() != nil {
				m.sort = imapd.SortData{}
			}
		}()
		m.sort = imapd.NewSortData(0, headerOf(msg))
	}()
	m.encode()
	return m
}

// parse fills m from msg.
func (m *messageMeta) parse(msg []byte) {
	header, body := splitHeader(msg)
	var h partHeader
	var from, to, cc, subject, date, msgID []byte
	var toMore, ccMore [][]byte
	scanHeader(header, func(name, value []byte) {
		switch {
		case bytes.EqualFold(name, []byte("From")):
			if from == nil {
				from = value
			}
		case bytes.EqualFold(name, []byte("To")):
			if to == nil {
				to = value
			} else {
				toMore = append(toMore, value)
			}
		case bytes.EqualFold(name, []byte("Cc")):
			if cc == nil {
				cc = value
			} else {
				ccMore = append(ccMore, value)
			}
		case bytes.EqualFold(name, []byte("Subject")):
			if subject == nil {
				subject = value
			}
		case bytes.EqualFold(name, []byte("Date")):
			if date == nil {
				date = value
			}
		case bytes.EqualFold(name, []byte("Message-ID")):
			if msgID == nil {
				msgID = value
			}
		default:
			h.field(name, value)
		}
	})
	m.from = parseAddressList(headerText(from))
	m.to = parseAddressList(joinFields(to, toMore))
	m.cc = parseAddressList(joinFields(cc, ccMore))
	m.subject = decodeHeaderText(headerText(subject))
	m.date = parseDate(headerText(date))
	m.messageID = cleanMessageID(headerText(msgID))

	var w partWalker
	w.walk(&h, body, 0, "text/plain")
	m.attachments = w.attachments
	var text []byte
	switch {
	case w.text != nil:
		text = decodeText(w.text.body, w.text.cte, w.text.charset)
	case w.html != nil:
		text = []byte(html.UnescapeString(stripTags(string(decodeText(w.html.body, w.html.cte, w.html.charset)))))
	}
	// The snippet's characters are mostly one byte each.
	snippet := collapseSpace(nil, text, maxSnippetRunes, false)
	if len(snippet) >= maxSnippetRunes && utf8.RuneCount(snippet) < maxSnippetRunes {
		snippet = collapseSpace(snippet[:0], text, maxSnippetRunes*utf8.UTFMax, false)
	}
	m.snippet = truncateRunes(string(snippet), maxSnippetRunes)

	search := make([]byte, 0, min(len(text), maxSearchBytes)+len(m.subject)+128)
	for _, list := range [][]Address{m.from, m.to, m.cc} {
		search = appendLower(search, addressesText(list))
		search = append(search, ' ')
	}
	search = appendLower(search, m.subject)
	search = append(search, ' ')
	search = collapseSpace(search, text, maxSearchBytes, true)
	m.search = truncateBytes(search, maxSearchBytes)
}

// appendLower appends s in lower case (as strings.ToLower makes it) to
// dst.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf {
				j++
			}
			dst = lowerASCII(dst, len(dst), s[i:j])
			i = j
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}

// lowerASCII appends s, ASCII, to dst, and makes dst[from:] lower case.
func lowerASCII[S string | []byte](dst []byte, from int, s S) []byte {
	dst = append(dst, s...)
	for k := from; k < len(dst); k++ {
		if c := dst[k]; 'A' <= c && c <= 'Z' {
			dst[k] = c + 'a' - 'A'
		}
	}
	return dst
}

// A partHeader holds the fields of a MIME part's header (RFC 2045) that
// the meta needs.
type partHeader struct {
	contentType, cte, disposition []byte
}

// field records name and value if they are one of the fields.
func (h *partHeader) field(name, value []byte) {
	switch {
	case h.contentType == nil && bytes.EqualFold(name, []byte("Content-Type")):
		h.contentType = value
	case h.cte == nil && bytes.EqualFold(name, []byte("Content-Transfer-Encoding")):
		h.cte = value
	case h.disposition == nil && bytes.EqualFold(name, []byte("Content-Disposition")):
		h.disposition = value
	}
}

// A textPart is the encoded content of a text part and how to decode it.
type textPart struct {
	body         []byte
	cte, charset string
}

// A partWalker visits the MIME tree of a message and keeps its first text
// and HTML parts and its count of attachments.
type partWalker struct {
	text, html  *textPart
	attachments int
	parts       int
}

// walk visits the part of header h and body, at depth; defaultType is its
// type if h has none (RFC 2046 §5.1.5: message/rfc822 in a digest).
func (w *partWalker) walk(h *partHeader, body []byte, depth int, defaultType string) {
	w.parts++
	mediaType, params := defaultType, map[string]string(nil)
	if ct := headerText(h.contentType); ct != "" {
		t, p, err := mime.ParseMediaType(ct)
		switch {
		case err == nil || t != "":
			mediaType, params = t, p
		default:
			// RFC 2045 §5.2: a bad Content-Type is text/plain.
			mediaType = "text/plain"
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" && depth < maxMetaDepth {
		def := "text/plain"
		if mediaType == "multipart/digest" {
			def = "message/rfc822"
		}
		forEachPart(body, params["boundary"], func(part []byte) bool {
			if w.parts >= maxMetaParts {
				return false
			}
			ph, pb := splitHeader(part)
			var h partHeader
			scanHeader(ph, h.field)
			w.walk(&h, pb, depth+1, def)
			return true
		})
		return
	}
	disposition, dparams := "", map[string]string(nil)
	if cd := headerText(h.disposition); cd != "" {
		disposition, dparams, _ = mime.ParseMediaType(cd)
	}
	if disposition == "attachment" || dparams["filename"] != "" || params["name"] != "" {
		w.attachments++
		return
	}
	part := &textPart{body: body, cte: strings.ToLower(headerText(h.cte)), charset: strings.ToLower(params["charset"])}
	switch {
	case mediaType == "text/plain" && w.text == nil:
		w.text = part
	case mediaType == "text/html" && w.html == nil:
		w.html = part
	}
}

// forEachPart calls f with each body part of the multipart body (RFC 2046
// §5.1.1) whose boundary is boundary, until f returns false. The preamble
// and the epilogue are not parts; a body whose close delimiter is missing
// ends with its last part.
func forEachPart(body []byte, boundary string, f func(part []byte) bool) {
	delim := []byte("\r\n--" + boundary)
	// The first delimiter may begin the body, with no CRLF before it.
	i := -1
	if bytes.HasPrefix(body, delim[2:]) && delimiterEnds(body[len(delim)-2:]) {
		i = 0
	} else if j := nextDelimiter(body, delim); j >= 0 {
		i = j + 2
	}
	if i < 0 {
		return
	}
	for {
		rest := body[i+len(delim)-2:]
		if bytes.HasPrefix(rest, []byte("--")) {
			return // the close delimiter
		}
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return
		}
		start := i + len(delim) - 2 + nl + 1
		// The CRLF that ends the delimiter line may also begin the next
		// delimiter: an empty part.
		j := nextDelimiter(body[start-2:], delim)
		if j < 0 {
			f(body[start:])
			return
		}
		end := max(start-2+j, start)
		if !f(body[start:end]) {
			return
		}
		i = start - 2 + j + 2
	}
}

// nextDelimiter returns the index in b of the next delim (CRLF, "--" and
// the boundary) that is a whole delimiter line, or -1.
func nextDelimiter(b, delim []byte) int {
	off := 0
	for {
		j := bytes.Index(b[off:], delim)
		if j < 0 {
			return -1
		}
		if delimiterEnds(b[off+j+len(delim):]) {
			return off + j
		}
		off += j + 1
	}
}

// delimiterEnds reports whether b, what follows a boundary, ends a
// delimiter line: "--" (the close delimiter), or spaces up to the end of
// the line or of the body.
func delimiterEnds(b []byte) bool {
	if bytes.HasPrefix(b, []byte("--")) {
		return true
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r':
		case '\n':
			return true
		default:
			return false
		}
	}
	return true
}

// splitHeader splits a message or a body part at the empty line that ends
// its header section. A message without one is all header.
func splitHeader(msg []byte) (header, body []byte) {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return nil, msg[2:]
	}
	if bytes.HasPrefix(msg, []byte("\n")) {
		return nil, msg[1:]
	}
	i := 0
	for {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			return msg, nil
		}
		i += j + 1
		if bytes.HasPrefix(msg[i:], []byte("\r\n")) {
			return msg[:i], msg[i+2:]
		}
		if bytes.HasPrefix(msg[i:], []byte("\n")) {
			return msg[:i], msg[i+1:]
		}
	}
}

// scanHeader calls f with the name and the value (folded, as written) of
// each field of the header section h (RFC 5322 §2.2), in its first
// maxMetaHeaderBytes. A line that is no field is skipped.
func scanHeader(h []byte, f func(name, value []byte)) {
	if len(h) > maxMetaHeaderBytes {
		h = h[:maxMetaHeaderBytes]
	}
	for len(h) > 0 {
		end := 0
		for {
			nl := bytes.IndexByte(h[end:], '\n')
			if nl < 0 {
				end = len(h)
				break
			}
			end += nl + 1
			if end == len(h) || h[end] != ' ' && h[end] != '\t' {
				break
			}
		}
		field := h[:end]
		h = h[end:]
		colon := bytes.IndexByte(field, ':')
		if colon <= 0 {
			continue
		}
		value := field[colon+1:]
		value = bytes.TrimSuffix(value, []byte("\n"))
		value = bytes.TrimSuffix(value, []byte("\r"))
		f(bytes.TrimRight(field[:colon], " \t"), value)
	}
}

// headerText returns a field value unfolded (RFC 5322 §2.2.3), trimmed,
// and made UTF-8: a value with raw octets that are not UTF-8 is taken as
// Latin-1 (Windows-1252), as mail programs that send them mean.
func headerText(v []byte) string {
	if v == nil {
		return ""
	}
	if bytes.IndexByte(v, '\n') >= 0 {
		unfolded := make([]byte, 0, len(v))
		for len(v) > 0 {
			line, rest, _ := bytes.Cut(v, []byte("\n"))
			unfolded = append(unfolded, bytes.TrimSuffix(line, []byte("\r"))...)
			v = rest
		}
		v = unfolded
	}
	v = bytes.TrimSpace(v)
	if !utf8.Valid(v) {
		return latin1(v)
	}
	return string(v)
}

// parseDate returns the time of a Date field value (RFC 5322 §3.3), or
// the zero time if it is not one. The usual form is tried first: the
// other forms net/mail knows cost a failed parse each.
func parseDate(d string) time.Time {
	if d == "" {
		return time.Time{}
	}
	if t, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", d); err == nil {
		return t
	}
	if t, err := mail.ParseDate(d); err == nil {
		return t
	}
	return time.Time{}
}

// joinFields joins the values of a field that is given more than once,
// as an address list.
func joinFields(first []byte, more [][]byte) string {
	s := headerText(first)
	for _, v := range more {
		s += ", " + headerText(v)
	}
	return s
}

// latin1 returns b, Windows-1252 text, as UTF-8.
func latin1(b []byte) string {
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

// wordDecoder decodes RFC 2047 encoded words. A charset it does not know
// leaves the text as it is: made UTF-8 afterwards, rather than failing the
// whole field.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	if enc, err := htmlindex.Get(charset); err == nil {
		return enc.NewDecoder().Reader(input), nil
	}
	return input, nil
}}

// decodeHeaderText decodes the encoded words of an unstructured field
// value (RFC 2047 §5), and makes the result one line of valid UTF-8.
func decodeHeaderText(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	return cleanLine(s)
}

// decodeField returns an unstructured field value as stored (as a news
// article's overview fields are): unfolded, made UTF-8 and decoded (RFC
// 2047).
func decodeField(v string) string {
	return decodeHeaderText(headerText([]byte(v)))
}

// cleanLine makes s valid UTF-8 with no control characters: each becomes
// a space.
func cleanLine(s string) string {
	clean := utf8.ValidString(s)
	for i := 0; clean && i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			clean = false
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// addressParser parses address lists (RFC 5322 §3.4), decoding their
// display names (RFC 2047 §5).
var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

// parseAddressList returns the mailboxes of an address list. A list that
// does not parse is one Address holding its decoded text: as an address
// if it looks like one, as a name otherwise.
func parseAddressList(s string) []Address {
	if s == "" {
		return nil
	}
	if a, ok := simpleAddress(s); ok {
		return []Address{a}
	}
	list, err := addressParser.ParseList(s)
	if err != nil {
		t := decodeHeaderText(s)
		if strings.Contains(t, "@") && !strings.ContainsAny(t, " \t<>,") {
			return []Address{{Address: t}}
		}
		return []Address{{Name: t}}
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		out = append(out, Address{Name: cleanLine(a.Name), Address: cleanLine(a.Address)})
	}
	return out
}

// simpleAddress parses the usual forms of one mailbox (RFC 5322 §3.4) in
// plain ASCII: "addr", "<addr>", "Name <addr>" and "\"Name\" <addr>", as
// net/mail does (the tests check it), at a fraction of its cost. ok is
// false for anything else, which net/mail is left to parse.
func simpleAddress(s string) (a Address, ok bool) {
	lt := strings.IndexByte(s, '<')
	if lt < 0 {
		return Address{Address: s}, plainAddrSpec(s)
	}
	if !strings.HasSuffix(s, ">") || !plainAddrSpec(s[lt+1:len(s)-1]) {
		return a, false
	}
	a.Address = s[lt+1 : len(s)-1]
	name := strings.TrimRight(s[:lt], " \t")
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		name = name[1 : len(name)-1]
		for i := 0; i < len(name); i++ {
			if c := name[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
				return a, false
			}
		}
		if strings.Contains(name, "=?") || strings.TrimSpace(name) != name {
			return a, false
		}
		a.Name = name
		return a, true
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != ' ' && c != '\t' && !isASCIIAtext(c) {
			return a, false
		}
	}
	if strings.Contains(name, "=?") {
		return a, false
	}
	a.Name = strings.Join(strings.Fields(name), " ")
	return a, true
}

// isASCIIAtext reports whether c is an atext character (RFC 5322
// §3.2.3) of ASCII.
func isASCIIAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// plainAddrSpec reports whether s is an addr-spec of a dot-atom local
// part and a domain name (RFC 5322 §3.4.1), in ASCII.
func plainAddrSpec(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(s, "..") ||
		local[0] == '.' || local[len(local)-1] == '.' || domain[0] == '.' || domain[len(domain)-1] == '.' {
		return false
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; c != '.' && !isASCIIAtext(c) {
			return false
		}
	}
	for i := 0; i < len(domain); i++ {
		if c := domain[i]; c != '.' && c != '-' && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// cleanMessageID returns the message id of a Message-ID field value,
// without its angle brackets.
func cleanMessageID(s string) string {
	s = cleanLine(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	return strings.Trim(s, "<> ")
}

// addressesText returns the names and addresses of list, for searching.
func addressesText(list []Address) string {
	var b strings.Builder
	for _, a := range list {
		for _, s := range []string{a.Name, a.Address} {
			if s == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// formatAddress returns a as a person reads it: "Name <address>", or the
// address alone.
func formatAddress(a Address) string {
	switch {
	case a.Name == "":
		return a.Address
	case a.Address == "":
		return a.Name
	}
	return a.Name + " <" + a.Address + ">"
}

// decodeText returns the start of a text part's content, decoded from its
// Content-Transfer-Encoding (RFC 2045 §6) and its charset to UTF-8. It
// reads at most maxTextRawBytes of raw, and forgives bad encodings: what
// decodes is kept. The result may share raw's memory.
func decodeText(raw []byte, cte, charset string) []byte {
	if len(raw) > maxTextRawBytes {
		raw = raw[:maxTextRawBytes]
	}
	var b []byte
	switch cte {
	case "base64":
		b, _ = io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(trimBase64(raw))))
	case "quoted-printable":
		b = decodeQP(raw)
	default:
		b = raw
	}
	switch charset {
	case "", "utf-8", "us-ascii", "utf8":
	default:
		if enc, err := htmlindex.Get(charset); err == nil {
			if out, err := enc.NewDecoder().Bytes(b); err == nil {
				return bytes.ToValidUTF8(out, []byte("\uFFFD"))
			}
		}
	}
	if utf8.Valid(b) {
		return b
	}
	return []byte(latin1(b))
}

// trimBase64 cuts base64 text after its last complete line, so that a
// part cut by maxTextRawBytes decodes up to there.
func trimBase64(raw []byte) []byte {
	if len(raw) < maxTextRawBytes {
		return raw
	}
	if i := bytes.LastIndexByte(raw, '\n'); i >= 0 {
		return raw[:i+1]
	}
	return raw
}

// decodeQP decodes quoted-printable text (RFC 2045 §6.7), forgivingly: an
// "=" that starts no escape is kept.
func decodeQP(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		switch {
		case i+2 < len(raw) && raw[i+1] == '\r' && raw[i+2] == '\n':
			i += 2 // a soft line break
		case i+1 < len(raw) && raw[i+1] == '\n':
			i++
		case i+2 < len(raw) && unhex(raw[i+1]) >= 0 && unhex(raw[i+2]) >= 0:
			out = append(out, byte(unhex(raw[i+1])<<4|unhex(raw[i+2])))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

// blockTags are the HTML elements that separate words.
var blockTags = map[string]bool{
	"p": true, "br": true, "div": true, "tr": true, "td": true, "th": true, "li": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"table": true, "ul": true, "ol": true, "blockquote": true, "hr": true, "pre": true,
	"section": true, "article": true, "header": true, "footer": true, "title": true,
}

// stripTags returns the text of an HTML document: its tags and comments
// removed, with the content of head, script and style elements; block
// elements become spaces. Character references are left for the caller.
func stripTags(s string) string {
	var b strings.Builder
	b.Grow(len(s) / 2)
	skip := "" // the element whose content is being skipped
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			if skip == "" {
				b.WriteString(s)
			}
			break
		}
		if skip == "" {
			b.WriteString(s[:lt])
		}
		s = s[lt:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s, "-->")
			if end < 0 {
				break
			}
			s = s[end+3:]
			continue
		}
		gt := strings.IndexByte(s, '>')
		if gt < 0 {
			break
		}
		tag := s[1:gt]
		s = s[gt+1:]
		closing := strings.HasPrefix(tag, "/")
		name := strings.ToLower(strings.TrimLeft(tag, "/"))
		if i := strings.IndexAny(name, " \t\r\n/"); i >= 0 {
			name = name[:i]
		}
		switch {
		case skip != "":
			if closing && name == skip {
				skip = ""
			}
		case !closing && (name == "script" || name == "style" || name == "head") && !strings.HasSuffix(tag, "/"):
			skip = name
		case blockTags[name]:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// collapseSpace appends to dst the text s with each run of white space
// (and of control characters) made one space, and none at either end;
// made lower case (as strings.ToLower makes it) if lower. It stops when
// dst has grown by max bytes or more (by at most a few bytes more). Runs
// of printable ASCII are copied (and lowered) eight bytes at a time.
func collapseSpace(dst, s []byte, max int, lower bool) []byte {
	n := len(dst)
	// The result is no longer than s but where lowering makes a character
	// longer (of two bytes three at most): buf grows then.
	if room := min(len(s), max) + 2*utf8.UTFMax; cap(dst)-n < room {
		dst = append(make([]byte, 0, n+room), dst...)
	}
	buf := dst[:cap(dst)]
	limit := n + max
	space, wrote := false, false
	for i := 0; i < len(s) && n < limit; {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f {
				space = true
				i++
				continue
			}
			if space && wrote {
				buf[n] = ' '
				n++
			}
			space, wrote = false, true
			for i+8 <= len(s) && n+8 <= min(limit, len(buf)) {
				w := binary.LittleEndian.Uint64(s[i:])
				if !printableWord(w) {
					break
				}
				if lower {
					w = lowerWord(w)
				}
				binary.LittleEndian.PutUint64(buf[n:], w)
				n += 8
				i += 8
			}
			for ; i < len(s) && n < min(limit, len(buf)); i++ {
				c := s[i]
				if c <= ' ' || c >= 0x7f {
					break
				}
				if lower && 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf[n] = c
				n++
			}
			continue
		}
		if n+2*utf8.UTFMax > len(buf) {
			buf = append(buf[:n], make([]byte, len(buf))...)
			buf = buf[:cap(buf)]
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		if r == 0x85 || r == 0xa0 || r >= 0x2000 && r <= 0x200a || r == 0x2028 || r == 0x2029 || r == 0x3000 {
			space = true
			continue
		}
		if space && wrote {
			buf[n] = ' '
			n++
		}
		space, wrote = false, true
		if lower {
			r = unicode.ToLower(r)
		} else if r == utf8.RuneError && size == 1 {
			buf[n] = s[i-1] // kept as it is
			n++
			continue
		}
		n += utf8.EncodeRune(buf[n:], r)
	}
	return buf[:n]
}

// Bytes of a uint64 taken eight at a time.
const (
	byteOnes  = 0x0101010101010101
	byteHighs = 0x8080808080808080
)

// printableWord reports whether the eight bytes of w are all printable
// ASCII, 0x21 to 0x7e. (For bytes below 0x80 the sums below carry into no
// other byte.)
func printableWord(w uint64) bool {
	return w&byteHighs == 0 && // below 0x80
		(w+(0x80-0x21)*byteOnes)&byteHighs == byteHighs && // above 0x20
		(w+byteOnes)&byteHighs == 0 // not 0x7f
}

// lowerWord makes the ASCII capital letters among the eight bytes of w,
// each below 0x80, small ones.
func lowerWord(w uint64) uint64 {
	atLeastA := w + (0x80-'A')*byteOnes
	aboveZ := w + (0x80-'Z'-1)*byteOnes
	return w | (atLeastA&^aboveZ)&byteHighs>>2
}

// truncateRunes returns the first n characters of s.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// truncateBytes returns at most n bytes of s, cut between characters.
func truncateBytes[S string | []byte](s S, n int) S {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// args returns the values of the meta columns of bodies (metaColumns)
// for m.
func (m *messageMeta) args() []any {
	var date any
	if !m.date.IsZero() {
		date = m.date.Unix()
	}
	return []any{m.fromJSON, m.toJSON, m.ccJSON, m.subject, date, m.messageID,
		m.attachments, m.snippet, m.fromLC, m.toLC, m.subjectLC, m.search}
}

// metaColumns are the columns of bodies that hold a mail body's meta, in
// the order of messageMeta.args.
const metaColumns = `from_addrs, to_addrs, cc_addrs, subject, date, message_id, attachments, snippet, from_lc, to_lc, subject_lc, search`

// insertMailBodyTx stores msg as a new mail body, with its meta, and
// returns its id.
func (s *Store) insertMailBodyTx(ctx context.Context, tx *wtx, msg []byte, meta *messageMeta) (int64, error) {
	ins, err := s.stmt(ctx, tx, `INSERT INTO bodies (`+metaColumns+`, `+sortColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	res, err := ins.ExecContext(ctx, append(meta.args(), sortArgs(&meta.sort)...)...)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	return id, s.insertChunksTx(ctx, tx, id, msg)
}

// addressesJSON returns list as the JSON of a meta column, as
// encoding/json would write it (but for <, > and &, not escaped).
func addressesJSON(list []Address) string {
	if len(list) == 0 {
		return "[]"
	}
	b := make([]byte, 0, 32*len(list))
	b = append(b, '[')
	for i, a := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if a.Name != "" {
			b = append(b, `"name":`...)
			b = appendJSONString(b, a.Name)
			b = append(b, ',')
		}
		b = append(b, `"address":`...)
		b = appendJSONString(b, a.Address)
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// appendJSONString appends s, valid UTF-8, as a JSON string (RFC 8259 §7).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < ' ':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// backfillMetaTx parses the mail bodies stored without meta (before
// schema/008_message_meta.sql), one body in memory at a time.
func (s *Store) backfillMetaTx(ctx context.Context, tx *wtx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM bodies b
		WHERE b.search IS NULL AND EXISTS (SELECT 1 FROM messages WHERE body_id = b.id) ORDER BY id`)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	set := strings.ReplaceAll(metaColumns, ",", " = ?,") + " = ?"
	for _, id := range ids {
		msg, err := bodyDataTx(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("body %d: %w", id, err)
		}
		args := append(parseMessageMeta(msg).args(), id)
		if _, err := tx.ExecContext(ctx, `UPDATE bodies SET `+set+` WHERE id = ?`, args...); err != nil {
			return fmt.Errorf("body %d: %w", id, err)
		}
	}
	return nil
}

// bodyDataTx returns the whole of body id.
func bodyDataTx(ctx context.Context, q querier, id int64) ([]byte, error) {
	rows, err := q.QueryContext(ctx, `SELECT data FROM body_chunks WHERE body_id = ? ORDER BY off`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msg []byte
	for rows.Next() {
		var piece []byte
		if err := rows.Scan(&piece); err != nil {
			return nil, err
		}
		msg = append(msg, piece...)
	}
	return msg, rows.Err()
}
