package ftp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Data connections (RFC 959 §3.2): PASV and EPSV listen on the local
// address of the control connection and accept only the client's address;
// PORT and EPRT dial only the client's address, never a port below 1024
// (RFC 2577 §3, §4). A data connection serves one transfer, which runs in
// its own goroutine (see readLine).

const (
	// sendChunkBytes is what RETR hands to sendfile under one write
	// deadline, so that a client that stops reading is noticed within
	// DataTimeout.
	sendChunkBytes = 1 << 20
	// copyBufferBytes is the buffer of a transfer copied through memory:
	// an upload, TYPE A, TLS, or a tree that is not on disk.
	copyBufferBytes = 256 << 10
	// maxPortTries bounds the ports a PASV tries within PassivePorts.
	maxPortTries = 100
)

var (
	errNoData     = &Error{Code: 425, Message: "Use PORT or PASV first."}
	errDataOpen   = &Error{Code: 425, Message: "Can't open data connection."}
	errPassive    = &Error{Code: 425, Message: "Can't open passive connection."}
	errTransferOK = &Error{Code: 226, Message: "Transfer complete."}
	errAborted    = &Error{Code: 426, Message: "Connection closed; transfer aborted."}
	errBadPort    = &Error{Code: 500, Message: "Illegal PORT command."}
)

// passive is the listener of a PASV or EPSV command. It expires after the
// data timeout, and closes with the session's context.
type passive struct {
	l       *net.TCPListener
	expires time.Time // zero: never
	timer   *time.Timer
	stop    func() bool
}

func (p *passive) close() {
	if p.timer != nil {
		p.timer.Stop()
	}
	p.stop()
	p.l.Close()
}

// closeData forgets the data connection set up by PASV, EPSV, PORT or EPRT,
// closing the passive listener.
func (c *session) closeData() {
	if c.pasv != nil {
		c.pasv.close()
		c.pasv = nil
	}
	c.port = netip.AddrPort{}
}

// addrIP returns the IP address of a TCP address, IPv4 unmapped.
func addrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

func (c *session) localIP() netip.Addr { return addrIP(c.raw.LocalAddr()) }
func (c *session) peerIP() netip.Addr  { return addrIP(c.raw.RemoteAddr()) }

// openPassive replaces the data connection set up so far with a new
// passive listener on the control connection's local address, and returns
// its port.
func (c *session) openPassive() (int, *Error) {
	c.closeData()
	ip := c.localIP()
	if !ip.IsValid() {
		return 0, errPassive
	}
	l, err := listenPassive(ip, c.srv.PassivePorts)
	if err != nil {
		c.lc.Log.Error("passive listen failed", "err", err)
		return 0, errPassive
	}
	p := &passive{l: l}
	if d := c.srv.dataTimeout; d > 0 {
		p.expires = time.Now().Add(d)
		p.timer = time.AfterFunc(d, func() { l.Close() })
	}
	p.stop = context.AfterFunc(c.ctx, func() { l.Close() })
	c.pasv = p
	return l.Addr().(*net.TCPAddr).Port, nil
}

// listenPassive listens on ip, on a port of r chosen at random (the next
// one when it is in use), or on any port for the zero range.
func listenPassive(ip netip.Addr, r PortRange) (*net.TCPListener, error) {
	addr := &net.TCPAddr{IP: ip.AsSlice()}
	if r == (PortRange{}) {
		return net.ListenTCP("tcp", addr)
	}
	n := r.Max - r.Min + 1
	start := rand.IntN(n)
	var err error
	for i := range min(n, maxPortTries) {
		addr.Port = r.Min + (start+i)%n
		var l *net.TCPListener
		if l, err = net.ListenTCP("tcp", addr); err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	return nil, err
}

// checkActive checks the address of PORT or EPRT: the client's own, at a
// port not below 1024 (no FTP bounce, RFC 2577 §3).
func (c *session) checkActive(ap netip.AddrPort) *Error {
	if ap.Addr().Unmap() != c.peerIP() || ap.Port() < 1024 {
		c.lc.Log.Warn("refused PORT to another address or a privileged port", "addr", ap.String())
		return errBadPort
	}
	return nil
}

// dataConn opens the data connection of a transfer: it accepts the
// passive one or dials the active one. The setup is used once.
func (c *session) dataConn() (*net.TCPConn, *Error) {
	switch {
	case c.pasv != nil:
		p := c.pasv
		c.pasv = nil
		defer p.close()
		return c.acceptData(p)
	case c.port.IsValid():
		ap := c.port
		c.port = netip.AddrPort{}
		return c.dialData(ap)
	}
	return nil, errNoData
}

// acceptData accepts the client's data connection on p. A connection from
// any other address is closed at once, unanswered, and the wait goes on
// (RFC 2577 §4; vsftpd's pasv_promiscuous=NO).
func (c *session) acceptData(p *passive) (*net.TCPConn, *Error) {
	if !p.expires.IsZero() {
		p.l.SetDeadline(p.expires)
	}
	peer := c.peerIP()
	for {
		tc, err := p.l.AcceptTCP()
		if err != nil {
			c.lc.Log.Info("no data connection", "err", err)
			return nil, errDataOpen
		}
		from := addrIP(tc.RemoteAddr())
		if from == peer {
			return tc, nil
		}
		c.lc.Log.Warn("refused data connection from a foreign address", "from", tc.RemoteAddr().String())
		tc.Close()
	}
}

// dialData connects to the client's data port ap, from the local address
// of the control connection.
func (c *session) dialData(ap netip.AddrPort) (*net.TCPConn, *Error) {
	d := net.Dialer{Timeout: c.srv.dataTimeout}
	if ip := c.localIP(); ip.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: ip.AsSlice()}
	}
	nc, err := d.DialContext(c.ctx, "tcp", ap.String())
	if err != nil {
		c.lc.Log.Info("data connection failed", "addr", ap.String(), "err", err)
		return nil, errDataOpen
	}
	return nc.(*net.TCPConn), nil
}

