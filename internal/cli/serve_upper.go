package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/upper"
)

// upperDefaultAddr is where tcp and udp listen by default: the address of
// the Python socket tutorial's server, on loopback only.
const upperDefaultAddr = "127.0.0.1:6666"

// upperOptions are the flags that tcp and udp share.
type upperOptions struct {
	addr string
}

func upperFlags(f *serveFlags) *upperOptions {
	return sharedFlags(f, func(fs *pflag.FlagSet) *upperOptions {
		o := new(upperOptions)
		fs.StringVar(&o.addr, "addr", "", "HOST:PORT of the tcp and udp services (default "+upperDefaultAddr+")")
		return o
	})
}

func (o *upperOptions) validate() error {
	if o.addr == "" {
		return nil
	}
	return validAddr("addr", o.addr)
}

// addrOf returns the address the tcp and udp services listen on.
func (o *upperOptions) addrOf() string {
	if o.addr != "" {
		return o.addr
	}
	return upperDefaultAddr
}

// tcpDefaultTimeout is the tcp service's default idle and write timeout:
// the tutorial's exchange is one short request and its reply, so a client
// silent or not reading for 10 s has gone.
const tcpDefaultTimeout = 10 * time.Second

// tcpService is the tutorial's uppercase service over TCP, in one of the
// modes of upper.Handler.
var tcpService = service{name: "tcp", newConfig: func(f *serveFlags) serviceConfig {
	c := &tcpConfig{upper: upperFlags(f)}
	f.Var(&c.mode, "mode", "TCP mode: oneshot, stream or line")
	f.IntVar(&c.readSize, "read-size", upper.DefaultReadSize, "bytes of the one read in oneshot mode")
	f.IntVar(&c.maxLineBytes, "max-line-bytes", upper.DefaultMaxLineBytes, "longest line in line mode")
	// tcp has no commands, so no --command-timeout.
	t := timeoutFlags(f)
	t.idle.follow("tcp", &c.idleTimeout, tcpDefaultTimeout)
	t.write.follow("tcp", &c.writeTimeout, tcpDefaultTimeout)
	return c
}}

type tcpConfig struct {
	upper        *upperOptions
	mode         upper.Mode
	readSize     int
	maxLineBytes int
	idleTimeout  time.Duration
	writeTimeout time.Duration
}

var _ serviceConfig = (*tcpConfig)(nil)

func (c *tcpConfig) validate() error {
	if c.readSize <= 0 || c.readSize > 1<<20 {
		return usagef("--read-size must be between 1 and 1048576")
	}
	if c.maxLineBytes <= 0 {
		return usagef("--max-line-bytes must be positive")
	}
	return c.upper.validate()
}

func (c *tcpConfig) start(ctx context.Context, se *serveEnv, log *slog.Logger) (runner, error) {
	o := se.opts
	addr := c.upper.addrOf()
	srv := &sockserver.Server{
		Addr:          addr,
		Handler:       &upper.Handler{Mode: c.mode, ReadSize: c.readSize, MaxLineBytes: c.maxLineBytes, Logger: log},
		Logger:        log,
		IdleTimeout:   negIfZero(c.idleTimeout),
		WriteTimeout:  negIfZero(c.writeTimeout),
		MaxConns:      cond(o.maxConns == 0, -1, o.maxConns),
		MaxConnsPerIP: o.maxConnsPerIP.or(cond(isLoopback(addr), 0, 64)),
		Faults:        faultsFor(se, "tcp"),
	}
	l, err := srv.Listen(ctx)
	if err != nil {
		return runner{}, fmt.Errorf("tcp: %w", err)
	}
	log.Info("waiting for clients", "addr", l.Addr().String(), "mode", c.mode.String())
	return runner{
		name:  "tcp",
		serve: func() error { return srv.Serve(l) },
		shutdown: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			l.Close() // in case Serve never started
			return err
		},
		stats:     func() any { return srv.Stats() },
		listeners: []listenerInfo{{Addr: l.Addr().String(), Kind: "tcp"}},
	}, nil
}

// udpService is the tutorial's uppercase service over UDP: one reply
// datagram for each request datagram.
var udpService = service{name: "udp", newConfig: func(f *serveFlags) serviceConfig {
	c := &udpConfig{upper: upperFlags(f)}
	f.Var(&c.rate, "udp-rate", "most UDP replies per second to one address; 0: no limit")
	f.IntVar(&c.burst, "udp-burst", 200, "UDP replies one address may get in a burst above --udp-rate")
	f.Var(&c.byteRate, "udp-byte-rate", "most UDP reply bytes per second in all; 0: no limit")
	return c
}}

type udpConfig struct {
	upper    *upperOptions
	rate     autoInt
	burst    int
	byteRate autoInt
}

var _ serviceConfig = (*udpConfig)(nil)

func (c *udpConfig) validate() error { return c.upper.validate() }

func (c *udpConfig) start(ctx context.Context, se *serveEnv, log *slog.Logger) (runner, error) {
	addr := c.upper.addrOf()
	loopback := isLoopback(addr)
	srv := &sockserver.PacketServer{
		Addr:          addr,
		Handler:       &upper.PacketHandler{Logger: log},
		Logger:        log,
		RateLimit:     float64(c.rate.or(cond(loopback, 0, 100))),
		RateBurst:     c.burst,
		ByteRateLimit: float64(c.byteRate.or(cond(loopback, 0, 1_000_000))),
		Faults:        faultsFor(se, "udp"),
	}
	pc, err := srv.Listen(ctx)
	if err != nil {
		return runner{}, fmt.Errorf("udp: %w", err)
	}
	log.Info("waiting for clients", "addr", pc.LocalAddr().String())
	return runner{
		name:  "udp",
		serve: func() error { return srv.Serve(pc) },
		shutdown: func(ctx context.Context) error {
			pc.SetReadDeadline(time.Unix(1, 0)) // before Serve started, Shutdown has no socket to wake
			err := srv.Shutdown(ctx)
			pc.Close()
			return err
		},
		stats:     func() any { return srv.Stats() },
		listeners: []listenerInfo{{Addr: pc.LocalAddr().String(), Kind: "udp"}},
	}, nil
}
