// Package imapwire reads IMAP commands and writes IMAP responses: the wire
// layer of inetkit's IMAP server, not public API.
//
// It follows the formal syntax of IMAP4rev1 (RFC 3501 §9) and IMAP4rev2
// (RFC 9051 §9), with the extensions whose syntax a server must read:
// LITERAL+ and LITERAL- (RFC 7888), BINARY's literal8 (RFC 3516), SORT and
// THREAD (RFC 5256), the extended syntax of RFC 4466, ESEARCH and
// CONTEXT=SEARCH return options (RFC 4731, RFC 5267), SEARCHRES (RFC 5182),
// CONDSTORE and QRESYNC modifiers (RFC 7162), MULTIAPPEND (RFC 3502),
// CATENATE (RFC 4469), LIST-EXTENDED and LIST-STATUS (RFC 5258, RFC 5819),
// STATUS=SIZE and APPENDLIMIT (RFC 8438, RFC 7889), UTF8=ACCEPT (RFC 6855)
// and, as generic arguments ([Decoder.Args]), anything else such as NOTIFY
// (RFC 5465) and ID (RFC 2971). Mailbox names are modified UTF-7
// (RFC 3501 §5.1.3) unless UTF-8 is enabled.
//
// A [Decoder] reads one command at a time from a *lineproto.Reader: the tag
// and command name ([Decoder.ReadCommand]), then the arguments, either one
// token at a time (Atom, Number, AString, Mailbox, SeqSet, List, …) or a
// whole command's arguments at once (ReadFetch, ReadSearch, ReadStore,
// ReadAppend, ReadList, ReadStatus, …), then End. Every read is bounded
// ([Options]). A refused command is a [*CommandError], which says how to
// answer it; after one, [Decoder.Discard] skips what is left of the command,
// non-synchronizing literals included, so that the server can go on.
//
// An [Encoder] writes responses to a bufio.Writer, choosing for each string
// the form it needs (atom, quoted, literal) and encoding mailbox names.
package imapwire

import (
	"errors"
	"fmt"
)

// Defaults for the zero values of [Options] fields.
const (
	// DefaultMaxLineBytes is Dovecot's imap_max_line_length.
	DefaultMaxLineBytes = 64 << 10
	// DefaultMaxLiteralBytes bounds a literal that is read into memory (a
	// string argument, not a message).
	DefaultMaxLiteralBytes = 64 << 10
	// DefaultMaxMessageBytes bounds an APPEND message or CATENATE part.
	DefaultMaxMessageBytes = 64 << 20
	// DefaultMaxCommandBytes bounds a command's lines and the literals read
	// into memory, together.
	DefaultMaxCommandBytes = 1 << 20
	// DefaultMaxDepth bounds the nesting of lists and search keys.
	DefaultMaxDepth = 100
	// DefaultMaxTokens bounds the tokens of one command.
	DefaultMaxTokens = 10000
	// LiteralMinusBytes is the largest non-synchronizing literal a client may
	// send when the server offers LITERAL- rather than LITERAL+ (RFC 7888 §5).
	LiteralMinusBytes = 4096
)

// Options configures a Decoder. For every size field, zero means the
// default named after it.
type Options struct {
	// MaxLineBytes bounds each line of a command (the text between two
	// literals), CRLF included. A longer line ends the connection
	// ([CommandError.Fatal]), as in Dovecot: what follows it cannot be told
	// apart from commands.
	MaxLineBytes int
	// MaxLiteralBytes bounds a literal that the decoder reads into memory.
	MaxLiteralBytes int64
	// MaxMessageBytes bounds a literal that is streamed: an APPEND message
	// or a CATENATE TEXT part (APPENDLIMIT, RFC 7889).
	MaxMessageBytes int64
	// MaxCommandBytes bounds the lines and in-memory literals of one command.
	MaxCommandBytes int64
	// MaxDiscardBytes bounds what Discard reads to skip the rest of a refused
	// command; past it, the connection must close. Zero means the larger of
	// MaxMessageBytes and MaxCommandBytes.
	MaxDiscardBytes int64
	// MaxDepth bounds the nesting of lists and search keys.
	MaxDepth int
	// MaxTokens bounds the tokens of one command.
	MaxTokens int
	// LiteralMinus makes the decoder enforce LITERAL- (RFC 7888 §5) instead
	// of LITERAL+: a non-synchronizing literal over 4096 octets is refused.
	LiteralMinus bool
	// UTF8 is whether UTF8=ACCEPT (RFC 6855) or IMAP4rev2 is enabled:
	// mailbox names are then UTF-8, not modified UTF-7.
	UTF8 bool
	// ContinuationRequest is called before the decoder reads a synchronizing
	// literal; it must send a continuation request ("+ Ready") and flush.
	// Nil means the decoder refuses synchronizing literals.
	ContinuationRequest func() error
}

func (o Options) resolve() Options {
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.MaxLiteralBytes <= 0 {
		o.MaxLiteralBytes = DefaultMaxLiteralBytes
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxCommandBytes <= 0 {
		o.MaxCommandBytes = DefaultMaxCommandBytes
	}
	if o.MaxDiscardBytes <= 0 {
		o.MaxDiscardBytes = max(o.MaxMessageBytes, o.MaxCommandBytes)
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	return o
}

// A CommandError is a command the decoder refused. The server answers it
// with a tagged status response of Type, with Code if it is not empty, and
// Text; then, unless Fatal, it calls [Decoder.Discard] and reads the next
// command. A Fatal error is answered with an untagged BYE, and the
// connection closed.
type CommandError struct {
	Type  string // "BAD" (syntax) or "NO" (a valid command that cannot be run)
	Code  string // a response code such as "TOOBIG", "LIMIT", "CANNOT"; may be ""
	Text  string // human-readable
	Fatal bool   // the connection cannot be resynchronized
}

func (e *CommandError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("imapwire: %s [%s] %s", e.Type, e.Code, e.Text)
	}
	return "imapwire: " + e.Type + " " + e.Text
}

func syntaxError(format string, args ...any) *CommandError {
	return &CommandError{Type: "BAD", Text: fmt.Sprintf(format, args...)}
}

// ErrMailboxName is returned by [DecodeUTF7] for a name that is not valid
// modified UTF-7.
var ErrMailboxName = errors.New("imapwire: invalid mailbox name")

// IsAtomChar reports whether c is an ATOM-CHAR (RFC 9051 §9).
func IsAtomChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return c > 0x1f && c < 0x7f
}

func isAStringChar(c byte) bool { return IsAtomChar(c) || c == ']' }

func isListChar(c byte) bool { return IsAtomChar(c) || c == '%' || c == '*' || c == ']' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
