package web

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/sockserver"
)

// ErrServerClosed is returned by Serve, ServeTLS and ListenAndServe after
// Shutdown or Close; it is sockserver's, as for every inetkit server.
var ErrServerClosed = sockserver.ErrServerClosed

// Defaults for the zero values of [Limits] fields.
const (
	// DefaultReadHeaderTimeout bounds the reading of a request's header.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the reading of a whole request, header and
	// body, for a handler that sets no read deadline of its own (the
	// FileServer's PUT sets its own, through http.ResponseController).
	DefaultReadTimeout = time.Minute
	// DefaultWriteTimeout is the longest a write may make no progress: a
	// download goes on as long as the client reads, however slowly it
	// reads, and ends when it stops reading for this long.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = time.Minute
	// DefaultMaxHeaderBytes caps a request's header: a larger one gets 431
	// Request Header Fields Too Large (RFC 6585 §5).
	DefaultMaxHeaderBytes = 1 << 20
	// DefaultMaxBodyBytes caps every request body that its handler does not
	// raise the cap of with AllowBodyBytes: a larger one gets 413 Content
	// Too Large (RFC 9110 §15.5.14).
	DefaultMaxBodyBytes = 1 << 20
)

// Limits are the timeouts and caps of a [Server]. For every field zero
// means the default (the Default constant named after the field, or
// sockserver's) and a negative value means none.
type Limits struct {
	// ReadHeaderTimeout bounds the reading of each request's header.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, unless its handler
	// sets a read deadline of its own.
	ReadTimeout time.Duration
	// WriteTimeout is the longest one write may make no progress. Unlike
	// http.Server's WriteTimeout, which bounds a whole response, it lets a
	// large download over a slow link finish and cuts a client that has
	// stopped reading.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request. It also bounds every read of the connection.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the size of a request's header.
	MaxHeaderBytes int
	// MaxBodyBytes caps the size of every request body, unless the handler
	// raises the cap for its request with [AllowBodyBytes].
	MaxBodyBytes int64

	// MaxConns limits the connections open at once.
	MaxConns int
	// MaxConnsPerIP limits the connections open at once from one IP
	// address; zero means no limit.
	MaxConnsPerIP int
	// MaxConnRatePerIP limits the new connections one IP address may open
	// per second, on average; zero means no limit.
	MaxConnRatePerIP float64
}

