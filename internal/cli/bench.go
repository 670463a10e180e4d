package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/internal/loadgen"
	"github.com/inetkit/inetkit/upper"
)

type benchOptions struct {
	target  string // the URL with the default port filled in: tcp://127.0.0.1:6666
	network string // tcp, udp or unix
	addr    string

	mode        upper.Mode
	concurrency int
	size        int
	pipeline    int
	duration    time.Duration
	count       int64
	timeout     time.Duration
	readSize    int
	unicode     bool
	json        bool
	starttls    bool
	nntp        loadgen.NNTPConfig // for nntp:// URLs (bench_nntp.go)
}

// defaultBenchDuration is --duration when neither it nor --count is given.
const defaultBenchDuration = 10 * time.Second

func newBenchCmd(e *env, runF func(context.Context, *benchOptions) error) *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench URL",
		Short: "Generate load on an uppercase, SMTP or NNTP server and measure it",
		Long: `Send requests to the uppercase service at URL from many connections at once,
check every reply against the uppercase of what was sent, and report
throughput, latency percentiles (p50, p90, p99, max), errors and losses.

URL forms:
  tcp://HOST:PORT        TCP, the server in --mode (oneshot, stream or line)
  unix:///PATH           a Unix stream socket, likewise
  udp://HOST:PORT        UDP: one datagram per request
  smtp://HOST:PORT       SMTP ingest: -c sessions each sending --size-byte
                         messages one after another (MAIL, RCPT, DATA); an
                         exchange succeeds only on the final 250. --starttls
                         starts TLS first (the certificate is not verified).
  nntp://[USER:PASS@]HOST:PORT/GROUP
                         NNTP: -c sessions each doing --op one exchange after
                         another: post (the default; POST of --size-byte
                         articles, a success only on 240, which inetkit serve
                         sends once the article is on disk), over (OVER of
                         every article of the group, checked against the
                         count GROUP gives; the report adds articles/s) or
                         article (ARTICLE of a random number). --starttls
                         as for smtp.

The port defaults to 6666. In oneshot mode each request is a connection of its
own (its latency counts from the dial) and -c is the number of clients
connecting back to back; in stream and line mode -c connections stay open with
--pipeline requests in flight on each; over UDP -c sockets keep --pipeline
datagrams in flight, and a datagram unanswered after --timeout is lost.

The run stops after --duration (10s unless --count is given), or after --count
exchanges, whichever comes first. A reply that is not the expected uppercase
is counted wrong, never as a success. With --unicode, messages carry non-ASCII
text whose uppercase differs in length ("straße" → "STRASSE").

In oneshot mode the server answers its one read of --read-size bytes (1024):
keep --size at most that. Over UDP, --size is at least 24 bytes, the room for
the numbers replies are matched by.

On a terminal, progress is shown on stderr once a second. The report goes to
stdout, as text or with --json as one JSON object. The exit status is 1 if
any exchange failed or got a wrong reply, or none succeeded (UDP losses alone
do not fail a run).`,
		Example: `  inetkit bench -c 50 -d 5s tcp://127.0.0.1:6666
  inetkit bench --mode line -c 10 --pipeline 16 tcp://127.0.0.1:6666
  inetkit bench -c 4 --pipeline 8 -n 100000 udp://127.0.0.1:6666
  inetkit bench --json --unicode --size 256 tcp://127.0.0.1:6666
  inetkit bench -c 8 -d 10s nntp://127.0.0.1:1119/inetkit.test
  inetkit bench --op over -c 2 -n 50 nntp://127.0.0.1:1119/inetkit.test`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("bench takes one URL, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(cmd, args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runBench(ctx, e, o) })
		},
	}
	f := cmd.Flags()
	f.Var(&o.mode, "mode", "TCP mode of the server: oneshot, stream or line")
	f.IntVarP(&o.concurrency, "concurrency", "c", 1, "connections (oneshot: clients connecting one after another; UDP: sockets)")
	f.IntVar(&o.size, "size", loadgen.DefaultSize, "message size in bytes (in line mode, the LF included)")
	f.IntVar(&o.pipeline, "pipeline", 1, "requests in flight on each connection (stream, line) or socket (UDP)")
	f.DurationVarP(&o.duration, "duration", "d", defaultBenchDuration, "stop after this long (0: no limit; the default only without --count)")
	f.Int64VarP(&o.count, "count", "n", 0, "stop after this many exchanges (0: no limit)")
	f.DurationVar(&o.timeout, "timeout", loadgen.DefaultTimeout, "a request with no reply after this long fails (UDP: is lost)")
	f.IntVar(&o.readSize, "read-size", upper.DefaultReadSize, "the oneshot server's --read-size: its reply covers this many bytes")
	f.BoolVar(&o.unicode, "unicode", false, "put non-ASCII text in messages")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.BoolVar(&o.starttls, "starttls", false, "smtp, nntp: start TLS in every session")
	f.StringVar(&o.nntp.Op, "op", "", "nntp: post, over or article (default post)")
	return cmd
}

