// Package loadgen is the load generator behind "inetkit bench": it drives the
// uppercase service of package upper over TCP, Unix stream sockets or UDP from
// many connections at once, checks every reply against [upper.Append] of what
// was sent, and reports throughput, latency percentiles, errors and losses.
//
// It is meant to measure the server, not itself: messages, expected replies
// and read buffers are reused, latencies go to a histogram per worker that is
// merged at the end, and a pipelined connection sends a batch of requests in
// one write and reads their replies through one buffer.
package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/inetkit/inetkit/upper"
)

// Defaults for the zero values of [Config] fields.
const (
	DefaultConcurrency = 1
	DefaultSize        = 64
	DefaultPipeline    = 1
	DefaultTimeout     = 2 * time.Second
	DefaultReadSize    = upper.DefaultReadSize
)

// Limits on [Config] fields.
const (
	// MaxConcurrency bounds Concurrency (worker ids stay within 5 digits).
	MaxConcurrency = 100000
	// MaxPipeline bounds Pipeline.
	MaxPipeline = 1 << 16
	// MaxSize bounds Size on stream networks.
	MaxSize = 16 << 20
	// MaxDatagramSize bounds Size on UDP, the largest UDP payload over IPv4.
	MaxDatagramSize = 65507
	// MinDatagramSize is the smallest Size on UDP: a reply is matched to its
	// datagram by the worker and sequence numbers at its start.
	MinDatagramSize = 24
)

// Config describes a load run. Zero fields take the defaults named after them.
type Config struct {
	// Network is "tcp", "tcp4", "tcp6", "unix" (stream sockets), or "udp",
	// "udp4", "udp6".
	Network string
	// Addr is the server's address: HOST:PORT, or a socket path for "unix".
	Addr string
	// Mode is the server's mode on a stream network; UDP ignores it.
	Mode upper.Mode
	// Concurrency is the number of workers: persistent connections (stream
	// and line mode), connections opened one after another (oneshot mode), or
	// sockets (UDP). Zero means DefaultConcurrency.
	Concurrency int
	// Size is the size of each message in bytes, the LF included in line
	// mode. Zero means DefaultSize.
	Size int
	// Pipeline is the number of requests in flight on each connection in
	// stream and line mode, or of datagrams in flight on each UDP socket.
	// Oneshot mode has one request per connection. Zero means
	// DefaultPipeline.
	Pipeline int
	// Duration stops the run after this long. Zero means no limit, and then
	// Count must be set.
	Duration time.Duration
	// Count stops the run once this many exchanges have ended: Requests +
	// Errors + Wrong + Lost of the [Result] add up to it, except that a UDP
	// reply that matches no datagram in flight is counted Wrong on top.
	// Zero means no limit.
	Count int64
	// Timeout bounds each exchange: connecting, and the time from sending a
	// request to the end of its reply. A UDP datagram with no reply after
	// Timeout is counted lost. Zero means DefaultTimeout.
	Timeout time.Duration
	// ReadSize is the size of the oneshot server's one read: the reply
	// expected is the uppercase of the first ReadSize bytes of the message.
	// A reply to fewer bytes (TCP may hand the server's read less than was
	// sent) counts as wrong, so keep Size ≤ ReadSize for clean numbers. Zero
	// means DefaultReadSize.
	ReadSize int
	// Unicode puts non-ASCII text ("straße ΐ ﬁ é") in messages, whose
	// uppercase differs in length, to exercise the server's slow path.
	Unicode bool
	// TLS, if non-nil, makes SMTP and NNTP sessions start TLS (STARTTLS)
	// with this configuration.
	TLS *tls.Config
	// NNTP is what an "nntp" run does.
	NNTP NNTPConfig

	// Progress, if non-nil, is called about once a second from one
	// goroutine while the run lasts.
	Progress func(Snapshot)
}

// A Snapshot is the progress of a run so far.
type Snapshot struct {
	Elapsed                       time.Duration
	Requests, Errors, Wrong, Lost int64
}

