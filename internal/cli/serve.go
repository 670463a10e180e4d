package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/upper"
)

// services are the names `inetkit serve` knows, in the order it starts them.
var services = []string{"tcp", "udp", "smtp", "pop3", "imap"}

// defaultAddr is each service's address: the tutorial's 127.0.0.1:6666.
var defaultAddr = map[string]string{
	"tcp": "127.0.0.1:6666",
	"udp": "127.0.0.1:6666",
}

type serveOptions struct {
	services []string
	addr     string
	log      logOptions

	mode          upper.Mode
	readSize      int
	maxLineBytes  int
	idleTimeout   time.Duration
	writeTimeout  time.Duration
	maxConns      int
	maxConnsPerIP autoInt
	drain         time.Duration

	udpRate     autoInt
	udpBurst    int
	udpByteRate autoInt

	debugAddr string

	mail mailOptions
}

// autoInt is an int flag whose default, "auto", depends on where the server
// listens.
type autoInt struct {
	set bool
	v   int
}

func (a *autoInt) String() string {
	if !a.set {
		return "auto"
	}
	return strconv.Itoa(a.v)
}

func (a *autoInt) Set(s string) error {
	if s == "auto" {
		*a = autoInt{}
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a number ≥ 0 or auto, not %q", s)
	}
	*a = autoInt{set: true, v: v}
	return nil
}

func (a *autoInt) Type() string { return "int|auto" }

// or returns the value set, or def when the flag was left at auto.
func (a *autoInt) or(def int) int {
	if a.set {
		return a.v
	}
	return def
}