func (o *benchOptions) parse(cmd *cobra.Command, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return usagef("bad URL %q: %v", rawURL, err)
	}
	switch u.Scheme {
	case "tcp", "udp":
		if u.Host == "" {
			return usagef("URL %q has no host", rawURL)
		}
		o.network, o.addr = u.Scheme, u.Host
		if u.Port() == "" {
			o.addr = net.JoinHostPort(u.Hostname(), "6666")
		}
		o.target = u.Scheme + "://" + o.addr
	case "unix":
		if u.Path == "" {
			return usagef("URL %q has no socket path", rawURL)
		}
		o.network, o.addr = u.Scheme, u.Path
		o.target = "unix://" + u.Path
	case "smtp":
		if u.Hostname() == "" {
			return usagef("URL %q has no host", rawURL)
		}
		o.network, o.addr = "smtp", u.Host
		if u.Port() == "" {
			o.addr = net.JoinHostPort(u.Hostname(), "25")
		}
		o.target = "smtp://" + o.addr
		if !cmd.Flags().Changed("size") {
			o.size = 10000
		}
		if !cmd.Flags().Changed("timeout") {
			o.timeout = 30 * time.Second
		}
	case "nntp":
		if err := o.parseNNTP(cmd, u); err != nil {
			return err
		}
	case "":
		return usagef("URL %q has no scheme (want tcp://, udp://, unix://, smtp:// or nntp://)", rawURL)
	default:
		return usagef("bench does not speak %s:// (want tcp, udp, unix, smtp or nntp)", u.Scheme)
	}
	if o.starttls && o.network != "smtp" && o.network != "nntp" {
		return usagef("--starttls is for smtp:// and nntp://")
	}
	if cmd.Flags().Changed("op") && o.network != "nntp" {
		return usagef("--op is for nntp://")
	}
	flags := cmd.Flags()
	if o.network == "udp" && flags.Changed("mode") {
		return usagef("--mode is for tcp:// and unix://; UDP has one datagram per request")
	}
	if o.network != "udp" && o.mode == upper.ModeOneshot && o.pipeline != 1 {
		return usagef("--pipeline needs --mode stream or line: a oneshot connection carries one request")
	}
	if !flags.Changed("duration") && o.count > 0 {
		o.duration = 0
	}
	switch {
	case o.concurrency < 1 || o.concurrency > loadgen.MaxConcurrency:
		return usagef("--concurrency must be between 1 and %d", loadgen.MaxConcurrency)
	case o.pipeline < 1 || o.pipeline > loadgen.MaxPipeline:
		return usagef("--pipeline must be between 1 and %d", loadgen.MaxPipeline)
	case o.network == "udp" && (o.size < loadgen.MinDatagramSize || o.size > loadgen.MaxDatagramSize):
		return usagef("--size must be between %d and %d over UDP", loadgen.MinDatagramSize, loadgen.MaxDatagramSize)
	case o.size < 1 || o.size > loadgen.MaxSize:
		return usagef("--size must be between 1 and %d", loadgen.MaxSize)
	case o.readSize < 1 || o.readSize > loadgen.MaxSize:
		return usagef("--read-size must be between 1 and %d", loadgen.MaxSize)
	case o.duration < 0:
		return usagef("--duration must not be negative")
	case o.count < 0:
		return usagef("--count must not be negative")
	case o.duration == 0 && o.count == 0:
		return usagef("--duration 0 needs a --count to stop at")
	case o.timeout <= 0:
		return usagef("--timeout must be positive")
	}
	return nil
}

