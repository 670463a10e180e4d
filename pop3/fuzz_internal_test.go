package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/inetkit/inetkit/lineproto"
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
		cmd, err := parseCommand(line)
		if err != nil {
			return
		}
		if len(cmd.name) < 3 || len(cmd.name) > 4 || cmd.name != lineproto.UpperASCII(cmd.name) {
			t.Errorf("parseCommand(%q) keyword %q", line, cmd.name)
		}
		if !utf8.ValidString(cmd.arg) || strings.ContainsAny(cmd.arg, "\x00\r\n\x7f") {
			t.Errorf("parseCommand(%q) argument %q", line, cmd.arg)
		}
		parseNumber(cmd.arg)
	})
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
		body, _ := io.ReadAll(lineproto.NewDotReader(br))
		if len(body) > len(data)-len(line) {
			t.Fatalf("read %d octets of a %d-octet body", len(body), len(data)-len(line))
		}
	})
}