// A transfer is the work of one RETR, STOR, APPE, STOU, LIST, NLST or MLSD
// on its data connection, in its own goroutine. result is set before done
// is closed.
type transfer struct {
	tcp     *net.TCPConn
	conn    net.Conn // tcp, or TLS over it with PROT P
	timeout time.Duration
	log     *slog.Logger
	ctx     context.Context
	done    chan struct{}
	bytes   atomic.Int64
	aborted atomic.Bool
	result  *Error
}

// abort ends the transfer by closing its data connection.
func (x *transfer) abort() {
	x.aborted.Store(true)
	x.tcp.Close()
}

// startTransfer opens the data connection, sends "150 text" and runs work
// on the connection in a goroutine of its own; the reply work returns is
// sent when it ends (see readLine). done, if not nil, is called when the
// transfer is over, or at once if the connection cannot be opened.
func (c *session) startTransfer(text string, work func(x *transfer) *Error, done func()) error {
	if done == nil {
		done = func() {}
	}
	if err := c.lc.Flush(); err != nil {
		done()
		return errClose
	}
	r, faulty := c.dataFault()
	if faulty && isReply(r) {
		done()
		c.closeData()
		c.lc.InjectRule(r)
		return nil
	}
	tc, e := c.dataConn()
	if e != nil {
		done()
		c.replyErr(e)
		return nil
	}
	if faulty {
		done()
		return c.breakData(tc, text, r)
	}
	x := &transfer{tcp: tc, conn: tc, timeout: c.srv.dataTimeout, log: c.lc.Log, ctx: c.ctx, done: make(chan struct{})}
	var tlsConfig *tls.Config
	if c.protP {
		tlsConfig = c.srv.TLSConfig
	}
	c.reply(150, text)
	c.xfer = x
	go x.run(tlsConfig, work, done)
	return c.flush()
}

func (x *transfer) run(tlsConfig *tls.Config, work func(x *transfer) *Error, done func()) {
	defer close(x.done)
	stop := context.AfterFunc(x.ctx, x.abort)
	defer stop()
	defer done()
	if tlsConfig != nil {
		tc := tls.Server(x.tcp, tlsConfig)
		x.tcp.SetDeadline(x.deadline())
		if err := tc.HandshakeContext(x.ctx); err != nil {
			x.log.Info("data connection TLS handshake failed", "err", err)
			x.tcp.Close()
			x.result = errDataOpen
			return
		}
		x.tcp.SetDeadline(time.Time{})
		x.conn = tc
	}
	x.result = work(x)
	x.conn.Close()
	if x.aborted.Load() {
		x.result = errAborted
	}
}

// deadline returns the deadline of the next read or write.
func (x *transfer) deadline() time.Time {
	if x.timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(x.timeout)
}

// netFailed logs a failure of the data connection and returns its reply.
func (x *transfer) netFailed(err error) *Error {
	if !x.aborted.Load() {
		x.log.Info("data connection failed", "err", err)
	}
	return errAborted
}

// Write writes p to the data connection under a fresh deadline.
func (x *transfer) Write(p []byte) (int, error) {
	x.conn.SetWriteDeadline(x.deadline())
	n, err := x.conn.Write(p)
	x.bytes.Add(int64(n))
	return n, err
}

