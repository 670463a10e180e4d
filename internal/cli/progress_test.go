package cli

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer is a bytes.Buffer safe for the progress goroutine and the
// test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// tickAt sends a tick at the clock's time and waits until the progress
// goroutine has taken it and the next (a second send) too, so that the
// first one is rendered when tickAt returns.
func tickAt(tick chan time.Time, c *fakeClock) {
	tick <- c.now()
	tick <- c.now()
}

func TestProgress_long(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	tick := make(chan time.Time)
	var out lockedBuffer
	p := newProgress(&out, 4<<20, clock.now, tick)
	w := p.Writer(io.Discard)

	w.Write(make([]byte, 512<<10))
	clock.advance(500 * time.Millisecond)
	tickAt(tick, clock)
	if s := out.String(); s != "" {
		t.Fatalf("progress before 1s: %q; want nothing", s)
	}

	w.Write(make([]byte, 512<<10))
	clock.advance(500 * time.Millisecond)
	tickAt(tick, clock)
	want := "\r1.0 MiB / 4.0 MiB   25%  1.0 MiB/s  ETA 3s"
	if s := out.String(); !strings.HasSuffix(s, want) || strings.Contains(s, "\n") {
		t.Errorf("progress after 1s = %q; want it to end in %q, with no newline", s, want)
	}

	w.Write(make([]byte, 3<<20))
	clock.advance(time.Second)
	p.Finish()
	p.Finish() // twice is harmless
	if s := out.String(); !strings.HasSuffix(s, "\r4.0 MiB / 4.0 MiB  100%  2.0 MiB/s  ETA 0s\n") {
		t.Errorf("progress after Finish = %q; want a last line ending in a newline", s)
	}
}

// A transfer done within a second shows nothing, not even at Finish.
func TestProgress_short(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	tick := make(chan time.Time)
	var out lockedBuffer
	p := newProgress(&out, 100, clock.now, tick)
	io.Copy(io.Discard, p.Reader(strings.NewReader(strings.Repeat("x", 100))))
	clock.advance(900 * time.Millisecond)
	tickAt(tick, clock)
	p.Finish()
	if s := out.String(); s != "" {
		t.Errorf("progress of a short transfer = %q; want nothing", s)
	}
}

// With the size unknown, the line has the bytes and the rate, and a
// shorter line blanks what the longer one before it left.
func TestProgress_unknownSize(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	tick := make(chan time.Time)
	var out lockedBuffer
	p := newProgress(&out, -1, clock.now, tick)
	r := p.Reader(strings.NewReader(strings.Repeat("x", 3000)))
	io.CopyN(io.Discard, r, 3000)
	clock.advance(2 * time.Second)
	tickAt(tick, clock)
	if s := out.String(); !strings.HasSuffix(s, "\r2.9 KiB  1.5 KiB/s") {
		t.Errorf("progress = %q", s)
	}
	p.Finish()
}

// A writer that is not a terminal gets nothing.
func TestStartProgress_notTerminal(t *testing.T) {
	var out bytes.Buffer
	p := startProgress(&out, 10)
	p.Writer(io.Discard).Write([]byte("0123456789"))
	p.Finish()
	if out.Len() != 0 {
		t.Errorf("progress on a buffer = %q; want nothing", out.String())
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}, {1 << 62, "4.0 EiB"},
	} {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%d) = %q; want %q", tc.n, got, tc.want)
		}
	}
}
