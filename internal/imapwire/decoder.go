package imapwire

import (
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/inetkit/inetkit/lineproto"
)

// A Decoder reads the commands of one IMAP connection, server side, from a
// *lineproto.Reader, whose buffer must hold at least MaxLineBytes.
//
// Each command starts with ReadCommand and ends with End; in between come
// the token methods, each of which reads one token of RFC 9051 §9's syntax
// (the separating SP is read by SP), or a ReadX method that reads the
// arguments of command X. A method that fails returns a *CommandError (or
// an I/O error, after which the connection is unusable); the server then
// answers and calls Discard. Strings returned are copies; nothing returned
// refers to the reader's buffer.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	r    *lineproto.Reader
	opts Options

	line []byte // the current line of the command, without CRLF
	pos  int
	lit  marker // the literal announced at the end of line, if any

	body *LiteralReader // a streamed literal not yet read to its end

	tokens int   // of the command so far
	bytes  int64 // lines and in-memory literals of the command so far
	depth  int
	inCmd  bool // a command has started and not ended

	appendStarted bool // ReadAppendMessage has returned a message
	inCatenate    bool // inside CATENATE's parentheses
	utf8Paren     bool // an APPEND message in UTF8 (...) whose ")" is still to read
	catParts      int  // parts of CATENATE read
	fatal         error
}

// marker is a literal's announcement: "{" number64 ["+"] "}" at the end of
// a line, "~" before it for a literal8 (RFC 3516).
type marker struct {
	ok      bool
	start   int // index of "{" or "~" in the line
	n       int64
	nonSync bool
	binary  bool
}

// parseMarker finds the literal announced at the end of line, if any.
func parseMarker(line []byte) marker {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return marker{}
	}
	j := len(line) - 2
	m := marker{}
	if line[j] == '+' {
		m.nonSync = true
		j--
	}
	end := j + 1
	for j >= 0 && isDigit(line[j]) {
		j--
	}
	if j < 0 || line[j] != '{' || j+1 == end || end-(j+1) > 19 {
		return marker{}
	}
	for _, c := range line[j+1 : end] {
		m.n = m.n*10 + int64(c-'0')
		if m.n < 0 {
			return marker{}
		}
	}
	if m.n < 0 || (end-(j+1) == 19 && m.n > 1<<63-1) {
		return marker{}
	}
	m.start = j
	if j > 0 && line[j-1] == '~' {
		m.binary = true
		m.start = j - 1
	}
	m.ok = true
	return m
}

// NewDecoder returns a Decoder reading from r with opts; nil opts means
// the zero Options.
func NewDecoder(r *lineproto.Reader, opts *Options) *Decoder {
	var o Options
	if opts != nil {
		o = *opts
	}
	return &Decoder{r: r, opts: o.resolve()}
}

// SetUTF8 sets whether mailbox names are UTF-8 (after ENABLE UTF8=ACCEPT or
// IMAP4rev2) rather than modified UTF-7.
func (d *Decoder) SetUTF8(on bool) { d.opts.UTF8 = on }

// SetLiteralMinus sets whether LITERAL- rather than LITERAL+ applies.
func (d *Decoder) SetLiteralMinus(on bool) { d.opts.LiteralMinus = on }

// ReadCommand reads the start of the next command: its tag and its name,
// upper-cased, "UID FETCH" and the like as one name. It returns tag ""
// with an error for a line with no valid tag (answered with an untagged
// BAD). Errors other than *CommandError are I/O errors.
func (d *Decoder) ReadCommand() (tag, name string, err error) {
	if err := d.finishBody(); err != nil {
		return "", "", err
	}
	d.tokens, d.bytes, d.depth = 0, 0, 0
	d.appendStarted, d.inCatenate, d.utf8Paren = false, false, false
	// The last command's line is the reader's buffer: dropped before the
	// wait for the next command, so that the reader can release a buffer
	// grown for a long line.
	d.line, d.pos, d.lit = nil, 0, marker{}
	if err := d.nextLine(false); err != nil {
		return "", "", err
	}
	d.inCmd = true
	i := d.pos
	for i < len(d.line) && isAStringChar(d.line[i]) && d.line[i] != '+' {
		i++
	}
	if i == d.pos || (i < len(d.line) && d.line[i] != ' ') {
		return "", "", syntaxError("Invalid tag")
	}
	tag = string(d.line[d.pos:i])
	d.pos = i
	if err := d.SP(); err != nil {
		return tag, "", syntaxError("Missing command")
	}
	w, err := d.word()
	if err != nil || len(w) == 0 {
		return tag, "", syntaxError("Missing command")
	}
	name = upperString(w)
	if name == "UID" {
		if err := d.SP(); err != nil {
			return tag, name, err
		}
		w, err := d.word()
		if err != nil || len(w) == 0 {
			return tag, name, syntaxError("Missing command after UID")
		}
		name = "UID " + upperString(w)
	}
	return tag, name, nil
}

