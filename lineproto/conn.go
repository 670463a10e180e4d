package lineproto

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/sockserver"
)

// Config is what the connections of one server share. A server makes one
// when it starts and passes it to NewConn for every connection; it must not
// be changed after that.
type Config struct {
	// Limits are the server's limits, resolved.
	Limits Limits
	// TLSConfig serves implicit TLS and StartTLS; nil means neither.
	TLSConfig *tls.Config
	// Logger receives refused input and goodbyes. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if not nil, receives a copy of every octet read and
	// written, after TLS decryption. It must be safe for concurrent use
	// (sockserver.SyncWriter).
	DebugWriter io.Writer
	// Goodbye returns the line the server sends, without its line ending,
	// before it closes a session for a reason; "" sends nothing.
	Goodbye func(Reason) string
	// AuthLimiter, if not nil, counts failed logins across connections.
	AuthLimiter *AuthLimiter
	// ReadBufferBytes is the size of each connection's read buffer, and so
	// the longest line it can read; 0 means DefaultReadBufferBytes.
	ReadBufferBytes int

	// Faults, if not nil, are the faults the server injects on demand:
	// see Conn.Inject. Service names the server in their rules ("smtp").
	Faults  *fault.Set
	Service string
	// FaultReply returns the protocol's reply to a delivery that a fault
	// fails (fault.KindDiskFull, fault.KindStoreError), without its line
	// ending; nil for a protocol that delivers nothing.
	FaultReply func(fault.Kind) string
}

// A Conn is the server side of one line-protocol connection: a Reader of
// command lines, a buffered Writer whose every write has a deadline, the TLS
// state, and the connection's error and login counters. It is not safe for
// concurrent use.
type Conn struct {
	// Log is the connection's logger, with its remote address; a server may
	// add attributes (With) as the session goes on.
	Log *slog.Logger
	// Counter applies the error and login limits.
	Counter Counter
	// User is the client's login once it has logged in: fault rules aimed
	// at a login match it.
	User string

	cfg *Config
	ctx context.Context
	raw net.Conn // as accepted: deadlines, shutdown, linger
	nc  net.Conn // raw, or TLS over raw
	r   *Reader
	w   *bufio.Writer
	wr  io.Writer // what w writes to, for Rest and Wake
	// fw, with Config.Faults, is the writer under w: it paces or cuts the
	// replies as a fault asks.
	fw    *sockserver.FaultWriter
	paced bool // fw paces the replies to the last command
}

// NewConn returns a Conn for nc, which ctx belongs to. If nc came from an
// ImplicitTLS listener, NewConn first completes the TLS handshake, within
// CommandTimeout; it returns an error if that fails. A connection that is
// already a *tls.Conn (or wraps one) counts as encrypted.
func NewConn(ctx context.Context, nc net.Conn, cfg *Config) (*Conn, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Conn{
		Log:     log.With("remote", RemoteString(nc)),
		Counter: NewCounter(cfg.Limits),
		cfg:     cfg,
		ctx:     ctx,
		raw:     nc,
		nc:      nc,
	}
	if IsImplicitTLS(nc) {
		tc, err := Handshake(ctx, nc, cfg.TLSConfig, cfg.Limits.CommandTimeout)
		if err != nil {
			c.Log.Info("TLS handshake failed", "err", err)
			return nil, err
		}
		c.nc = tc
	} else if tc := TLSConn(nc); tc != nil {
		if d := cfg.Limits.CommandTimeout; d > 0 {
			tc.SetDeadline(time.Now().Add(d))
		}
		err := tc.HandshakeContext(ctx)
		tc.SetDeadline(time.Time{})
		if err != nil {
			c.Log.Info("TLS handshake failed", "err", err)
			return nil, err
		}
	}
	c.r = NewReader(nc, c.tee(c.nc), cfg.ReadBufferBytes, cfg.Limits.IdleTimeout, cfg.Limits.CommandTimeout)
	c.wr = c.writer(c.nc)
	c.w = bufio.NewWriterSize(c.wr, DefaultReadBufferBytes)
	return c, nil
}

