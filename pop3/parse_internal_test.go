package pop3

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want command
		err  bool
	}{
		{"STAT", command{name: "STAT"}, false},
		{"stat", command{name: "STAT"}, false},
		{"Top 1 10", command{name: "TOP", arg: "1 10"}, false},
		{"PASS pass with spaces", command{name: "PASS", arg: "pass with spaces"}, false},
		{"PASS \ttab", command{name: "PASS", arg: "\ttab"}, false},
		{"USER ümlaut", command{name: "USER", arg: "ümlaut"}, false},
		{"", command{}, true},
		{"NO", command{}, true},
		{"XYZZY", command{}, true},
		{"NOOP\x00", command{}, true},
		{"EHLO \xff\xfe", command{}, true},
		{"US1R a", command{}, true},
		{" STAT", command{}, true},
		{"USER a\rb", command{}, true},
		{"USER a\x7f", command{}, true},
	}
	for _, tc := range tests {
		got, err := parseCommand([]byte(tc.line))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseCommand(%q) = %+v, %v; want %+v, error %v", tc.line, got, err, tc.want, tc.err)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "0": 0, "007": 7, "999999999": 999999999} {
		if n, ok := parseNumber(s); !ok || n != want {
			t.Errorf("parseNumber(%q) = %d, %v; want %d, true", s, n, ok, want)
		}
	}
	for _, s := range []string{"", "-1", "+1", "1e3", "1 ", "1000000000", "x"} {
		if n, ok := parseNumber(s); ok {
			t.Errorf("parseNumber(%q) = %d, true; want false", s, n)
		}
	}
}

func TestValidUID(t *testing.T) {
	if !validUID("!") || !validUID(strings.Repeat("~", 70)) {
		t.Error("validUID refuses a valid UID")
	}
	for _, s := range []string{"", " ", "a b", strings.Repeat("a", 71), "é", "a\x00"} {
		if validUID(s) {
			t.Errorf("validUID(%q) = true", s)
		}
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		line string
		text string
		err  *Error
		bad  bool
	}{
		{"+OK", "", nil, false},
		{"+OK 2 320", "2 320", nil, false},
		{"-ERR", "", &Error{}, false},
		{"-ERR no such message", "", &Error{Message: "no such message"}, false},
		{"-ERR [IN-USE] locked", "", &Error{Code: "IN-USE", Message: "locked"}, false},
		{"-ERR [SYS/TEMP]", "", &Error{Code: "SYS/TEMP"}, false},
		{"-ERR [] x", "", &Error{Message: "[] x"}, false},
		{"-ERR [a b] x", "", &Error{Message: "[a b] x"}, false},
		{"+OKAY", "", nil, true},
		{"", "", nil, true},
		{"+ ", "", nil, true},
		{"* OK", "", nil, true},
	}
	for _, tc := range tests {
		text, err := parseStatus(tc.line)
		var e *Error
		switch {
		case tc.bad:
			if err == nil || errors.As(err, &e) {
				t.Errorf("parseStatus(%q) = %q, %v; want a protocol error", tc.line, text, err)
			}
		case tc.err != nil:
			if !errors.As(err, &e) || *e != *tc.err {
				t.Errorf("parseStatus(%q) = %q, %#v; want %#v", tc.line, text, err, tc.err)
			}
		default:
			if err != nil || text != tc.text {
				t.Errorf("parseStatus(%q) = %q, %v; want %q, nil", tc.line, text, err, tc.text)
			}
		}
	}
}

func TestError(t *testing.T) {
	if got := ErrInUse.Error(); got != "pop3: -ERR [IN-USE] maildrop already locked" {
		t.Errorf("ErrInUse.Error() = %q", got)
	}
	if got := (&Error{Message: "x"}).Error(); got != "pop3: -ERR x" {
		t.Errorf("Error() = %q", got)
	}
	if ErrAuthFailed.Temporary() || !ErrInUse.Temporary() {
		t.Error("Temporary() is wrong")
	}
}

func TestConnState_String(t *testing.T) {
	for s, want := range map[ConnState]string{
		ConnStateAuthorization: "AUTHORIZATION",
		ConnStateTransaction:   "TRANSACTION",
		ConnStateUpdate:        "UPDATE",
		ConnState(9):           "ConnState(9)",
	} {
		if got := s.String(); got != want {
			t.Errorf("ConnState(%d).String() = %q; want %q", int(s), got, want)
		}
	}
}