func runBench(ctx context.Context, e *env, o *benchOptions) error {
	cfg := loadgen.Config{
		Network:     o.network,
		Addr:        o.addr,
		Mode:        o.mode,
		Concurrency: o.concurrency,
		Size:        o.size,
		Pipeline:    o.pipeline,
		Duration:    o.duration,
		Count:       o.count,
		Timeout:     o.timeout,
		ReadSize:    o.readSize,
		Unicode:     o.unicode,
		NNTP:        o.nntp,
	}
	if o.starttls {
		cfg.TLS = &tls.Config{InsecureSkipVerify: true} // a load test measures, it does not verify
	}
	var p *progressLine
	if isTerminal(e.stderr) {
		p = &progressLine{w: e.stderr}
		cfg.Progress = p.show
	}
	res, err := loadgen.Run(ctx, cfg)
	p.clear()
	if err != nil {
		return err
	}
	if o.json {
		err = writeBenchJSON(e.stdout, o, res)
	} else {
		err = writeBenchText(e.stdout, o, res)
	}
	if err != nil {
		return err
	}
	return benchVerdict(o, res)
}

// benchVerdict is the error that makes the exit status 1: an exchange that
// failed or got a wrong reply, or none that succeeded.
func benchVerdict(o *benchOptions, res *loadgen.Result) error {
	switch {
	case res.Errors > 0 || res.Wrong > 0:
		return fmt.Errorf("bench %s: %s, %s", o.target, plural(res.Errors, "error", "errors"), plural(res.Wrong, "wrong reply", "wrong replies"))
	case res.Requests == 0 && res.Lost > 0:
		return fmt.Errorf("bench %s: no request succeeded (%d lost)", o.target, res.Lost)
	case res.Requests == 0:
		return fmt.Errorf("bench %s: no request succeeded", o.target)
	}
	return nil
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// A progressLine rewrites one line on a terminal with the progress of a run.
type progressLine struct {
	w    io.Writer
	mu   sync.Mutex
	last loadgen.Snapshot
	n    int // length of the line shown
}

func (p *progressLine) show(s loadgen.Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rate := 0.0
	if dt := (s.Elapsed - p.last.Elapsed).Seconds(); dt > 0 {
		rate = float64(s.Requests-p.last.Requests) / dt
	}
	p.last = s
	line := fmt.Sprintf("%6.1fs  %d ok (%.0f/s)  %s  %d wrong  %d lost",
		s.Elapsed.Seconds(), s.Requests, rate, plural(s.Errors, "error", "errors"), s.Wrong, s.Lost)
	pad := max(p.n-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.n = len(line)
}

// clear erases the line, if one was shown. A nil *progressLine does nothing.
func (p *progressLine) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.n))
		p.n = 0
	}
}

// describe is the run's shape: "oneshot, 50 connections, 1 in flight,
// 64-byte messages".
func describe(o *benchOptions, res *loadgen.Result) string {
	c := res.Config
	var parts []string
	switch {
	case o.network == "udp":
		parts = append(parts, plural(int64(c.Concurrency), "socket", "sockets"), plural(int64(c.Pipeline), "datagram", "datagrams")+" in flight")
	case o.network == "smtp" || o.network == "nntp":
		if o.network == "nntp" {
			parts = append(parts, c.NNTP.Op)
		}
		parts = append(parts, plural(int64(c.Concurrency), "session", "sessions"))
		if c.TLS != nil {
			parts = append(parts, "STARTTLS")
		}
	default:
		parts = append(parts, c.Mode.String(), plural(int64(c.Concurrency), "connection", "connections"), fmt.Sprintf("%d in flight", c.Pipeline))
	}
	parts = append(parts, fmt.Sprintf("%d-byte messages", c.Size))
	if c.Unicode {
		parts = append(parts, "unicode")
	}
	return strings.Join(parts, ", ")
}

