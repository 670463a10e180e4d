package upper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/inetkit/inetkit/sockserver"
)

// Mode is how a stream connection is served.
type Mode int

const (
	// ModeOneshot is the tutorial's protocol: one read of up to ReadSize
	// bytes, one reply, then the server closes the connection.
	ModeOneshot Mode = iota
	// ModeStream uppercases every byte as it arrives until the client closes;
	// a character split across reads is uppercased whole.
	ModeStream
	// ModeLine answers each LF-terminated line with its uppercase, in order,
	// until the client closes.
	ModeLine
)

var modeNames = [...]string{ModeOneshot: "oneshot", ModeStream: "stream", ModeLine: "line"}

// String returns the mode's name: "oneshot", "stream" or "line".
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode returns the Mode named s.
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if s == name {
			return Mode(m), nil
		}
	}
	return 0, fmt.Errorf("upper: unknown mode %q (want oneshot, stream or line)", s)
}

// Set implements pflag.Value (and flag.Value), so a Mode can be a flag.
func (m *Mode) Set(s string) error {
	v, err := ParseMode(s)
	if err == nil {
		*m = v
	}
	return err
}

// Type implements pflag.Value.
func (m *Mode) Type() string { return "mode" }

// Defaults for the zero values of [Handler] fields.
const (
	// DefaultReadSize is the tutorial's recv(1024).
	DefaultReadSize = 1024
	// DefaultMaxLineBytes caps a line in ModeLine: 64 KiB, the most any
	// line protocol here lets a client make the server buffer.
	DefaultMaxLineBytes = 64 << 10
	// maxLoggedBytes is how much of the received data a log line shows.
	maxLoggedBytes = 64
)

// A Handler serves the uppercase service on stream connections. Its zero value
// serves ModeOneshot with the tutorial's read size. It is safe for concurrent
// use; fields must not be changed while it serves.
type Handler struct {
	Mode Mode
	// ReadSize is the size of the one read in ModeOneshot. Zero means
	// DefaultReadSize.
	ReadSize int
	// MaxLineBytes caps a line, LF included, in ModeLine; a longer line ends
	// the connection. Zero means DefaultMaxLineBytes.
	MaxLineBytes int
	// Logger receives a line per request, as the tutorial prints the data it
	// received. Nil means slog.Default().
	Logger *slog.Logger
}

var (
	_ sockserver.InlineHandler = (*Handler)(nil)
	_ sockserver.EventHandler  = (*Handler)(nil)
)

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// logReceived logs data escaped (invalid UTF-8 and control bytes as \x..) and
// cut to maxLoggedBytes.
func logReceived(ctx context.Context, l *slog.Logger, remote net.Addr, data []byte) {
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	shown, truncated := data, false
	if len(shown) > maxLoggedBytes {
		shown, truncated = shown[:maxLoggedBytes], true
	}
	attrs := []slog.Attr{
		slog.String("remote", addrString(remote)),
		slog.Int("bytes", len(data)),
		// Handlers escape what is not printable: slog's text handler as \xff,
		// its JSON handler as \ufffd for bytes that are not UTF-8.
		slog.String("data", string(shown)),
	}
	if truncated {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	l.LogAttrs(ctx, slog.LevelInfo, "received", attrs...)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf(n int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, 0, n)
	}
	*bp = (*bp)[:0]
	return bp
}

func putBuf(bp *[]byte) {
	if cap(*bp) <= 256<<10 {
		bufPool.Put(bp)
	}
}

// ServeConn serves one connection in h.Mode.
func (h *Handler) ServeConn(ctx context.Context, conn net.Conn) error {
	switch h.Mode {
	case ModeOneshot:
		return h.serveOneshot(ctx, conn)
	case ModeStream:
		return h.serveStream(ctx, conn)
	case ModeLine:
		return h.serveLines(ctx, conn)
	}
	return fmt.Errorf("upper: unknown mode %v", h.Mode)
}

func (h *Handler) serveOneshot(ctx context.Context, conn net.Conn) error {
	size := h.ReadSize
	if size <= 0 {
		size = DefaultReadSize
	}
	in := getBuf(size)
	defer putBuf(in)
	n, err := conn.Read((*in)[:size])
	if n == 0 && err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	data := (*in)[:n]
	logReceived(ctx, h.logger(), conn.RemoteAddr(), data)
	out := getBuf(MaxExpansion * n)
	defer putBuf(out)
	*out = Append(*out, data)
	if _, err := conn.Write(*out); err != nil {
		return err
	}
	if n == size {
		// The client may have sent more than one read: make sure the unread
		// rest does not turn the close into a reset that destroys the reply.
		sockserver.Linger(conn, *in)
	}
	return nil
}

// InlineReadBytes implements sockserver.InlineHandler: in ModeOneshot, a
// sockserver.Server answers on its accepting goroutine.
func (h *Handler) InlineReadBytes() int {
	if h.Mode != ModeOneshot {
		return 0
	}
	if h.ReadSize <= 0 {
		return DefaultReadSize
	}
	return h.ReadSize
}

// ServeInline implements sockserver.InlineHandler: it appends the reply to
// request, the one read of ModeOneshot, to dst.
func (h *Handler) ServeInline(ctx context.Context, request []byte, remote net.Addr, dst []byte) []byte {
	logReceived(ctx, h.logger(), remote, request)
	return Append(dst, request)
}