// addrIP returns the IP address of a, if it has one.
func addrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// RemoteString returns the remote address of nc as a string, or "".
func RemoteString(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

func (c *Conn) tee(src io.Reader) io.Reader {
	if c.cfg.DebugWriter != nil {
		return io.TeeReader(src, c.cfg.DebugWriter)
	}
	return src
}

func (c *Conn) writer(nc net.Conn) io.Writer {
	w := DeadlineWriter(nc, c.cfg.Limits.WriteTimeout)
	if c.cfg.DebugWriter != nil {
		w = io.MultiWriter(c.cfg.DebugWriter, w)
	}
	if c.cfg.Faults == nil {
		return w
	}
	if c.fw == nil {
		c.fw = &sockserver.FaultWriter{Conn: c.raw, Context: c.ctx}
	}
	c.fw.W = w
	return c.fw
}

// Context returns the connection's context: cancelled when the connection
// ends or the server closes.
func (c *Conn) Context() context.Context { return c.ctx }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// NetConn returns the connection the protocol runs over: the accepted
// connection, or TLS over it.
func (c *Conn) NetConn() net.Conn { return c.nc }

// TLS reports whether the connection is encrypted.
func (c *Conn) TLS() bool { return IsTLS(c.nc) }

// Reader returns the connection's Reader.
func (c *Conn) Reader() *Reader { return c.r }

// Writer returns the connection's buffered writer. Replies are sent when
// Flush is called, or when ReadLine is about to wait for input.
func (c *Conn) Writer() *bufio.Writer { return c.w }

// Flush sends what is buffered.
func (c *Conn) Flush() error { return c.w.Flush() }

// restBufferBytes is the size of the write buffer of a connection that
// waits for its client (see Rest).
const restBufferBytes = 16

// Rest sends what is buffered and, as the connection is about to wait for
// its client, lets go of the write buffer: an idle connection holds a
// buffer of a few octets, not DefaultReadBufferBytes. Wake gives it back
// when the client's command arrives; a write before that works, but is
// hardly buffered. ReadLine calls Rest and Wake itself. Once the writer
// was Reset to another writer (Writer().Reset), Rest and Wake would write
// to the Conn's own again: use SetWriter instead.
func (c *Conn) Rest() error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	if c.w.Size() > restBufferBytes {
		*c.w = *bufio.NewWriterSize(c.wr, restBufferBytes)
	}
	return nil
}

// SetWriter makes the writer write to w, a layer over the connection
// (compression), after Flush; Rest and Wake keep to it.
func (c *Conn) SetWriter(w io.Writer) {
	c.wr = w
	c.w.Reset(w)
}

// Wake gives the writer back the buffer Rest let go of, if the writer
// holds nothing.
func (c *Conn) Wake() {
	if c.w.Size() < DefaultReadBufferBytes && c.w.Buffered() == 0 {
		*c.w = *bufio.NewWriterSize(c.wr, DefaultReadBufferBytes)
	}
}

// ReadLine flushes the replies if no whole line is buffered (a pipelining
// client gets its replies together), letting go of the write buffer while
// it waits (Rest), then reads a line of at most max octets, as
// Reader.ReadLine does, and gives the buffer back for the replies (Wake).
func (c *Conn) ReadLine(max int) ([]byte, error) {
	if !c.r.HasLine() {
		if err := c.Rest(); err != nil {
			return nil, err
		}
	}
	c.endPace()
	line, err := c.r.ReadLine(max)
	c.Wake()
	return line, err
}

