package imapd

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"

	"github.com/inetkit/inetkit/internal/imapmsg"
)

// NewSortData computes the SortData of the message with UID uid from its
// header (the octets up to and including the blank line that ends it; a
// header without the blank line is read to its end). A backend calls it
// once, when it stores the message, and returns the result from
// Mailbox.SortData. It never fails: what cannot be read is left empty.
// This function doesn't perform I/O.
func NewSortData(uid uint32, header []byte) SortData {
	d := SortData{UID: uid}
	var msgID, inReplyTo, refs string
	var subject, from, to, cc *string
	eachField(header, func(name, value string) {
		switch strings.ToLower(name) {
		case "date":
			if d.Date.IsZero() {
				d.Date, _ = parseDate(value)
			}
		case "subject":
			if subject == nil {
				subject = &value
			}
		case "from":
			if from == nil {
				from = &value
			}
		case "to":
			if to == nil {
				to = &value
			}
		case "cc":
			if cc == nil {
				cc = &value
			}
		case "message-id":
			if msgID == "" {
				msgID = value
			}
		case "in-reply-to":
			if inReplyTo == "" {
				inReplyTo = value
			}
		case "references":
			if refs == "" {
				refs = value
			}
		}
	})
	if subject != nil {
		d.BaseSubject, d.HasRe = baseSubject(decodeHeader(*subject))
	}
	if from != nil {
		d.From, d.DisplayFrom = firstAddress(*from)
	}
	if to != nil {
		d.To, d.DisplayTo = firstAddress(*to)
	}
	if cc != nil {
		d.Cc, _ = firstAddress(*cc)
	}
	if ids := messageIDs(msgID); len(ids) > 0 {
		d.MessageID = ids[0]
	}
	if ids := messageIDs(inReplyTo); len(ids) > 0 {
		d.InReplyTo = ids[0]
	}
	d.References = messageIDs(refs)
	return d
}

// eachField calls fn with the name and the unfolded value of each field
// of header, in order, until the blank line that ends the header. A line
// that is not a field (no colon) is skipped, as Dovecot does.
func eachField(header []byte, fn func(name, value string)) {
	var name string
	var value []byte
	have := false
	flush := func() {
		if have {
			fn(name, string(bytes.TrimSpace(value)))
		}
		have = false
	}
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if have {
				value = append(value, line...)
			}
			continue
		}
		flush()
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			continue
		}
		name = string(bytes.TrimRight(line[:i], " \t"))
		value = append(value[:0], line[i+1:]...)
		have = true
	}
	flush()
}

// wordDecoder decodes encoded words (RFC 2047) in any charset that
// golang.org/x/text knows; one in a charset it does not know is left as
// it is.
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// charsetReader returns a reader that converts input from charset to
// UTF-8, for mime.WordDecoder and for body parts.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc := lookupCharset(charset)
	if enc == nil {
		return nil, errUnknownCharset
	}
	return enc.NewDecoder().Reader(input), nil
}

var errUnknownCharset = &Error{Code: "BADCHARSET", Text: "unknown charset"}

// lookupCharset returns the encoding named charset (any of its IANA or
// WHATWG labels), nil if unknown. UTF-8 and US-ASCII are the identity.
func lookupCharset(charset string) encoding.Encoding {
	cs := strings.ToLower(strings.TrimSpace(charset))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return encoding.Nop
	}
	if enc, err := htmlindex.Get(cs); err == nil {
		return enc
	}
	if enc, err := ianaindex.MIME.Encoding(cs); err == nil && enc != nil {
		return enc
	}
	return nil
}