func (h *Handler) serveStream(ctx context.Context, conn net.Conn) error {
	in, out := getBuf(4096), getBuf(MaxExpansion*4096)
	defer putBuf(in)
	defer putBuf(out)
	var t Transformer
	l := h.logger()
	for {
		n, err := conn.Read((*in)[:cap(*in)])
		if n > 0 {
			logReceived(ctx, l, conn.RemoteAddr(), (*in)[:n])
			*out = t.Append((*out)[:0], (*in)[:n])
			if _, werr := conn.Write(*out); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			*out = t.Flush((*out)[:0])
			if len(*out) > 0 {
				if _, werr := conn.Write(*out); werr != nil {
					return werr
				}
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// NewEventSession implements sockserver.EventHandler: in ModeStream and
// ModeLine, a sockserver.Server serves connections from event loops, with no
// goroutine or buffer per idle connection.
func (h *Handler) NewEventSession(remote net.Addr) sockserver.EventSession {
	switch h.Mode {
	case ModeStream:
		return &streamSession{h: h, remote: remote}
	case ModeLine:
		max := h.MaxLineBytes
		if max <= 0 {
			max = DefaultMaxLineBytes
		}
		return &lineSession{h: h, remote: remote, max: max}
	}
	return nil
}

// streamSession is ModeStream on an event loop.
type streamSession struct {
	h      *Handler
	remote net.Addr
	t      Transformer
}

func (ss *streamSession) Data(data, dst []byte) ([]byte, error) {
	logReceived(context.Background(), ss.h.logger(), ss.remote, data)
	return ss.t.Append(dst, data), nil
}

func (ss *streamSession) End(dst []byte) []byte { return ss.t.Flush(dst) }

func (ss *streamSession) Busy() bool { return false }

// lineSession is ModeLine on an event loop. pending holds the start of a line
// not yet complete, and nothing while the connection is idle.
type lineSession struct {
	h       *Handler
	remote  net.Addr
	max     int
	pending []byte
}

func (ls *lineSession) Data(data, dst []byte) ([]byte, error) {
	l := ls.h.logger()
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(ls.pending)+len(data) >= ls.max {
				ls.pending = nil
				return dst, ErrLineTooLong
			}
			ls.pending = append(ls.pending, data...)
			return dst, nil
		}
		line := data[:i+1]
		data = data[i+1:]
		if len(ls.pending) > 0 {
			line = append(ls.pending, line...)
			ls.pending = nil
		}
		if len(line) > ls.max {
			return dst, ErrLineTooLong
		}
		logReceived(context.Background(), l, ls.remote, line)
		dst = Append(dst, line)
	}
	return dst, nil
}

func (ls *lineSession) End(dst []byte) []byte {
	if len(ls.pending) == 0 {
		return dst
	}
	logReceived(context.Background(), ls.h.logger(), ls.remote, ls.pending)
	dst = Append(dst, ls.pending)
	ls.pending = nil
	return dst
}

func (ls *lineSession) Busy() bool { return len(ls.pending) > 0 }

// ErrLineTooLong is returned by ServeConn in ModeLine for a line longer than
// MaxLineBytes.
var ErrLineTooLong = errors.New("upper: line too long")

func (h *Handler) serveLines(ctx context.Context, conn net.Conn) error {
	max := h.MaxLineBytes
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	in, out := getBuf(4096), getBuf(MaxExpansion*4096)
	defer putBuf(in)
	defer putBuf(out)
	l := h.logger()
	buf := (*in)[:0] // pending input: the start of a line not yet complete
	for {
		limit := min(cap(buf), max)
		if len(buf) == limit {
			if limit == max {
				l.Warn("line too long; closing", "remote", addrString(conn.RemoteAddr()), "max", max)
				sockserver.Linger(conn, buf)
				return ErrLineTooLong
			}
			buf = append(buf, make([]byte, min(cap(buf), max-cap(buf)))...)[:len(buf)]
			*in = buf
			limit = min(cap(buf), max)
		}
		n, err := conn.Read(buf[len(buf):limit])
		scanned := len(buf)
		buf = buf[:len(buf)+n]
		// Answer every complete line in what arrived, in one write.
		*out = (*out)[:0]
		start := 0
		for i := bytes.IndexByte(buf[scanned:], '\n'); i >= 0; i = bytes.IndexByte(buf[scanned:], '\n') {
			end := scanned + i + 1
			line := buf[start:end]
			logReceived(ctx, l, conn.RemoteAddr(), line)
			*out = Append(*out, line)
			start, scanned = end, end
		}
		if len(*out) > 0 {
			if _, werr := conn.Write(*out); werr != nil {
				return werr
			}
		}
		buf = buf[:copy(buf, buf[start:])]
		if errors.Is(err, io.EOF) {
			if len(buf) > 0 { // a last line without LF
				logReceived(ctx, l, conn.RemoteAddr(), buf)
				if _, werr := conn.Write(Append((*out)[:0], buf)); werr != nil {
					return werr
				}
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// A PacketHandler serves the uppercase service on datagrams: each datagram
// gets one reply datagram with its uppercase. It is safe for concurrent use.
type PacketHandler struct {
	// Logger receives a line per datagram. Nil means slog.Default().
	Logger *slog.Logger
}

var _ sockserver.PacketHandler = (*PacketHandler)(nil)

// ServePacket answers p with its uppercase.
func (h *PacketHandler) ServePacket(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
	l := h.Logger
	if l == nil {
		l = slog.Default()
	}
	logReceived(ctx, l, from, p)
	out := getBuf(MaxExpansion * len(p))
	defer putBuf(out)
	*out = Append(*out, p)
	if _, err := w.Write(*out); err != nil && !errors.Is(err, sockserver.ErrReplyDropped) {
		l.Warn("reply failed", "remote", addrString(from), "err", err)
	}
}
