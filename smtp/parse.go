package smtp

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problems parseCommand finds in a command line.
const (
	problemNone    = iota
	problemEmpty   // an empty line
	problemBadChar // a control character or invalid UTF-8 (HARDENING G7, S7)
	problemHTTP    // an HTTP request line (HARDENING G6)
)

// A command is a parsed command line: the verb in upper case and the
// argument without surrounding spaces.
type command struct {
	verb    string
	arg     string
	problem int
}

// httpMethods are the request methods that mark a line as HTTP: Postfix's
// smtpd_forbidden_commands, extended to every method of RFC 9110.
var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true,
}

// parseCommand splits a command line (without its line ending) into verb
// and argument and reports what is wrong with it. The verb is reported
// even when the line is refused.
func parseCommand(line string) command {
	verb, arg, _ := strings.Cut(line, " ")
	cmd := command{verb: strings.ToUpper(verb), arg: strings.Trim(arg, " \t")}
	switch {
	case strings.TrimSpace(line) == "":
		cmd.problem = problemEmpty
	case hasBadChar(line):
		cmd.problem = problemBadChar
	case isHTTP(line):
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

// isHTTP reports whether line looks like an HTTP request line: it starts
// with a method name in upper case, or ends in an HTTP version.
func isHTTP(line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return false
	}
	if httpMethods[f[0]] {
		return true
	}
	return len(f) == 3 && strings.HasPrefix(strings.ToUpper(f[2]), "HTTP/")
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