// decodeHeader decodes the encoded words of a header value to UTF-8 and
// turns what is not UTF-8 into U+FFFD. A malformed word is kept as it is.
func decodeHeader(s string) string {
	if strings.Contains(s, "=?") {
		if dec, err := wordDecoder.DecodeHeader(s); err == nil {
			s = dec
		} else {
			s = decodeWordsEach(s)
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// decodeWordsEach decodes the encoded words of s one by one, for a value
// where DecodeHeader failed because one of them has an unknown charset:
// those that can be decoded are.
func decodeWordsEach(s string) string {
	var b strings.Builder
	for _, f := range strings.SplitAfter(s, " ") {
		w := strings.TrimRight(f, " ")
		if dec, err := wordDecoder.Decode(w); err == nil {
			b.WriteString(dec)
			b.WriteString(f[len(w):])
			continue
		}
		b.WriteString(f)
	}
	return b.String()
}

// firstAddress returns the addr-mailbox (local part) of the first address
// of an address-list value (RFC 5256 §3), and its display name, decoded,
// or its addr-spec if it has none (RFC 5957 §2). A list that starts with
// a group starts with the group's name, which is both, as in Dovecot (its
// ENVELOPE has the name as the addr-mailbox of the group's start).
func firstAddress(value string) (mailbox, display string) {
	for _, a := range imapmsg.ParseAddressList(value) {
		if a.GroupEnd {
			continue
		}
		if a.GroupStart {
			name := decodeHeader(a.Mailbox)
			return name, name
		}
		display = strings.TrimSpace(decodeHeader(a.Name))
		if display == "" {
			display = addrSpec(&a)
		}
		mailbox = a.Mailbox
		if mailbox == "MISSING_MAILBOX" {
			mailbox = ""
		}
		return mailbox, strings.ToValidUTF8(display, "\uFFFD")
	}
	return "", ""
}

// addrSpec returns a's local-part@domain, leaving out what the parser
// filled in for a part the address lacks (ENVELOPE's MISSING_MAILBOX and
// MISSING_DOMAIN): "user" for an address written "user".
func addrSpec(a *imapmsg.Address) string {
	local, host := a.Mailbox, a.Host
	if local == "MISSING_MAILBOX" {
		local = ""
	}
	if host == "MISSING_DOMAIN" || host == "" {
		return local
	}
	return local + "@" + host
}

// baseSubject returns the base subject of subj (already decoded) as RFC
// 5256 §2.1 extracts it, and whether the extraction removed a "Re:",
// "Fw:", "Fwd:", a "(fwd)" trailer or a "[fwd: ...]" wrapper: whether the
// message is a reply or forward.
func baseSubject(subj string) (string, bool) {
	// Step 1: whitespace runs become one space.
	s := strings.Join(strings.FieldsFunc(subj, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n'
	}), " ")
	isRe := false
	for {
		// Step 2: trailers.
		for {
			t := strings.TrimRight(s, " ")
			if n := len(t); n >= 5 && strings.EqualFold(t[n-5:], "(fwd)") {
				t = t[:n-5]
				isRe = true
			}
			if t == s {
				break
			}
			s = t
		}
		// Steps 3 to 5: leaders and blobs.
		for {
			t, re := trimLeader(s)
			isRe = isRe || re
			// Without a leader here, there is none after the blobs
			// either (they would have been part of it): remove them
			// all at once, not one per pass.
			for {
				b := trimBlob(t)
				if b == t || b == "" {
					break
				}
				t = b
				if re {
					break
				}
			}
			if t == s {
				break
			}
			s = t
		}
		// Step 6: "[fwd: ...]".
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = s[5 : len(s)-1]
			isRe = true
			continue
		}
		return s, isRe
	}
}

// trimLeader removes one subj-leader (RFC 5256 §5): a space, or blobs
// then "re", "fw" or "fwd", an optional blob and a colon. It reports
// whether it removed a subj-refwd.
func trimLeader(s string) (string, bool) {
	if strings.HasPrefix(s, " ") {
		return s[1:], false
	}
	t := s
	for {
		b := trimBlob(t)
		if b == t {
			break
		}
		t = b
	}
	switch {
	case hasPrefixFold(t, "re"):
		t = t[2:]
	case hasPrefixFold(t, "fwd"):
		t = t[3:]
	case hasPrefixFold(t, "fw"):
		t = t[2:]
	default:
		return s, false
	}
	t = strings.TrimLeft(t, " ")
	t = trimBlob(t)
	if !strings.HasPrefix(t, ":") {
		return s, false
	}
	return t[1:], true
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// trimBlob removes one subj-blob (RFC 5256 §5) from the start of s:
// "[", characters other than brackets, "]" and spaces. It returns s if s
// does not start with one.
func trimBlob(s string) string {
	if !strings.HasPrefix(s, "[") {
		return s
	}
	i := strings.IndexAny(s[1:], "[]")
	if i < 0 || s[1+i] != ']' {
		return s
	}
	return strings.TrimLeft(s[i+2:], " ")
}

// messageIDs returns the message ids of a Message-ID, In-Reply-To or
// References value, without their angle brackets, as RFC 5256 §3 reads
// them: each "<...>" whose content is an addr-spec-like id, with
// comments, whitespace and quoted local parts allowed as RFC 5322 §3.6.4
// and its obsolete forms do; text between ids (a phrase in In-Reply-To) is
// skipped.
func messageIDs(value string) []string {
	var ids []string
	for {
		i := strings.IndexByte(value, '<')
		if i < 0 {
			return ids
		}
		value = value[i+1:]
		j := strings.IndexAny(value, "<>")
		if j < 0 {
			return ids
		}
		if value[j] == '<' {
			value = value[j:]
			continue
		}
		id := cleanMessageID(value[:j])
		value = value[j+1:]
		if id != "" {
			ids = append(ids, id)
		}
	}
}

// cleanMessageID returns the id inside "<" and ">" with whitespace and
// comments removed, or "" if it is not an id: one without "@" is not, as
// Dovecot has it.
func cleanMessageID(s string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '(':
			depth++
		case ch == ')' && depth > 0:
			depth--
		case depth > 0, ch == ' ', ch == '\t', ch == '\r', ch == '\n':
		default:
			b.WriteByte(ch)
		}
	}
	id := b.String()
	if !strings.Contains(id, "@") || !utf8.ValidString(id) {
		return ""
	}
	return id
}

