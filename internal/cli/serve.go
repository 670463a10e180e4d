package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/inetkit/inetkit/sockserver"
)

// A service is a server that `inetkit serve` can run. Each is defined in a
// file of its own (serve_upper.go: tcp and udp; serve_smtp.go, serve_pop3.go
// and serve_imap.go: the mail servers, over the store of serve_mail.go) and
// listed in services.
type service struct {
	// name selects the service on the command line and names it in logs.
	name string
	// newConfig registers the service's flags on f and returns the
	// configuration they fill in. It is called once for each serve command,
	// whether or not the command line selects the service. Flags that
	// several services share are registered through sharedFlags.
	newConfig func(f *serveFlags) serviceConfig
}

// A serviceConfig is a service as one command line configures it.
type serviceConfig interface {
	// validate checks the service's flags once they are parsed. It is
	// called for every service, selected or not, so that a mistake in a
	// flag is reported whatever the services named.
	validate() error
	// start listens on the service's addresses and returns the runner that
	// serves them. log names the service. An error names the service or
	// the listener that failed ("smtp: listen tcp …").
	start(ctx context.Context, se *serveEnv, log *slog.Logger) (runner, error)
}

// services are the services of `inetkit serve`, in the order it starts
// them. Adding one is adding a file that defines it, and its line here.
var services = []service{
	tcpService,
	udpService,
	smtpService,
	pop3Service,
	imapService,
	ftpService,
	httpService,
	gopherService,
	nntpService,
	telnetService,
	webService,
}

// serviceNames returns the names of list, in its order.
func serviceNames(list []service) []string {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.name
	}
	return names
}

// serveFlags is the flag set of one serve command, as the services see it
// while they register their flags.
type serveFlags struct {
	*pflag.FlagSet
	groups map[reflect.Type]any // by type: see sharedFlags
}

// sharedFlags returns the group of flags of type *T that several services
// share (the tcp and udp --addr, the mail store's --data, the timeouts),
// registering them with add the first time a service of this command asks
// for it. A group with a method finish(*pflag.FlagSet) has it called once
// every service has registered its flags (to complete their help).
func sharedFlags[T any](f *serveFlags, add func(*pflag.FlagSet) *T) *T {
	key := reflect.TypeFor[T]()
	if g, ok := f.groups[key]; ok {
		return g.(*T)
	}
	g := add(f.FlagSet)
	f.groups[key] = g
	return g
}

// timeoutOptions are the timeout flags that the tcp service and the mail
// services share: each means the same for every service that uses it, and
// each service has its own default, which the flag's help lists.
type timeoutOptions struct {
	idle    sharedTimeout // --idle-timeout
	command sharedTimeout // --command-timeout
	write   sharedTimeout // --write-timeout
}

func timeoutFlags(f *serveFlags) *timeoutOptions {
	return sharedFlags(f, func(fs *pflag.FlagSet) *timeoutOptions {
		o := &timeoutOptions{
			idle: sharedTimeout{name: "idle-timeout",
				usage: "close a connection that sends nothing for this long, between commands or within a message, in every service unless its own --SERVICE-idle-timeout is given; 0: never"},
			command: sharedTimeout{name: "command-timeout",
				usage: "close a connection whose command, once begun, takes longer than this to arrive, or whose TLS handshake does; 0: never"},
			write: sharedTimeout{name: "write-timeout",
				usage: "close a connection whose client does not read a reply for this long; 0: never"},
		}
		for _, t := range []*sharedTimeout{&o.idle, &o.command, &o.write} {
			fs.Var(t, t.name, t.usage)
		}
		return o
	})
}

// finish completes the help of the shared timeout flags once every service
// has registered its defaults.
func (o *timeoutOptions) finish(fs *pflag.FlagSet) {
	for _, t := range []*sharedTimeout{&o.idle, &o.command, &o.write} {
		fs.Lookup(t.name).Usage = t.usage + " " + t.defaults()
	}
}

// A sharedTimeout is a timeout flag that several services follow: setting
// it sets the timeout of each, except those whose own flag overrides it.
// Its value is a duration ≥ 0, 0 meaning none.
type sharedTimeout struct {
	name, usage string
	targets     []*timeoutTarget
	set         bool
	d           time.Duration
}

