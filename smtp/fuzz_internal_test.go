package smtp

import (
	"github.com/inetkit/inetkit/lineproto"

	"strings"
	"testing"
)

// forwarded are the verbs the guard passes to go-smtp.
var forwarded = map[string]bool{
	"HELO": true, "EHLO": true, "MAIL": true, "RCPT": true, "DATA": true, "AUTH": true, "BDAT": true,
	"RSET": true, "NOOP": true, "QUIT": true, "VRFY": true, "HELP": true, "EXPN": true, "TURN": true,
	"SEND": true, "SOML": true, "SAML": true,
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"EHLO client.example", "MAIL FROM:<a@x> SIZE=10 BODY=8BITMIME", "RCPT TO:<b@x>", "DATA", "BDAT 10 LAST",
		"STARTTLS", "AUTH PLAIN AGFAYg==", "NOOP\x00", "EHLO \xff\xfe", "MAIL FROM:<a\rb@x>", "RCPT TO:<b@x>\x00",
		"GET / HTTP/1.1", "CONNECT x:25 HTTP/1.1", "get /index.html", "mail /x HTTP/1.0", "", "   ", "XYZZY", "noop  \t", "\tNOOP",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd := parseCommand(line)
		if cmd.problem != problemNone {
			return
		}
		if hasBadChar(cmd.verb + cmd.arg) {
			t.Fatalf("accepted control characters: %q", line)
		}
		if cmd.verb != lineproto.UpperASCII(cmd.verb) || strings.Contains(cmd.verb, " ") {
			t.Fatalf("verb %q from %q", cmd.verb, line)
		}
		if cmd.arg != strings.Trim(cmd.arg, " \t") {
			t.Fatalf("arg %q not trimmed", cmd.arg)
		}
		if size, ok := parseBDAT(cmd.arg); ok && (size < 0 || size > 1<<32-1) {
			t.Fatalf("BDAT size %d", size)
		}
		// What the guard forwards parses back to the same command. (It
		// answers other verbs itself: "get /" is an unknown command, though
		// "GET /" is an HTTP request.)
		if !forwarded[cmd.verb] {
			return
		}
		fwd := cmd.verb
		if cmd.arg != "" {
			fwd += " " + cmd.arg
		}
		if again := parseCommand(fwd); again != cmd {
			t.Fatalf("forwarded %q parses as %+v, want %+v", fwd, again, cmd)
		}
	})
}

// FuzzDataEnd checks that DATA never ends before a CRLF.CRLF (HARDENING
// S1): whatever the bytes, the guard's end is right after "\r\n.\r\n",
// counting the CRLF that ended the DATA command.
func FuzzDataEnd(f *testing.F) {
	for _, v := range []string{"\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\r\n\x00.\r\n", "\r\n.\r\n", ".\r\n", "..\r\n.\r\n", "\r\r\n.\r\n"} {
		f.Add("body" + v + "MAIL FROM:<evil@x>\r\n.\r\n")
	}
	f.Fuzz(func(t *testing.T, data string) {
		st := dataBeginLine
		for i := 0; i < len(data); i++ {
			st = nextDataState(st, data[i])
			if st == dataEOF {
				if seen := "\r\n" + data[:i+1]; !strings.HasSuffix(seen, "\r\n.\r\n") {
					t.Fatalf("DATA ended at %d of %q", i, data)
				}
				return
			}
		}
	})
}
