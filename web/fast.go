package web

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The fast path. On a plain listener, a Server whose files are served by a
// FileServer (Server.Files, or a FileServer as the Handler) reads each
// connection's requests itself, and answers a plain HTTP/1.1 GET or HEAD of
// a small regular file (serveSmall's requests: no Range, If-Range, If-Match
// or If-Unmodified-Since, no body, no credentials) with the bytes net/http
// and the FileServer would send, in one write(2), without net/http's
// per-request work (its Request and header map, context, response buffers,
// background read goroutine). At the first request it does not answer, it
// hands the connection, with the bytes it has read, to net/http for the
// rest of its life: every request net/http would refuse, redirect or answer
// otherwise is answered by net/http, as before.
//
// The parser is strict, and anything it does not expect is net/http's: a
// request line other than "GET" or "HEAD", one space, an absolute path of
// unreserved characters with no empty, dot-led or trailing-slash element,
// one space and "HTTP/1.1"; header lines of a token, a colon and a value of
// visible characters, spaces and tabs, each ending in CRLF; exactly one
// valid Host; no Content-Length, Transfer-Encoding, Expect, Upgrade,
// Connection but "keep-alive", Range, If-Range, If-Match,
// If-Unmodified-Since, Authorization or Trailer, and no repeated header it
// reads; the whole header within fastReadBuf bytes and MaxHeaderBytes. The
// timeouts are net/http's: the first request's header must arrive within
// ReadHeaderTimeout of the accept; a connection waits IdleTimeout after a
// reply for the first 4 bytes of the next request, whose header must then
// arrive within ReadHeaderTimeout. A connection that waits for a request
// holds a 4 KiB buffer and its goroutine (net/http's holds two buffers):
// idle connections after a GET cost half the memory they did.

// fastReadBuf is the size of a fast connection's read buffer, that of
// net/http's bufio.Reader; a request header that does not fit goes to
// net/http.
const fastReadBuf = 4 << 10

// fastHeaderRoom is the room left before the file in an output buffer for
// the reply's header, which is written right in front of the file.
const fastHeaderRoom = 1 << 10

var fastReadBufs = sync.Pool{New: func() any { return new([fastReadBuf]byte) }}

// fastFileMax is the largest file the output buffers hold: smallFileMax,
// unless a test changes that.
const fastFileMax = 64 << 10

var fastOutBufs = sync.Pool{New: func() any {
	b := make([]byte, fastHeaderRoom+fastFileMax)
	return &b
}}

// Fast connection states.
const (
	fastIdle   = iota // waiting for the first bytes of a request
	fastBusy          // reading or answering a request
	fastClosed        // closed by Shutdown while idle
)

// fastConn is a connection served by the fast path.
type fastConn struct {
	c     *conn
	state atomic.Int32
}

// handoff is the listener net/http serves: it hands out the connections
// the fast path gives up.
type handoff struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// give hands c to net/http; false means net/http has stopped serving.
func (h *handoff) give(c net.Conn) bool {
	select {
	case <-h.done:
		return false
	default:
	}
	select {
	case h.conns <- c:
		return true
	case <-h.done:
		return false
	}
}

// filesFor returns the FileServer that serves a plain GET or HEAD of the
// clean path p, or nil.
func (s *Server) filesFor(p string) *FileServer {
	if s.Files != nil {
		return s.Files(p)
	}
	fsrv, _ := s.Handler.(*FileServer)
	return fsrv
}

// fastEnabled reports whether plain connections take the fast path: not
// with Faults, which are injected in front of Handler.
func (s *Server) fastEnabled() bool {
	if s.Faults != nil {
		return false
	}
	if s.Files != nil {
		return true
	}
	_, ok := s.Handler.(*FileServer)
	return ok
}