// send copies f to the data connection, converting LF to CRLF in ASCII
// mode. A file on disk sent as is over plain TCP goes by sendfile, in
// chunks under their own deadlines.
func (x *transfer) send(f io.Reader, ascii bool) *Error {
	if osf, ok := f.(*os.File); ok && !ascii && x.conn == net.Conn(x.tcp) {
		return x.sendFile(osf)
	}
	var w io.Writer = x
	if ascii {
		w = &crlfWriter{w: x}
	}
	buf := make([]byte, copyBufferBytes/4)
	for {
		n, rerr := f.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return x.netFailed(err)
			}
		}
		if rerr == io.EOF {
			return errTransferOK
		}
		if rerr != nil {
			x.log.Error("reading file", "err", rerr)
			return errLocal
		}
	}
}

func (x *transfer) sendFile(f *os.File) *Error {
	for {
		x.tcp.SetWriteDeadline(x.deadline())
		n, err := x.tcp.ReadFrom(io.LimitReader(f, sendChunkBytes))
		x.bytes.Add(n)
		if err != nil {
			return x.netFailed(err)
		}
		if n == 0 {
			return errTransferOK
		}
	}
}

// receive copies the data connection into w until EOF, converting CRLF to
// LF in ASCII mode. It returns nil at EOF; a failure of w is mapped by
// fsReply.
func (x *transfer) receive(w io.Writer, ascii bool) *Error {
	var lw *lfWriter
	if ascii {
		lw = &lfWriter{w: w}
		w = lw
	}
	buf := make([]byte, copyBufferBytes)
	for {
		x.conn.SetReadDeadline(x.deadline())
		n, rerr := x.conn.Read(buf)
		if n > 0 {
			x.bytes.Add(int64(n))
			if _, err := w.Write(buf[:n]); err != nil {
				return fsReply(x.ctx, x.log, "write", err)
			}
		}
		if rerr == io.EOF {
			if lw != nil {
				if err := lw.flush(); err != nil {
					return fsReply(x.ctx, x.log, "write", err)
				}
			}
			return nil
		}
		if rerr != nil {
			return x.netFailed(rerr)
		}
	}
}

// crlfWriter writes LF as CRLF (RFC 959 §3.1.1.1: NVT-ASCII lines end in
// CRLF); a CRLF already there stays as it is.
type crlfWriter struct {
	w      io.Writer
	lastCR bool
	buf    []byte
}

func (a *crlfWriter) Write(p []byte) (int, error) {
	a.buf = a.buf[:0]
	for _, b := range p {
		if b == '\n' && !a.lastCR {
			a.buf = append(a.buf, '\r')
		}
		a.buf = append(a.buf, b)
		a.lastCR = b == '\r'
	}
	if _, err := a.w.Write(a.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// lfWriter writes CRLF as LF, for a file stored in TYPE A; a CR not
// followed by LF stays.
type lfWriter struct {
	w         io.Writer
	pendingCR bool
	buf       []byte
}

func (a *lfWriter) Write(p []byte) (int, error) {
	a.buf = a.buf[:0]
	for _, b := range p {
		if a.pendingCR {
			a.pendingCR = false
			if b != '\n' {
				a.buf = append(a.buf, '\r')
			}
		}
		if b == '\r' {
			a.pendingCR = true
			continue
		}
		a.buf = append(a.buf, b)
	}
	if _, err := a.w.Write(a.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes a CR left at the end of the data.
func (a *lfWriter) flush() error {
	if !a.pendingCR {
		return nil
	}
	a.pendingCR = false
	_, err := a.w.Write([]byte{'\r'})
	return err
}

// finishTransfer sends the reply of the transfer that ended.
func (c *session) finishTransfer() {
	x := c.xfer
	c.xfer = nil
	c.replyErr(x.result)
}

// waitTransfer waits for the running transfer to end and sends its reply.
func (c *session) waitTransfer() {
	<-c.xfer.done
	c.finishTransfer()
}

// fsReply maps an error of the Backend or of the file tree to the reply
// sent: a *Error (or an error wrapping one) as it is; a full disk or quota
// "452"; an existing name, a missing one, a refused one or a name that
// leaves the tree "550"; anything else is logged and answered "550" (op
// names the operation for the log). It is the one place this mapping
// lives; transfers call it from their own goroutine.
func fsReply(ctx context.Context, log *slog.Logger, op string, err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		log.Warn("no space", "op", op, "err", err)
		return errNoSpace
	case errors.Is(err, fs.ErrExist):
		return errExist
	case errors.Is(err, fs.ErrNotExist):
		return errNotExist
	case errors.Is(err, fs.ErrPermission):
		return errReadOnly
	case errors.Is(err, fs.ErrInvalid):
		return errInvalidName
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return errAborted
	}
	log.Warn("file tree error", "op", op, "err", err)
	return errFailed
}
