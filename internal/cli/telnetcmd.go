package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/telnet"
)

// Defaults of `inetkit telnet`.
const (
	telnetPort          = "23"
	telnetsPort         = "992"
	telnetDialTimeout   = 30 * time.Second
	telnetExpectTimeout = 10 * time.Second
	// telnetEscape is the escape key, Ctrl-], as BSD telnet's.
	telnetEscape = 0x1d
)

// telnetOptions are the options of `inetkit telnet`.
type telnetOptions struct {
	addr string // host:port
	host string // for TLS's server name
	tls  bool
	ca   tlsOptions // --cacert, --data, --insecure
	// steps are the --send, --expect and --script steps, in the order of
	// the command line; timeout is the --timeout in force as they were
	// given, and dialTimeout the one in force before the first.
	steps       []telnetStep
	timeout     time.Duration
	dialTimeout time.Duration
}

// A telnetStep is one step of the scripted mode: it waits for expect, or
// sends send and a newline.
type telnetStep struct {
	expect  *regexp.Regexp
	send    string
	timeout time.Duration // for expect
}

func newTelnetCmd(e *env, runF func(context.Context, *telnetOptions) error) *cobra.Command {
	o := &telnetOptions{timeout: telnetExpectTimeout, dialTimeout: telnetDialTimeout, ca: tlsOptions{mode: "require"}}
	cmd := &cobra.Command{
		Use:   "telnet [flags] HOST[:PORT]",
		Short: "Talk to a Telnet server, interactively or from a script",
		Long: `Connect to a Telnet server (RFC 854) at HOST[:PORT], port 23 unless given;
telnet://HOST[:PORT] and telnets://HOST[:PORT] URLs work too. With --tls, or
a telnets:// URL, the connection is TLS from the start (port 992 unless
given), verified against the system's roots and inetkit's local CA, as for
the mail clients.

On a terminal, the session is interactive: the terminal is in raw mode, the
server echoes and edits (as BSD telnet in character mode), the terminal
type ($TERM) and the window size are sent, and a resize is sent as it
happens. Ctrl-] escapes to a local "telnet>" prompt:
  quit              close the connection and exit
  status            the connection and the options in force
  send ayt|brk|ip|ao|ec|el|nop
                    send a Telnet command (AYT: are you there; BRK: break;
                    IP: interrupt process; ...)
  (an empty line)   back to the session
After a command the session resumes.

When stdin is not a terminal, what it holds is sent, its line ends as CR
LF, and what the server sends is printed, until the server closes the
connection (after the end of stdin, the connection is half-closed).

Scripted mode, for tests and automation: --expect REGEX waits for text
that matches REGEX (Go syntax; (?s) lets . match newlines), --send TEXT
sends TEXT and a newline, and --timeout DURATION sets the time each later
--expect may wait (10s unless given; a --timeout before every step also
bounds the connection, 30s unless given). They may be repeated, and run in
the order of the command line; --script FILE adds the steps of FILE
there, one a line: "expect REGEX", "send TEXT", "timeout DURATION"
(blank lines and lines starting with # are skipped). What the server sends
is printed. When an --expect is not met, inetkit prints what it saw and
exits 1. After a last --send, what the server sends is printed until it
closes the connection, or for the timeout.`,
		Example: `  inetkit telnet localhost 2323
  inetkit telnet localhost:2323
  inetkit telnet --tls localhost:2992
  inetkit telnet --expect 'inetkit> ' --send 'hello' --expect 'HELLO' localhost:2323
  printf 'hello\nquit\n' | inetkit telnet telnet://localhost:2323`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("telnet takes HOST[:PORT] (or HOST PORT, or a telnet:// URL)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parseTarget(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runTelnet(ctx, e, o) })
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.tls, "tls", false, "TLS from the start (telnets, port 992 unless given)")
	f.StringVar(&o.ca.cacert, "cacert", "", "PEM file of certificate authorities to trust, besides the system's and inetkit's own")
	f.StringVar(&o.ca.data, "data", defaultDataDir, "data directory whose CA, DIR/tls/ca.pem, is trusted too")
	f.BoolVarP(&o.ca.insecure, "insecure", "k", false, "do not verify the server's certificate")
	f.Var(&telnetStepFlag{o: o, kind: "send"}, "send", "send TEXT and a newline (repeatable, in order with --expect)")
	f.Var(&telnetStepFlag{o: o, kind: "expect"}, "expect", "wait for text matching REGEX (repeatable, in order with --send)")
	f.Var(&telnetStepFlag{o: o, kind: "timeout"}, "timeout", "how long each later --expect waits (default 10s)")
	f.Var(&telnetStepFlag{o: o, kind: "script"}, "script", "add the steps of FILE: lines \"expect REGEX\", \"send TEXT\", \"timeout DURATION\"")
	return cmd
}

// telnetStepFlag is --send, --expect, --timeout or --script: each adds to
// the steps as pflag parses it, so that they keep the order of the command
// line.
type telnetStepFlag struct {
	o    *telnetOptions
	kind string
}

func (f *telnetStepFlag) String() string { return "" }

func (f *telnetStepFlag) Type() string {
	switch f.kind {
	case "expect":
		return "REGEX"
	case "timeout":
		return "DURATION"
	case "script":
		return "FILE"
	}
	return "TEXT"
}

func (f *telnetStepFlag) Set(v string) error {
	if f.kind == "script" {
		return f.o.addScript(v)
	}
	return f.o.addStep(f.kind, v)
}

// addStep adds a step of kind send, expect or timeout.
func (o *telnetOptions) addStep(kind, v string) error {
	switch kind {
	case "send":
		o.steps = append(o.steps, telnetStep{send: v})
	case "expect":
		re, err := regexp.Compile(v)
		if err != nil {
			return fmt.Errorf("not a regular expression: %v", err)
		}
		o.steps = append(o.steps, telnetStep{expect: re, timeout: o.timeout})
	case "timeout":
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a duration > 0 such as 5s, not %q", v)
		}
		o.timeout = d
		if len(o.steps) == 0 {
			o.dialTimeout = d
		}
	default:
		return fmt.Errorf("unknown step %q: want expect, send or timeout", kind)
	}
	return nil
}