// serveFast accepts the connections of l and serves each on the fast path,
// with net/http serving those it hands off.
func (s *Server) serveFast(l net.Listener) error {
	defer l.Close()
	if !s.trackFast(l, true) {
		return ErrServerClosed
	}
	defer s.trackFast(l, false)
	// first is for connections handed over at their first request, later
	// for the others: with H2C, net/http's twin that speaks HTTP/1 alone
	// serves them, as net/http would serve a request that looks like
	// HTTP/2's preface after another request.
	first, later := newHandoff(l.Addr()), newHandoff(l.Addr())
	httpDone := make(chan error, 2)
	go func() { httpDone <- s.http.Serve(first) }()
	if s.http1 != s.http {
		go func() { httpDone <- s.http1.Serve(later) }()
	} else {
		later = first
	}
	defer func() {
		first.Close()
		<-httpDone
		if later != first {
			later.Close()
			<-httpDone
		}
	}()
	var tempDelay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			// As net/http's Serve: wait and retry a temporary error
			// (EMFILE, say).
			var ne interface{ Temporary() bool }
			if errors.As(err, &ne) && ne.Temporary() {
				tempDelay = max(5*time.Millisecond, min(2*tempDelay, time.Second))
				s.logger().Debug("web: accept error; retrying", "err", err, "delay", tempDelay)
				time.Sleep(tempDelay)
				continue
			}
			return err
		}
		tempDelay = 0
		c, ok := nc.(*conn)
		if !ok { // cannot happen: l is s.wrap's
			nc.Close()
			continue
		}
		fc := &fastConn{c: c}
		if !s.addFastConn(fc) {
			c.Close()
			continue
		}
		go s.serveFastConn(fc, first, later)
	}
}