// Latency holds percentiles of the latency of successful requests, within
// 1% (the histogram's precision); Max is exact.
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Result is the outcome of a run.
type Result struct {
	// Config is the configuration run, with defaults filled in.
	Config
	// Elapsed is the wall time from the start until every worker stopped,
	// at most Duration (closing connections cleanly after the end, when
	// nothing more is counted, is not part of it).
	Elapsed time.Duration
	// Requests counts replies that were exactly the expected uppercase.
	Requests int64
	// Errors counts failed exchanges: connections refused or reset, timeouts
	// on stream networks, a connection closed before the whole reply. When a
	// persistent connection fails, each request in flight on it counts; a
	// failed attempt to connect counts once.
	Errors int64
	// Wrong counts replies that were not the expected uppercase, and UDP
	// replies that matched no datagram in flight (duplicates, strays).
	Wrong int64
	// Lost counts UDP datagrams with no reply within Timeout.
	Lost int64
	// Late counts UDP replies that arrived after their datagram had been
	// counted lost; they are not counted again.
	Late int64
	// ErrorKinds counts Errors and Wrong by a short reason: "connection
	// refused", "connection reset", "connect timeout", "timeout" (no whole
	// reply in time), "connection closed", "wrong
	// reply", "unexpected reply" (a UDP reply that matched no datagram), …
	ErrorKinds map[string]int64
	// Throughput is Requests per second of Elapsed.
	Throughput float64
	// Articles counts the articles of successful NNTP exchanges: one per
	// POST or ARTICLE, the overviews of each OVER; ArticleRate is per
	// second of Elapsed.
	Articles    int64
	ArticleRate float64
	// Latency is measured from sending a request (from dialing, in oneshot
	// mode) to the end of its reply.
	Latency Latency
}