func newServeCmd(e *env, runF func(context.Context, *serveOptions) error) *cobra.Command {
	o := &serveOptions{mail: mailOptions{addr: map[string]*string{}, tlsAddr: map[string]*string{}}}
	cmd := &cobra.Command{
		Use:   "serve [SERVICE...]",
		Short: "Run servers (all of them when none is named)",
		Long: `Run the named servers, or all of them: ` + strings.Join(services, ", ") + `.

tcp and udp are the tutorial's uppercase service on 127.0.0.1:6666: each
request is answered with its text upper-cased, exactly as Python's str.upper()
does, with bytes that are not UTF-8 passed through unchanged.

TCP modes: oneshot (the tutorial's protocol: one read of up to --read-size
bytes, the reply, then close), stream (uppercase every byte until the client
closes) and line (one reply per LF-terminated line).

Limits are on by default. The per-address limits (--max-conns-per-ip,
--udp-rate, --udp-byte-rate) default to "auto": off when the server listens on
a loopback address, on (64 connections, 100 replies/s with bursts of
--udp-burst, 1 MB/s of replies) otherwise.

smtp, pop3 and imap share one store (a SQLite database in --data): mail
sent over SMTP is read over POP3 and IMAP. They listen on 127.0.0.1:2525,
127.0.0.1:1110 and 127.0.0.1:1143, offer STARTTLS with a certificate from a
local certificate authority made in --data on first start (its path is
logged: trust it, or give --tls-cert and --tls-key), and implicit TLS on
--smtps-addr, --pop3s-addr and --imaps-addr when given. When every mail
listener is on loopback, any login is accepted (the login is the mail
address, its mailbox made on first use) and plain-text logins are allowed
without TLS; on any other address only accounts made with 'inetkit user add'
may log in, only after STARTTLS, and inetkit refuses to start without one.

SIGINT or SIGTERM stops accepting at once and lets exchanges in flight finish
within --drain; inetkit then exits 0.`,
		Example: `  inetkit serve
  inetkit serve tcp --mode line
  inetkit serve udp --addr [::1]:6666
  inetkit serve smtp pop3 imap --data /tmp/mail
  inetkit serve smtp --smtp-addr 0.0.0.0:25 --smtps-addr 0.0.0.0:465`,
		Args: func(_ *cobra.Command, args []string) error {
			for _, a := range args {
				if !slices.Contains(services, a) {
					return usagef("unknown service %q (want %s)", a, strings.Join(services, ", "))
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.services = args
			if len(args) == 0 {
				o.services = services
			}
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runServe(ctx, e, o) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "", "HOST:PORT of the tcp and udp services (default 127.0.0.1:6666)")
	for _, name := range mailServices {
		o.mail.addr[name] = f.String(name+"-addr", defaultMailAddr[name], "HOST:PORT of the "+name+" service (STARTTLS)")
		o.mail.tlsAddr[name] = f.String(name+"s-addr", "", "HOST:PORT of an implicit-TLS "+name+"s listener (none when empty)")
	}
	f.StringVar(&o.mail.data, "data", defaultDataDir, "data directory: the mail store and the TLS files")
	f.StringVar(&o.mail.tlsCert, "tls-cert", "", "PEM certificate chain for TLS (default: made by the local CA in --data)")
	f.StringVar(&o.mail.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&o.mail.auth, "auth", "auto", "mail logins: any (loopback only), accounts, or auto (any when every mail listener is on loopback)")
	f.StringVar(&o.mail.hostname, "hostname", "localhost", "the host name the mail servers greet with")
	f.Int64Var(&o.mail.maxMessageBytes, "max-message-bytes", 32<<20, "largest message SMTP accepts")
	f.Var(&o.mode, "mode", "TCP mode: oneshot, stream or line")
	f.IntVar(&o.readSize, "read-size", upper.DefaultReadSize, "bytes of the one read in oneshot mode")
	f.IntVar(&o.maxLineBytes, "max-line-bytes", upper.DefaultMaxLineBytes, "longest line in line mode")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 10*time.Second, "close a TCP connection that sends nothing for this long")
	f.DurationVar(&o.writeTimeout, "write-timeout", 10*time.Second, "close a TCP connection whose client does not read for this long")
	f.IntVar(&o.maxConns, "max-conns", sockserver.DefaultMaxConns, "most TCP connections open at once, per service; 0: no limit")
	f.Var(&o.maxConnsPerIP, "max-conns-per-ip", "most TCP connections open at once from one address; 0: no limit")
	f.DurationVar(&o.drain, "drain", 10*time.Second, "on SIGINT/SIGTERM, how long exchanges in flight may take to finish")
	f.Var(&o.udpRate, "udp-rate", "most UDP replies per second to one address; 0: no limit")
	f.IntVar(&o.udpBurst, "udp-burst", 200, "UDP replies one address may get in a burst above --udp-rate")
	f.Var(&o.udpByteRate, "udp-byte-rate", "most UDP reply bytes per second in all; 0: no limit")
	f.StringVar(&o.debugAddr, "debug-addr", "", "HOST:PORT serving runtime and server statistics as JSON at /debug/vars (off when empty)")
	o.log.addFlags(cmd)
	return cmd
}

func (o *serveOptions) validate() error {
	if o.readSize <= 0 || o.readSize > 1<<20 {
		return usagef("--read-size must be between 1 and 1048576")
	}
	if o.maxLineBytes <= 0 {
		return usagef("--max-line-bytes must be positive")
	}
	if o.addr != "" {
		if _, _, err := net.SplitHostPort(o.addr); err != nil {
			return usagef("--addr %q: want HOST:PORT", o.addr)
		}
	}
	if err := o.mail.validate(); err != nil {
		return err
	}
	return o.log.validate()
}

func (o *serveOptions) addrOf(service string) string {
	if o.addr != "" {
		return o.addr
	}
	return defaultAddr[service]
}

// isLoopback reports whether addr (HOST:PORT) listens only on a loopback
// address. An empty host listens on every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// runner is a server as `inetkit serve` drives it.
type runner struct {
	name     string
	serve    func() error
	shutdown func(context.Context) error
	stats    func() any // the server's counters, for --debug-addr
}

func runServe(ctx context.Context, e *env, o *serveOptions) error {
	log := o.log.logger(e.stderr)
	var runners []runner
	var me *mailEnv
	defer func() {
		for _, r := range runners {
			r.shutdown(context.Background()) // release sockets after a failed start
		}
		if me != nil {
			me.store.Close() // after every server that uses it has stopped
		}
	}()
	for _, name := range o.services {
		var r runner
		var err error
		if slices.Contains(mailServices, name) {
			if me == nil {
				if me, err = o.openMail(ctx, log); err != nil {
					return err
				}
			}
			r, err = o.newMailRunner(ctx, name, me, log.With("service", name))
		} else {
			r, err = o.newRunner(ctx, name, log)
		}
		if err != nil {
			return err
		}
		runners = append(runners, r)
	}
	if o.debugAddr != "" {
		r, err := newDebugRunner(ctx, o.debugAddr, slices.Clone(runners), log)
		if err != nil {
			return err
		}
		runners = append(runners, r)
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, r := range runners {
		g.Go(func() error {
			if err := r.serve(); err != nil && !errors.Is(err, sockserver.ErrServerClosed) {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		if ctx.Err() != nil {
			log.Info("shutting down", "drain", o.drain)
		}
		sctx, cancel := context.WithTimeout(context.Background(), o.drain)
		defer cancel()
		sg := new(errgroup.Group)
		for _, r := range runners {
			sg.Go(func() error {
				if err := r.shutdown(sctx); err != nil {
					log.Warn("drain time over; connections closed", "service", r.name)
				}
				return nil
			})
		}
		return sg.Wait()
	})
	err := g.Wait()
	runners = nil
	if err == nil {
		log.Info("stopped")
	}
	return err
}

func (o *serveOptions) newRunner(ctx context.Context, name string, log *slog.Logger) (runner, error) {
	addr := o.addrOf(name)
	log = log.With("service", name)
	loopback := isLoopback(addr)
	switch name {
	case "tcp":
		srv := &sockserver.Server{
			Addr:          addr,
			Handler:       &upper.Handler{Mode: o.mode, ReadSize: o.readSize, MaxLineBytes: o.maxLineBytes, Logger: log},
			Logger:        log,
			IdleTimeout:   negIfZero(o.idleTimeout),
			WriteTimeout:  negIfZero(o.writeTimeout),
			MaxConns:      o.maxConns,
			MaxConnsPerIP: o.maxConnsPerIP.or(cond(loopback, 0, 64)),
		}
		if o.maxConns == 0 {
			srv.MaxConns = -1
		}
		l, err := srv.Listen(ctx)
		if err != nil {
			return runner{}, fmt.Errorf("%s: %w", name, err)
		}
		log.Info("waiting for clients", "addr", l.Addr().String(), "mode", o.mode.String())
		return runner{name: name, serve: func() error { return srv.Serve(l) }, shutdown: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			l.Close() // in case Serve never started
			return err
		}, stats: func() any { return srv.Stats() }}, nil
	case "udp":
		srv := &sockserver.PacketServer{
			Addr:          addr,
			Handler:       &upper.PacketHandler{Logger: log},
			Logger:        log,
			RateLimit:     float64(o.udpRate.or(cond(loopback, 0, 100))),
			RateBurst:     o.udpBurst,
			ByteRateLimit: float64(o.udpByteRate.or(cond(loopback, 0, 1_000_000))),
		}
		pc, err := srv.Listen(ctx)
		if err != nil {
			return runner{}, fmt.Errorf("%s: %w", name, err)
		}
		log.Info("waiting for clients", "addr", pc.LocalAddr().String())
		return runner{name: name, serve: func() error { return srv.Serve(pc) }, shutdown: func(ctx context.Context) error {
			pc.SetReadDeadline(time.Unix(1, 0)) // before Serve started, Shutdown has no socket to wake
			err := srv.Shutdown(ctx)
			pc.Close()
			return err
		}, stats: func() any { return srv.Stats() }}, nil
	}
	return runner{}, usagef("unknown service %q", name)
}

// negIfZero maps a flag's 0 ("no limit") to sockserver's negative "no limit".
func negIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func cond[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}
