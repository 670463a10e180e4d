package telnet

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// DefaultDialTimeout bounds Dial when ClientOptions.Timeout is zero.
const DefaultDialTimeout = 30 * time.Second

// ClientOptions configures Dial and NewClient. A nil *ClientOptions is
// equivalent to the zero value.
type ClientOptions struct {
	// TLSConfig, if not nil, makes Dial start TLS at once (telnets,
	// implicit TLS). A config without ServerName gets the host of addr.
	TLSConfig *tls.Config
	// Timeout bounds the connection, the TLS handshake and the first
	// negotiation; zero means DefaultDialTimeout.
	Timeout time.Duration
	// NegotiateTimeout bounds the wait for the server's answers to the
	// client's first offers, within Timeout; zero means
	// DefaultNegotiateTimeout, negative no wait. A server that does not
	// answer is not an error.
	NegotiateTimeout time.Duration
	// TerminalType is sent in answer to TERMINAL-TYPE SEND (RFC 1091);
	// "" means "UNKNOWN". BSD telnet sends $TERM in upper case.
	TerminalType string
	// WindowSize, if not nil, gives the window size sent with NAWS
	// (RFC 1073) when the server accepts it; Conn.SetWindowSize sends
	// changes.
	WindowSize func() (width, height int)
	// Config, if not nil, replaces the negotiation Dial sets up from the
	// fields above (Server is forced off).
	Config *Config
	// DebugWriter, if not nil, receives a copy of every octet read and
	// written, as on the wire.
	DebugWriter io.Writer
}

// Dial connects to the Telnet server at addr and negotiates as BSD telnet
// does: it offers TERMINAL-TYPE and NAWS (WILL) and asks the server to
// suppress go-ahead and to echo (DO SUPPRESS-GO-AHEAD, DO ECHO), agreeing
// to BINARY both ways if the server asks. It waits for the answers for at
// most NegotiateTimeout; data the server sends meanwhile is kept for Read.
// ctx bounds the dial and the negotiation, not the Conn.
func Dial(ctx context.Context, addr string, opts *ClientOptions) (*Conn, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if o.TLSConfig != nil {
		cfg := o.TLSConfig.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	c, err := newClient(ctx, nc, &o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// NewClient returns the client end of a Telnet connection over nc,
// negotiated as Dial does, within opts.Timeout.
func NewClient(nc net.Conn, opts *ClientOptions) (*Conn, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return newClient(ctx, nc, &o)
}

func newClient(ctx context.Context, nc net.Conn, o *ClientOptions) (*Conn, error) {
	if o.DebugWriter != nil {
		nc = &teeConn{Conn: nc, w: o.DebugWriter}
	}
	var cfg Config
	if o.Config != nil {
		cfg = *o.Config
	} else {
		cfg = Config{
			Offer:        []Option{OptionTerminalType, OptionNAWS},
			Request:      []Option{OptionSGA, OptionEcho},
			TerminalType: o.TerminalType,
			WindowSize:   o.WindowSize,
		}
	}
	cfg.Server = false
	c := NewConn(nc, &cfg)
	wait := o.NegotiateTimeout
	if wait == 0 {
		wait = DefaultNegotiateTimeout
	}
	if wait < 0 {
		wait = 0
	}
	nctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := c.Negotiate(nctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return c, nil
}