func (c Config) withDefaults() (Config, error) {
	switch c.Network {
	case "tcp", "tcp4", "tcp6", "unix", "udp", "udp4", "udp6", "smtp", "nntp":
	default:
		return c, fmt.Errorf("loadgen: unsupported network %q", c.Network)
	}
	if c.Addr == "" {
		return c, errors.New("loadgen: no address")
	}
	if c.Mode < upper.ModeOneshot || c.Mode > upper.ModeLine {
		return c, fmt.Errorf("loadgen: unknown mode %v", c.Mode)
	}
	if c.datagram() {
		c.Mode = upper.ModeOneshot
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
		max  int
	}{
		{"concurrency", &c.Concurrency, DefaultConcurrency, MaxConcurrency},
		{"size", &c.Size, DefaultSize, MaxSize},
		{"pipeline", &c.Pipeline, DefaultPipeline, MaxPipeline},
		{"read size", &c.ReadSize, DefaultReadSize, MaxSize},
	} {
		if *f.v < 0 || *f.v > f.max {
			return c, fmt.Errorf("loadgen: %s %d out of range (0 to %d)", f.name, *f.v, f.max)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.datagram() && (c.Size < MinDatagramSize || c.Size > MaxDatagramSize) {
		return c, fmt.Errorf("loadgen: datagram size %d out of range (%d to %d)", c.Size, MinDatagramSize, MaxDatagramSize)
	}
	if c.Mode == upper.ModeOneshot && !c.datagram() {
		c.Pipeline = 1
	}
	if c.Network == "nntp" {
		switch c.NNTP.Op {
		case "":
			c.NNTP.Op = NNTPPost
		case NNTPPost, NNTPOver, NNTPArticle:
		default:
			return c, fmt.Errorf("loadgen: unknown NNTP operation %q", c.NNTP.Op)
		}
		if c.NNTP.Group == "" {
			return c, errors.New("loadgen: no NNTP group")
		}
	}
	if c.Duration < 0 || c.Count < 0 || c.Timeout < 0 {
		return c, errors.New("loadgen: negative duration, count or timeout")
	}
	if c.Duration == 0 && c.Count == 0 {
		return c, errors.New("loadgen: neither a duration nor a count to stop at")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c, nil
}

func (c *Config) datagram() bool {
	return c.Network == "udp" || c.Network == "udp4" || c.Network == "udp6"
}

// Run generates load as cfg says until cfg.Duration has passed, cfg.Count
// exchanges have ended, or ctx is done, whichever comes first, and returns
// what it measured. Exchanges in flight when the run stops early are not
// counted. Run returns an error only for a Config it cannot run; a target
// that fails shows in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cancel := context.CancelFunc(func() {})
	if cfg.Duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
	}
	defer cancel()

	r := &runner{cfg: cfg, ctx: ctx, dialer: net.Dialer{Timeout: cfg.Timeout}}
	r.workers = make([]*worker, cfg.Concurrency)
	for i := range r.workers {
		r.workers[i] = &worker{
			r:     r,
			id:    i,
			gen:   newMessageGen(i, cfg.Size, cfg.Mode == upper.ModeLine && !cfg.datagram(), cfg.Unicode),
			kinds: make(map[string]int64),
		}
	}
	stop := context.AfterFunc(ctx, r.stop)
	defer stop()

	start := time.Now()
	done := make(chan struct{})
	var progress sync.WaitGroup
	if cfg.Progress != nil {
		progress.Go(func() { r.progress(start, done) })
	}
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Go(w.run)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if cfg.Duration > 0 {
		// Nothing is counted after the end; closing connections cleanly
		// may take a moment more.
		elapsed = min(elapsed, cfg.Duration)
	}
	close(done)
	progress.Wait()
	return r.result(elapsed), nil
}

// A runner is one call of Run.
type runner struct {
	cfg     Config
	ctx     context.Context // done when the run must stop at once
	dialer  net.Dialer
	issued  atomic.Int64 // exchanges started, when cfg.Count is set
	workers []*worker
}

// ticket reports whether another exchange may start, and counts it.
func (r *runner) ticket() bool {
	if r.ctx.Err() != nil {
		return false
	}
	return r.cfg.Count == 0 || r.issued.Add(1) <= r.cfg.Count
}

// more reports whether exchanges remain to start, without counting one.
func (r *runner) more() bool {
	return r.ctx.Err() == nil && (r.cfg.Count == 0 || r.issued.Load() < r.cfg.Count)
}

// stopping reports whether the run is ending early, so that a failure is the
// runner's own doing and not the target's. A dial can fail at the context's
// deadline a moment before the context reports it: past the deadline counts
// as stopping too.
func (r *runner) stopping() bool {
	if r.ctx.Err() != nil {
		return true
	}
	end, ok := r.ctx.Deadline()
	return ok && !time.Now().Before(end)
}

// stop interrupts every worker: see [worker.interrupt].
func (r *runner) stop() {
	for _, w := range r.workers {
		w.interrupt()
	}
}

func (r *runner) progress(start time.Time, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			s := Snapshot{Elapsed: time.Since(start)}
			for _, w := range r.workers {
				s.Requests += w.requests.Load()
				s.Errors += w.errors.Load()
				s.Wrong += w.wrong.Load()
				s.Lost += w.lost.Load()
			}
			r.cfg.Progress(s)
		}
	}
}

func (r *runner) result(elapsed time.Duration) *Result {
	res := &Result{Config: r.cfg, Elapsed: elapsed, ErrorKinds: make(map[string]int64)}
	var h histogram
	for _, w := range r.workers {
		res.Requests += w.requests.Load()
		res.Errors += w.errors.Load()
		res.Wrong += w.wrong.Load()
		res.Lost += w.lost.Load()
		res.Late += w.late
		res.Articles += w.articles
		for k, n := range w.kinds {
			res.ErrorKinds[k] += n
		}
		h.merge(&w.hist)
	}
	if elapsed > 0 {
		res.Throughput = float64(res.Requests) / elapsed.Seconds()
		res.ArticleRate = float64(res.Articles) / elapsed.Seconds()
	}
	res.Latency = Latency{P50: h.quantile(0.50), P90: h.quantile(0.90), P99: h.quantile(0.99), Max: h.max}
	return res
}

// A worker is one goroutine of a run with its connection or socket. Only the
// worker writes its counters; the progress goroutine reads them.
type worker struct {
	r   *runner
	id  int
	gen *messageGen
	seq uint64 // the last message id used

	_                             [64]byte // keep the counters off other workers' cache lines
	requests, errors, wrong, lost atomic.Int64
	_                             [64]byte
	late                          int64
	articles                      int64 // NNTP: see Result.Articles
	hist                          histogram
	kinds                         map[string]int64

	mu      sync.Mutex
	conn    net.Conn // the connection in use
	stopped bool     // interrupt was called: deadlines may no longer move
}

