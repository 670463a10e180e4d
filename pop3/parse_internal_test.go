package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
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

func TestIsHTTPRequest(t *testing.T) {
	for line, want := range map[string]bool{
		"GET / HTTP/1.1":            true,
		"CONNECT x:110 HTTP/1.0":    true,
		"post /x HTTP/2":            true,
		"GET /":                     false,
		"USER alice":                false,
		"PASS my HTTP/1.1 password": false, // four fields
		"TOP 1 HTTP/1":              true,
	} {
		if got := isHTTPRequest([]byte(line)); got != want {
			t.Errorf("isHTTPRequest(%q) = %v; want %v", line, got, want)
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

func dotWrite(msg string, limit int) string {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	dw := newDotWriter(bw, limit)
	// One octet at a time, to cover state kept across writes.
	for i := 0; i < len(msg); i++ {
		if _, err := dw.Write([]byte{msg[i]}); err != nil {
			break
		}
	}
	dw.Close()
	bw.Flush()
	return buf.String()
}

func TestDotWriter(t *testing.T) {
	tests := []struct {
		name  string
		msg   string
		limit int
		want  string
	}{
		{"empty", "", -1, ".\r\n"},
		{"crlf", "a\r\nb\r\n", -1, "a\r\nb\r\n.\r\n"},
		{"bare lf", "a\nb\n", -1, "a\r\nb\r\n.\r\n"},
		{"no final newline", "a\r\nb", -1, "a\r\nb\r\n.\r\n"},
		{"final cr", "a\r", -1, "a\r\n.\r\n"},
		{"dots", ".\r\n.a\r\n..\r\na.\r\n", -1, "..\r\n..a\r\n...\r\na.\r\n.\r\n"},
		{"dot first line no newline", ".", -1, "..\r\n.\r\n"},
		{"smuggling", "x\n.\nDELE 1\n", -1, "x\r\n..\r\nDELE 1\r\n.\r\n"},
		{"inner cr", "a\rb\r\n", -1, "a\rb\r\n.\r\n"},
		{"nul and 8 bit, verbatim (P9)", "a\x00b\xff\r\n", -1, "a\x00b\xff\r\n.\r\n"},
		{"top 0", "H: 1\r\n\r\nb1\r\nb2\r\n", 0, "H: 1\r\n\r\n.\r\n"},
		{"top 1", "H: 1\r\n\r\nb1\r\nb2\r\n", 1, "H: 1\r\n\r\nb1\r\n.\r\n"},
		{"top more than all", "H: 1\r\n\r\nb1\r\nb2", 5, "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n"},
		{"top stuffed", "H: 1\n\n.b1\n.\n", 2, "H: 1\r\n\r\n..b1\r\n..\r\n.\r\n"},
		{"top no body", "H: 1\r\nH: 2\r\n", 0, "H: 1\r\nH: 2\r\n.\r\n"},
		{"top empty header", "\r\nbody\r\n", 0, "\r\n.\r\n"},
		{"top header line with cr inside", "H: a\rb\r\n\r\nx\r\n", 0, "H: a\rb\r\n\r\n.\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dotWrite(tc.msg, tc.limit); got != tc.want {
				t.Errorf("dot-writing %q (limit %d) = %q; want %q", tc.msg, tc.limit, got, tc.want)
			}
		})
	}
}

func TestDotReader(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
		rest     string
	}{
		{".\r\n", "", nil, ""},
		{"a\r\n.\r\nNEXT", "a\r\n", nil, "NEXT"},
		{"..\r\n...\r\n..a\r\n.\r\n", ".\r\n..\r\n.a\r\n", nil, ""},
		{"a\n.\n", "a\n", nil, ""},
		{".a\r\n.\r\n", "a\r\n", nil, ""},
		{"a\r\n", "a\r\n", io.ErrUnexpectedEOF, ""},
		{"a\r\n.", "a\r\n", io.ErrUnexpectedEOF, "."},
		{"a\r\n.\r", "a\r\n", io.ErrUnexpectedEOF, ".\r"},
		{"x.\r\n.\r\n", "x.\r\n", nil, ""},
		{".\rx\r\n.\r\n", "\rx\r\n", nil, ""},
	}
	for _, tc := range tests {
		br := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
		got, err := io.ReadAll(newDotReader(br, nil))
		rest, _ := io.ReadAll(br)
		if string(got) != tc.want || !errors.Is(err, tc.err) && err != tc.err || string(rest) != tc.rest {
			t.Errorf("dotReader(%q) = %q, %v, rest %q; want %q, %v, rest %q", tc.in, got, err, rest, tc.want, tc.err, tc.rest)
		}
	}
}

