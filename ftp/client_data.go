package ftp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// maxListingBytes caps a listing (MLSD, LIST, NLST) read into memory.
const maxListingBytes = 64 << 20

// A pendingDataConn is a data connection being opened: dialled already in
// passive mode, or to be accepted from ln in active mode.
type pendingDataConn struct {
	conn net.Conn
	ln   *net.TCPListener
	peer netip.Addr // the server's IP: the only one accepted
}

func (pd *pendingDataConn) close() {
	if pd.conn != nil {
		pd.conn.Close()
	}
	if pd.ln != nil {
		pd.ln.Close()
	}
}

// controlPeer returns the address of the server's end of the control
// connection.
func (c *Client) controlPeer() (netip.AddrPort, error) {
	ap, ok := netAddrPort(c.conn.RemoteAddr())
	if !ok {
		return netip.AddrPort{}, errors.New("ftp: the control connection has no IP address: " + c.conn.RemoteAddr().String())
	}
	return ap, nil
}

// prepareData opens a data connection the passive or the active way.
func (c *Client) prepareData() (*pendingDataConn, error) {
	if c.opts.Active {
		return c.active()
	}
	conn, err := c.passive()
	if err != nil {
		return nil, err
	}
	return &pendingDataConn{conn: conn}, nil
}

// passive sends EPSV (RFC 2428 §3), or PASV if the server answered EPSV
// with 500 or 502 once, and dials the port announced. EPSV's port is on
// the control connection's peer. Of a 227 reply to PASV only the port is
// used: the client connects to the peer's address, whatever address the
// reply announces, as curl does (its --ftp-skip-pasv-ip, the default
// since 7.74). A server behind NAT often announces its private address,
// and a hostile one could point the client at any host of the client's
// network (the reverse of the bounce attack of RFC 2577).
func (c *Client) passive() (net.Conn, error) {
	peer, err := c.controlPeer()
	if err != nil {
		return nil, err
	}
	var target netip.AddrPort
	if !c.noEPSV {
		code, text, err := c.Cmd("EPSV")
		switch {
		case err != nil:
			return nil, err
		case code == 229:
			port, err := parseEPSVReply(text)
			if err != nil {
				return nil, unexpectedReply("EPSV", code, text)
			}
			target = netip.AddrPortFrom(peer.Addr(), port)
		case code == 500 || code == 502:
			c.noEPSV = true
		case code >= 400:
			return nil, &Error{Code: code, Message: text}
		default:
			return nil, unexpectedReply("EPSV", code, text)
		}
	}
	if c.noEPSV {
		if !peer.Addr().Is4() {
			return nil, errors.New("ftp: the server refuses EPSV, and PASV is for IPv4 only")
		}
		text, err := c.expect("PASV", replyIs(227))
		if err != nil {
			return nil, err
		}
		ap, err := parsePASVReply(text)
		if err != nil {
			return nil, unexpectedReply("PASV", 227, text)
		}
		target = netip.AddrPortFrom(peer.Addr(), ap.Port())
	}
	d := net.Dialer{Timeout: c.opts.timeout()}
	return d.Dial("tcp", target.String())
}

// active listens on the control connection's local address, on a port
// the system chooses, and sends EPRT (RFC 2428 §2) or, for IPv4 when the
// server answered EPRT with 500 or 502 once, PORT.
func (c *Client) active() (*pendingDataConn, error) {
	peer, err := c.controlPeer()
	if err != nil {
		return nil, err
	}
	local, ok := netAddrPort(c.conn.LocalAddr())
	if !ok {
		return nil, errors.New("ftp: the control connection has no local IP address")
	}
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(local.Addr(), 0)))
	if err != nil {
		return nil, err
	}
	pd := &pendingDataConn{ln: ln, peer: peer.Addr()}
	lap := netip.AddrPortFrom(local.Addr(), ln.Addr().(*net.TCPAddr).AddrPort().Port())
	if !c.noEPRT {
		code, text, err := c.Cmd("EPRT " + formatEPRT(lap))
		switch {
		case err != nil:
			ln.Close()
			return nil, err
		case code == 200:
			return pd, nil
		case (code == 500 || code == 502) && lap.Addr().Is4():
			c.noEPRT = true
		case code >= 400:
			ln.Close()
			return nil, &Error{Code: code, Message: text}
		default:
			ln.Close()
			return nil, unexpectedReply("EPRT", code, text)
		}
	}
	if _, err := c.expect("PORT "+formatPORT(lap), replyIs(200)); err != nil {
		ln.Close()
		return nil, err
	}
	return pd, nil
}