// trackFast adds or removes a fast listener; it reports false if the
// server is closing.
func (s *Server) trackFast(l net.Listener, add bool) bool {
	s.fastMu.Lock()
	defer s.fastMu.Unlock()
	if !add {
		delete(s.fastLns, l)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.fastLns == nil {
		s.fastLns = make(map[net.Listener]struct{})
	}
	s.fastLns[l] = struct{}{}
	return true
}

// addFastConn registers fc, unless the server is closing; its goroutine is
// counted in fastWG.
func (s *Server) addFastConn(fc *fastConn) bool {
	s.fastMu.Lock()
	defer s.fastMu.Unlock()
	if s.closing.Load() {
		return false
	}
	if s.fastConns == nil {
		s.fastConns = make(map[*fastConn]struct{})
	}
	s.fastConns[fc] = struct{}{}
	s.fastWG.Add(1)
	return true
}

func (s *Server) removeFastConn(fc *fastConn) {
	s.fastMu.Lock()
	delete(s.fastConns, fc)
	s.fastMu.Unlock()
}

// closeFast closes the fast listeners, and the fast connections that wait
// for a request (all of them if all is set), as net/http's Shutdown closes
// its listeners and idle connections.
func (s *Server) closeFast(all bool) {
	s.fastMu.Lock()
	defer s.fastMu.Unlock()
	for l := range s.fastLns {
		l.Close()
	}
	for fc := range s.fastConns {
		if all || fc.state.CompareAndSwap(fastIdle, fastClosed) {
			fc.c.Close()
		}
	}
}

// waitFast waits for the fast connections' goroutines to end, or for ctx.
func (s *Server) waitFast(done <-chan struct{}) bool {
	ch := make(chan struct{})
	go func() {
		s.fastWG.Wait()
		close(ch)
	}()
	select {
	case <-ch:
		return true
	case <-done:
		return false
	}
}

// serveFastConn serves the requests of fc until one is not for the fast
// path, when it hands the connection to net/http (through first if it is
// the connection's first request, later if not), or until the connection
// ends.
func (s *Server) serveFastConn(fc *fastConn, first, later *handoff) {
	c := fc.c
	bp := fastReadBufs.Get().(*[fastReadBuf]byte)
	handed := false
	defer func() {
		if err := recover(); err != nil {
			s.logger().Error("web: panic serving a connection", "remote", c.RemoteAddr().String(), "panic", err, "stack", string(debug.Stack()))
		}
		fastReadBufs.Put(bp)
		s.removeFastConn(fc)
		if !handed {
			c.Close()
		}
		s.fastWG.Done()
	}()
	buf := bp[:]
	// The timeouts as net/http reckons them, and as it applies them: the
	// first request's header is due ReadHeaderTimeout after the accept;
	// later, the connection waits IdleTimeout after a reply for 4 bytes of
	// the next request, whose header is then due ReadHeaderTimeout later.
	// sockserver's idle timeout, the same as IdleTimeout, bounds every read
	// too, so no deadline is set while a connection waits for a request
	// (unless net/http's idle timeout is its ReadTimeout).
	hs := s.http
	hdrTimeout, idle := hs.ReadHeaderTimeout, hs.IdleTimeout
	if hdrTimeout == 0 {
		hdrTimeout = hs.ReadTimeout
	}
	idleDeadline := idle == 0 && hs.ReadTimeout > 0
	if idle == 0 {
		idle = hs.ReadTimeout
	}
	maxHeader := hs.MaxHeaderBytes
	var hdrBy time.Time // when the header being read is due
	deadline := false   // a read deadline of this function's is set
	if hdrTimeout > 0 {
		hdrBy = time.Now().Add(hdrTimeout)
		c.SetReadDeadline(hdrBy)
		deadline = true
	}
	var req fastRequest
	var replied time.Time // when the last reply was written
	n := 0                // bytes in buf
	h := first            // where the connection goes
	for {
		used, res := parseFast(buf[:n], &req)
		if res == parseOK && used > maxHeader || res == parseMore && (n == len(buf) || n > maxHeader) {
			res = parseOther
		}
		switch {
		case res != parseOK && !replied.IsZero() && n < 4:
			// net/http waits for 4 bytes before it reads a request.
			res = parseMore
			if n > 0 && !deadline && idle > 0 {
				c.SetReadDeadline(replied.Add(idle))
				deadline = true
			}
		case res == parseMore && hdrBy.IsZero() && hdrTimeout > 0:
			hdrBy = time.Now().Add(hdrTimeout)
			c.SetReadDeadline(hdrBy)
			deadline = true
		}
		switch res {
		case parseOther:
			handed = s.handOff(fc, h, buf[:n], hdrBy)
			return
		case parseOK:
			hdrBy = time.Time{}
			if deadline {
				c.SetReadDeadline(time.Time{})
				deadline = false
			}
			if s.closing.Load() {
				return // as net/http: a request read once shutting down gets no reply
			}
			done, keep, now := s.serveFastRequest(c, &req)
			if !done {
				handed = s.handOff(fc, h, buf[:n], time.Time{})
				return
			}
			if !keep {
				return
			}
			h, replied = later, now
			n = copy(buf, buf[used:n])
			if n == 0 {
				fc.state.Store(fastIdle)
				if s.closing.Load() {
					return
				}
			}
			if idleDeadline {
				c.SetReadDeadline(now.Add(idle))
				deadline = true
			}
			continue
		}
		m, err := c.Read(buf[n:])
		if m > 0 && n == 0 && !fc.state.CompareAndSwap(fastIdle, fastBusy) {
			return // closed by Shutdown
		}
		n += m
		if err != nil {
			if n > 0 && (replied.IsZero() || n >= 4) {
				// Part of a request, then an error (the client's EOF, a
				// timeout): net/http answers it as it would have.
				handed = s.handOff(fc, h, buf[:n], hdrBy)
			}
			return
		}
	}
}

// handOff gives the connection of fc to net/http, with the bytes read
// from it so far, which net/http reads first; a request header not yet
// whole must still be whole by hdrBy. It reports false if net/http no
// longer serves.
func (s *Server) handOff(fc *fastConn, h *handoff, read []byte, hdrBy time.Time) bool {
	c := fc.c
	if len(read) > 0 {
		c.pre = append([]byte(nil), read...)
	}
	if !hdrBy.IsZero() {
		c.hdrBy.Store(hdrBy.UnixNano())
	}
	s.removeFastConn(fc)
	return h.give(c)
}

// serveFastRequest answers req on c if it is for a small regular file of a
// FileServer, and reports whether it did (false: nothing was written, the
// request is net/http's), whether the connection may serve another
// request, and when the reply was written.
func (s *Server) serveFastRequest(c *conn, req *fastRequest) (done, keep bool, now time.Time) {
	p := string(req.path)
	fsrv := s.filesFor(p)
	if fsrv == nil || fsrv.FS == nil {
		return false, false, now
	}
	name := p[1:]
	limit := smallFileMax
	if limit < 0 || limit > fastFileMax {
		return false, false, now
	}
	bp := fastOutBufs.Get().(*[]byte)
	defer fastOutBufs.Put(bp)
	out := *bp
	size, modTime, ok := readWhole(fsrv.FS, name, out[fastHeaderRoom:fastHeaderRoom+limit])
	if !ok {
		return false, false, now
	}
	body := out[fastHeaderRoom : fastHeaderRoom+size]
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(body)
	}
	if !plainHeaderValue(ctype) {
		return false, false, now
	}
	vary := false
	if size >= minGzipBytes && compressible(ctype) {
		if req.acceptEncoding {
			return false, false, now // gzip, perhaps: serveFile decides
		}
		vary = true
	}
	var tb [40]byte
	tag := appendETag(tb[:0], modTime, int64(size))
	zero := modTime.IsZero() || modTime.Equal(time.Unix(0, 0))
	inm := string(req.inm)
	notMod := noneMatchFails(inm, string(tag)) ||
		(inm == "" && !zero && notModifiedSince(string(req.ims), modTime))

	var hb [512]byte
	w := hb[:0]
	if notMod {
		w = append(w, "HTTP/1.1 304 Not Modified\r\n"...)
	} else {
		w = append(w, "HTTP/1.1 200 OK\r\nAccept-Ranges: bytes\r\nContent-Length: "...)
		w = strconv.AppendInt(w, int64(size), 10)
		w = append(w, "\r\n"...)
	}
	w = append(w, "Content-Security-Policy: "+fileCSP+"\r\n"...)
	if !notMod {
		w = append(w, "Content-Type: "...)
		w = append(w, ctype...)
		w = append(w, "\r\n"...)
	}
	w = append(w, "Etag: "...)
	w = append(w, tag...)
	w = append(w, "\r\n"...)
	if !notMod && !zero {
		w = append(w, "Last-Modified: "...)
		w = modTime.UTC().AppendFormat(w, http.TimeFormat)
		w = append(w, "\r\n"...)
	}
	if vary {
		w = append(w, "Vary: Accept-Encoding\r\n"...)
	}
	w = append(w, "X-Content-Type-Options: nosniff\r\nDate: "...)
	now = time.Now()
	w = appendDate(w, now)
	keep = !s.closing.Load()
	if keep {
		w = append(w, "\r\n\r\n"...)
	} else {
		w = append(w, "\r\nConnection: close\r\n\r\n"...)
	}
	if len(w) > fastHeaderRoom {
		return false, false, now
	}
	start := fastHeaderRoom - len(w)
	copy(out[start:], w)
	end := fastHeaderRoom
	if !notMod && !req.head {
		end += size
	}
	s.fastN.Add(1)
	if _, err := c.Write(out[start:end]); err != nil {
		return true, false, now
	}
	return true, keep, now
}

