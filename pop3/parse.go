package pop3

import (
	"net/textproto"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/inetkit/inetkit/lineproto"
)

// command is a parsed command line: the keyword, upper-cased, and the text
// after the first space.
type command struct {
	name string
	arg  string
}

// errSyntax is the reply to a line that is not a POP3 command.
var errSyntax = &Error{Message: "invalid command line"}

// parseCommand splits a command line (without its line ending) into keyword
// and argument. A line holding NUL, a control character other than TAB or
// invalid UTF-8 is refused, as is one whose keyword is not 3 or 4 letters
// (RFC 2449 §4 allows keywords of 3 or 4 characters).
func parseCommand(line []byte) (command, error) {
	if !utf8.Valid(line) {
		return command{}, errSyntax
	}
	for _, b := range line {
		if b < 0x20 && b != '\t' || b == 0x7f {
			return command{}, errSyntax
		}
	}
	name, arg, _ := strings.Cut(string(line), " ")
	if len(name) < 3 || len(name) > 4 {
		return command{}, errSyntax
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return command{}, errSyntax
		}
	}
	return command{name: lineproto.UpperASCII(name), arg: arg}, nil
}

// parseNumber parses a message number or a line count: decimal digits only,
// at most 9 of them.
func parseNumber(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// validUID reports whether s is a valid unique-id: 1 to 70 characters in
// 0x21..0x7E (RFC 1939 §7).
func validUID(s string) bool {
	if len(s) == 0 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseStatus parses the first line of a reply, without its line ending:
// "+OK text" returns the text, "-ERR text" a *Error, anything else a
// textproto.ProtocolError.
func parseStatus(line string) (string, error) {
	switch {
	case line == "+OK":
		return "", nil
	case strings.HasPrefix(line, "+OK "):
		return line[4:], nil
	case line == "-ERR":
		return "", &Error{}
	case strings.HasPrefix(line, "-ERR "):
		return "", parseError(line[5:])
	}
	return "", textproto.ProtocolError("pop3: invalid reply " + strconv.Quote(truncate(line, 64)))
}

// parseError parses the text of a -ERR reply, with its response code in
// brackets if it has one (RFC 2449 §8).
func parseError(text string) *Error {
	if strings.HasPrefix(text, "[") {
		if i := strings.IndexByte(text, ']'); i > 1 && i <= 64 && !strings.ContainsAny(text[1:i], " [") {
			return &Error{Code: text[1:i], Message: strings.TrimLeft(text[i+1:], " ")}
		}
	}
	return &Error{Message: text}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
