package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/inetkit/inetkit/upper"
)

// errReplyTooLong is a oneshot reply longer than the one expected.
var errReplyTooLong = errors.New("loadgen: reply too long")

// runOneshot does one request per connection, back to back: dial, write,
// shut down the write side, read until the server closes.
func (w *worker) runOneshot() {
	cfg := &w.r.cfg
	msg := make([]byte, 0, cfg.Size)
	exp := make([]byte, 0, upper.MaxExpansion*min(cfg.Size, cfg.ReadSize))
	buf := make([]byte, cap(exp)+1) // one byte more than expected shows a reply too long
	var b backoff
	for w.r.ticket() {
		w.seq++
		msg = w.gen.append(msg[:0], w.seq)
		exp = upper.Append(exp[:0], msg[:min(len(msg), cfg.ReadSize)])
		start := time.Now()
		n, err := w.oneshot(msg, buf[:len(exp)+1], start)
		if err == nil && n == 0 && len(exp) > 0 {
			err = io.EOF // closed without a reply
		}
		switch {
		case err == nil && bytes.Equal(buf[:n], exp):
			w.ok(time.Since(start))
			b.reset()
		case err == nil || errors.Is(err, errReplyTooLong):
			w.wrongReply("wrong reply")
		case w.r.stopping():
			return
		default:
			w.fail(err, 1)
			w.pause(&b)
		}
	}
}

// oneshot does one exchange and returns the length of the reply read into
// buf.
func (w *worker) oneshot(msg, buf []byte, start time.Time) (int, error) {
	c, err := w.dial(start.Add(w.r.cfg.Timeout))
	if err != nil {
		return 0, err
	}
	defer w.hangUp(c)
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			return 0, err
		}
	}
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, errReplyTooLong
}

// runStream keeps one persistent connection for stream or line mode,
// connecting again (after a backoff) when it fails.
func (w *worker) runStream() {
	var b backoff
	for w.r.more() {
		c, err := w.dial(time.Time{})
		if err != nil {
			if w.r.stopping() || !w.r.ticket() {
				return
			}
			w.fail(err, 1) // a failed connect counts as one failed exchange
			w.pause(&b)
			continue
		}
		var failed bool
		if w.r.cfg.Pipeline == 1 && w.r.cfg.Size <= 64<<10 {
			failed = w.lockstep(c)
		} else {
			failed = w.pipeline(c)
		}
		w.hangUp(c)
		if !failed {
			return
		}
		w.pause(&b)
	}
}

// lockstep does one request at a time on c, in this goroutine: write, then
// read exactly the reply expected. It reports whether c failed. (Both sides
// writing a message at once cannot fill both socket buffers and block each
// other when a message is at most 64 KiB.)
func (w *worker) lockstep(c net.Conn) (failed bool) {
	cfg := &w.r.cfg
	msg := make([]byte, 0, cfg.Size)
	exp := make([]byte, 0, upper.MaxExpansion*cfg.Size)
	buf := make([]byte, cap(exp))
	dl := deadline{set: w.guard(c.SetDeadline)}
	for w.r.ticket() {
		w.seq++
		msg = w.gen.append(msg[:0], w.seq)
		exp = upper.Append(exp[:0], msg)
		start := time.Now()
		dl.extend(start.Add(cfg.Timeout), cfg.Timeout)
		_, err := c.Write(msg)
		if err == nil {
			_, err = io.ReadFull(c, buf[:len(exp)])
		}
		if err != nil {
			if !w.r.stopping() {
				w.fail(err, 1)
			}
			return true
		}
		if bytes.Equal(buf[:len(exp)], exp) {
			w.ok(time.Since(start))
		} else {
			w.wrongReply("wrong reply")
		}
	}
	return false
}

// A slot is a request in flight on a pipelined connection.
type slot struct {
	sent time.Time
	exp  []byte
}

// maxBatch is the most bytes of requests sent in one write.
const maxBatch = 64 << 10

// pipeline keeps cfg.Pipeline requests in flight on c: this goroutine writes
// requests, as many as there are free slots in one write, and a reader
// goroutine reads the replies in order, exactly as many bytes as each
// expects. Slot numbers pass from the writer to the reader on one channel and
// back on another. It reports whether c failed; then every request in flight
// counts as an error.
func (w *worker) pipeline(c net.Conn) (failed bool) {
	cfg := &w.r.cfg
	p := cfg.Pipeline
	slots := make([]slot, p)
	free := make(chan int, p)
	pending := make(chan int, p)
	for i := range slots {
		slots[i].exp = make([]byte, 0, upper.MaxExpansion*cfg.Size)
		free <- i
	}
	var (
		once     sync.Once
		firstErr error
	)
	failWith := func(err error) {
		once.Do(func() { firstErr = err })
		if !w.r.stopping() {
			c.Close() // stops the other side (which, when stopping, its deadline does)
		}
	}

	var answered int64 // replies read, ok or wrong; the reader's until readerDone
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		br := bufio.NewReaderSize(c, 64<<10)
		buf := make([]byte, upper.MaxExpansion*cfg.Size)
		dl := deadline{set: w.guard(c.SetReadDeadline)}
		for i := range pending {
			s := &slots[i]
			dl.extend(s.sent.Add(cfg.Timeout), cfg.Timeout)
			if _, err := io.ReadFull(br, buf[:len(s.exp)]); err != nil {
				failWith(err)
				return
			}
			if bytes.Equal(buf[:len(s.exp)], s.exp) {
				w.ok(time.Since(s.sent))
			} else {
				w.wrongReply("wrong reply")
			}
			answered++
			free <- i
		}
	}()

	var sent int64
	batch := make([]byte, 0, min(p*cfg.Size, maxBatch+cfg.Size))
	idx := make([]int, 0, p)
	dl := deadline{set: w.guard(c.SetWriteDeadline)}
	last := false // no ticket left: the batch is the last
write:
	for !last {
		select {
		case i := <-free:
			idx = append(idx[:0], i)
		case <-readerDone:
			break write
		}
		batch = batch[:0]
		for k := 0; k < len(idx); k++ {
			if !w.r.ticket() {
				last = true
				idx = idx[:k]
				break
			}
			s := &slots[idx[k]]
			w.seq++
			start := len(batch)
			batch = w.gen.append(batch, w.seq)
			s.exp = upper.Append(s.exp[:0], batch[start:])
			if len(batch) < maxBatch {
				select {
				case i := <-free:
					idx = append(idx, i)
				default:
				}
			}
		}
		if len(idx) == 0 {
			break
		}
		now := time.Now()
		for _, i := range idx {
			slots[i].sent = now
			pending <- i
		}
		sent += int64(len(idx))
		dl.extend(now.Add(cfg.Timeout), cfg.Timeout)
		if _, err := c.Write(batch); err != nil {
			failWith(err)
			break
		}
	}
	close(pending)
	<-readerDone
	if firstErr == nil {
		return false
	}
	if !w.r.stopping() {
		w.fail(firstErr, sent-answered)
	}
	return true
}