// upperString returns b upper-cased, sharing the strings of common names.
func upperString(b []byte) string {
	var buf [24]byte
	if len(b) <= len(buf) {
		for i, c := range b {
			buf[i] = upper(c)
		}
		if s, ok := commonWords[string(buf[:len(b)])]; ok {
			return s
		}
		return string(buf[:len(b)])
	}
	return strings.ToUpper(string(b))
}

var commonWords = func() map[string]string {
	m := map[string]string{}
	for _, w := range strings.Fields(`CAPABILITY NOOP LOGOUT STARTTLS AUTHENTICATE LOGIN ENABLE SELECT EXAMINE
		CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB NAMESPACE STATUS APPEND IDLE CHECK CLOSE UNSELECT
		EXPUNGE SEARCH FETCH STORE COPY MOVE UID SORT THREAD ID NOTIFY COMPRESS GETQUOTA GETQUOTAROOT SETQUOTA
		ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.SIZE RFC822.HEADER RFC822.TEXT BODY BODYSTRUCTURE MODSEQ
		ALL FAST FULL BINARY BINARY.SIZE BODY.PEEK BINARY.PEEK MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN
		DELETED SIZE HIGHESTMODSEQ APPENDLIMIT MAILBOXID DONE`) {
		m[w] = w
	}
	return m
}()

// nextLine reads the next line of the command (cont) or a new command.
func (d *Decoder) nextLine(cont bool) error {
	if d.fatal != nil {
		return d.fatal
	}
	line, err := d.r.ReadLine(d.opts.MaxLineBytes)
	if errors.Is(err, lineproto.ErrLineTooLong) {
		d.fatal = &CommandError{Type: "BAD", Code: "TOOBIG", Text: "Line too long", Fatal: true}
		return d.fatal
	}
	if err != nil {
		d.fatal = err
		return err
	}
	d.line, d.pos = line, 0
	d.lit = parseMarker(line)
	d.bytes += int64(len(line)) + 2
	if cont && d.bytes > d.opts.MaxCommandBytes {
		return d.tooMuch()
	}
	return nil
}

func (d *Decoder) tooMuch() error {
	return &CommandError{Type: "BAD", Code: "LIMIT", Text: "Command too long"}
}

// token counts a token; every token method calls it first.
func (d *Decoder) token() error {
	if d.fatal != nil {
		return d.fatal
	}
	if d.body != nil {
		return syntaxError("Literal not read")
	}
	d.tokens++
	if d.tokens > d.opts.MaxTokens {
		return &CommandError{Type: "BAD", Code: "LIMIT", Text: "Too many arguments"}
	}
	return nil
}

// atLiteral reports whether the next token is the line's literal.
func (d *Decoder) atLiteral() bool { return d.lit.ok && d.pos == d.lit.start }

// peek returns the next octet of the line; at a literal, it is "{" or "~".
func (d *Decoder) peek() (byte, bool) {
	if d.pos < len(d.line) {
		return d.line[d.pos], true
	}
	return 0, false
}

// AtEnd reports whether the command's arguments are all read: only CRLF
// is left.
func (d *Decoder) AtEnd() bool { return d.body == nil && d.pos >= len(d.line) }

// Peek reports whether the next octet is c, without reading it.
func (d *Decoder) Peek(c byte) bool {
	b, ok := d.peek()
	return ok && b == c
}

// Accept reads the next octet if it is c, and reports whether it did.
func (d *Decoder) Accept(c byte) bool {
	if d.Peek(c) && !d.atLiteral() {
		d.pos++
		return true
	}
	return false
}

// Expect reads the octet c, or fails.
func (d *Decoder) Expect(c byte) error {
	if !d.Accept(c) {
		return d.expected("'" + string(c) + "'")
	}
	return nil
}