// establish returns the data connection: the one dialled, or the first
// accepted from the server's IP within the Timeout. Connections from any
// other address are closed (RFC 2577 §3: someone else may race the
// server to the port).
func (pd *pendingDataConn) establish(timeout time.Duration) (net.Conn, error) {
	if pd.conn != nil {
		conn := pd.conn
		pd.conn = nil
		return conn, nil
	}
	defer pd.ln.Close()
	pd.ln.SetDeadline(time.Now().Add(timeout))
	for {
		conn, err := pd.ln.AcceptTCP()
		if err != nil {
			return nil, err
		}
		if ap, ok := netAddrPort(conn.RemoteAddr()); ok && ap.Addr() == pd.peer {
			return conn, nil
		}
		conn.Close()
	}
}

// dataConn sets a deadline Timeout ahead before each read and each
// write.
type dataConn struct {
	net.Conn
	timeout time.Duration
}

func (d *dataConn) Read(p []byte) (int, error) {
	d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	return d.Conn.Read(p)
}

func (d *dataConn) Write(p []byte) (int, error) {
	d.Conn.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.Conn.Write(p)
}

// openTransfer opens a data connection, sends REST offset if offset is
// positive, then the command line, and returns the data connection, with
// TLS if PROT P is on, and the TCP connection under it.
func (c *Client) openTransfer(line string, offset int64) (conn *dataConn, raw net.Conn, err error) {
	if c.transfer != nil {
		return nil, nil, errTransferOpen
	}
	if strings.ContainsAny(line, "\r\n") {
		return nil, nil, errArgCRLF
	}
	pd, err := c.prepareData()
	if err != nil {
		return nil, nil, err
	}
	// REST must come last before the transfer command (RFC 3659 §5.3).
	if offset > 0 {
		if _, err := c.expect("REST "+strconv.FormatInt(offset, 10), replyIs(350)); err != nil {
			pd.close()
			return nil, nil, err
		}
	}
	code, text, err := c.Cmd(line)
	if err == nil && code != 125 && code != 150 {
		if code >= 400 {
			err = &Error{Code: code, Message: text}
		} else {
			err = unexpectedReply(line, code, text)
		}
	}
	if err != nil {
		pd.close()
		return nil, nil, err
	}
	timeout := c.opts.timeout()
	raw, err = pd.establish(timeout)
	if err == nil && c.protP {
		tc := tls.Client(raw, c.tlsConfig)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err = tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			raw.Close()
		}
		return &dataConn{tc, timeout}, raw, c.endFailedTransfer(err)
	}
	if err != nil {
		return nil, nil, c.endFailedTransfer(err)
	}
	return &dataConn{raw, timeout}, raw, nil
}

// endFailedTransfer reads the reply that ends a transfer command whose
// data connection could not be made (the server gives up on it: 425), and
// returns err.
func (c *Client) endFailedTransfer(err error) error {
	if err != nil {
		c.reply()
	}
	return err
}

// finalReply reads the reply that ends a transfer: 226 or 250.
func (c *Client) finalReply(cmd string) error {
	code, text, err := c.reply()
	switch {
	case err != nil:
		return err
	case code == 226 || code == 250:
		return nil
	case code >= 400:
		return &Error{Code: code, Message: text}
	}
	return unexpectedReply(cmd, code, text)
}

// abort ends a transfer early. It resets the data connection (a reset,
// not a FIN or a TLS close_notify, which would make an upload look
// complete), so that a server blocked on it sees the transfer fail, then
// sends ABOR (RFC 959 §4.1.3) and NOOP, and reads replies up to NOOP's:
// the server answers the transfer command (226 if it was done, 426 or
// 451 if not) and ABOR (225 or 226), but servers disagree on how many of
// these they send. It returns the transfer command's reply if negative
// and not 426, which the abort itself causes.
func (c *Client) abort(raw net.Conn) error {
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	raw.Close()
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
	c.bw.WriteString("ABOR\r\nNOOP\r\n")
	if err := c.bw.Flush(); err != nil {
		return err
	}
	var first error
	for i := range 5 {
		code, text, err := c.reply()
		if err != nil {
			return err
		}
		if code == 200 {
			return first
		}
		if i == 0 && code >= 400 && code != 426 {
			first = &Error{Code: code, Message: text}
		}
	}
	return textproto.ProtocolError("ftp: no reply to NOOP after ABOR")
}

// Retrieve sends RETR, after REST offset if offset is positive (RFC 3659
// §5), and returns a reader of the file from offset, as the server sends
// it: in TYPE I, the default, its bytes as they are. Each read must make
// progress within the Timeout. The caller must Close the reader before
// the next call on c. Close after reading to EOF reads the reply that ends
// the transfer, and returns a *Error if it is negative (426, 451: the file
// may be incomplete); Close before EOF aborts the transfer (ABOR).
func (c *Client) Retrieve(path string, offset int64) (io.ReadCloser, error) {
	return c.retrieve("RETR "+path, offset)
}