// StartTLS starts TLS once the reply to the protocol's STARTTLS command is
// buffered: it flushes the reply, discards the plaintext the client sent
// after its command, and performs the handshake within CommandTimeout. A
// non-nil error ends the connection.
func (c *Conn) StartTLS() error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	sockserver.MarkBusy(c.raw) // the handshake finishes even during Shutdown
	tc, n, err := StartTLS(c.ctx, c.r, c.nc, c.cfg.TLSConfig, c.cfg.Limits.CommandTimeout,
		func(tc *tls.Conn) io.Reader { return c.tee(tc) })
	if n > 0 {
		c.Log.Warn("discarded plaintext sent after the STARTTLS command", "bytes", n)
	}
	if err != nil {
		c.Log.Info("TLS handshake failed", "err", err)
		return err
	}
	c.nc = tc
	c.wr = c.writer(tc)
	c.w.Reset(c.wr)
	return nil
}

// Sleep waits for d, or until the connection ends, and then returns the
// context's error.
func (c *Conn) Sleep(d time.Duration) error { return Sleep(c.ctx, d) }

// Delay flushes what is buffered and waits for a verdict's delay: an error
// reply past the soft limit, or a failed login, is sent late, but the replies
// before it are not.
func (c *Conn) Delay(v Verdict) error {
	if v.Delay <= 0 {
		return nil
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	return c.Sleep(v.Delay)
}

// ReadFailed logs why a read ended the session and says the goodbye it
// calls for. It returns the reason.
func (c *Conn) ReadFailed(err error) Reason {
	r := Classify(err, c.r.InCommand())
	switch r {
	case ReasonClosed:
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			c.Log.Debug("read error", "err", err)
		}
		return r
	case ReasonLineTooLong:
		c.Log.Warn("closing: line too long")
	default:
		c.Log.Info("closing: " + r.String())
	}
	c.Goodbye(r)
	return r
}

// Goodbye sends the goodbye line for r, if the protocol has one, and, if r
// calls for it, lingers so that it arrives before the close. The caller
// closes the connection.
func (c *Conn) Goodbye(r Reason) {
	var line string
	if c.cfg.Goodbye != nil {
		line = c.cfg.Goodbye(r)
	}
	c.say(line, r.Linger())
}

// say sends line, unless it is "", and, with linger, half-closes and reads
// what the client still sends for a moment, so that a reset does not destroy
// the line in flight.
func (c *Conn) say(line string, linger bool) {
	c.Wake()
	if line != "" {
		c.w.WriteString(line)
		c.w.WriteString("\r\n")
	}
	if c.w.Flush() != nil || !linger {
		return
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.CloseWrite()
	}
	c.r.Discard()
	sockserver.Linger(c.raw, make([]byte, DefaultReadBufferBytes))
}

// Quote returns line escaped for a log as in a Go string literal, without
// the quotes, and at most 64 octets of it. This function doesn't perform I/O.
func Quote(line []byte) string {
	more := ""
	if len(line) > 64 {
		line, more = line[:64], "..."
	}
	q := strconv.QuoteToASCII(string(line))
	return q[1:len(q)-1] + more
}

// DeadlineWriter returns a writer that sets a write deadline of timeout on
// conn before every write, so that a client that stops reading cannot hold
// the connection. A timeout of 0 means none.
func DeadlineWriter(conn net.Conn, timeout time.Duration) io.Writer {
	return &deadlineWriter{conn: conn, timeout: timeout}
}

type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
			return 0, err
		}
	}
	return w.conn.Write(p)
}

// Setup returns a copy of c ready to be shared by a server's connections:
// its Limits resolved against def (see Limits.Resolve), an AuthLimiter of
// the server's own when c has none (NewAuthLimiter of the resolved
// AuthFailureDelay), and its DebugWriter made safe for concurrent use
// (sockserver.SyncWriter).
func (c Config) Setup(def Limits) *Config {
	c.Limits = c.Limits.Resolve(def)
	if c.AuthLimiter == nil {
		c.AuthLimiter = NewAuthLimiter(c.Limits.AuthFailureDelay)
	}
	if c.DebugWriter != nil {
		c.DebugWriter = sockserver.SyncWriter(c.DebugWriter)
	}
	return &c
}
