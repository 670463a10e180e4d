package lineproto_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/lineproto"
)

func dotWrite(t testing.TB, msg string, bodyLines int) string {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	d := lineproto.NewDotWriter(bw)
	d.LimitBody(bodyLines)
	if _, err := io.WriteString(d, msg); err != nil && !errors.Is(err, lineproto.ErrBodyLinesDone) {
		t.Fatal(err)
	}
	d.Close()
	bw.Flush()
	return b.String()
}

func TestDotWriter(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		lines    int
		want     string
	}{
		{"plain", "a\r\nb\r\n", -1, "a\r\nb\r\n.\r\n"},
		{"stuffed", ".a\r\n..\r\n.\r\n", -1, "..a\r\n...\r\n..\r\n.\r\n"},
		{"bare LF", "a\nb\n", -1, "a\r\nb\r\n.\r\n"},
		{"no final line end", "a\r\nb", -1, "a\r\nb\r\n.\r\n"},
		{"empty", "", -1, ".\r\n"},
		{"bare CR kept", "a\rb\r\n", -1, "a\rb\r\n.\r\n"},
		{"top 0", "H: 1\r\n\r\nb1\r\nb2\r\n", 0, "H: 1\r\n\r\n.\r\n"},
		{"top 1", "H: 1\r\n\r\nb1\r\nb2\r\n", 1, "H: 1\r\n\r\nb1\r\n.\r\n"},
		{"top more than the body", "H: 1\r\n\r\nb1\r\n", 5, "H: 1\r\n\r\nb1\r\n.\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dotWrite(t, tc.in, tc.lines); got != tc.want {
				t.Errorf("DotWriter(%q, %d) = %q; want %q", tc.in, tc.lines, got, tc.want)
			}
		})
	}
}

func TestDotReader(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("..a\r\nb\r\n.\r\n+OK next\r\n"))
	got, err := io.ReadAll(lineproto.NewDotReader(br))
	if err != nil || string(got) != ".a\r\nb\r\n" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "+OK next\r\n" {
		t.Errorf("after the block: %q; the reader read past it", rest)
	}
	_, err = io.ReadAll(lineproto.NewDotReader(bufio.NewReader(strings.NewReader("a\r\nb"))))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("block cut short: err = %v; want io.ErrUnexpectedEOF", err)
	}
}

// FuzzDotRoundTrip checks that what DotWriter writes, DotReader reads back as
// the message with its line endings made CRLF, and that nothing after the
// block is consumed.
func FuzzDotRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a", ".\r\n", "..\n.", "a\r\n.\r\nb", "\r\r\n\n.", "x\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		wire := dotWrite(t, msg, -1)
		br := bufio.NewReader(strings.NewReader(wire + "TAIL"))
		got, err := io.ReadAll(lineproto.NewDotReader(br))
		if err != nil {
			t.Fatalf("reading back %q: %v", wire, err)
		}
		want := normalize(msg)
		if string(got) != want {
			t.Fatalf("round trip of %q: got %q; want %q", msg, got, want)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "TAIL" {
			t.Fatalf("after the block: %q", rest)
		}
	})
}

// normalize makes every line ending CRLF and ends the message with one, as
// DotWriter does: a bare LF becomes CRLF, a bare CR stays, a CR at the very
// end gets its LF.
func normalize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && (i == 0 || s[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(s[i])
	}
	out := b.String()
	switch {
	case out == "" || strings.HasSuffix(out, "\r\n"):
	case strings.HasSuffix(out, "\r"):
		out += "\n"
	default:
		out += "\r\n"
	}
	return out
}