// A timeoutTarget is the timeout of one service.
type timeoutTarget struct {
	service    string
	def        time.Duration
	d          *time.Duration
	overridden bool // by the service's own flag
}

// follow makes *d, the timeout of service, default to def and follow the
// flag; it returns the target, for a flag of the service's own that
// overrides the shared one (see override).
func (s *sharedTimeout) follow(service string, d *time.Duration, def time.Duration) *timeoutTarget {
	*d = def
	t := &timeoutTarget{service: service, def: def, d: d}
	s.targets = append(s.targets, t)
	return t
}

// defaults says what the timeout of each service is when the flag is not
// given: "(default: tcp 10s; smtp, pop3, imap 30s)".
func (s *sharedTimeout) defaults() string {
	var groups []string
	for i := 0; i < len(s.targets); {
		j, names := i, []string(nil)
		for ; j < len(s.targets) && s.targets[j].def == s.targets[i].def; j++ {
			names = append(names, s.targets[j].service)
		}
		groups = append(groups, strings.Join(names, ", ")+" "+s.targets[i].def.String())
		i = j
	}
	if len(groups) == 0 {
		return ""
	}
	return "(default: " + strings.Join(groups, "; ") + ")"
}

func (s *sharedTimeout) Set(v string) error {
	d, err := parseTimeout(v)
	if err != nil {
		return err
	}
	s.set, s.d = true, d
	for _, t := range s.targets {
		if !t.overridden {
			*t.d = d
		}
	}
	return nil
}

// String is "" until the flag is set, so that the help shows the defaults
// of defaults, not one of pflag's.
func (s *sharedTimeout) String() string {
	if !s.set {
		return ""
	}
	return s.d.String()
}

func (s *sharedTimeout) Type() string { return "duration" }

// override registers the flag name, which sets the timeout of t alone,
// whatever the shared flag says; its help shows t's default.
func override(fs *pflag.FlagSet, name string, t *timeoutTarget, usage string) {
	fs.Var(&timeoutOverride{t}, name, usage)
}

// timeoutOverride is the flag of one service's timeout.
type timeoutOverride struct{ t *timeoutTarget }

func (o *timeoutOverride) Set(v string) error {
	d, err := parseTimeout(v)
	if err != nil {
		return err
	}
	*o.t.d, o.t.overridden = d, true
	return nil
}

func (o *timeoutOverride) String() string { return o.t.d.String() }
func (o *timeoutOverride) Type() string   { return "duration" }

// parseTimeout parses the value of a timeout flag: a duration ≥ 0, 0 for
// none.
func parseTimeout(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration ≥ 0 such as 90s or 5m (0: none), not %q", v)
	}
	return d, nil
}

// stopBound is how long `inetkit serve` waits, past the --drain timeout, for
// a service whose Shutdown has given up on draining and is closing its
// connections, before it exits without it.
const stopBound = 5 * time.Second

