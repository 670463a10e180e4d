package lineproto_test

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/lineproto"
)

// pipe returns a Reader of the server end of a loopback TCP connection and
// the client end.
func pipe(t *testing.T, idle, command time.Duration) (*lineproto.Reader, net.Conn) {
	t.Helper()
	return pipeSized(t, 64, idle, command)
}

// pipeSized is pipe with a Reader of size octets.
func pipeSized(t *testing.T, size int, idle, command time.Duration) (*lineproto.Reader, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	return lineproto.NewReader(sc, sc, size, idle, command), cc
}

func TestReader_ReadLine(t *testing.T) {
	r, cc := pipe(t, time.Minute, time.Minute)
	io.WriteString(cc, "USER alice\r\nPASS x\nNOOP\r\n")
	for _, want := range []string{"USER alice", "PASS x", "NOOP"} {
		line, err := r.ReadLine(64)
		if err != nil || string(line) != want {
			t.Fatalf("ReadLine() = %q, %v; want %q, nil", line, err, want)
		}
	}
	if r.InCommand() {
		t.Error("InCommand() after the last whole line = true")
	}
}

func TestReader_lineTooLong(t *testing.T) {
	r, cc := pipe(t, time.Minute, time.Minute)
	io.WriteString(cc, strings.Repeat("x", 20)+"\r\nNEXT\r\n")
	if _, err := r.ReadLine(10); !errors.Is(err, lineproto.ErrLineTooLong) {
		t.Fatalf("ReadLine(10) of 22 octets: err = %v; want ErrLineTooLong", err)
	}
	if err := r.DiscardLine(lineproto.MaxDiscardBytes); err != nil {
		t.Fatalf("DiscardLine: %v", err)
	}
	if line, err := r.ReadLine(10); err != nil || string(line) != "NEXT" {
		t.Fatalf("ReadLine() after discard = %q, %v; want NEXT", line, err)
	}
}

func TestReader_lineTooLongWithoutEnd(t *testing.T) {
	r, cc := pipe(t, time.Minute, time.Minute)
	go io.WriteString(cc, strings.Repeat("x", 5000))
	if _, err := r.ReadLine(10); !errors.Is(err, lineproto.ErrLineTooLong) {
		t.Fatalf("ReadLine: err = %v; want ErrLineTooLong", err)
	}
	// The line never ends: DiscardLine gives up after its budget.
	if err := r.DiscardLine(1000); !errors.Is(err, lineproto.ErrLineTooLong) {
		t.Fatalf("DiscardLine(1000) of an endless line: err = %v; want ErrLineTooLong", err)
	}
}

// A command trickled one octet at a time is cut off by the command timeout,
// although each octet comes well within the idle timeout.
func TestReader_commandTimeout(t *testing.T) {
	r, cc := pipe(t, time.Minute, 300*time.Millisecond)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				cc.Write([]byte("x"))
			}
		}
	}()
	_, err := r.ReadLine(64)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadLine of a trickled line: err = %v; want a deadline error", err)
	}
	if !r.InCommand() {
		t.Error("InCommand() = false after a command timed out")
	}
	if got := lineproto.Classify(err, r.InCommand()); got != lineproto.ReasonCommandTimeout {
		t.Errorf("Classify = %v; want command timeout", got)
	}
}

func TestReader_idleTimeout(t *testing.T) {
	r, _ := pipe(t, 100*time.Millisecond, time.Minute)
	_, err := r.ReadLine(64)
	if got := lineproto.Classify(err, r.InCommand()); got != lineproto.ReasonIdleTimeout {
		t.Fatalf("Classify(%v) = %v; want idle timeout", err, got)
	}
}

// Continue keeps the command clock of a command that goes on after a
// literal: its second line has what is left of the command timeout, not a
// new one.
func TestReader_continueKeepsCommandClock(t *testing.T) {
	r, cc := pipe(t, time.Minute, 400*time.Millisecond)
	io.WriteString(cc, "a APPEND x {3}\r\n")
	if _, err := r.ReadLine(64); err != nil {
		t.Fatal(err)
	}
	r.Continue()
	time.Sleep(250 * time.Millisecond)
	io.WriteString(cc, "abc")
	buf := make([]byte, 3)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	// The rest of the line would come after 250+250 ms: past the command's
	// 400 ms.
	go func() { time.Sleep(250 * time.Millisecond); io.WriteString(cc, "\r\n") }()
	_, err := r.ReadLine(64)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadLine after Continue: err = %v; want a deadline error", err)
	}
}