func (w *worker) run() {
	switch {
	case w.r.cfg.Network == "smtp":
		w.runSMTP()
	case w.r.cfg.Network == "nntp":
		w.runNNTP()
	case w.r.cfg.datagram():
		w.runDatagram()
	case w.r.cfg.Mode == upper.ModeOneshot:
		w.runOneshot()
	default:
		w.runStream()
	}
}

func (w *worker) ok(latency time.Duration) {
	w.requests.Add(1)
	w.hist.record(latency)
}

func (w *worker) fail(err error, n int64) {
	if n > 0 {
		w.errors.Add(n)
		w.kinds[errorKind(err)] += n
	}
}

func (w *worker) wrongReply(kind string) {
	w.wrong.Add(1)
	w.kinds[kind]++
}

// dial connects for the worker, with deadline (if not zero) set on the
// connection, or returns net.ErrClosed when the run is stopping.
func (w *worker) dial(deadline time.Time) (net.Conn, error) {
	network := w.r.cfg.Network
	if network == "smtp" || network == "nntp" {
		network = "tcp"
	}
	c, err := w.r.dialer.DialContext(w.r.ctx, network, w.r.cfg.Addr)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		c.Close()
		return nil, net.ErrClosed
	}
	if !deadline.IsZero() {
		c.SetDeadline(deadline)
	}
	w.conn = c
	return c, nil
}

// drainTimeout bounds the clean close of a connection cut off by the end of
// a run.
const drainTimeout = 100 * time.Millisecond

// hangUp closes the worker's connection after use. When the run is
// stopping, replies may still be on their way: closing a TCP connection
// with data unread would send the server a reset (and an error to its log),
// so hangUp shuts down the write side and reads what is left until the
// server closes, for at most drainTimeout.
func (w *worker) hangUp(c net.Conn) {
	w.mu.Lock()
	w.conn = nil
	w.mu.Unlock()
	if w.r.stopping() && !w.r.cfg.datagram() {
		c.SetDeadline(time.Now().Add(drainTimeout))
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		io.Copy(io.Discard, c)
	}
	c.Close()
}

// interrupt ends the worker's reads and writes by moving its connection's
// deadlines to the past, for good: [worker.guard] keeps them from moving
// again. (Closing the connection instead would reset it.)
func (w *worker) interrupt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.conn != nil {
		w.conn.SetDeadline(time.Unix(1, 0))
	}
}

// guard wraps a deadline setter of the worker's connection so that it does
// nothing once the worker has been interrupted.
func (w *worker) guard(set func(time.Time) error) func(time.Time) error {
	return func(t time.Time) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.stopped {
			return net.ErrClosed
		}
		return set(t)
	}
}

// A backoff spaces out attempts against a target that fails, so that a
// refused port does not make a worker spin.
type backoff struct{ d time.Duration }

const (
	minBackoff = 10 * time.Millisecond
	maxBackoff = 250 * time.Millisecond
)

// wait sleeps for the next delay, or until the run stops.
func (b *backoff) wait(ctx context.Context) {
	b.d = min(max(2*b.d, minBackoff), maxBackoff)
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (b *backoff) reset() { b.d = 0 }

// pause waits out b unless no exchange is left to start.
func (w *worker) pause(b *backoff) {
	if w.r.more() {
		b.wait(w.r.ctx)
	}
}

// deadline sets a connection's deadline lazily: setting one costs a timer
// update (and here a lock, see [worker.guard]), so it is moved only once the
// one set is stale by more than 1/16 of the timeout. An exchange then times
// out between 15/16 of the timeout and the timeout after it started.
type deadline struct {
	set func(time.Time) error
	at  time.Time
}

func (d *deadline) extend(want time.Time, timeout time.Duration) {
	if want.Sub(d.at) > timeout/16 {
		d.set(want)
		d.at = want
	}
}

// errorKind names the reason of a failed exchange in a few words.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return "connect timeout"
		}
		return "timeout"
	case errors.Is(err, syscall.ENOENT):
		return "no such socket"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port free"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "lookup failed"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
