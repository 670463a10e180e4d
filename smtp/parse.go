package smtp

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/inetkit/inetkit/lineproto"
)

// Problems parseCommand finds in a command line.
const (
	problemNone    = iota
	problemEmpty   // an empty line
	problemBadChar // a control character or invalid UTF-8
	problemHTTP    // an HTTP request line: a browser or a cross-protocol attack
)

// A command is a parsed command line: the verb in upper case and the
// argument without surrounding spaces.
type command struct {
	verb    string
	arg     string
	problem int
}

// parseCommand splits a command line (without its line ending) into verb
// and argument and reports what is wrong with it. The verb is reported
// even when the line is refused.
func parseCommand(line string) command {
	verb, arg, _ := strings.Cut(line, " ")
	cmd := command{verb: lineproto.UpperASCII(verb), arg: strings.Trim(arg, " \t")}
	switch {
	case strings.TrimSpace(line) == "":
		cmd.problem = problemEmpty
	case hasBadChar(line):
		cmd.problem = problemBadChar
	case lineproto.IsHTTPRequest([]byte(line)):
		cmd.problem = problemHTTP
	}
	return cmd
}

// hasBadChar reports whether s holds invalid UTF-8 or a control character
// other than TAB: a bare CR, an LF or a NUL in a command could forge
// header fields from the envelope.
func hasBadChar(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// parseBDAT parses the argument of BDAT (RFC 3030 §2): "size" or
// "size LAST", with go-smtp's limits, so that the guard and go-smtp agree
// on how many octets follow.
func parseBDAT(arg string) (size int64, ok bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		return 0, false
	}
	if len(f) == 2 && !strings.EqualFold(f[1], "LAST") {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return 0, false
	}
	return int64(n), true
}
