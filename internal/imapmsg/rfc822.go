package imapmsg

import (
	"sort"
	"strconv"
	"strings"
)

// A lexer reads the structured header values of RFC 5322 §3.2 (atoms,
// quoted strings, comments, folding whitespace) and the MIME tokens of
// RFC 2045 §5.1.
type lexer struct {
	b       string
	i       int
	comment []byte // text of the last comment skipped
	broken  bool   // a comment ran to the end of the input
}

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// isToken reports whether c is a MIME token character (RFC 2045 §5.1);
// 8-bit octets are accepted.
func isToken(c byte) bool {
	if c <= ' ' || c == 0x7f {
		return false
	}
	return strings.IndexByte(`()<>@,;:\"/[]?=`, c) < 0
}

func (l *lexer) more() bool { return l.i < len(l.b) }

func (l *lexer) peek() byte {
	if l.i < len(l.b) {
		return l.b[l.i]
	}
	return 0
}

// skip skips whitespace, line breaks and comments, and reports whether
// anything follows.
func (l *lexer) skip() bool {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\r', '\n':
			l.i++
		case '(':
			l.skipComment()
		default:
			return true
		}
	}
	return false
}

func (l *lexer) skipComment() {
	l.comment = l.comment[:0]
	depth := 0
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		switch c {
		case '(':
			if depth > 0 {
				l.comment = append(l.comment, c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				return
			}
			l.comment = append(l.comment, c)
		case '\\':
			if l.i < len(l.b) {
				l.comment = append(l.comment, l.b[l.i])
				l.i++
			}
		case '\r', '\n':
		default:
			l.comment = append(l.comment, c)
		}
	}
	l.comment, l.broken = l.comment[:0], true
}

// atom reads an atom, with dots too if dots is set.
func (l *lexer) atom(dots bool) string {
	start := l.i
	for l.i < len(l.b) && (isAtext(l.b[l.i]) || dots && l.b[l.i] == '.') {
		l.i++
	}
	return l.b[start:l.i]
}