// parseDate parses a Date field value leniently: RFC 5322 §3.3 and its
// obsolete forms (§4.3: two-digit years, zone names, comments), as
// Dovecot reads dates. It reports false if no date can be read.
func parseDate(value string) (time.Time, bool) {
	if t, err := mail.ParseDate(value); err == nil {
		// The time package gives a zone abbreviation it does not know
		// the offset 0: RFC 5322 §4.3 defines those of North America.
		if name, off := t.Zone(); off == 0 && zones[strings.ToLower(name)] != 0 {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0,
				time.FixedZone(name, zones[strings.ToLower(name)]*3600))
		}
		return t, true
	}
	return parseObsDate(stripComments(value))
}

// stripComments removes the comments (RFC 5322 §3.2.2) of s.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '(':
			depth++
		case ch == ')' && depth > 0:
			depth--
			b.WriteByte(' ')
		case depth == 0:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

var months = map[string]time.Month{
	"jan": time.January, "feb": time.February, "mar": time.March, "apr": time.April,
	"may": time.May, "jun": time.June, "jul": time.July, "aug": time.August,
	"sep": time.September, "oct": time.October, "nov": time.November, "dec": time.December,
}

// zones are the zone names of RFC 5322 §4.3, in hours.
var zones = map[string]int{
	"ut": 0, "utc": 0, "gmt": 0, "z": 0,
	"edt": -4, "est": -5, "cdt": -5, "cst": -6, "mdt": -6, "mst": -7, "pdt": -7, "pst": -8,
}

// parseObsDate reads "[day-name,] day month year hh:mm[:ss] [zone]" with
// the obsolete forms of RFC 5322 §4.3; a missing or unknown zone is
// +0000.
func parseObsDate(s string) (time.Time, bool) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\r' || r == '\n' })
	if len(f) > 0 {
		if _, err := strconv.Atoi(f[0]); err != nil {
			f = f[1:] // day name
		}
	}
	if len(f) < 4 {
		return time.Time{}, false
	}
	day, err := strconv.Atoi(f[0])
	if err != nil || day < 1 || day > 31 {
		return time.Time{}, false
	}
	mon := strings.ToLower(f[1])
	if len(mon) > 3 {
		mon = mon[:3]
	}
	month, ok := months[mon]
	if !ok {
		return time.Time{}, false
	}
	year, err := strconv.Atoi(f[2])
	if err != nil || year < 0 {
		return time.Time{}, false
	}
	switch {
	case len(f[2]) <= 2 && year < 50:
		year += 2000
	case len(f[2]) <= 3 && year < 1000:
		year += 1900
	}
	hms := strings.Split(f[3], ":")
	if len(hms) < 2 || len(hms) > 3 {
		return time.Time{}, false
	}
	var clock [3]int
	for i, p := range hms {
		if clock[i], err = strconv.Atoi(p); err != nil || clock[i] < 0 || clock[i] > 60 {
			return time.Time{}, false
		}
	}
	loc := time.UTC
	if len(f) > 4 {
		loc = parseZone(f[4])
	}
	return time.Date(year, month, day, clock[0], clock[1], clock[2], 0, loc), true
}

// parseZone reads "+hhmm", "-hhmm" or a zone name; an unknown one is
// +0000 (RFC 5322 §4.3: military zones "SHOULD all be considered
// equivalent to +0000").
func parseZone(z string) *time.Location {
	if len(z) == 5 && (z[0] == '+' || z[0] == '-') {
		if n, err := strconv.Atoi(z[1:]); err == nil {
			off := (n/100*60 + n%100) * 60
			if z[0] == '-' {
				off = -off
			}
			return time.FixedZone("", off)
		}
	}
	if h, ok := zones[strings.ToLower(z)]; ok {
		return time.FixedZone(strings.ToUpper(z), h*3600)
	}
	return time.UTC
}