// readWhole reads the small regular file name of fsys whole into buf, as
// serveRead and readSmall would read it, and returns its size and
// modification time; ok false means anything else (an error, another kind
// of file, one larger than buf, no ReadAt).
func readWhole(fsys fs.FS, name string, buf []byte) (n int, modTime time.Time, ok bool) {
	if r, isRoot := fsys.(interface {
		ReadSmall(name string, buf []byte) (int, time.Time, bool)
	}); isRoot {
		return r.ReadSmall(name, buf)
	}
	f, fi, err := openInfo(fsys, name)
	if err != nil {
		return 0, time.Time{}, false
	}
	defer f.Close()
	ra, isReaderAt := f.(io.ReaderAt)
	size := fi.Size()
	if !fi.Mode().IsRegular() || size > int64(len(buf)) || !isReaderAt {
		return 0, time.Time{}, false
	}
	m, err := ra.ReadAt(buf[:size], 0)
	if int64(m) != size || (err != nil && err != io.EOF) {
		return 0, time.Time{}, false
	}
	return m, fi.ModTime(), true
}

// plainHeaderValue reports whether net/http writes v as it is: no CR or
// LF, which it would replace, and no space or tab at either end, which it
// would trim.
func plainHeaderValue(v string) bool {
	return v != "" && !strings.ContainsAny(v, "\r\n") && strings.TrimSpace(v) == v
}

// fastDate is the Date of replies sent in the second now.
var fastDate atomic.Pointer[dateLine]

type dateLine struct {
	sec int64
	b   []byte
}

// appendDate appends now as net/http writes a Date header.
func appendDate(b []byte, now time.Time) []byte {
	sec := now.Unix()
	d := fastDate.Load()
	if d == nil || d.sec != sec {
		d = &dateLine{sec: sec, b: now.UTC().AppendFormat(make([]byte, 0, len(http.TimeFormat)), http.TimeFormat)}
		fastDate.Store(d)
	}
	return append(b, d.b...)
}

// fastRequest is what the fast path reads from a request.
type fastRequest struct {
	head           bool   // HEAD, not GET
	path           []byte // the request target, an absolute path
	inm            []byte // If-None-Match; empty if absent
	ims            []byte // If-Modified-Since; empty if absent
	acceptEncoding bool   // an Accept-Encoding field is present
}