func TestReader_rawReads(t *testing.T) {
	r, cc := pipe(t, time.Minute, time.Minute)
	io.WriteString(cc, "DATA\r\nhello\r\n.\r\nQUIT\r\n")
	if line, _ := r.ReadLine(64); string(line) != "DATA" {
		t.Fatalf("ReadLine = %q", line)
	}
	var got []byte
	for !strings.HasSuffix(string(got), "\r\n.\r\n") {
		b, err := r.Peek()
		if err != nil {
			t.Fatal(err)
		}
		n := min(len(b), len("hello\r\n.\r\n")-len(got))
		got = append(got, b[:n]...)
		r.Skip(n)
	}
	r.EndCommand()
	if line, err := r.ReadLine(64); err != nil || string(line) != "QUIT" {
		t.Fatalf("ReadLine after raw reads = %q, %v; want QUIT", line, err)
	}
}

func TestReader_resetDiscards(t *testing.T) {
	r, cc := pipe(t, time.Minute, time.Minute)
	io.WriteString(cc, "STLS\r\nINJECTED\r\n")
	if line, _ := r.ReadLine(64); string(line) != "STLS" {
		t.Fatalf("ReadLine = %q", line)
	}
	for r.Buffered() < len("INJECTED\r\n") {
		if _, err := r.Peek(); err != nil {
			t.Fatal(err)
		}
	}
	sc := r // the same connection, as if over TLS now
	if n := sc.Discard(); n != len("INJECTED\r\n") {
		t.Errorf("Discard() = %d; want %d", n, len("INJECTED\r\n"))
	}
	if r.HasLine() {
		t.Error("HasLine() after Discard = true")
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err       error
		inCommand bool
		want      lineproto.Reason
	}{
		{nil, false, lineproto.ReasonNone},
		{io.EOF, false, lineproto.ReasonClosed},
		{net.ErrClosed, true, lineproto.ReasonClosed},
		{lineproto.ErrLineTooLong, true, lineproto.ReasonLineTooLong},
		{os.ErrDeadlineExceeded, false, lineproto.ReasonIdleTimeout},
		{os.ErrDeadlineExceeded, true, lineproto.ReasonCommandTimeout},
	} {
		if got := lineproto.Classify(tc.err, tc.inCommand); got != tc.want {
			t.Errorf("Classify(%v, %v) = %v; want %v", tc.err, tc.inCommand, got, tc.want)
		}
	}
}

// The buffer starts small and grows for a long line, up to the Reader's size.
func TestReader_grows(t *testing.T) {
	r, cc := pipeSized(t, 50<<10, time.Minute, time.Minute)
	long := strings.Repeat("x", 20000)
	go io.WriteString(cc, long+"\r\nshort\r\n"+strings.Repeat("y", 60000)+"\r\n")
	for _, want := range []string{long, "short"} {
		line, err := r.ReadLine(50 << 10)
		if err != nil || string(line) != want {
			t.Fatalf("ReadLine() = %d octets, %v; want %d", len(line), err, len(want))
		}
	}
	if _, err := r.ReadLine(1 << 20); !errors.Is(err, lineproto.ErrLineTooLong) {
		t.Fatalf("a 60000-octet line with a 50 KiB Reader: err = %v; want ErrLineTooLong", err)
	}
}

// TestReader_idleRelease checks that a Reader that gives its buffer back
// between commands reads every line as one that keeps it: lines shorter
// and longer than the small idle read, longer than the buffer, pipelined,
// split across writes, and raw reads after a line.
func TestReader_idleRelease(t *testing.T) {
	r, cc := pipeSized(t, 64<<10, time.Minute, time.Minute)
	r.SetIdleRelease(true)
	long := strings.Repeat("y", 300)
	huge := strings.Repeat("z", 10000)
	writes := []string{
		"a NOOP\r\n",
		"b " + long + "\r\n",
		"c " + huge + "\r\n",
		"d ONE\r\ne TWO\r\nf THR",
		"EE\r\n",
		"DATA\r\nhello",
	}
	want := []string{"a NOOP", "b " + long, "c " + huge, "d ONE", "e TWO", "f THREE", "DATA"}
	go func() {
		for _, w := range writes {
			io.WriteString(cc, w)
			time.Sleep(5 * time.Millisecond) // the reader waits idle in between
		}
	}()
	for _, w := range want {
		line, err := r.ReadLine(64 << 10)
		if err != nil || string(line) != w {
			t.Fatalf("ReadLine() = %.40q (%d octets), %v; want %.40q (%d)", line, len(line), err, w, len(w))
		}
	}
	var got []byte
	for len(got) < len("hello") {
		b, err := r.Peek()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
		r.Skip(len(b))
	}
	if string(got) != "hello" {
		t.Errorf("raw read after the line = %q; want hello", got)
	}
}

// TestReader_idleReleaseTimeout checks that the idle timeout holds while a
// Reader waits without its buffer.
func TestReader_idleReleaseTimeout(t *testing.T) {
	r, _ := pipeSized(t, 64<<10, 50*time.Millisecond, time.Minute)
	r.SetIdleRelease(true)
	if _, err := r.ReadLine(64); lineproto.Classify(err, r.InCommand()) != lineproto.ReasonIdleTimeout {
		t.Fatalf("ReadLine() with no input: %v; want the idle timeout", err)
	}
}