// serveOptions are the options of one `inetkit serve`: its own flags, and
// the configuration of every service it knows.
type serveOptions struct {
	services []string // selected, in the order named
	log      logOptions

	// Limits that the tcp service and the mail services share.
	maxConns      int
	maxConnsPerIP autoInt

	drain     time.Duration
	debugAddr string
	faults    faultOptions

	all     []string                 // every service, in start order
	configs map[string]serviceConfig // by service name
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
	list := e.services
	if list == nil {
		list = services
	}
	o := &serveOptions{all: serviceNames(list), configs: make(map[string]serviceConfig, len(list))}
	cmd := &cobra.Command{
		Use:   "serve [SERVICE...]",
		Short: "Run servers (all of them when none is named)",
		Long: `Run the named servers, or all of them: ` + strings.Join(o.all, ", ") + `.

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
127.0.0.1:1110 and 127.0.0.1:1143, offer STARTTLS with a certificate from the
user's local certificate authority (~/.config/inetkit, or $INETKIT_CA_DIR,
made on first start; its path is logged: inetkit's clients trust it, give it
to others, or give --tls-cert and --tls-key), and implicit TLS on
--smtps-addr, --pop3s-addr and --imaps-addr when given. When every mail
listener is on loopback, any login is accepted (the login is the mail
address, its mailbox made on first use) and plain-text logins are allowed
without TLS; on any other address only accounts made with 'inetkit user add'
may log in, only after STARTTLS, and inetkit refuses to start without one.

ftp serves the files in DATA/files (made on first start) on 127.0.0.1:2121,
with AUTH TLS (RFC 4217) and implicit TLS on --ftps-addr when given, for the
same logins as the mail services (a mail address), which read and write.
Anonymous logins ("anonymous" or "ftp") read only: on loopback always,
elsewhere only with --ftp-anonymous.

http serves the same files on 127.0.0.1:8080 (HTTPS, with HTTP/2, on
--https-addr when given): GET and HEAD with ranges for everyone, folders as
HTML or, for "Accept: application/json", as JSON; PUT and DELETE for the
same logins with Basic authentication, which off loopback are accepted over
HTTPS only. XML-RPC answers at /RPC2: upper(text), and system.listMethods,
system.methodHelp, system.methodSignature and system.multicall. For http,
--idle-timeout is how long a keep-alive connection waits for a request,
--command-timeout bounds the reading of a request's header, and
--write-timeout a write that makes no progress.

gopher serves the same files on 127.0.0.1:7070, with caps.txt and a search
item, /search, that answers with the query upper-cased. Its menus name the
host of --gopher-addr (or --gopher-host); --idle-timeout is how long a
client has to send its request.

nntp serves the store's newsgroups (inetkit.test from the start; 'inetkit
news add-group' makes more) on 127.0.0.1:1119, with STARTTLS and implicit
TLS on --nntps-addr when given, for the same logins: on loopback anyone
reads and posts, and any login is accepted; elsewhere only accounts log in
and post, after TLS. An article is on disk (committed, fsync'ed) before the
240 that acknowledges it. On SIGTERM idle readers get "400" and a POST in
flight finishes.

telnet serves inetkit's console on 127.0.0.1:2323 (implicit TLS on
--telnets-addr when given), never an operating-system shell: each line typed
comes back upper-cased, and commands list the files (files), the mailbox
counts of the login (mail) and the newsgroups (groups, read GROUP [N]); see
'help' in a session. On loopback no login is asked for and 'login NAME' takes
any name; elsewhere only accounts log in, over telnets only. Its idle timeout
is 15 minutes unless --telnet-idle-timeout says otherwise.

web is the console on 127.0.0.1:8025 (HTTPS on --webs-addr when given; off
with --web-addr ''): in a browser, the mail of every address, the newsgroups,
the file tree and the running services, new mail appearing as it arrives;
for scripts, a REST API under /api/v1 (its OpenAPI description at
/api/v1/openapi.json) that lists, reads, waits for, sends and deletes mail
and articles, and streams events. On loopback it asks no login; elsewhere
an account logs in (Basic auth, over HTTPS) and sees only its own mail.
--webhook URL POSTs each delivered message to URL as JSON.

--faults FILE makes the services misbehave on demand, for testing clients:
one rule a line, such as 'smtp DATA reply="451 4.3.0 try later" prob=0.3' or
'udp datagram drop every=3' (see the README's Faults section). The console's
Faults page and /api/v1/faults list, add and remove rules while inetkit runs;
rules for tcp, udp and http can be added there only when --faults was given
(an empty file will do), as those services otherwise skip the check.

The timeouts (--idle-timeout, --command-timeout, --write-timeout) mean the
same for every service that has them; each service has its own defaults,
listed below, the RFCs' for the mail services. --smtp-idle-timeout,
--pop3-idle-timeout, --imap-idle-timeout, --ftp-idle-timeout,
--http-idle-timeout and --nntp-idle-timeout set one service's idle timeout,
whatever --idle-timeout says.

SIGINT or SIGTERM stops accepting at once and lets exchanges in flight finish
within --drain; inetkit then exits 0.`,
		Example: `  inetkit serve
  inetkit serve tcp --mode line
  inetkit serve udp --addr [::1]:6666
  inetkit serve smtp pop3 imap --data /tmp/mail
  inetkit serve smtp --smtp-addr 0.0.0.0:25 --smtps-addr 0.0.0.0:465
  inetkit serve ftp --ftp-addr 0.0.0.0:2121 --ftp-pasv-ports 50000-50100
  inetkit serve http gopher --data ~/share
  inetkit serve http --http-addr 0.0.0.0:8080 --https-addr 0.0.0.0:8443
  inetkit serve nntp --nntp-addr 0.0.0.0:119 --nntps-addr 0.0.0.0:563
  inetkit serve telnet --telnet-addr 0.0.0.0:2323 --telnets-addr 0.0.0.0:2992
  inetkit serve smtp imap web --webhook http://127.0.0.1:9000/hook`,
		Args: func(_ *cobra.Command, args []string) error {
			for _, a := range args {
				if !slices.Contains(o.all, a) {
					return usagef("unknown service %q (want %s)", a, strings.Join(o.all, ", "))
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.services = args
			if len(args) == 0 {
				o.services = o.all
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
	sf := &serveFlags{FlagSet: f, groups: make(map[reflect.Type]any)}
	for _, s := range list {
		o.configs[s.name] = s.newConfig(sf)
	}
	for _, g := range sf.groups {
		if g, ok := g.(interface{ finish(*pflag.FlagSet) }); ok {
			g.finish(f)
		}
	}
	f.IntVar(&o.maxConns, "max-conns", sockserver.DefaultMaxConns, "most TCP connections open at once, per service; 0: no limit")
	f.Var(&o.maxConnsPerIP, "max-conns-per-ip", "most TCP connections open at once from one address; 0: no limit")
	f.DurationVar(&o.drain, "drain", 10*time.Second, "on SIGINT/SIGTERM, how long exchanges in flight may take to finish")
	f.StringVar(&o.debugAddr, "debug-addr", "", "HOST:PORT serving an index page at /, runtime and server statistics as JSON at /debug/vars and net/http/pprof at /debug/pprof/ (off when empty)")
	o.faults.addFlags(f)
	o.log.addFlags(cmd)
	return cmd
}

func (o *serveOptions) validate() error {
	for _, name := range o.all {
		if err := o.configs[name].validate(); err != nil {
			return err
		}
	}
	if err := o.faults.validate(); err != nil {
		return err
	}
	return o.log.validate()
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

// validAddr returns a usage error naming flag unless addr is HOST:PORT or
// empty.
func validAddr(flag, addr string) error {
	if addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usagef("--%s %q: want HOST:PORT", flag, addr)
	}
	return nil
}

// runner is a server as `inetkit serve` drives it.
type runner struct {
	name  string
	serve func() error // returns nil or an error wrapping sockserver.ErrServerClosed once shut down
	// shutdown stops the server gracefully, closing what is left of its
	// connections when ctx expires; it also releases the listeners of a
	// server whose serve was never called.
	shutdown func(context.Context) error
	stats    func() any // the server's counters, for --debug-addr
	// listeners are the addresses the server listens on, for the index
	// page of --debug-addr.
	listeners []listenerInfo
}

// listenerInfo is one address a runner listens on.
type listenerInfo struct {
	Addr string // as the listener reports it (the port chosen for :0)
	Kind string // "tcp", "udp", "STARTTLS" or "implicit TLS"
}

// serveEnv is what the services of one `inetkit serve` share while they
// run: the options, the log, and what several services open once (the mail
// store).
type serveEnv struct {
	opts   *serveOptions
	log    *slog.Logger
	shared map[reflect.Type]any // by type: see sharedState
	// cleanups run, last first, once every service has stopped.
	cleanups []func()
	// runners are the services started, for the console's Server page;
	// complete before any serves.
	runners []runner
}

// selected reports whether the command line selected the named service.
func (se *serveEnv) selected(name string) bool { return slices.Contains(se.opts.services, name) }

// sharedState returns the value of type *T that several services share,
// opening it with open when the first of them starts. open may register a
// cleanup with se.afterStop.
func sharedState[T any](se *serveEnv, open func() (*T, error)) (*T, error) {
	key := reflect.TypeFor[T]()
	if v, ok := se.shared[key]; ok {
		return v.(*T), nil
	}
	v, err := open()
	if err != nil {
		return nil, err
	}
	se.shared[key] = v
	return v, nil
}

// afterStop registers f to run once every service has stopped.
func (se *serveEnv) afterStop(f func()) { se.cleanups = append(se.cleanups, f) }

func (se *serveEnv) runCleanups() {
	for _, f := range slices.Backward(se.cleanups) {
		f()
	}
	se.cleanups = nil
}

func runServe(ctx context.Context, e *env, o *serveOptions) error {
	log := o.log.logger(e.stderr)
	se := &serveEnv{opts: o, log: log, shared: make(map[reflect.Type]any)}
	bound := cmp.Or(e.stopBound, stopBound)
	runners, err := startRunners(ctx, se, bound)
	if err != nil {
		return err
	}
	served := make([]chan struct{}, len(runners))
	serveErrs := make(chan error, len(runners))
	for i, r := range runners {
		served[i] = make(chan struct{})
		go func() {
			defer close(served[i])
			err := r.serve()
			if err != nil && !errors.Is(err, sockserver.ErrServerClosed) {
				serveErrs <- fmt.Errorf("%s: %w", r.name, err)
			} else {
				serveErrs <- nil
			}
		}()
	}
	// Until the context ends or a server fails.
wait:
	for range runners {
		select {
		case <-ctx.Done():
			log.Info("shutting down", "drain", o.drain)
			break wait
		case err = <-serveErrs:
			if err != nil {
				break wait
			}
		}
	}
	if stuck := stopRunners(runners, served, o.drain, bound, log); len(stuck) > 0 {
		// The store, and whatever else the stuck services share, stays
		// open: closing it would wait for them. What the store has
		// committed is durable; the exit of the process releases it.
		return cmp.Or(err, fmt.Errorf("%s did not stop %v after the drain; exiting with its connections open", strings.Join(stuck, ", "), bound))
	}
	se.runCleanups()
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// startRunners starts the selected services in order, and the debug server
// of --debug-addr. If one fails, it stops those already started.
func startRunners(ctx context.Context, se *serveEnv, bound time.Duration) ([]runner, error) {
	o := se.opts
	var runners []runner
	fail := func(err error) ([]runner, error) {
		if stuck := stopRunners(runners, nil, -1, bound, se.log); len(stuck) == 0 {
			se.runCleanups()
		}
		return nil, err
	}
	for _, name := range o.services {
		r, err := o.configs[name].start(ctx, se, se.log.With("service", name))
		if err != nil {
			return fail(err)
		}
		runners = append(runners, r)
		se.runners = append(se.runners, r)
	}
	if o.debugAddr != "" {
		r, err := newDebugRunner(ctx, o.debugAddr, slices.Clone(runners), se.log)
		if err != nil {
			return fail(err)
		}
		runners = append(runners, r)
	}
	return runners, nil
}

// stopRunners shuts runners down, gracefully for drain and then by closing
// their connections, and waits for their serve functions to return (served;
// nil for runners whose serve was never called). A negative drain means no
// graceful deadline, for servers that never served. A runner that has not
// stopped bound after the drain is left behind: its Close is blocked on a
// connection that does not end. stopRunners logs and returns their names.
func stopRunners(runners []runner, served []chan struct{}, drain, bound time.Duration, log *slog.Logger) (stuck []string) {
	sctx, wait := context.Background(), bound
	if drain >= 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, drain)
		defer cancel()
		wait += drain
	}
	stopped := make([]chan struct{}, len(runners))
	for i, r := range runners {
		stopped[i] = make(chan struct{})
		go func() {
			defer close(stopped[i])
			if err := r.shutdown(sctx); err != nil {
				log.Warn("drain time over; connections closed", "service", r.name)
			}
			if served != nil {
				<-served[i]
			}
		}()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	expired := false
	for i, r := range runners {
		if !expired {
			select {
			case <-stopped[i]:
				continue
			case <-timer.C:
				expired = true
			}
		}
		select {
		case <-stopped[i]:
		default:
			log.Error("service did not stop; exiting without it", "service", r.name, "drain", max(drain, 0), "bound", bound)
			stuck = append(stuck, r.name)
		}
	}
	return stuck
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