func (d *Decoder) expected(what string) error {
	if d.pos >= len(d.line) {
		return syntaxError("Expected %s, got end of line", what)
	}
	return syntaxError("Expected %s at %q", what, snippet(d.line[d.pos:]))
}

func snippet(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	s := []byte(string(b))
	for i, c := range s {
		if c < 0x20 || c >= 0x7f {
			s[i] = '?'
		}
	}
	return string(s)
}

// SP reads one space.
func (d *Decoder) SP() error {
	if d.fatal != nil {
		return d.fatal
	}
	if !d.Accept(' ') {
		return d.expected("SP")
	}
	return nil
}

// End reads the end of the command, CRLF, and makes the decoder ready for
// the next one.
func (d *Decoder) End() error {
	if d.fatal != nil {
		return d.fatal
	}
	if err := d.finishBody(); err != nil {
		return err
	}
	if d.pos < len(d.line) {
		return syntaxError("Expected end of command at %q", snippet(d.line[d.pos:]))
	}
	d.inCmd = false
	return nil
}

// Discard skips what is left of the command after an error: the rest of
// the line and, when the line announced a non-synchronizing literal, the
// literal and the line after it, and so on. A synchronizing literal is not
// read: the client sends it only after a continuation request, which
// refusing the command tells it not to expect (RFC 9051 §7.5). Discard
// returns a fatal *CommandError when what must be skipped exceeds
// MaxDiscardBytes, and I/O errors; then the connection must close.
func (d *Decoder) Discard() error {
	if d.fatal != nil {
		return d.fatal
	}
	if !d.inCmd {
		return nil
	}
	var skipped int64
	if d.body != nil {
		skipped += d.body.n
		if skipped > d.opts.MaxDiscardBytes {
			return d.setFatal()
		}
		if err := d.finishBody(); err != nil {
			return err
		}
	}
	for d.lit.ok && d.lit.nonSync && d.pos <= d.lit.start {
		skipped += d.lit.n
		if skipped > d.opts.MaxDiscardBytes {
			return d.setFatal()
		}
		d.r.Continue()
		d.r.SetDeadline(d.r.CommandDeadline())
		_, err := io.CopyN(io.Discard, d.r, d.lit.n)
		d.r.SetDeadline(time.Time{})
		if err != nil {
			d.fatal = err
			return err
		}
		if err := d.nextLine(false); err != nil {
			return err
		}
	}
	d.pos = len(d.line)
	d.lit = marker{}
	d.inCmd = false
	return nil
}

func (d *Decoder) setFatal() error {
	d.fatal = &CommandError{Type: "BAD", Code: "TOOBIG", Text: "Literal too large to skip", Fatal: true}
	return d.fatal
}

// word reads a run of atom characters, without copying.
func (d *Decoder) word() ([]byte, error) {
	if err := d.token(); err != nil {
		return nil, err
	}
	i := d.pos
	end := len(d.line)
	if d.lit.ok {
		end = d.lit.start
	}
	for i < end && IsAtomChar(d.line[i]) {
		i++
	}
	w := d.line[d.pos:i]
	d.pos = i
	return w, nil
}

// Atom reads an atom (RFC 9051 §9).
func (d *Decoder) Atom() (string, error) {
	w, err := d.word()
	if err != nil {
		return "", err
	}
	if len(w) == 0 {
		return "", d.expected("atom")
	}
	return string(w), nil
}

// Keyword reads an atom and returns it upper-cased: a command's keyword.
func (d *Decoder) Keyword() (string, error) {
	w, err := d.word()
	if err != nil {
		return "", err
	}
	if len(w) == 0 {
		return "", d.expected("atom")
	}
	return upperString(w), nil
}

// digits reads a run of digits.
func (d *Decoder) digits() []byte {
	i := d.pos
	for i < len(d.line) && isDigit(d.line[i]) && !(d.lit.ok && i >= d.lit.start) {
		i++
	}
	b := d.line[d.pos:i]
	d.pos = i
	return b
}

func (d *Decoder) number(limit uint64, nz bool) (uint64, error) {
	if err := d.token(); err != nil {
		return 0, err
	}
	start := d.pos
	b := d.digits()
	if len(b) == 0 || (nz && b[0] == '0') {
		d.pos = start
		return 0, d.expected("number")
	}
	var n uint64
	for _, c := range b {
		if n > (limit-uint64(c-'0'))/10 {
			d.pos = start
			return 0, syntaxError("Number too large")
		}
		n = n*10 + uint64(c-'0')
	}
	if nz && n == 0 {
		return 0, d.expected("non-zero number")
	}
	return n, nil
}