// A Server serves HTTP with Handler, on net/http, with every timeout and
// cap of Limits set and the connection limits, deadlines and counters of a
// sockserver.Server. A Server speaks HTTP/1.1 on every listener, HTTP/2 on
// TLS listeners (negotiated with ALPN, RFC 7301), and HTTP/2 with prior
// knowledge on plain listeners if H2C is set.
//
// On a plain HTTP/1 connection a file served with [http.ServeContent] or
// io.Copy from an *os.File, to an unwrapped ResponseWriter, goes out by
// sendfile(2).
//
// When a [FileServer] serves the files (Files, or a FileServer as Handler),
// a plain connection's requests are read by the Server itself until one is
// not a plain HTTP/1.1 GET or HEAD of a small file (up to 64 KiB), which it
// answers, header and file, in one write(2), with the bytes net/http and
// the FileServer would send; at the first request of another kind, the
// connection, with what was read of it, goes to net/http for the rest of
// its life. Timeouts, caps and Shutdown are as net/http's.
//
// Fields must not be changed once Serve is called. A Server is safe for
// concurrent use and cannot be reused after Shutdown or Close.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":http".
	Addr string
	// Handler serves the requests; use an [http.ServeMux] to mount several.
	// It is required.
	Handler http.Handler
	// TLSConfig, with a certificate, is used by ServeTLS and
	// ListenAndServeTLS.
	TLSConfig *tls.Config
	// H2C enables HTTP/2 with prior knowledge over cleartext connections.
	H2C bool
	// Files, if set, returns the FileServer that Handler hands a plain GET
	// or HEAD of the path p to, unchanged (p is the request's path, clean,
	// not the root and with no query), or nil for a path that Handler
	// serves otherwise. Handler must not look at anything else of such a
	// request, which has no body and no Authorization. With Files, or with
	// a FileServer as Handler, a plain connection (not TLS) answers such
	// requests for small files itself, ahead of net/http, with the reply
	// the FileServer would give through net/http, and hands everything
	// else to Handler through net/http. Not with Faults.
	Files func(p string) *FileServer
	// Limits are the timeouts and caps.
	Limits
	// Logger receives errors. Nil means slog.Default().
	Logger *slog.Logger
	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "http": at "connect" (close, reset, hang) and at request
	// paths by prefix ("/", "/api/"): a status in place of the reply
	// ("503 Service Unavailable", with Retry-After), the reply late,
	// paced or cut short, the connection closed, reset or silent;
	// disk-full is 507, store-error 503.
	Faults *fault.Set

	once    sync.Once
	sock    *sockserver.Server
	http    *http.Server
	http1   *http.Server // s.http, or with H2C its HTTP/1-only twin (see serveFast)
	sent    atomic.Int64 // bytes written by sendfile, which bypasses sock's counters
	closing atomic.Bool

	fastMu    sync.Mutex
	fastLns   map[net.Listener]struct{}
	fastConns map[*fastConn]struct{}
	fastWG    sync.WaitGroup // the goroutines of fastConns
	fastN     atomic.Int64   // replies sent by the fast path
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// negative returns -1 for a resolved "none", as sockserver wants it.
func negative(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// h2Config returns a copy of cfg that names h2 and http/1.1 in its ALPN
// protocols, or nil. net/http sets HTTP/2 up once per server, for whichever
// of Serve and ServeTLS runs first, and Serve (a plain listener beside the
// TLS one) does it only when the TLS configuration names h2: without it,
// ServeTLS would offer h2 with nothing to speak it. The copy also keeps
// net/http's changes off a configuration the caller may share with other
// servers.
func h2Config(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		return nil
	}
	cfg = cfg.Clone()
	if !slices.Contains(cfg.NextProtos, "h2") {
		cfg.NextProtos = append([]string{"h2", "http/1.1"}, cfg.NextProtos...)
	}
	return cfg
}

func (s *Server) setup() {
	s.once.Do(func() {
		l := s.Limits
		writeTimeout := durationOr(l.WriteTimeout, DefaultWriteTimeout)
		idle := durationOr(l.IdleTimeout, DefaultIdleTimeout)
		s.sock = &sockserver.Server{
			// The handler is never called: connections come from
			// WrapListener and are served by net/http.
			Handler:          sockserver.HandlerFunc(func(context.Context, net.Conn) error { return nil }),
			Logger:           s.Logger,
			IdleTimeout:      negative(idle),
			WriteTimeout:     negative(writeTimeout),
			MaxConns:         l.MaxConns,
			MaxConnsPerIP:    l.MaxConnsPerIP,
			MaxConnRatePerIP: l.MaxConnRatePerIP,
			Reject:           s.reject,
			Faults:           s.Faults,
			FaultService:     "http",
		}
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(true)
		protocols.SetUnencryptedHTTP2(s.H2C)
		maxHeader := l.MaxHeaderBytes
		switch {
		case maxHeader == 0:
			maxHeader = DefaultMaxHeaderBytes
		case maxHeader < 0:
			maxHeader = 1<<31 - 1
		}
		s.http = s.newHTTP(&protocols, writeTimeout, idle, maxHeader)
		s.http1 = s.http
		if s.H2C && s.fastEnabled() {
			// For the connections the fast path hands over after a
			// request: net/http looks for HTTP/2's preface only at the
			// start of a connection.
			var http1 http.Protocols
			http1.SetHTTP1(true)
			s.http1 = s.newHTTP(&http1, writeTimeout, idle, maxHeader)
		}
	})
}