// TestDotReader_smallReads reads with a 1-octet buffer.
func TestDotReader_smallReads(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("..a\r\nb\r\n.\r\n"))
	dr := newDotReader(br, nil)
	var got []byte
	p := make([]byte, 1)
	for {
		n, err := dr.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != ".a\r\nb\r\n" {
		t.Errorf("got %q", got)
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

func newTestLineReader(c net.Conn) *lineReader {
	return &lineReader{conn: c, src: c, buf: make([]byte, readBufferBytes), idle: time.Minute, cmd: time.Minute}
}

func TestLineReader(t *testing.T) {
	cc, sc := net.Pipe()
	defer cc.Close()
	go func() {
		cc.Write([]byte("a\r\nb\nc"))
		cc.Write([]byte("d\r\n" + strings.Repeat("x", 300) + "\r\nok\r\n"))
		cc.Write([]byte(strings.Repeat("y", 2000)))
		cc.Close()
	}()
	lr := newTestLineReader(sc)
	for _, want := range []string{"a", "b", "cd"} {
		line, err := lr.readLine(MaxLineBytes)
		if string(line) != want || err != nil {
			t.Fatalf("readLine() = %q, %v; want %q", line, err, want)
		}
	}
	if _, err := lr.readLine(MaxLineBytes); !errors.Is(err, errLineTooLong) {
		t.Fatalf("readLine of 302 octets = %v; want errLineTooLong", err)
	}
	if err := lr.discardLine(1000); err != nil {
		t.Fatalf("discardLine = %v", err)
	}
	if line, err := lr.readLine(MaxLineBytes); string(line) != "ok" || err != nil {
		t.Fatalf("readLine() = %q, %v; want ok", line, err)
	}
	if _, err := lr.readLine(MaxLineBytes); !errors.Is(err, errLineTooLong) {
		t.Fatalf("readLine of 2000 octets = %v; want errLineTooLong", err)
	}
	if err := lr.discardLine(1000); !errors.Is(err, errLineTooLong) {
		t.Fatalf("discardLine past its limit = %v; want errLineTooLong", err)
	}
}

// TestLineReader_hugeLine is HARDENING G1 exactly: of a 16 MiB line, the
// reader consumes no more than the cap, the discard limit and a buffer.
func TestLineReader_hugeLine(t *testing.T) {
	cc, sc := net.Pipe()
	written := make(chan int)
	go func() {
		n, _ := cc.Write(make([]byte, 16<<20))
		written <- n
	}()
	lr := newTestLineReader(sc)
	if _, err := lr.readLine(MaxLineBytes); !errors.Is(err, errLineTooLong) {
		t.Fatalf("readLine = %v; want errLineTooLong", err)
	}
	if err := lr.discardLine(maxDiscardBytes); !errors.Is(err, errLineTooLong) {
		t.Fatalf("discardLine = %v; want errLineTooLong", err)
	}
	sc.Close()
	if n := <-written; n > maxDiscardBytes+2*readBufferBytes {
		t.Errorf("the reader consumed %d octets; want at most %d", n, maxDiscardBytes+2*readBufferBytes)
	}
}