// Number reads a number (RFC 9051 §9: up to 2^32-1).
func (d *Decoder) Number() (uint32, error) {
	n, err := d.number(1<<32-1, false)
	return uint32(n), err
}

// NzNumber reads an nz-number: a number other than 0.
func (d *Decoder) NzNumber() (uint32, error) {
	n, err := d.number(1<<32-1, true)
	return uint32(n), err
}

// Number64 reads a number64 (RFC 9051 §9: up to 2^63-1).
func (d *Decoder) Number64() (int64, error) {
	n, err := d.number(1<<63-1, false)
	return int64(n), err
}

// ModSeq reads a mod-sequence-value (RFC 7162 §7: up to 2^63-1); a
// mod-sequence-valzer if zero is true, else not 0.
func (d *Decoder) ModSeq(zero bool) (uint64, error) {
	return d.number(1<<63-1, !zero)
}

// Quoted reads a quoted string. RFC 9051 allows UTF-8 in it; other 8-bit
// octets are accepted too (as Dovecot does), NUL is not.
func (d *Decoder) quoted() (string, error) {
	d.pos++ // the opening quote
	start := d.pos
	var b []byte
	for i := d.pos; i < len(d.line); i++ {
		switch c := d.line[i]; c {
		case '"':
			var s string
			if b == nil {
				s = string(d.line[start:i])
			} else {
				s = string(append(b, d.line[start:i]...))
			}
			d.pos = i + 1
			return s, nil
		case '\\':
			if i+1 == len(d.line) || (d.line[i+1] != '"' && d.line[i+1] != '\\') {
				return "", syntaxError("Invalid escape in quoted string")
			}
			b = append(b, d.line[start:i]...)
			i++
			start = i
		case 0:
			return "", syntaxError("NUL in quoted string")
		case '\r', '\n':
			// QUOTED-CHAR is a TEXT-CHAR, which excludes CR and LF
			// (RFC 9051 §9).
			return "", syntaxError("CR or LF in quoted string")
		}
	}
	return "", syntaxError("Unterminated quoted string")
}

// literal reads the line's literal into memory.
func (d *Decoder) literal(binaryOK bool) (string, error) {
	m := d.lit
	if m.binary && !binaryOK {
		return "", syntaxError("literal8 not allowed here")
	}
	if err := d.checkLiteral(m, d.opts.MaxLiteralBytes, "BAD"); err != nil {
		return "", err
	}
	if d.bytes+m.n > d.opts.MaxCommandBytes {
		return "", d.tooMuch()
	}
	if err := d.startLiteral(m); err != nil {
		return "", err
	}
	buf := make([]byte, m.n)
	d.r.SetDeadline(d.r.CommandDeadline())
	_, err := io.ReadFull(d.r, buf)
	d.r.SetDeadline(time.Time{})
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.fatal = err
		return "", err
	}
	d.bytes += m.n
	if err := d.nextLine(true); err != nil {
		return "", err
	}
	if !m.binary {
		for _, c := range buf {
			if c == 0 {
				return "", syntaxError("NUL in literal")
			}
		}
	}
	return string(buf), nil
}

// checkLiteral refuses a literal larger than limit, or than LITERAL-
// allows.
func (d *Decoder) checkLiteral(m marker, limit int64, typ string) error {
	if m.nonSync && d.opts.LiteralMinus && m.n > LiteralMinusBytes {
		return &CommandError{Type: "BAD", Code: "TOOBIG", Text: "Non-synchronizing literal too large (LITERAL-)"}
	}
	if m.n > limit {
		return &CommandError{Type: typ, Code: "TOOBIG", Text: "Literal too large"}
	}
	if !m.nonSync && d.opts.ContinuationRequest == nil {
		return syntaxError("Synchronizing literal not allowed")
	}
	return nil
}

// startLiteral sends the continuation request the literal needs and
// readies the reader for its octets.
func (d *Decoder) startLiteral(m marker) error {
	d.pos = len(d.line)
	d.lit = marker{}
	d.r.Continue()
	if d.r.CommandDeadline().IsZero() {
		// The command's line came whole in one read, so its clock has
		// not started: it starts now, so that a literal that never comes
		// is bounded by the command timeout, not the idle timeout.
		d.r.ContinueAnew()
	}
	if !m.nonSync {
		if err := d.opts.ContinuationRequest(); err != nil {
			d.fatal = err
			return err
		}
	}
	return nil
}

