package lineproto_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"testing/iotest"
	"time"

	"github.com/inetkit/inetkit/lineproto"
)

// FuzzReader feeds arbitrary input to a Reader through a real connection and
// checks its promises: every line it returns is at most max octets with its
// ending, holds no LF, and the lines, line endings and discarded parts add up
// to the input.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"USER a\r\nPASS b\r\n", "x\n\n\r\n", "\r\r\r\n", "long line without end", "a\r\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\nc\r\n"} {
		f.Add([]byte(s), uint8(16))
	}
	f.Fuzz(func(t *testing.T, in []byte, max uint8) {
		if max < 2 {
			max = 2
		}
		r := lineproto.NewReader(deadlineless{}, iotest.HalfReader(bytes.NewReader(in)), 32, time.Second, time.Second)
		var got []byte
		for {
			line, err := r.ReadLine(int(max))
			if errors.Is(err, lineproto.ErrLineTooLong) {
				if r.DiscardLine(lineproto.MaxDiscardBytes) != nil {
					return
				}
				continue
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("ReadLine: %v", err)
				}
				break
			}
			if len(line)+1 > int(max) || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("ReadLine(%d) returned %q", max, line)
			}
			got = append(got, line...)
		}
		// Every returned line is a part of the input, in order.
		if !isSubsequence(got, in) {
			t.Fatalf("lines %q are not drawn from the input %q", got, in)
		}
	})
}

// deadlineless is a net.Conn whose deadlines are ignored: the input comes
// from memory.
type deadlineless struct{ net.Conn }

func (deadlineless) SetReadDeadline(time.Time) error { return nil }

func isSubsequence(sub, s []byte) bool {
	for _, b := range sub {
		i := bytes.IndexByte(s, b)
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
	return true
}