// addScript adds the steps of the script file name.
func (o *telnetOptions) addScript(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		kind, arg, _ := strings.Cut(line, " ")
		if err := o.addStep(kind, arg); err != nil {
			return fmt.Errorf("%s:%d: %v", name, i+1, err)
		}
	}
	return nil
}

// parseTarget parses HOST[:PORT], HOST PORT, or a telnet:// or telnets://
// URL.
func (o *telnetOptions) parseTarget(args []string) error {
	target, port := args[0], ""
	if len(args) == 2 {
		port = args[1]
	}
	if scheme, rest, ok := strings.Cut(target, "://"); ok {
		u, err := url.Parse(target)
		if err != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || rest == "" {
			return usagef("%q: want telnet://HOST[:PORT]", target)
		}
		switch strings.ToLower(scheme) {
		case "telnet":
		case "telnets":
			o.tls = true
		default:
			return usagef("%q: telnet speaks telnet:// and telnets://, not %s://", target, scheme)
		}
		target = u.Host
	}
	host, p, err := net.SplitHostPort(target)
	if err != nil {
		// No port: HOST, or a bare IPv6 address.
		host, p = strings.Trim(target, "[]"), ""
		if strings.Contains(host, ":") {
			if _, err := netip.ParseAddr(host); err != nil {
				return usagef("%q: want HOST[:PORT]", target)
			}
		}
	}
	if port != "" {
		if p != "" {
			return usagef("the port is given twice: %q and %q", target, port)
		}
		p = port
	}
	if p == "" {
		p = cond(o.tls, telnetsPort, telnetPort)
	}
	if host == "" {
		return usagef("%q: no host", target)
	}
	o.host, o.addr = host, net.JoinHostPort(host, p)
	return nil
}

func runTelnet(ctx context.Context, e *env, o *telnetOptions) error {
	copts := &telnet.ClientOptions{Timeout: o.dialTimeout, TerminalType: "UNKNOWN"}
	if o.tls {
		cfg, err := o.ca.config(o.host)
		if err != nil {
			return err
		}
		copts.TLSConfig = cfg
	}
	tty, interactive := terminalOf(e.stdin)
	interactive = interactive && len(o.steps) == 0
	if interactive {
		if t := os.Getenv("TERM"); t != "" {
			copts.TerminalType = strings.ToUpper(t) // as BSD telnet sends it
		}
		copts.WindowSize = tty.size
	}
	c, err := dialTelnet(ctx, o.addr, copts)
	if err != nil {
		return err
	}
	defer c.Close()
	switch {
	case len(o.steps) > 0:
		return runTelnetScript(c, e.stdout, o)
	case interactive:
		return runTelnetInteractive(ctx, e, o, c, tty)
	}
	return runTelnetCopy(ctx, e, c)
}