func (d *Decoder) isLiteralStart() bool {
	return d.atLiteral()
}

// String reads a string: quoted or literal.
func (d *Decoder) String() (string, error) {
	if err := d.token(); err != nil {
		return "", err
	}
	switch {
	case d.isLiteralStart():
		return d.literal(false)
	case d.Peek('"'):
		return d.quoted()
	}
	return "", d.expected("string")
}

// AString reads an astring: atom (with "]"), quoted or literal.
func (d *Decoder) AString() (string, error) {
	if err := d.token(); err != nil {
		return "", err
	}
	switch {
	case d.isLiteralStart():
		return d.literal(false)
	case d.Peek('"'):
		return d.quoted()
	}
	i := d.pos
	for i < len(d.line) && isAStringChar(d.line[i]) && !(d.lit.ok && i >= d.lit.start) {
		i++
	}
	if i == d.pos {
		return "", d.expected("string")
	}
	s := string(d.line[d.pos:i])
	d.pos = i
	return s, nil
}

// NString reads an nstring: NIL (ok false) or a string.
func (d *Decoder) NString() (s string, ok bool, err error) {
	if d.acceptNIL() {
		return "", false, d.token()
	}
	s, err = d.String()
	return s, err == nil, err
}

// acceptNIL reads NIL if it comes next, as a whole atom.
func (d *Decoder) acceptNIL() bool {
	if d.pos+3 <= len(d.line) && upper(d.line[d.pos]) == 'N' && upper(d.line[d.pos+1]) == 'I' && upper(d.line[d.pos+2]) == 'L' &&
		(d.pos+3 == len(d.line) || !IsAtomChar(d.line[d.pos+3])) && !d.atLiteral() {
		d.pos += 3
		return true
	}
	return false
}

// Mailbox reads a mailbox name (an astring) and decodes it: "INBOX" in any
// case is INBOX (RFC 9051 §5.1); otherwise the name is modified UTF-7,
// decoded to UTF-8, or, when UTF-8 is enabled, UTF-8. An invalid name is
// a *CommandError of type NO, after the whole name has been read.
func (d *Decoder) Mailbox() (string, error) {
	s, err := d.AString()
	if err != nil {
		return "", err
	}
	return d.mailboxName(s)
}

func (d *Decoder) mailboxName(s string) (string, error) {
	if strings.EqualFold(s, "INBOX") {
		return "INBOX", nil
	}
	if d.opts.UTF8 {
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", &CommandError{Type: "NO", Code: "CANNOT", Text: "Mailbox name is not valid UTF-8"}
		}
		return s, nil
	}
	name, err := DecodeUTF7(s)
	if err != nil {
		return "", &CommandError{Type: "NO", Code: "CANNOT", Text: "Mailbox name is not valid mUTF-7"}
	}
	return name, nil
}

// ListMailbox reads a list-mailbox, the pattern of LIST (RFC 9051 §9): an
// astring whose atom form may hold "%" and "*". The pattern is decoded as
// Mailbox decodes names, except that a pattern that is not valid modified
// UTF-7 is returned as it is (it then matches no name).
func (d *Decoder) ListMailbox() (string, error) {
	if err := d.token(); err != nil {
		return "", err
	}
	var s string
	switch {
	case d.isLiteralStart():
		v, err := d.literal(false)
		if err != nil {
			return "", err
		}
		s = v
	case d.Peek('"'):
		v, err := d.quoted()
		if err != nil {
			return "", err
		}
		s = v
	default:
		i := d.pos
		for i < len(d.line) && isListChar(d.line[i]) && !(d.lit.ok && i >= d.lit.start) {
			i++
		}
		if i == d.pos {
			return "", d.expected("mailbox pattern")
		}
		s = string(d.line[d.pos:i])
		d.pos = i
	}
	if name, err := d.mailboxName(s); err == nil {
		return name, nil
	}
	return s, nil
}

// List reads a parenthesized list, calling item for each element; the SP
// between elements is read by List.
func (d *Decoder) List(item func() error) error {
	if err := d.Expect('('); err != nil {
		return err
	}
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > d.opts.MaxDepth {
		return syntaxError("Lists nested too deep")
	}
	if d.Accept(')') {
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if d.Accept(')') {
			return nil
		}
		if err := d.SP(); err != nil {
			return d.expected("SP or ')'")
		}
	}
}