// parseResult is what parseFast makes of a buffer.
type parseResult int

const (
	parseMore  parseResult = iota // a fast request, perhaps, but not whole yet
	parseOK                       // a fast request
	parseOther                    // anything else: net/http's
)

// parseFast parses the request at the start of b into req. With parseOK,
// n is the length of its header (the request, as it has no body); the
// slices of req point into b. This function doesn't perform I/O.
func parseFast(b []byte, req *fastRequest) (n int, res parseResult) {
	*req = fastRequest{}
	var mlen int
	switch {
	case bytes.HasPrefix(b, []byte("GET ")):
		mlen = 3
	case bytes.HasPrefix(b, []byte("HEAD ")):
		mlen = 4
		req.head = true
	case bytes.HasPrefix([]byte("GET "), b), bytes.HasPrefix([]byte("HEAD "), b):
		return 0, parseMore
	default:
		return 0, parseOther
	}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		return 0, parseMore
	}
	const proto = " HTTP/1.1\r"
	line := b[:eol]
	if !bytes.HasSuffix(line, []byte(proto)) || len(line) < mlen+1+len(proto) {
		return 0, parseOther
	}
	req.path = line[mlen+1 : len(line)-len(proto)]
	if !fastTarget(req.path) {
		return 0, parseOther
	}
	var hosts, conns, inms, imss int
	pos := eol + 1
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return 0, parseMore
		}
		line := b[pos : pos+i]
		pos += i + 1
		if len(line) == 0 || line[len(line)-1] != '\r' {
			return 0, parseOther
		}
		line = line[:len(line)-1]
		if len(line) == 0 {
			if hosts != 1 {
				return 0, parseOther
			}
			return pos, parseOK
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, parseOther
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		for _, c := range name {
			if !httpguts.IsTokenRune(rune(c)) {
				return 0, parseOther
			}
		}
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return 0, parseOther
			}
		}
		switch {
		case fieldIs(name, "host"):
			hosts++
			if !validHost(value) {
				return 0, parseOther
			}
		case fieldIs(name, "connection"):
			conns++
			if conns > 1 || !bytes.EqualFold(value, []byte("keep-alive")) {
				return 0, parseOther
			}
		case fieldIs(name, "if-none-match"):
			inms++
			req.inm = value
		case fieldIs(name, "if-modified-since"):
			imss++
			req.ims = value
		case fieldIs(name, "accept-encoding"):
			req.acceptEncoding = true
		case fieldIs(name, "content-length"), fieldIs(name, "transfer-encoding"),
			fieldIs(name, "expect"), fieldIs(name, "upgrade"), fieldIs(name, "range"),
			fieldIs(name, "if-range"), fieldIs(name, "if-match"),
			fieldIs(name, "if-unmodified-since"), fieldIs(name, "authorization"),
			fieldIs(name, "trailer"):
			return 0, parseOther
		}
		if inms > 1 || imss > 1 {
			return 0, parseOther
		}
	}
}

// fastTarget reports whether the request target t is an absolute path
// that net/http takes as it is (no percent-encoding, nothing it escapes)
// and that resolvePath maps to t[1:] with no redirect: no empty element,
// no element that starts with a dot, no trailing slash.
func fastTarget(t []byte) bool {
	if len(t) < 2 || t[0] != '/' || t[len(t)-1] == '/' {
		return false
	}
	prev := byte('/')
	for _, c := range t[1:] {
		if !fastPathByte(c) || prev == '/' && (c == '/' || c == '.') {
			return false
		}
		prev = c
	}
	return true
}

// fastPathByte reports whether c may appear in a fast request's path: the
// unreserved characters and those reserved ones net/url leaves unescaped
// in a path (so that URL.RawPath stays empty).
func fastPathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~$&+,/:;=@", c) >= 0
}

// fieldIs reports whether the field name equals the lower-case name,
// ignoring case.
func fieldIs(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// trimOWS trims spaces and tabs at both ends of b, as net/textproto trims
// a field value.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// validHost is httpguts.ValidHostHeader, which net/http checks a request's
// Host with, on bytes.
func validHost(b []byte) bool {
	for _, c := range b {
		if !validHostByte[c] {
			return false
		}
	}
	return true
}

// validHostByte is httpguts's table of the bytes a Host may hold.
var validHostByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = httpguts.ValidHostHeader(string(rune(c)))
		if c >= 0x80 {
			t[c] = false
		}
	}
	return t
}()