func (c *Client) retrieve(line string, offset int64) (*transferReader, error) {
	conn, raw, err := c.openTransfer(line, offset)
	if err != nil {
		return nil, err
	}
	c.transfer = &transferReader{c: c, cmd: line, conn: conn, raw: raw}
	return c.transfer, nil
}

// transferReader is the reader of a download.
type transferReader struct {
	c      *Client
	cmd    string
	conn   *dataConn
	raw    net.Conn
	eof    bool
	closed bool
}

func (r *transferReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errReaderClosed
	}
	n, err := r.conn.Read(p)
	if errors.Is(err, io.EOF) {
		r.eof = true
	}
	return n, err
}

// Close ends the transfer: it reads its final reply after EOF, or aborts
// it before.
func (r *transferReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.c.transfer != r {
		return net.ErrClosed // the Client was closed
	}
	r.c.transfer = nil
	if !r.eof {
		return r.c.abort(r.raw)
	}
	r.conn.Close()
	return r.c.finalReply(r.cmd)
}

// readListing runs a listing command and returns its data.
func (c *Client) readListing(line string) ([]byte, error) {
	r, err := c.retrieve(line, 0)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxListingBytes+1))
	if err == nil && len(data) > maxListingBytes {
		err = textproto.ProtocolError("ftp: listing longer than " + strconv.Itoa(maxListingBytes) + " bytes")
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	if err := r.Close(); err != nil {
		return nil, err
	}
	return data, nil
}

// listingLines splits data at LF, drops a CR before it and blank lines.
func listingLines(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSuffix(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// List returns the entries of the directory path, or of the current
// directory if path is "". It sends MLSD (RFC 3659 §7) when the server
// lists MLST in its features, and LIST otherwise, whose lines it parses as
// Unix "ls -l" or DOS listings (the times of these are the server's local
// time, returned as if UTC). It leaves out the directory itself and its
// parent, and lines it cannot parse.
func (c *Client) List(path string) ([]Entry, error) {
	feat, err := c.features()
	if err != nil {
		return nil, err
	}
	_, mlsd := feat["MLST"]
	verb := "LIST"
	if mlsd {
		verb = "MLSD"
	}
	now := time.Now()
	data, err := c.readListing(cmdWithArg(verb, path))
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for _, l := range listingLines(data) {
		var e Entry
		if mlsd {
			if e, err = parseMLSxEntry(l); err != nil {
				continue
			}
		} else {
			var ok bool
			if e, ok = parseListLine(l, now); !ok {
				continue
			}
		}
		if !isSelfOrParent(e) {
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// NameList sends NLST and returns the names it lists, as the server sends
// them (some prefix them with path).
func (c *Client) NameList(path string) ([]string, error) {
	data, err := c.readListing(cmdWithArg("NLST", path))
	if err != nil {
		return nil, err
	}
	return listingLines(data), nil
}

// Store sends STOR and uploads what r holds, to its EOF, as the file
// path, replacing any file of that name.
func (c *Client) Store(path string, r io.Reader) error {
	return c.upload("STOR "+path, r, 0)
}

// StoreAt sends REST offset and STOR, and writes what r holds into the file
// path from offset on (RFC 3659 §5): it resumes an upload that stopped
// after offset bytes, which Size tells.
func (c *Client) StoreAt(path string, r io.Reader, offset int64) error {
	return c.upload("STOR "+path, r, offset)
}

// Append sends APPE and uploads what r holds to the end of the file path,
// which is created if it does not exist.
func (c *Client) Append(path string, r io.Reader) error {
	return c.upload("APPE "+path, r, 0)
}

// uploadSource records an error of the reader an upload reads.
type uploadSource struct {
	r   io.Reader
	err error
}

func (s *uploadSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

func (c *Client) upload(line string, r io.Reader, offset int64) error {
	conn, raw, err := c.openTransfer(line, offset)
	if err != nil {
		return err
	}
	src := &uploadSource{r: r}
	if _, err := io.Copy(conn, src); err != nil {
		aerr := c.abort(raw)
		if src.err == nil && aerr != nil {
			// The server's reason to stop the transfer (552: over
			// quota) says more than a broken pipe.
			return aerr
		}
		return err
	}
	// End the upload without a reset: a TLS close_notify and a FIN; then,
	// over TLS, read to EOF what the server sent (session tickets), so
	// that closing with it unread does not reset the connection before
	// the server has read the end of the file.
	tc, isTLS := conn.Conn.(*tls.Conn)
	if isTLS {
		err = tc.CloseWrite()
	}
	if tcp, ok := raw.(*net.TCPConn); ok && err == nil {
		err = tcp.CloseWrite()
	}
	if isTLS && err == nil {
		// A reset here is no failure: the final reply tells.
		io.Copy(io.Discard, io.LimitReader(conn, 1<<20))
	}
	raw.Close()
	if err != nil {
		c.reply()
		return err
	}
	return c.finalReply(line)
}