// Flag reads a flag: "\" atom (a system flag, returned with the first
// letter upper-cased and the rest lower-cased if it is one of RFC 9051's)
// or a keyword atom; with star, also "\*" (flag-perm).
func (d *Decoder) Flag(star bool) (string, error) {
	if err := d.token(); err != nil {
		return "", err
	}
	if d.Accept('\\') {
		if star && d.Accept('*') {
			return `\*`, nil
		}
		w, err := d.word()
		if err != nil {
			return "", err
		}
		if len(w) == 0 {
			return "", d.expected("flag")
		}
		return canonicalFlag(w), nil
	}
	w, err := d.word()
	if err != nil {
		return "", err
	}
	if len(w) == 0 {
		return "", d.expected("flag")
	}
	return string(w), nil
}

var systemFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`, `\Recent`}

// canonicalFlag returns "\"+w in its RFC spelling if it is a system flag.
func canonicalFlag(w []byte) string {
	for _, f := range systemFlags {
		if len(f) == len(w)+1 && strings.EqualFold(f[1:], string(w)) {
			return f
		}
	}
	return `\` + string(w)
}

// Flags reads a parenthesized list of flags (flag-list); with star, "\*"
// is allowed.
func (d *Decoder) Flags(star bool) ([]string, error) {
	flags := []string{}
	err := d.List(func() error {
		f, err := d.Flag(star)
		flags = append(flags, f)
		return err
	})
	return flags, err
}

// SeqSet reads a sequence-set, "$" (RFC 5182) included.
func (d *Decoder) SeqSet() (SeqSet, error) {
	if err := d.token(); err != nil {
		return SeqSet{}, err
	}
	i := d.pos
	for i < len(d.line) && isSeqSetChar(d.line[i]) {
		i++
	}
	s, ok := parseSeqSet(d.line[d.pos:i])
	if !ok {
		return SeqSet{}, d.expected("sequence set")
	}
	d.pos = i
	return s, nil
}

// Date reads a date: date-text, quoted or not (RFC 9051 §9).
func (d *Decoder) Date() (time.Time, error) {
	if err := d.token(); err != nil {
		return time.Time{}, err
	}
	q := d.Accept('"')
	i := d.pos
	for i < len(d.line) && (isDigit(d.line[i]) || d.line[i] == '-' || (d.line[i]|0x20 >= 'a' && d.line[i]|0x20 <= 'z')) {
		i++
	}
	t, ok := parseDate(string(d.line[d.pos:i]))
	if !ok {
		return time.Time{}, d.expected("date")
	}
	d.pos = i
	if q && !d.Accept('"') {
		return time.Time{}, d.expected("'\"'")
	}
	return t, nil
}

// DateTime reads a date-time: a quoted "dd-Mon-yyyy hh:mm:ss +zzzz".
func (d *Decoder) DateTime() (time.Time, error) {
	if err := d.token(); err != nil {
		return time.Time{}, err
	}
	if !d.Peek('"') {
		return time.Time{}, d.expected("date-time")
	}
	end := -1
	for i := d.pos + 1; i < len(d.line); i++ {
		if d.line[i] == '"' {
			end = i
			break
		}
	}
	if end < 0 {
		return time.Time{}, d.expected("date-time")
	}
	t, ok := parseDateTime(string(d.line[d.pos+1 : end]))
	if !ok {
		return time.Time{}, syntaxError("Invalid date-time")
	}
	d.pos = end + 1
	return t, nil
}

// Text reads the rest of the line as text (RFC 9051 §9), as after
// AUTHENTICATE's continuation, without checking it.
func (d *Decoder) Text() string {
	s := string(d.line[d.pos:])
	d.pos = len(d.line)
	d.lit = marker{}
	return s
}

// ReadLine reads a line that is not a command: an AUTHENTICATE response
// or IDLE's DONE (RFC 9051 §6.2.2, §6.3.13). The line is returned as a
// copy; it is bounded by MaxLineBytes.
func (d *Decoder) ReadLine() (string, error) {
	if err := d.finishBody(); err != nil {
		return "", err
	}
	d.bytes = 0
	if err := d.nextLine(false); err != nil {
		return "", err
	}
	d.lit = marker{}
	s := string(d.line)
	d.pos = len(d.line)
	return s, nil
}
