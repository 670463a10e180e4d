package nntp

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/inetkit/inetkit/lineproto"
)

// A command is a parsed command line: the keyword in upper case and its
// arguments.
type command struct {
	name string
	args []string
}

// parseCommand splits a command line into its keyword and arguments,
// separated by spaces or tabs (RFC 3977 §3.1). It reports false for an empty
// line, or one with a control character or invalid UTF-8.
func parseCommand(line []byte) (command, bool) {
	if !utf8.Valid(line) {
		return command{}, false
	}
	for _, b := range line {
		if b < 0x20 && b != '\t' || b == 0x7f {
			return command{}, false
		}
	}
	f := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
	if len(f) == 0 {
		return command{}, false
	}
	return command{name: lineproto.UpperASCII(f[0]), args: f[1:]}, true
}

// maxArticleNumber is the largest article number (RFC 3977 §6: numbers are
// 1 to 2,147,483,647 at least; we accept up to 2^63-1).
const maxArticleNumber = 1<<63 - 1

// parseNumber parses an article number: 1 to 16 decimal digits.
func parseNumber(s string) (int64, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// parseRange parses a range (RFC 3977 §6.1.2.2): "n", "n-" or "n-m". An
// open end is maxArticleNumber. A range whose end is below its start is
// valid and empty.
func parseRange(s string) (low, high int64, ok bool) {
	a, b, dash := strings.Cut(s, "-")
	if low, ok = parseNumber(a); !ok {
		return 0, 0, false
	}
	switch {
	case !dash:
		return low, low, true
	case b == "":
		return low, maxArticleNumber, true
	}
	if high, ok = parseNumber(b); !ok {
		return 0, 0, false
	}
	return low, high, true
}

// validMessageID reports whether s is a message-id as RFC 3977 §3.6 defines
// it: "<", one or more printable US-ASCII characters other than ">", ">",
// at most 250 octets in all.
func validMessageID(s string) bool {
	if len(s) < 3 || len(s) > 250 || s[0] != '<' || s[len(s)-1] != '>' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '>' || c == '<' {
			return false
		}
	}
	return true
}

// validGroupName reports whether s can be a newsgroup name (RFC 3977
// §4.1, RFC 5536 §3.1.4): printable US-ASCII or UTF-8, no spaces, commas
// or wildmat specials, at most 497 octets.
func validGroupName(s string) bool {
	if s == "" || len(s) > 497 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(",*?!\\[]:", r) {
			return false
		}
	}
	return true
}

// parseDateTime parses the date and time arguments of NEWNEWS and
// NEWGROUPS (RFC 3977 §7.3.2): "yyyymmdd" or "yymmdd", "hhmmss", and "GMT"
// or nothing, in which case the time is the server's local time. A
// two-digit year is in the current century if it is not after the current
// year, else in the previous one.
func parseDateTime(args []string, now time.Time) (time.Time, bool) {
	if len(args) < 2 || len(args) > 3 {
		return time.Time{}, false
	}
	loc := time.Local
	if len(args) == 3 {
		if !strings.EqualFold(args[2], "GMT") {
			return time.Time{}, false
		}
		loc = time.UTC
	}
	d, t := args[0], args[1]
	if len(t) != 6 || !digits(t) || !digits(d) {
		return time.Time{}, false
	}
	var year int
	switch len(d) {
	case 8:
		year, _ = strconv.Atoi(d[:4])
		d = d[4:]
	case 6:
		yy, _ := strconv.Atoi(d[:2])
		cur := now.In(loc).Year()
		year = cur/100*100 + yy
		if year > cur {
			year -= 100
		}
		d = d[2:]
	default:
		return time.Time{}, false
	}
	mon, _ := strconv.Atoi(d[:2])
	day, _ := strconv.Atoi(d[2:])
	hh, _ := strconv.Atoi(t[:2])
	mm, _ := strconv.Atoi(t[2:4])
	ss, _ := strconv.Atoi(t[4:])
	if mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	tm := time.Date(year, time.Month(mon), day, hh, mm, ss, 0, loc)
	if tm.Day() != day {
		return time.Time{}, false // 31 February
	}
	return tm, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