// newHTTP returns the http.Server of s for protocols.
func (s *Server) newHTTP(protocols *http.Protocols, writeTimeout, idle time.Duration, maxHeader int) *http.Server {
	l := s.Limits
	return &http.Server{
		Handler:           s.faults(s.wrapHandler(s.Handler, writeTimeout)),
		TLSConfig:         h2Config(s.TLSConfig),
		ReadHeaderTimeout: durationOr(l.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       durationOr(l.ReadTimeout, DefaultReadTimeout),
		// No WriteTimeout: it would bound a whole response. Every
		// write gets a deadline of its own instead (see Limits).
		IdleTimeout:    idle,
		MaxHeaderBytes: maxHeader,
		Protocols:      protocols,
		ErrorLog:       slog.NewLogLogger(s.logger().Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if wc, ok := c.(*conn); ok {
				return context.WithValue(ctx, connKey{}, wc)
			}
			return ctx
		},
	}
}

// reject answers a connection refused by a connection limit with 503
// Service Unavailable (RFC 9110 §15.6.4). A TLS client cannot read it, and
// sees the connection fail, as it would if it were just closed.
func (s *Server) reject(conn net.Conn, err error) {
	if errors.Is(err, sockserver.ErrServerClosed) {
		return
	}
	io.WriteString(conn, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\nRetry-After: 1\r\nConnection: close\r\n\r\n503 Service Unavailable\n")
}

// ListenAndServe listens on the TCP address s.Addr and serves it.
func (s *Server) ListenAndServe() error {
	l, err := s.listen(":http")
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// ListenAndServeTLS listens on the TCP address s.Addr and serves it with
// TLS.
func (s *Server) ListenAndServeTLS() error {
	l, err := s.listen(":https")
	if err != nil {
		return err
	}
	return s.ServeTLS(l)
}

func (s *Server) listen(def string) (net.Listener, error) {
	if s.closing.Load() {
		return nil, ErrServerClosed
	}
	addr := s.Addr
	if addr == "" {
		addr = def
	}
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), "tcp", addr)
}

// Serve serves HTTP on l until Shutdown or Close, and closes l. It always
// returns a non-nil error: ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("web: Server.Handler is nil")
	}
	s.setup()
	if s.fastEnabled() {
		return s.served(s.serveFast(s.wrap(l)))
	}
	return s.served(s.http.Serve(s.wrap(l)))
}

// ServeTLS serves HTTPS on l, with s.TLSConfig, until Shutdown or Close,
// and closes l. HTTP/2 is offered through ALPN. It always returns a non-nil
// error: ErrServerClosed after Shutdown or Close.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.Handler == nil || s.TLSConfig == nil {
		l.Close()
		return errors.New("web: ServeTLS needs Server.Handler and Server.TLSConfig")
	}
	s.setup()
	return s.served(s.http.ServeTLS(s.wrap(l), "", ""))
}

func (s *Server) served(err error) error {
	if errors.Is(err, http.ErrServerClosed) || s.closing.Load() {
		return ErrServerClosed
	}
	return err
}

// wrap returns l with sockserver's limits and deadlines, and connections
// that can send files by sendfile(2).
func (s *Server) wrap(l net.Listener) net.Listener {
	return &listener{Listener: s.sock.WrapListener(l), srv: s}
}

// Shutdown stops the server gracefully: listeners close at once, idle
// connections are closed, and the requests in flight may finish until ctx
// is done, when the remaining connections are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.setup()
	s.closing.Store(true)
	s.closeFast(false)
	err := s.http.Shutdown(ctx)
	if s.http1 != s.http {
		if err1 := s.http1.Shutdown(ctx); err == nil {
			err = err1
		}
	}
	if err != nil {
		s.http.Close()
		s.http1.Close()
	}
	if !s.waitFast(ctx.Done()) {
		s.closeFast(true)
		if err == nil {
			err = ctx.Err()
		}
	}
	if serr := s.sock.Shutdown(ctx); err == nil {
		err = serr
	}
	return err
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.setup()
	s.closing.Store(true)
	s.closeFast(true)
	err := s.http.Close()
	s.http1.Close()
	s.sock.Close()
	return err
}

