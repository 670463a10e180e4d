package imapwire

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// An Encoder writes IMAP responses (RFC 9051 §7, §9) to a bufio.Writer.
// Its methods chain, and the first write error sticks: it is returned by
// CRLF, Flush and Err, and later writes do nothing. Only Literal flushes on
// its own (when it hands a large literal to the connection). Writing a
// token does not allocate.
//
// An Encoder is not safe for concurrent use.
type Encoder struct {
	w    *bufio.Writer
	utf8 bool
	err  error
	lr   io.LimitedReader
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w *bufio.Writer) *Encoder { return &Encoder{w: w} }

// SetUTF8 sets whether the client has enabled UTF-8 (UTF8=ACCEPT, RFC 6855,
// or IMAP4rev2): strings may then be quoted with UTF-8 in them, and mailbox
// names are written in UTF-8 rather than modified UTF-7.
func (e *Encoder) SetUTF8(on bool) { e.utf8 = on }

// Err returns the first write error.
func (e *Encoder) Err() error { return e.err }

func (e *Encoder) str(s string) *Encoder {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
	return e
}

func (e *Encoder) byte(c byte) *Encoder {
	if e.err == nil {
		e.err = e.w.WriteByte(c)
	}
	return e
}

func (e *Encoder) bytes(b []byte) *Encoder {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
	return e
}

// Star writes "* ", the start of an untagged response.
func (e *Encoder) Star() *Encoder { return e.str("* ") }

// Tag writes tag and SP, the start of a tagged response; tag "" writes
// "* ".
func (e *Encoder) Tag(tag string) *Encoder {
	if tag == "" {
		return e.Star()
	}
	return e.str(tag).byte(' ')
}

// SP writes a space.
func (e *Encoder) SP() *Encoder { return e.byte(' ') }

// Special writes one of the octets of the syntax: "(", ")", "[", "]", "<",
// ">", ".".
func (e *Encoder) Special(c byte) *Encoder { return e.byte(c) }

// Atom writes s, which must be an atom (or a name built of atom-like
// parts, such as BODY[HEADER.FIELDS] written in pieces), as it is.
func (e *Encoder) Atom(s string) *Encoder { return e.str(s) }

// Number writes n.
func (e *Encoder) Number(n uint32) *Encoder { return e.Uint(uint64(n)) }

// Uint writes n: a number64, a mod-sequence.
func (e *Encoder) Uint(n uint64) *Encoder {
	if e.err == nil {
		e.bytes(strconv.AppendUint(e.w.AvailableBuffer(), n, 10))
	}
	return e
}

// NIL writes NIL.
func (e *Encoder) NIL() *Encoder { return e.str("NIL") }

type form int

const (
	formAtom form = iota
	formQuoted
	formLiteral
)

// maxQuotedBytes is the longest string written quoted; a longer one is a
// literal.
const maxQuotedBytes = 1024

// stringForm returns the simplest form that holds s: an atom (ASTRING-CHAR
// only, not "NIL"), a quoted string (TEXT-CHAR, or UTF-8 if utf8), else a
// literal.
func stringForm(s string, utf8ok bool) form {
	f := formAtom
	if s == "" || len(s) == 3 && strings.EqualFold(s, "NIL") {
		f = formQuoted
	}
	if len(s) > maxQuotedBytes {
		return formLiteral
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0 || c == '\r' || c == '\n':
			return formLiteral
		case c >= 0x80:
			if !utf8ok {
				return formLiteral
			}
			ascii = false
			f = formQuoted
		case !isAStringChar(c):
			f = formQuoted
		}
	}
	if !ascii && !utf8.ValidString(s) {
		return formLiteral
	}
	return f
}

// String writes s as a string: quoted if it can be, else as a literal.
func (e *Encoder) String(s string) *Encoder {
	if stringForm(s, e.utf8) == formLiteral {
		return e.literalString(s)
	}
	return e.quoted(s)
}

// AString writes s as an astring: an atom if it can be, else as String.
func (e *Encoder) AString(s string) *Encoder {
	switch stringForm(s, e.utf8) {
	case formAtom:
		return e.str(s)
	case formQuoted:
		return e.quoted(s)
	}
	return e.literalString(s)
}

// NString writes s as a string, or NIL if ok is false.
func (e *Encoder) NString(s string, ok bool) *Encoder {
	if !ok {
		return e.NIL()
	}
	return e.String(s)
}

func (e *Encoder) quoted(s string) *Encoder {
	e.byte('"')
	for len(s) > 0 && e.err == nil {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			e.str(s)
			break
		}
		e.str(s[:i]).byte('\\').byte(s[i])
		s = s[i+1:]
	}
	return e.byte('"')
}

func (e *Encoder) literalString(s string) *Encoder {
	return e.literalHeader(int64(len(s)), false).str(s)
}

