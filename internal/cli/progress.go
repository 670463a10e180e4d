package cli

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// A progress reports a long transfer on a terminal: once it has run for
// progressDelay, a line on w with the bytes done, the rate and, when the
// size is known, the percentage and the time left, rewritten in place at
// every tick; a transfer that ends sooner shows nothing. Count the bytes
// through Reader or Writer, then call Finish. Its methods are safe for
// concurrent use.
type progress struct {
	w     io.Writer
	total int64 // -1 when unknown
	now   func() time.Time
	start time.Time

	done     atomic.Int64
	stop     chan struct{}
	finished chan struct{}
	once     sync.Once

	mu    sync.Mutex
	shown bool // a line is on w
	width int  // of the line last written, to blank what a shorter one leaves
}

const (
	// progressDelay is how long a transfer runs before its progress shows.
	progressDelay = time.Second
	// progressTick is how often the line is rewritten.
	progressTick = 250 * time.Millisecond
)

// startProgress starts reporting a transfer of total bytes (-1: unknown)
// on w, if w is a terminal (isTerminal, bench.go); else it returns a
// progress that counts and shows nothing.
func startProgress(w io.Writer, total int64) *progress {
	if !isTerminal(w) {
		return newProgress(nil, total, time.Now, nil)
	}
	t := time.NewTicker(progressTick)
	p := newProgress(w, total, time.Now, t.C)
	go func() {
		<-p.finished
		t.Stop()
	}()
	return p
}

// newProgress returns a progress that writes to w (nil: nowhere) at each
// tick, with the clock now.
func newProgress(w io.Writer, total int64, now func() time.Time, tick <-chan time.Time) *progress {
	p := &progress{w: w, total: total, now: now, start: now(), stop: make(chan struct{}), finished: make(chan struct{})}
	if w == nil || tick == nil {
		close(p.finished)
		return p
	}
	go func() {
		defer close(p.finished)
		for {
			select {
			case <-p.stop:
				return
			case <-tick:
				if p.now().Sub(p.start) >= progressDelay {
					p.render(false)
				}
			}
		}
	}()
	return p
}

// Reader returns r counting what is read through it.
func (p *progress) Reader(r io.Reader) io.Reader { return &progressReader{r, p} }

// Writer returns w counting what is written through it.
func (p *progress) Writer(w io.Writer) io.Writer { return &progressWriter{w, p} }

// Finish stops the reports and, if a line was shown, writes it a last time
// and ends it.
func (p *progress) Finish() {
	p.once.Do(func() {
		close(p.stop)
		<-p.finished
		p.mu.Lock()
		shown := p.shown
		p.mu.Unlock()
		if shown {
			p.render(true)
		}
	})
}

// render writes the progress line; final ends it with a newline.
func (p *progress) render(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.line()
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r%s%*s%s", line, pad, "", end)
	p.shown = true
}

// line is the progress line: "1.5 MiB / 4.0 MiB  37%  512 KiB/s  ETA 5s"
// with the size known, "1.5 MiB  512 KiB/s" without.
func (p *progress) line() string {
	done := p.done.Load()
	elapsed := p.now().Sub(p.start)
	var rate float64
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	if p.total < 0 {
		return fmt.Sprintf("%s  %s/s", formatBytes(done), formatBytes(int64(rate)))
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(done) / float64(p.total)
	}
	eta := "--"
	if left := p.total - done; left <= 0 {
		eta = "0s"
	} else if rate > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("%s / %s  %3.0f%%  %s/s  ETA %s", formatBytes(done), formatBytes(p.total), pct, formatBytes(int64(rate)), eta)
}

// formatBytes writes n in binary units: "512 B", "1.5 KiB", "12.0 MiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

type progressReader struct {
	r io.Reader
	p *progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.done.Add(int64(n))
	return n, err
}

type progressWriter struct {
	w io.Writer
	p *progress
}

func (w *progressWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.p.done.Add(int64(n))
	return n, err
}
