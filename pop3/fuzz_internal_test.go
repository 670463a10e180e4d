package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseCommand checks that the command parser never panics and that
// what it accepts is a 3- or 4-letter upper-case keyword with an argument
// free of control characters other than TAB.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"USER mrose", "PASS secret", "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
		"STAT", "LIST", "LIST 2", "RETR 1", "DELE 1", "NOOP", "RSET", "QUIT", "TOP 1 10",
		"UIDL", "UIDL 2", "CAPA", "STLS", "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "AUTH",
		"NOOP\x00", "EHLO \xff\xfe", "XYZZY", "GET / HTTP/1.1", "USER " + strings.Repeat("a", 300),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		isHTTPRequest(line)
		cmd, err := parseCommand(line)
		if err != nil {
			return
		}
		if len(cmd.name) < 3 || len(cmd.name) > 4 || cmd.name != strings.ToUpper(cmd.name) {
			t.Errorf("parseCommand(%q) keyword %q", line, cmd.name)
		}
		if !utf8.ValidString(cmd.arg) || strings.ContainsAny(cmd.arg, "\x00\r\n\x7f") {
			t.Errorf("parseCommand(%q) argument %q", line, cmd.arg)
		}
		parseNumber(cmd.arg)
	})
}

// FuzzDotRoundTrip checks the server's dot-stuffing against the client's
// un-stuffing: any message comes back with its line endings made CRLF and
// a final CRLF added, and the stuffed form holds no early terminator.
func FuzzDotRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", "a", ".", "..", ".\r\n", "\n.\n", "x\n.\nDELE 1\n", "a\r\nb", "a\r", "\r\n.\r\n",
		"Subject: x\r\n\r\n.body\r\n", "\r.\r", "\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var stuffed bytes.Buffer
		bw := bufio.NewWriter(&stuffed)
		dw := newDotWriter(bw, -1)
		if _, err := dw.Write(msg); err != nil {
			t.Fatal(err)
		}
		dw.Close()
		bw.Flush()
		wire := stuffed.String()
		if i := strings.Index(wire, "\r\n.\r\n"); i >= 0 && i != len(wire)-5 {
			t.Fatalf("stuffed %q has an early terminator at %d: %q", msg, i, wire)
		}
		if strings.HasPrefix(wire, ".\r\n") && wire != ".\r\n" {
			t.Fatalf("stuffed %q starts with a terminator: %q", msg, wire)
		}
		got, err := io.ReadAll(newDotReader(bufio.NewReader(strings.NewReader(wire)), nil))
		if err != nil {
			t.Fatalf("reading back %q: %v", wire, err)
		}
		if want := normalize(msg); string(got) != want {
			t.Fatalf("round trip of %q = %q; want %q", msg, got, want)
		}
	})
}

// normalize is what the server sends of msg: bare LFs made CRLF, and a
// final line ending added.
func normalize(msg []byte) string {
	var b strings.Builder
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(c)
	}
	s := b.String()
	switch {
	case s == "" || strings.HasSuffix(s, "\r\n"):
	case strings.HasSuffix(s, "\r"):
		s += "\n"
	default:
		s += "\r\n"
	}
	return s
}

// FuzzReadReply feeds arbitrary server output to the client's status line
// parser and multi-line reader: no panic, never more octets out than in.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"+OK 2 320\r\n", "-ERR [IN-USE] locked\r\n", "+OK\r\n1 120\r\n2 200\r\n.\r\n",
		"+OK\r\n..a\r\n.\r\n", "-ERR [\r\n", "+OK\r\n.", "garbage\r\n", "+OK\n.\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 64)
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		_, err = parseStatus(strings.TrimRight(line, "\r\n"))
		var e *Error
		if err != nil && !errors.As(err, &e) {
			return
		}
		body, _ := io.ReadAll(newDotReader(br, nil))
		if len(body) > len(data)-len(line) {
			t.Fatalf("read %d octets of a %d-octet body", len(body), len(data)-len(line))
		}
	})
}