func (e *Encoder) literalHeader(n int64, binary bool) *Encoder {
	if binary {
		e.byte('~')
	}
	e.byte('{')
	if e.err == nil {
		e.bytes(strconv.AppendInt(e.w.AvailableBuffer(), n, 10))
	}
	return e.str("}\r\n")
}

// Literal writes a literal of size octets read from r (RFC 9051 §4.3); if
// r ends early, the error is io.ErrUnexpectedEOF and the connection must
// close, its framing lost. Large literals go from r to the connection
// without a copy where the connection allows (bufio.Writer.ReadFrom).
func (e *Encoder) Literal(r io.Reader, size int64) *Encoder {
	return e.literal(r, size, false)
}

// Literal8 writes a literal8 (RFC 3516, "~{n}"), which may hold NUL: the
// BINARY[] of a part that has one.
func (e *Encoder) Literal8(r io.Reader, size int64) *Encoder {
	return e.literal(r, size, true)
}

func (e *Encoder) literal(r io.Reader, size int64, binary bool) *Encoder {
	e.literalHeader(size, binary)
	if e.err != nil {
		return e
	}
	e.lr = io.LimitedReader{R: r, N: size}
	n, err := e.w.ReadFrom(&e.lr)
	e.lr.R = nil
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	e.err = err
	return e
}

// Mailbox writes a mailbox name: in modified UTF-7 (RFC 3501 §5.1.3)
// unless UTF-8 is enabled, as an astring.
func (e *Encoder) Mailbox(name string) *Encoder {
	if !e.utf8 {
		name = EncodeUTF7(name)
	}
	return e.AString(name)
}

// Flag writes a flag, system flag or keyword, as it is.
func (e *Encoder) Flag(f string) *Encoder { return e.str(f) }

// Flags writes a parenthesized list of flags.
func (e *Encoder) Flags(flags []string) *Encoder {
	e.byte('(')
	for i, f := range flags {
		if i > 0 {
			e.byte(' ')
		}
		e.str(f)
	}
	return e.byte(')')
}

// SeqSet writes s in sequence-set syntax; write SeqSetOf(nums...) for the
// compact form of a list of numbers.
func (e *Encoder) SeqSet(s SeqSet) *Encoder {
	if e.err == nil {
		e.bytes(s.AppendTo(e.w.AvailableBuffer()))
	}
	return e
}

// Date writes t's date as date-text (SEARCH, not responses, use it; it is
// here for clients of tests).
func (e *Encoder) Date(t time.Time) *Encoder {
	if e.err == nil {
		e.bytes(AppendDate(e.w.AvailableBuffer(), t))
	}
	return e
}

// DateTime writes t as a quoted date-time: INTERNALDATE.
func (e *Encoder) DateTime(t time.Time) *Encoder {
	if e.err == nil {
		b := append(e.w.AvailableBuffer(), '"')
		b = AppendDateTime(b, t)
		e.bytes(append(b, '"'))
	}
	return e
}

// FetchItemName writes the name of a FETCH response item for it, such as
// BODY[HEADER.FIELDS (From)]<0>.
func (e *Encoder) FetchItemName(it FetchItem) *Encoder {
	if e.err == nil {
		e.bytes(it.AppendName(e.w.AvailableBuffer()))
	}
	return e
}

// Text writes s as resp text: CR, LF and NUL, which it must not hold, are
// written as spaces.
func (e *Encoder) Text(s string) *Encoder {
	for len(s) > 0 && e.err == nil {
		i := strings.IndexAny(s, "\r\n\x00")
		if i < 0 {
			return e.str(s)
		}
		e.str(s[:i]).byte(' ')
		s = s[i+1:]
	}
	return e
}

// StatusResponse writes a whole status response: tag ("" for untagged),
// typ (OK, NO, BAD, PREAUTH, BYE), the response code in brackets if code
// is not empty (written as it is: "UIDNEXT 4392", "APPENDUID 38505 3955"),
// and text; then CRLF. It returns the first write error.
func (e *Encoder) StatusResponse(tag, typ, code, text string) error {
	e.Tag(tag).str(typ)
	if code != "" {
		e.str(" [").Text(code).byte(']')
	}
	if text == "" {
		text = typ // resp-text needs text (RFC 9051 §9)
	}
	return e.SP().Text(text).CRLF()
}

// Continuation writes a continuation request, "+ " text CRLF, and flushes.
func (e *Encoder) Continuation(text string) error {
	e.str("+ ").Text(text)
	if err := e.CRLF(); err != nil {
		return err
	}
	return e.Flush()
}

// CRLF ends the response and returns the first write error.
func (e *Encoder) CRLF() error {
	e.str("\r\n")
	return e.err
}

// Flush flushes the writer.
func (e *Encoder) Flush() error {
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}