func writeBenchText(w io.Writer, o *benchOptions, res *loadgen.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "target      %s (%s)\n", o.target, describe(o, res))
	fmt.Fprintf(&b, "duration    %.2fs\n", res.Elapsed.Seconds())
	fmt.Fprintf(&b, "requests    %d ok (%.1f/s), %s, %d wrong, %d lost", res.Requests, res.Throughput, plural(res.Errors, "error", "errors"), res.Wrong, res.Lost)
	if res.Late > 0 {
		fmt.Fprintf(&b, " (%d answered late)", res.Late)
	}
	b.WriteString("\n")
	if o.network == "nntp" {
		fmt.Fprintf(&b, "articles    %d (%.1f/s)\n", res.Articles, res.ArticleRate)
	}
	if res.Requests > 0 {
		l := res.Latency
		fmt.Fprintf(&b, "latency     p50 %s  p90 %s  p99 %s  max %s\n", fmtLatency(l.P50), fmtLatency(l.P90), fmtLatency(l.P99), fmtLatency(l.Max))
	} else {
		b.WriteString("latency     none (no request succeeded)\n")
	}
	if len(res.ErrorKinds) > 0 {
		kinds := make([]string, 0, len(res.ErrorKinds))
		for k := range res.ErrorKinds {
			kinds = append(kinds, k)
		}
		slices.SortFunc(kinds, func(a, b string) int {
			if d := res.ErrorKinds[b] - res.ErrorKinds[a]; d != 0 {
				return int(min(max(d, -1), 1))
			}
			return strings.Compare(a, b)
		})
		for i, k := range kinds {
			kinds[i] = fmt.Sprintf("%s: %d", k, res.ErrorKinds[k])
		}
		fmt.Fprintf(&b, "errors      %s\n", strings.Join(kinds, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtLatency shows d with three significant digits: 45.6µs, 1.23ms, 12.0ms.
func fmtLatency(d time.Duration) string {
	v, unit := float64(d), "ns"
	switch {
	case d >= time.Second:
		v, unit = d.Seconds(), "s"
	case d >= time.Millisecond:
		v, unit = v/1e6, "ms"
	case d >= time.Microsecond:
		v, unit = v/1e3, "µs"
	default:
		return fmt.Sprintf("%dns", d)
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f%s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f%s", v, unit)
	}
	return fmt.Sprintf("%.2f%s", v, unit)
}

// benchReport is the --json report. Its keys are stable.
type benchReport struct {
	Target      string           `json:"target"`
	Network     string           `json:"network"`
	Mode        string           `json:"mode"` // oneshot, stream, line, or datagram (UDP)
	Concurrency int              `json:"concurrency"`
	Pipeline    int              `json:"pipeline"`
	Size        int              `json:"size"`
	Unicode     bool             `json:"unicode"`
	ElapsedNS   int64            `json:"elapsed_ns"`
	Requests    int64            `json:"requests"`
	Errors      int64            `json:"errors"`
	Wrong       int64            `json:"wrong"`
	Lost        int64            `json:"lost"`
	Late        int64            `json:"late"`
	Throughput  float64          `json:"throughput"`
	LatencyNS   benchLatency     `json:"latency_ns"`
	ErrorKinds  map[string]int64 `json:"error_kinds"`
	// NNTP runs only.
	Op          string   `json:"op,omitempty"`
	Articles    *int64   `json:"articles,omitempty"`
	ArticleRate *float64 `json:"article_rate,omitempty"`
}

type benchLatency struct {
	P50 int64 `json:"p50"`
	P90 int64 `json:"p90"`
	P99 int64 `json:"p99"`
	Max int64 `json:"max"`
}

func writeBenchJSON(w io.Writer, o *benchOptions, res *loadgen.Result) error {
	c := res.Config
	mode := c.Mode.String()
	if o.network == "udp" {
		mode = "datagram"
	}
	l := res.Latency
	r := benchReport{
		Target:      o.target,
		Network:     c.Network,
		Mode:        mode,
		Concurrency: c.Concurrency,
		Pipeline:    c.Pipeline,
		Size:        c.Size,
		Unicode:     c.Unicode,
		ElapsedNS:   res.Elapsed.Nanoseconds(),
		Requests:    res.Requests,
		Errors:      res.Errors,
		Wrong:       res.Wrong,
		Lost:        res.Lost,
		Late:        res.Late,
		Throughput:  res.Throughput,
		LatencyNS:   benchLatency{P50: int64(l.P50), P90: int64(l.P90), P99: int64(l.P99), Max: int64(l.Max)},
		ErrorKinds:  res.ErrorKinds,
	}
	if o.network == "nntp" {
		r.Op, r.Articles, r.ArticleRate = c.NNTP.Op, &res.Articles, &res.ArticleRate
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