// Stats returns the connection counters of the server.
func (s *Server) Stats() sockserver.Stats {
	s.setup()
	st := s.sock.Stats()
	st.BytesWritten += s.sent.Load()
	return st
}

// wrapHandler applies MaxBodyBytes to every request and, on HTTP/2, where
// the streams of a connection share it, a write deadline that moves with
// every write of the handler.
func (s *Server) wrapHandler(h http.Handler, writeTimeout time.Duration) http.Handler {
	maxBody := int64Or(s.MaxBodyBytes, DefaultMaxBodyBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// A shallow copy: net/http looks at the original's Body to know
			// whether an "Expect: 100-continue" body was left unread.
			r = r.WithContext(r.Context())
			r.Body = &cappedBody{w: w, body: r.Body, limit: maxBody}
		}
		if r.ProtoMajor == 2 && writeTimeout > 0 {
			w = &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: writeTimeout}
		}
		h.ServeHTTP(w, r)
	})
}

// cappedBody is a request body capped, from its first read on, by
// http.MaxBytesReader with limit (zero meaning none).
type cappedBody struct {
	w     http.ResponseWriter
	body  io.ReadCloser
	limit int64
	r     io.Reader // set at the first Read
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.r == nil {
		b.r = b.body
		if b.limit > 0 {
			b.r = http.MaxBytesReader(b.w, b.body, b.limit)
		}
	}
	return b.r.Read(p)
}

func (b *cappedBody) Close() error { return b.body.Close() }

// AllowBodyBytes raises (or lowers) the cap that [Server] puts on the body
// of r to n bytes; n <= 0 means no cap. A handler that takes large bodies
// calls it before reading the body. It reports false if the cap could not
// be changed because the body has been read from already. A request whose
// body did not come from a Server has no such cap. This function doesn't
// perform I/O.
func AllowBodyBytes(r *http.Request, n int64) bool {
	b, ok := r.Body.(*cappedBody)
	if !ok {
		return true
	}
	if b.r != nil {
		return false
	}
	b.limit = max(n, 0)
	return true
}

// progressWriter moves the HTTP/2 stream's write deadline before every
// write, so that a stream whose reader has stopped (and whose flow-control
// window stays shut) ends after the timeout, without cutting a slow one.
type progressWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
	return p.ResponseWriter.Write(b)
}

func (p *progressWriter) Flush() { p.rc.Flush() }

// Unwrap returns the ResponseWriter for http.ResponseController.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// listener hands out connections that implement io.ReaderFrom.
type listener struct {
	net.Listener
	srv *Server
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, srv: l.srv}, nil
}

// conn is a sockserver connection that sends files with sendfile(2): when
// net/http finds an io.ReaderFrom under its ResponseWriter, it hands the
// file over to it, and net.TCPConn's ReadFrom uses sendfile(2). Every chunk
// gets a fresh write deadline, so a client that stops reading is cut after
// WriteTimeout and a slow one is not.
type conn struct {
	net.Conn
	srv *Server
	// keepOpen counts the requests of the connection running under
	// KeepOpen (several at once over HTTP/2).
	kmu      sync.Mutex
	keepOpen int
	// gathered, when not nil, holds what is written until flushGathered
	// writes it at once. Only the handler's goroutine writes to an HTTP/1
	// connection, and only it gathers.
	gathered *[]byte
	// pre holds what the fast path read before it handed the connection
	// to net/http, which reads it first.
	pre []byte
	// hdrBy, if not zero, is when (Unix nanoseconds) the header of the
	// request the fast path handed over must be whole: it bounds the first
	// read deadline net/http sets, that of the header.
	hdrBy atomic.Int64
}

