package lineproto_test

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// CommandDeadline is the first octet's arrival plus the command timeout,
// for a command that goes on after Continue; zero between commands.
func TestReader_CommandDeadline(t *testing.T) {
	r, cc := pipe(t, time.Minute, 10*time.Second)
	if d := r.CommandDeadline(); !d.IsZero() {
		t.Errorf("CommandDeadline() before any input = %v; want zero", d)
	}
	before := time.Now()
	io.WriteString(cc, "a LOGIN {5}\r\n")
	if _, err := r.ReadLine(64); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if d := r.CommandDeadline(); !d.IsZero() {
		t.Errorf("CommandDeadline() after the command's last line = %v; want zero", d)
	}
	r.Continue()
	d := r.CommandDeadline()
	if d.Before(before.Add(10*time.Second)) || d.After(after.Add(10*time.Second)) {
		t.Errorf("CommandDeadline() after Continue = %v; want the first octet's arrival (%v to %v) + 10s", d, before, after)
	}
	r.EndCommand()
	if d := r.CommandDeadline(); !d.IsZero() {
		t.Errorf("CommandDeadline() after EndCommand = %v; want zero", d)
	}
}

func TestReader_CommandDeadline_none(t *testing.T) {
	r, cc := pipe(t, time.Minute, 0)
	io.WriteString(cc, "a LOGIN {5}\r\n")
	if _, err := r.ReadLine(64); err != nil {
		t.Fatal(err)
	}
	r.Continue()
	if d := r.CommandDeadline(); !d.IsZero() {
		t.Errorf("CommandDeadline() without a command timeout = %v; want zero", d)
	}
}

// ContinueAnew gives the rest of a command a new command timeout after a
// long raw read, where Continue would have left none.
func TestReader_ContinueAnew(t *testing.T) {
	r, cc := pipe(t, time.Minute, 300*time.Millisecond)
	io.WriteString(cc, "a APPEND x {3}\r\n")
	if _, err := r.ReadLine(64); err != nil {
		t.Fatal(err)
	}
	r.Continue()
	time.Sleep(400 * time.Millisecond) // a literal slower than the command timeout
	io.WriteString(cc, "abc")
	r.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.ReadFull(r, make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	r.SetDeadline(time.Time{})
	r.ContinueAnew()
	if d := r.CommandDeadline(); time.Until(d) < 200*time.Millisecond {
		t.Errorf("CommandDeadline() after ContinueAnew is %v away; want about 300ms", time.Until(d))
	}
	go func() { time.Sleep(100 * time.Millisecond); io.WriteString(cc, "\r\n") }()
	if _, err := r.ReadLine(64); err != nil {
		t.Fatalf("ReadLine after ContinueAnew = %v; want the end of the command", err)
	}
	// The command timeout still applies to what comes after ContinueAnew.
	io.WriteString(cc, "b APPEND x {3}\r\n")
	if _, err := r.ReadLine(64); err != nil {
		t.Fatal(err)
	}
	r.ContinueAnew()
	if _, err := r.ReadLine(64); !errors.Is(err, os.ErrDeadlineExceeded) || !r.InCommand() {
		t.Fatalf("ReadLine of a stalled rest after ContinueAnew = %v (in command %v); want a command timeout", err, r.InCommand())
	}
}