// quoted reads a quoted string at '"' and returns its content, with the
// quoting and line breaks removed.
func (l *lexer) quoted() string {
	l.i++
	var sb strings.Builder
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		switch c {
		case '"':
			return sb.String()
		case '\\':
			if l.i < len(l.b) {
				sb.WriteByte(l.b[l.i])
				l.i++
			}
		case '\r', '\n':
		case 0:
			sb.WriteByte(0x80)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// phrase reads words (atoms with dots, as obs-phrase allows, and quoted
// strings) joined by single spaces.
func (l *lexer) phrase() string {
	var sb strings.Builder
	for l.i < len(l.b) {
		var w string
		switch c := l.b[l.i]; {
		case c == '"':
			w = l.quoted()
		case isAtext(c) || c == '.':
			w = l.atom(true)
		default:
			return sb.String()
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(w)
		l.skip()
	}
	return sb.String()
}

// localPart reads a local part: a quoted string or a dot-atom with
// obsolete dots and whitespace tolerated.
func (l *lexer) localPart() (string, bool) {
	if l.peek() == '"' {
		s := l.quoted()
		l.skip()
		return s, true
	}
	var sb strings.Builder
	for l.i < len(l.b) {
		for l.peek() == '.' {
			sb.WriteByte('.')
			l.i++
			l.skip()
		}
		a := l.atom(false)
		sb.WriteString(a)
		l.skip()
		if l.broken {
			return "", false
		}
		if a == "" || l.peek() != '.' {
			break
		}
	}
	return sb.String(), sb.Len() > 0
}

// domain reads "@" domain: a dot-atom or a domain literal.
func (l *lexer) domain() (string, bool) {
	l.i++ // '@'
	if !l.skip() {
		return "", true // "user@" at the end: an empty domain
	}
	if l.peek() == '[' {
		var sb strings.Builder
		for l.i < len(l.b) {
			c := l.b[l.i]
			l.i++
			switch c {
			case '\r', '\n':
			case 0:
				sb.WriteByte(0x80)
			default:
				sb.WriteByte(c)
			}
			if c == ']' {
				break
			}
		}
		l.skip()
		return sb.String(), true
	}
	var sb strings.Builder
	for {
		a := l.atom(false)
		if a == "" {
			break
		}
		sb.WriteString(a)
		l.skip()
		if l.peek() != '.' {
			break
		}
		sb.WriteByte('.')
		l.i++
		l.skip()
	}
	return sb.String(), sb.Len() > 0
}

// token reads a MIME token.
func (l *lexer) token() string {
	start := l.i
	for l.i < len(l.b) && isToken(l.b[l.i]) {
		l.i++
	}
	return l.b[start:l.i]
}

// params reads MIME parameters (RFC 2045 §5.1) and joins RFC 2231
// continuations.
func (l *lexer) params() []Param {
	var ps []Param
	for l.skip() && l.peek() == ';' {
		l.i++
		if !l.skip() {
			break
		}
		name := l.token()
		l.skip()
		if name == "" || l.peek() != '=' {
			// Broken: skip to the next parameter.
			for l.i < len(l.b) && l.b[l.i] != ';' {
				l.i++
			}
			continue
		}
		l.i++
		l.skip()
		var value string
		if l.peek() == '"' {
			value = l.quoted()
		} else {
			value = l.token()
			if value == "" {
				start := l.i
				for l.i < len(l.b) && l.b[l.i] != ';' {
					l.i++
				}
				value = unfold(strings.TrimRight(l.b[start:l.i], " \t\r\n"))
			}
		}
		if len(ps) == maxParams {
			break
		}
		ps = append(ps, Param{name, value})
	}
	return joinRFC2231(ps)
}

// maxParams bounds the parameters read from one header field, as
// Dovecot does, against the CPU cost of joining continuations.
const maxParams = 128

// joinRFC2231 joins the continuations of RFC 2231 §3 (name*0, name*1*,
// …, and name*, which is section 0) into one parameter, as Dovecot 2.3
// does: named name* if a section is extended, its value the sections in
// order (the plain ones with "%" escaped, and an empty charset and
// language in front if the first is plain), after the other parameters. Sections with a number missing
// are left as they are.
func joinRFC2231(ps []Param) []Param {
	type section struct {
		key      string
		n        int
		extended bool
		value    string
	}
	var secs []section
	out := ps[:0:0]
	for _, p := range ps {
		key, rest, ok := strings.Cut(p.Name, "*")
		if ok && key != "" {
			ext := rest == "" || strings.HasSuffix(rest, "*")
			rest = strings.TrimSuffix(rest, "*")
			n, err := strconv.Atoi(rest)
			if rest == "" || err == nil && n >= 0 && rest[0] >= '0' && rest[0] <= '9' {
				secs = append(secs, section{key, n, ext, p.Value})
				continue
			}
		}
		out = append(out, p)
	}
	if len(secs) == 0 {
		return out
	}
	sort.SliceStable(secs, func(i, j int) bool {
		if secs[i].key != secs[j].key {
			return secs[i].key < secs[j].key
		}
		return secs[i].n < secs[j].n
	})
	for i := 0; i < len(secs); {
		j := i
		contiguous, ext := true, false
		for ; j < len(secs) && strings.EqualFold(secs[j].key, secs[i].key); j++ {
			contiguous = contiguous && secs[j].n == j-i
			ext = ext || secs[j].extended
		}
		if !contiguous {
			for _, sec := range secs[i:j] {
				name := sec.key + "*" + strconv.Itoa(sec.n)
				if sec.extended {
					name += "*"
				}
				out = append(out, Param{name, sec.value})
			}
			i = j
			continue
		}
		var sb strings.Builder
		if ext && !secs[i].extended {
			sb.WriteString("''")
		}
		for _, sec := range secs[i:j] {
			if ext && !sec.extended {
				sb.WriteString(strings.ReplaceAll(sec.value, "%", "%25"))
			} else {
				sb.WriteString(sec.value)
			}
		}
		name := secs[i].key
		if ext {
			name += "*"
		}
		out = append(out, Param{name, sb.String()})
		i = j
	}
	return out
}

// unfold returns a header value without its line breaks: a CR or LF
// before whitespace or at the end goes, one before anything else becomes
// a space. A NUL, which no IMAP string may hold, becomes 0x80, as in
// Dovecot.
func unfold(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			c = 0x80
		}
		if c != '\r' && c != '\n' {
			b = append(b, c)
			continue
		}
		if i+1 < len(s) && !strings.ContainsRune(" \t\r\n", rune(s[i+1])) {
			b = append(b, ' ')
		}
	}
	return string(b)
}

// humanize returns s with each run of whitespace and line breaks made
// one space, trimmed, and NUL made 0x80: the form of the subject and the
// display names in an ENVELOPE, as Dovecot writes them.
func humanize(s string) string {
	clean := true
	last := true // last octet was whitespace (or at start)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0, '\r', '\n', '\t':
			clean = false
		case ' ':
			if last {
				clean = false
			}
			last = true
			continue
		}
		last = false
	}
	if clean && !last {
		return s
	}
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n':
			space = true
		default:
			if space && len(b) > 0 {
				b = append(b, ' ')
			}
			space = false
			if c == 0 {
				c = 0x80
			}
			b = append(b, c)
		}
	}
	return string(b)
}