func (c *conn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		if c.pre = c.pre[n:]; len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	if c.hdrBy.Load() != 0 {
		if by := c.hdrBy.Swap(0); by != 0 {
			if hb := time.Unix(0, by); t.IsZero() || t.After(hb) {
				t = hb
			}
		}
	}
	return c.Conn.SetReadDeadline(t)
}

// connKey is the request context's key for its *conn.
type connKey struct{}

// gatherConn returns the connection of r if its writes can be gathered: a
// plain HTTP/1 connection of a Server.
func gatherConn(r *http.Request) *conn {
	if r.ProtoMajor != 1 || r.TLS != nil {
		return nil
	}
	c, _ := r.Context().Value(connKey{}).(*conn)
	return c
}

// maxGathered is the most a gathered write holds; beyond it, it is written.
const maxGathered = 256 << 10

var gatherBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 8<<10)
	return &b
}}

// gather makes c hold what is written to it until flushGathered, so that
// a reply written by net/http in pieces leaves in one write(2).
func (c *conn) gather() {
	if c.gathered == nil {
		c.gathered = gatherBufs.Get().(*[]byte)
	}
}

// flushGathered writes what c has gathered and ends the gathering.
func (c *conn) flushGathered() error {
	bp := c.gathered
	if bp == nil {
		return nil
	}
	c.gathered = nil
	var err error
	if len(*bp) > 0 {
		_, err = c.Conn.Write(*bp)
	}
	if cap(*bp) <= maxGathered {
		*bp = (*bp)[:0]
		gatherBufs.Put(bp)
	}
	return err
}

func (c *conn) Write(p []byte) (int, error) {
	if bp := c.gathered; bp != nil {
		if len(*bp)+len(p) <= maxGathered {
			*bp = append(*bp, p...)
			return len(p), nil
		}
		if err := c.flushGathered(); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

// sendfileChunk is the most sent under one write deadline.
const sendfileChunk = 4 << 20

func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.flushGathered(); err != nil {
		return 0, err
	}
	tcp, ok := c.tcp()
	if !ok || !isFile(r) {
		return io.Copy(writerOnly{c.Conn}, r)
	}
	timeout := durationOr(c.srv.WriteTimeout, DefaultWriteTimeout)
	// Each sendfile(2) call waits at most a quarter of the timeout, so that
	// a stall is noticed between 1 and 1.25 timeouts after it began.
	step := timeout / 4
	lr, limited := r.(*io.LimitedReader)
	if !limited {
		lr = &io.LimitedReader{R: r, N: 1<<63 - 1}
	}
	var total int64
	progress := time.Now()
	for lr.N > 0 {
		if step > 0 {
			tcp.SetWriteDeadline(time.Now().Add(step))
		}
		chunk := &io.LimitedReader{R: lr.R, N: min(lr.N, sendfileChunk)}
		n, err := tcp.ReadFrom(chunk)
		total += n
		lr.N -= n
		c.srv.sent.Add(n)
		if n > 0 {
			progress = time.Now()
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(progress) < timeout {
				continue // a slow reader, not a stalled one
			}
			return total, err
		}
		if chunk.N > 0 { // the file ended early
			break
		}
	}
	return total, nil
}

// tcp returns the TCP connection under c.
func (c *conn) tcp() (*net.TCPConn, bool) {
	nc, ok := c.Conn.(interface{ NetConn() net.Conn })
	if !ok {
		return nil, false
	}
	tcp, ok := nc.NetConn().(*net.TCPConn)
	return tcp, ok
}

// isFile reports whether r, or the reader r limits, is an open file.
func isFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*os.File)
	return ok
}

// CloseWrite half-closes the connection, which net/http does before it
// closes a connection with unread request data.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// writerOnly hides a Writer's ReadFrom, so that io.Copy does not recurse.
type writerOnly struct{ io.Writer }
