package lineproto

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
)

// ErrNoTLSConfig is returned by ServeTLS when the server has no TLS
// configuration.
var ErrNoTLSConfig = errors.New("lineproto: implicit TLS needs the server's TLSConfig")

// ListenAndServe listens on the TCP address addr, or def if addr is "" (a
// protocol's well-known port, ":pop3"), and calls serve with the listener: a
// server's ListenAndServe and ListenAndServeTLS in one line. TCP keep-alives
// are off: the idle timeout ends dead connections.
func ListenAndServe(addr, def string, serve func(net.Listener) error) error {
	if addr == "" {
		addr = def
	}
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return err
	}
	return serve(l)
}

// ServeTLS calls serve with ImplicitTLS(l): a server's ServeTLS in one line.
// If config is nil it closes l and returns ErrNoTLSConfig.
func ServeTLS(l net.Listener, config *tls.Config, serve func(net.Listener) error) error {
	if config == nil {
		l.Close()
		return ErrNoTLSConfig
	}
	return serve(ImplicitTLS(l))
}
