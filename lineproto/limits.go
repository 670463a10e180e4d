package lineproto

import (
	"log/slog"
	"net"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// Defaults for the zero values of [Limits] fields. A protocol package
// chooses its own idle timeout, the one default the RFCs disagree on.
const (
	// DefaultIdleTimeout bounds the wait for a command when the protocol sets
	// no other: RFC 5321 §4.5.3.2 asks SMTP servers for 5 minutes.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultCommandTimeout bounds one command, from its first octet to its
	// end, and a TLS handshake (go-imap's 30 seconds).
	DefaultCommandTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds every write, so that a client that does not
	// read cannot hold a connection and its buffers.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultAuthFailureDelay is how long a failed login waits for its reply
	// (Dovecot, vsftpd and mox wait 1 to 2 s).
	DefaultAuthFailureDelay = time.Second
	// DefaultMaxAuthFailures is the number of failed logins after which a
	// connection is closed (vsftpd's max_login_fails).
	DefaultMaxAuthFailures = 3
	// DefaultSoftErrorLimit is the number of error replies after which each
	// further one is delayed by ErrorDelay (Postfix's smtpd_soft_error_limit).
	DefaultSoftErrorLimit = 10
	// DefaultHardErrorLimit is the number of error replies after which the
	// connection is closed (Postfix's smtpd_hard_error_limit).
	DefaultHardErrorLimit = 20
	// DefaultErrorDelay is the delay of each error reply past SoftErrorLimit
	// (Postfix's smtpd_error_sleep_time).
	DefaultErrorDelay = time.Second
)

// Limits are the timeouts and limits every line-protocol server has. Each
// protocol's Server type embeds it. For every field, zero means the default
// (the protocol's, else the Default constant of this package named after the
// field) and a negative value means none: no timeout, no limit, no delay.
type Limits struct {
	// IdleTimeout is how long the server waits for a command (and for each
	// read of a message or literal) before it says goodbye and closes.
	IdleTimeout time.Duration
	// CommandTimeout is how long a command may take to arrive once its first
	// octet has, whatever the pace of its octets; it also bounds the TLS
	// handshake.
	CommandTimeout time.Duration
	// WriteTimeout bounds every write, so that a client that does not read
	// cannot hold the connection.
	WriteTimeout time.Duration

	// MaxConns limits the connections open at once; zero means
	// sockserver.DefaultMaxConns.
	MaxConns int
	// MaxConnsPerIP limits the connections open at once from one IP
	// address; zero means no limit.
	MaxConnsPerIP int
	// MaxConnRatePerIP limits the new connections one IP address may open
	// per second, on average; zero means no limit.
	MaxConnRatePerIP float64

	// AuthFailureDelay is how long a failed login waits for its reply.
	AuthFailureDelay time.Duration
	// MaxAuthFailures is the number of failed logins after which the
	// connection is closed.
	MaxAuthFailures int
	// SoftErrorLimit is the number of error replies after which each one is
	// delayed by ErrorDelay; a failed login, delayed by AuthFailureDelay,
	// waits the longer of the two.
	SoftErrorLimit int
	// HardErrorLimit is the number of error replies after which the
	// connection is closed.
	HardErrorLimit int
	// ErrorDelay is the delay of each error reply past SoftErrorLimit.
	ErrorDelay time.Duration
}

// Resolve returns l with the rule applied: each zero field takes the value of
// the same field of def, or of this package's default if that is zero too;
// each negative field becomes 0, which then means none. MaxConnsPerIP and
// MaxConnRatePerIP have no default; MaxConns defaults to
// sockserver.DefaultMaxConns. This function doesn't perform I/O.
func (l Limits) Resolve(def Limits) Limits {
	return Limits{
		IdleTimeout:      duration(l.IdleTimeout, def.IdleTimeout, DefaultIdleTimeout),
		CommandTimeout:   duration(l.CommandTimeout, def.CommandTimeout, DefaultCommandTimeout),
		WriteTimeout:     duration(l.WriteTimeout, def.WriteTimeout, DefaultWriteTimeout),
		MaxConns:         count(l.MaxConns, def.MaxConns, sockserver.DefaultMaxConns),
		MaxConnsPerIP:    count(l.MaxConnsPerIP, def.MaxConnsPerIP, 0),
		MaxConnRatePerIP: max(l.MaxConnRatePerIP, 0),
		AuthFailureDelay: duration(l.AuthFailureDelay, def.AuthFailureDelay, DefaultAuthFailureDelay),
		MaxAuthFailures:  count(l.MaxAuthFailures, def.MaxAuthFailures, DefaultMaxAuthFailures),
		SoftErrorLimit:   count(l.SoftErrorLimit, def.SoftErrorLimit, DefaultSoftErrorLimit),
		HardErrorLimit:   count(l.HardErrorLimit, def.HardErrorLimit, DefaultHardErrorLimit),
		ErrorDelay:       duration(l.ErrorDelay, def.ErrorDelay, DefaultErrorDelay),
	}
}

func duration(d, def, pkg time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > 0:
		return d
	case def < 0:
		return 0
	case def > 0:
		return def
	}
	return pkg
}

func count(n, def, pkg int) int {
	switch {
	case n < 0:
		return 0
	case n > 0:
		return n
	case def < 0:
		return 0
	case def > 0:
		return def
	}
	return pkg
}

// SockServer returns a sockserver.Server with the connection limits and
// timeouts of l, which must be resolved, serving with h and passing refused
// connections to reject. The server's timeouts are the outer bound of every
// read and write; a Reader sets tighter deadlines itself.
func (l Limits) SockServer(h sockserver.Handler, reject func(conn net.Conn, err error), logger *slog.Logger) *sockserver.Server {
	return &sockserver.Server{
		Handler:          h,
		Logger:           logger,
		IdleTimeout:      none(l.IdleTimeout),
		WriteTimeout:     none(l.WriteTimeout),
		MaxConns:         int(none(time.Duration(l.MaxConns))),
		MaxConnsPerIP:    l.MaxConnsPerIP,
		MaxConnRatePerIP: l.MaxConnRatePerIP,
		Reject:           reject,
	}
}

// none returns d, or -1 (sockserver's none) if d is 0: a resolved zero.
func none(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
