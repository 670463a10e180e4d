package lineproto

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"
)

// ImplicitTLS returns a listener whose connections are marked as implicit
// TLS (RFC 8314): the server must start TLS on them before it sends
// anything. A server's ServeTLS serves its listener through it, and its
// connection handler finds the mark with [IsImplicitTLS], through any
// wrapper that has a NetConn method (sockserver's connections have one).
func ImplicitTLS(l net.Listener) net.Listener { return implicitListener{l} }

type implicitListener struct{ net.Listener }

func (l implicitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return implicitConn{c}, nil
}

// implicitConn marks a connection from an ImplicitTLS listener.
type implicitConn struct{ net.Conn }

func (c implicitConn) NetConn() net.Conn { return c.Conn }

// CloseWrite shuts down the writing side of the connection, if it can, so
// that a goodbye can linger on implicit TLS too.
func (c implicitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// CloseRead shuts down the reading side of the connection, if it can.
func (c implicitConn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return nil
}

// unwrap calls f on nc and on each connection its NetConn methods lead to,
// until f returns true.
func unwrap(nc net.Conn, f func(net.Conn) bool) {
	for range 16 {
		if nc == nil || f(nc) {
			return
		}
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return
		}
		nc = w.NetConn()
	}
}

// IsImplicitTLS reports whether nc came from an ImplicitTLS listener and is
// not yet encrypted.
func IsImplicitTLS(nc net.Conn) bool {
	found := false
	unwrap(nc, func(c net.Conn) bool {
		switch c.(type) {
		case *tls.Conn:
			return true
		case implicitConn:
			found = true
			return true
		}
		return false
	})
	return found
}

// IsTLS reports whether nc is encrypted: whether it is, or wraps (through
// NetConn methods), a *tls.Conn. This is the one test every server and
// backend uses.
func IsTLS(nc net.Conn) bool { return TLSConn(nc) != nil }

// TLSConn returns the *tls.Conn that nc is or wraps, or nil.
func TLSConn(nc net.Conn) *tls.Conn {
	var tc *tls.Conn
	unwrap(nc, func(c net.Conn) bool {
		tc, _ = c.(*tls.Conn)
		return tc != nil
	})
	return tc
}

// Handshake starts TLS as the server on raw with config and completes the
// handshake within timeout (0 means none) or until ctx is done. The
// deadlines of raw are cleared afterwards.
func Handshake(ctx context.Context, raw net.Conn, config *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	tc := tls.Server(raw, config)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
		raw.SetDeadline(time.Now().Add(timeout))
	}
	err := tc.HandshakeContext(ctx)
	raw.SetDeadline(time.Time{})
	if err != nil {
		return nil, fmt.Errorf("lineproto: TLS handshake: %w", err)
	}
	return tc, nil
}

// StartTLS upgrades a connection to TLS after the protocol's reply to its
// STARTTLS command (SMTP STARTTLS, POP3 STLS, IMAP STARTTLS, NNTP STARTTLS,
// FTP AUTH TLS) has been sent and flushed. Whatever the client sent after
// its command was sent in plaintext, where an attacker may have put it, and
// must not be read as the first commands inside TLS (RFC 3207 §4.2; the
// STARTTLS command injection of CVE-2011-0411): it is discarded, and its
// length returned. The handshake is bounded by timeout. r is then reset to
// read from the TLS connection, through tee if it is not nil (a copy of the
// decrypted input, for a debug log).
func StartTLS(ctx context.Context, r *Reader, raw net.Conn, config *tls.Config, timeout time.Duration, tee func(*tls.Conn) io.Reader) (tc *tls.Conn, discarded int, err error) {
	discarded = r.Discard()
	tc, err = Handshake(ctx, raw, config, timeout)
	if err != nil {
		return nil, discarded, err
	}
	var src io.Reader = tc
	if tee != nil {
		src = tee(tc)
	}
	r.Reset(raw, src)
	return tc, discarded, nil
}