// dialTelnet is telnet.Dial over a connection that can be half-closed
// (halfConn), negotiated by telnet.NewClient as Dial does.
func dialTelnet(ctx context.Context, addr string, opts *telnet.ClientOptions) (*telnet.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if opts.TLSConfig != nil {
		tc := tls.Client(nc, opts.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	c, err := telnet.NewClient(&halfConn{Conn: nc}, opts)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// halfConn is a connection whose writing side can be closed (at the end
// of stdin) while the server's output is still read: after CloseWrite, the
// negotiation answers the Conn would send are dropped instead of failing
// its Read.
type halfConn struct {
	net.Conn
	closed atomic.Bool
}

func (h *halfConn) CloseWrite() error {
	h.closed.Store(true)
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (h *halfConn) Write(p []byte) (int, error) {
	if h.closed.Load() {
		return len(p), nil
	}
	return h.Conn.Write(p)
}

// NetConn returns the connection h wraps, so that the TLS state is seen.
func (h *halfConn) NetConn() net.Conn { return h.Conn }

// runTelnetScript runs the steps of the scripted mode, printing what the
// server sends.
func runTelnetScript(c *telnet.Conn, out io.Writer, o *telnetOptions) error {
	for i, st := range o.steps {
		if st.expect == nil {
			if _, err := c.Write([]byte(st.send + "\r\n")); err != nil {
				return err
			}
			continue
		}
		_, text, err := c.Expect(st.timeout, st.expect)
		var ee *telnet.ExpectError
		if errors.As(err, &ee) {
			out.Write(ee.Seen)
			cause := ee.Err.Error()
			if errors.Is(ee.Err, os.ErrDeadlineExceeded) {
				cause = fmt.Sprintf("not seen within %v", st.timeout)
			} else if errors.Is(ee.Err, io.EOF) {
				cause = "the server closed the connection first"
			}
			return fmt.Errorf("step %d: --expect %q: %s", i+1, st.expect, cause)
		}
		if err != nil {
			return err
		}
		out.Write(text)
	}
	if last := o.steps[len(o.steps)-1]; last.expect == nil {
		// What the server says to the last line, until it closes.
		c.SetReadDeadline(time.Now().Add(o.timeout))
		_, err := io.Copy(out, c)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !isConnReset(err) {
			return err
		}
	}
	return nil
}

// isConnReset reports whether err is the peer's reset of the connection,
// which ends a session as well as EOF does.
func isConnReset(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset")
}

// runTelnetCopy copies stdin to the connection and the connection to
// stdout, until the server closes it.
func runTelnetCopy(ctx context.Context, e *env, c *telnet.Conn) error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(e.stdout, c)
		done <- err
	}()
	go func() {
		// Write turns each LF not after a CR into CR LF (RFC 854).
		io.Copy(c, e.stdin)
		if cw, ok := c.NetConn().(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	select {
	case err := <-done:
		if err != nil && !isConnReset(err) {
			return err
		}
		return nil
	case <-ctx.Done():
		c.Close()
		<-done
		return nil
	}
}

// runTelnetInteractive runs a session on the terminal tty: raw mode,
// window size changes, and the escape to the telnet> prompt.
func runTelnetInteractive(ctx context.Context, e *env, o *telnetOptions, c *telnet.Conn, tty *terminal) error {
	fmt.Fprintf(e.stderr, "Connected to %s%s.\r\nEscape character is '^]'.\r\n", o.addr, cond(c.TLS(), " (TLS)", ""))
	if err := tty.raw(); err != nil {
		return err
	}
	defer tty.restore()
	stopResize := tty.onResize(func(w, h int) { c.SetWindowSize(w, h) })
	defer stopResize()

	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(e.stdout, c)
		closed <- err
	}()
	in := make(chan []byte)
	go func() {
		defer close(in)
		buf := make([]byte, 1024)
		for {
			n, err := tty.in.Read(buf)
			if n > 0 {
				in <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	s := &telnetSession{c: c, tty: tty, in: in, out: e.stdout, addr: o.addr}
	for {
		select {
		case <-closed:
			tty.restore()
			fmt.Fprintf(e.stderr, "\r\nConnection closed by foreign host.\r\n")
			return nil
		case <-ctx.Done():
			return nil
		case p, ok := <-in:
			if !ok {
				return nil
			}
			if quit, err := s.typed(p); quit || err != nil {
				return err
			}
		}
	}
}

// telnetSession is the interactive client's state.
type telnetSession struct {
	c    *telnet.Conn
	tty  *terminal
	in   <-chan []byte
	out  io.Writer
	addr string
}

// typed sends what was typed, with CR sent as CR LF (RFC 854's newline)
// outside BINARY mode, and escapes to the telnet> prompt at Ctrl-]: what
// follows it is the start of the prompt's line.
func (s *telnetSession) typed(p []byte) (quit bool, err error) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, telnetEscape)
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !s.c.LocalEnabled(telnet.OptionBinary) {
			chunk = crToCRLF(chunk)
		}
		if len(chunk) > 0 {
			if _, err := s.c.Write(chunk); err != nil {
				return true, err
			}
		}
		if i < 0 {
			return false, nil
		}
		if quit, p, err = s.escape(p[i+1:]); quit || err != nil {
			return quit, err
		}
	}
	return false, nil
}

// crToCRLF turns each CR not followed by LF into CR LF.
func crToCRLF(p []byte) []byte {
	if bytes.IndexByte(p, '\r') < 0 {
		return p
	}
	var out []byte
	for i, b := range p {
		out = append(out, b)
		if b == '\r' && (i+1 == len(p) || p[i+1] != '\n') {
			out = append(out, '\n')
		}
	}
	return out
}

// telnetCommands are the commands of "send" at the telnet> prompt.
var telnetCommands = map[string]byte{
	"ayt": telnet.AYT, "brk": telnet.BRK, "ip": telnet.IP, "ao": telnet.AO,
	"ec": telnet.EC, "el": telnet.EL, "nop": telnet.NOP,
}

const telnetPromptHelp = `Commands:
  quit              close the connection and exit
  status            the connection and the options in force
  send ayt|brk|ip|ao|ec|el|nop
                    send a Telnet command
  (an empty line)   back to the session
`

// escape runs the telnet> prompt, in the terminal's own line mode, until a
// command has run or an empty line is typed. typed is what came after the
// escape key; rest is what came after the prompt's line.
func (s *telnetSession) escape(typed []byte) (quit bool, rest []byte, err error) {
	s.tty.restore()
	defer s.tty.raw()
	for {
		fmt.Fprint(s.out, "\r\ntelnet> ")
		var line []byte
		line, typed = s.readLine(typed)
		if line == nil {
			return true, nil, nil // stdin closed
		}
		args := strings.Fields(string(line))
		if len(args) == 0 {
			return false, typed, nil
		}
		switch args[0] {
		case "quit", "q", "close", "c":
			fmt.Fprint(s.out, "Connection closed.\r\n")
			return true, nil, nil
		case "status", "st":
			s.status()
			return false, typed, nil
		case "send":
			cmd, ok := byte(0), len(args) == 2
			if ok {
				cmd, ok = telnetCommands[strings.ToLower(args[1])]
			}
			if !ok {
				fmt.Fprint(s.out, "usage: send ayt|brk|ip|ao|ec|el|nop\r\n")
				continue
			}
			return false, typed, s.c.SendCommand(cmd)
		case "help", "?":
			fmt.Fprint(s.out, strings.ReplaceAll(telnetPromptHelp, "\n", "\r\n"))
		default:
			fmt.Fprintf(s.out, "?Invalid command %q\r\n%s", args[0], strings.ReplaceAll(telnetPromptHelp, "\n", "\r\n"))
		}
	}
}

// readLine returns the first line of typed and what follows it, reading
// more input as needed; line is nil when the input ends first.
func (s *telnetSession) readLine(typed []byte) (line, rest []byte) {
	for {
		if i := bytes.IndexAny(typed, "\r\n"); i >= 0 {
			line, rest = append([]byte{}, typed[:i]...), typed[i+1:]
			if typed[i] == '\r' && len(rest) > 0 && rest[0] == '\n' {
				rest = rest[1:]
			}
			return line, rest
		}
		p, ok := <-s.in
		if !ok {
			return nil, nil
		}
		typed = append(typed, p...)
	}
}

// status prints the connection and the options in force.
func (s *telnetSession) status() {
	var ours, theirs []string
	for _, opt := range []telnet.Option{telnet.OptionBinary, telnet.OptionEcho, telnet.OptionSGA,
		telnet.OptionTerminalType, telnet.OptionNAWS} {
		if s.c.LocalEnabled(opt) {
			ours = append(ours, opt.String())
		}
		if s.c.RemoteEnabled(opt) {
			theirs = append(theirs, opt.String())
		}
	}
	mode := "line by line (local echo)"
	if s.c.RemoteEnabled(telnet.OptionEcho) {
		mode = "character at a time (the server echoes)"
	}
	fmt.Fprintf(s.out, "Connected to %s%s.\r\nOperating %s.\r\nOptions: we do %s; the server does %s.\r\nEscape character is '^]'.\r\n",
		s.addr, cond(s.c.TLS(), " over TLS", ""), mode, listOr(ours, "none"), listOr(theirs, "none"))
}

func listOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, " ")
}
