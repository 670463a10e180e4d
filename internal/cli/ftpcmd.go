package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/ftp"
)

// ftpURL is an ftp:// or ftps:// URL (RFC 1738 §3.2): its path is relative
// to the login directory, percent-decoded.
type ftpURL struct {
	u           *url.URL
	implicitTLS bool
	addr, host  string
	portGiven   bool
	user, pass  string // "anonymous", "inetkit@" when the URL has no user
	path        string // without the leading "/", nor a trailing one
	dir         bool   // the path is empty or ends in "/": a folder
}

// Anonymous logins (RFC 1635) send a password that stands for an e-mail
// address.
const ftpAnonymousUser, ftpAnonymousPass = "anonymous", "inetkit@"

// isFTPURL reports whether raw is an ftp:// or ftps:// URL.
func isFTPURL(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	return ok && (strings.EqualFold(scheme, "ftp") || strings.EqualFold(scheme, "ftps"))
}

func parseFTPURL(raw string) (*ftpURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("bad URL %q: %v", raw, err)
	}
	if u.Scheme != "ftp" && u.Scheme != "ftps" {
		return nil, usagef("URL %q: want an ftp:// or ftps:// URL", raw)
	}
	if u.Hostname() == "" {
		return nil, usagef("URL %q has no host", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, usagef("URL %q: an ftp URL has no query or fragment (percent-encode ? and # in names: %%3F, %%23)", raw)
	}
	f := &ftpURL{u: u, implicitTLS: u.Scheme == "ftps", host: u.Hostname(), user: ftpAnonymousUser, pass: ftpAnonymousPass}
	port := u.Port()
	f.portGiven = port != ""
	if port == "" {
		port = cond(f.implicitTLS, "990", "21")
	}
	f.addr = net.JoinHostPort(f.host, port)
	if u.User != nil {
		f.user = u.User.Username()
		f.pass, _ = u.User.Password()
	}
	p := strings.TrimPrefix(u.Path, "/")
	f.dir = p == "" || strings.HasSuffix(p, "/")
	f.path = strings.TrimSuffix(p, "/")
	return f, nil
}

// redacted is the URL with its password hidden, for messages.
func (u *ftpURL) redacted() string { return u.u.Redacted() }

// listPath is the path to list: "." for the login directory.
func (u *ftpURL) listPath() string { return cmp0(u.path, ".") }

func cmp0(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ftpFlags are the flags of get and put for ftp:// and ftps:// URLs.
type ftpFlags struct {
	output string // get: -o FILE
	cont   bool
	active bool
}

func (o *ftpFlags) addFlags(cmd *cobra.Command, get bool) {
	f := cmd.Flags()
	if get {
		f.StringVarP(&o.output, "output", "o", "", "ftp, http, gopher: write the file to `FILE` rather than stdout")
		f.BoolVarP(&o.cont, "continue", "C", false, "ftp, http: resume into the -o FILE from its size (REST, Range), after a cut transfer")
	} else {
		f.BoolVarP(&o.cont, "continue", "C", false, "ftp: resume an upload from the size of the remote file (SIZE, then REST+STOR or APPE)")
	}
	f.BoolVar(&o.active, "active", false, cond(get, "ftp: ", "")+"active mode: the server connects back to us for data (EPRT/PORT), for servers whose passive mode a firewall blocks")
}

// ftpOnly refuses the ftp flags for a URL of another protocol.
func (o *ftpFlags) ftpOnly() error {
	if o.output != "" || o.cont || o.active {
		return usagef("-o, --continue and --active are for ftp, http and gopher URLs")
	}
	return nil
}

// ftpSession is what get and put need to talk to an FTP server.
type ftpSession struct {
	url     *ftpURL
	tls     *tlsOptions
	timeout time.Duration // of each command, and of a stalled transfer
	active  bool
}

// dial connects, starts TLS as --tls and the scheme ask, and logs in. The
// client is closed when ctx ends.
func (s *ftpSession) dial(ctx context.Context) (*ftp.Client, error) {
	u := s.url
	cfg, err := s.tls.config(u.host)
	if err != nil {
		return nil, err
	}
	// Data connections resume the control connection's TLS session from
	// this cache (RFC 4217 §10.2), also after our own handshake.
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	opts := &ftp.ClientOptions{TLSConfig: cfg, Timeout: s.timeout, Active: s.active}
	var c *ftp.Client
	err = dialFTPExplained(ctx, u, s.tls, func(ctx context.Context, debug io.Writer) error {
		o := *opts
		o.DebugWriter = debug
		var err error
		if c, err = startFTP(ctx, u, &o); err != nil {
			return err
		}
		if err := s.startTLS(c, cfg); err != nil {
			c.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	// Login also sets the binary type (TYPE I).
	if err := c.Login(u.user, u.pass); err != nil {
		stop()
		c.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	return c, nil
}

// startFTP connects to u's server, with implicit TLS for ftps://, and
// reads its greeting. Unlike ftp.Dial it gives up as soon as ctx ends,
// also while it waits for the greeting (the wrong-port probe of
// dialFTPExplained ends it so).
func startFTP(ctx context.Context, u *ftpURL, opts *ftp.ClientOptions) (*ftp.Client, error) {
	hctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(hctx, "tcp", u.addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	if u.implicitTLS {
		tc := tls.Client(conn, opts.TLSConfig)
		if err := tc.HandshakeContext(hctx); err != nil {
			stop()
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	c, err := ftp.NewClient(conn, opts)
	if !stop() {
		if err == nil {
			c.Close()
		}
		return nil, context.Cause(ctx)
	}
	return c, err
}

// startTLS sends AUTH TLS as --tls asks: with auto when FEAT offers it,
// with require always.
func (s *ftpSession) startTLS(c *ftp.Client, cfg *tls.Config) error {
	if s.url.implicitTLS || s.tls.mode == "none" {
		return nil
	}
	if s.tls.mode == "auto" && !ftpOffersTLS(c.Features()) {
		return nil
	}
	if err := c.StartTLS(cfg); err != nil {
		var fe *ftp.Error
		if s.tls.mode == "require" && errors.As(err, &fe) {
			return fmt.Errorf("the server refused AUTH TLS (--tls require): %w", err)
		}
		return err
	}
	return nil
}

// ftpOffersTLS reports whether FEAT lists AUTH TLS (RFC 4217 §6).
func ftpOffersTLS(feat map[string]string) bool {
	for k, v := range feat {
		if strings.EqualFold(k, "AUTH") && slices.ContainsFunc(strings.Fields(v), func(m string) bool { return strings.EqualFold(m, "TLS") }) {
			return true
		}
	}
	return false
}

// ftpHasFeature reports whether FEAT lists name (with any parameters
// containing param, if not empty): "REST" "STREAM".
func ftpHasFeature(feat map[string]string, name, param string) bool {
	for k, v := range feat {
		if strings.EqualFold(k, name) && (param == "" || strings.Contains(strings.ToUpper(v), param)) {
			return true
		}
	}
	return false
}

// getFTP prints or saves the file the URL names, or lists the folder it
// names.
func getFTP(ctx context.Context, e *env, o *getOptions) error {
	s := &ftpSession{url: o.ftpURL, tls: &o.tls, timeout: o.timeout, active: o.ftp.active}
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	u := s.url
	dir, err := ftpIsDir(c, u)
	if err != nil {
		return err
	}
	if dir {
		if o.ftp.output != "" || o.ftp.cont {
			return fmt.Errorf("%s is a folder: -o and --continue are for files", u.listPath())
		}
		entries, err := c.List(u.listPath())
		if err != nil {
			return err
		}
		if err := writeFTPList(e.stdout, entries, o.json); err != nil {
			return err
		}
		return c.Quit()
	}
	if o.json {
		return fmt.Errorf("%s is a file: --json is for folders", u.path)
	}
	if err := retrieveFTP(e, c, u.path, &o.ftp); err != nil {
		return err
	}
	return c.Quit()
}

// ftpIsDir reports whether the URL names a folder: its path ends in "/",
// or MLST says so, or, on a server without MLST, CWD into it works.
func ftpIsDir(c *ftp.Client, u *ftpURL) (bool, error) {
	if u.dir {
		return true, nil
	}
	ent, err := c.Stat(u.path)
	if err == nil {
		return ent.Type == ftp.EntryDir, nil
	}
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code < 500 || fe.Code == 550 {
		return false, err
	}
	// No MLST (500, 502): try the folder, and come back.
	wd, err := c.CurrentDir()
	if err != nil {
		return false, err
	}
	if c.ChangeDir(u.path) != nil {
		return false, nil
	}
	return true, c.ChangeDir(wd)
}

// retrieveFTP writes the file name to -o FILE, from its end with
// --continue, or to stdout. FILE is opened once the server has agreed to
// send the file, so that a failed get makes no empty FILE.
func retrieveFTP(e *env, c *ftp.Client, name string, o *ftpFlags) error {
	var offset int64
	if o.cont {
		fi, err := os.Stat(o.output)
		switch {
		case err == nil:
			offset = fi.Size()
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	total := int64(-1)
	if size, err := c.Size(name); err == nil {
		total = size
		switch {
		case o.cont && offset == size:
			fmt.Fprintf(e.stderr, "%s is complete: %d bytes\n", o.output, size)
			return nil
		case offset > size:
			return fmt.Errorf("%s has %d bytes, more than the %d of %s: it is not a part of it", o.output, offset, size, name)
		}
	}
	rc, err := c.Retrieve(name, offset)
	if err != nil {
		return err
	}
	defer rc.Close()
	dst := e.stdout
	var f *os.File
	if o.output != "" {
		flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if o.cont {
			flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		if f, err = os.OpenFile(o.output, flags, 0o644); err != nil {
			return err
		}
		defer f.Close()
		dst = f
	}
	p := startProgress(e.stderr, cond(total < 0, total, total-offset))
	_, err = io.Copy(dst, p.Reader(rc))
	p.Finish()
	if err != nil {
		return err
	}
	if err := rc.Close(); err != nil {
		return err
	}
	if f != nil {
		return f.Close()
	}
	return nil
}

// jsonFTPEntry is a file of a folder in get's --json output.
type jsonFTPEntry struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Size     *int64  `json:"size"`
	Modified *string `json:"modified"`
}

// writeFTPList prints entries sorted by name: a table (type, size, date in
// UTC, name), or one JSON document.
func writeFTPList(w io.Writer, entries []ftp.Entry, asJSON bool) error {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b ftp.Entry) int { return strings.Compare(a.Name, b.Name) })
	list := make([]jsonFTPEntry, len(entries))
	for i, en := range entries {
		list[i] = jsonFTPEntry{Name: en.Name, Type: en.Type.String()}
		if en.Size >= 0 {
			list[i].Size = &en.Size
		}
		if !en.ModTime.IsZero() {
			t := en.ModTime.UTC().Format(time.RFC3339)
			list[i].Modified = &t
		}
	}
	if asJSON {
		return writeJSON(w, struct {
			Entries []jsonFTPEntry `json:"entries"`
		}{list})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tSIZE\tDATE\tNAME")
	for i, en := range list {
		size, date := "-", "-"
		if en.Size != nil {
			size = strconv.FormatInt(*en.Size, 10)
		}
		if en.Modified != nil {
			date = entries[i].ModTime.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", en.Type, size, date, oneLine(en.Name))
	}
	return tw.Flush()
}

// putOptions are the options of `inetkit put`.
type putOptions struct {
	raw     string
	url     *ftpURL
	httpURL *httpURL // for http:// and https:// URLs (httpcmd.go)
	web     webFlags
	file    string // "-": stdin
	ftp     ftpFlags
	tls     tlsOptions
	timeout time.Duration
}

func newPutCmd(e *env, runF func(context.Context, *putOptions) error) *cobra.Command {
	o := &putOptions{}
	cmd := &cobra.Command{
		Use:   "put URL FILE|-",
		Short: "Upload a file (FTP, HTTP)",
		Long: `Upload FILE, or stdin for "-", to the path URL names, as curl -T does.

URL forms:
  ftp://[USER[:PASS]@]HOST[:PORT]/PATH     the file PATH
  ftp://[USER[:PASS]@]HOST[:PORT]/FOLDER/  FOLDER/ and the name of FILE
  ftps://...                               the same over implicit TLS
  http://[USER[:PASS]@]HOST[:PORT]/PATH    PUT to PATH (https://: over TLS)
  http://[USER[:PASS]@]HOST[:PORT]/FOLDER/ PUT to FOLDER/ and the name of FILE

Without a user the login is anonymous ("anonymous", password "inetkit@"),
which inetkit serve lets read but not write. The user and password are
percent-encoded (alice%40example.org for alice@example.org); the port
defaults to 21 (990 for ftps://). AUTH TLS is used when the server offers
it (see --tls); the certificate is verified against the system's roots and
inetkit's local CA, as for mail. Transfers are binary, in passive mode
unless --active.

--continue resumes a cut upload: it asks the size of the remote file (SIZE)
and sends the rest of FILE from there (REST and STOR where the server offers
REST STREAM, APPE elsewhere); a remote file as large as FILE is left as it
is. A progress line goes to stderr when it is a terminal and the transfer
takes more than a second.

HTTP. The file is sent with PUT, with its Content-Length (stdin is sent
chunked), and the user and password of the URL or of -u USER:PASS with
Basic authentication (inetkit serve http takes any on loopback, and
accounts over HTTPS elsewhere). A status of 300 or more is a failure: the
status line is the message. --continue is for FTP only: a PUT sends the
whole file.`,
		Example: `  inetkit put 'ftp://alice%40example.org:pw@127.0.0.1:2121/notes.txt' notes.txt
  inetkit put 'ftp://alice%40example.org:pw@127.0.0.1:2121/backups/' disk.img --continue
  tar cz src | inetkit put 'ftp://alice%40example.org:pw@127.0.0.1:2121/src.tar.gz' -
  inetkit put -u alice:pw http://127.0.0.1:8080/notes.txt notes.txt`,
		Args: exactArgs(2, "put takes a URL and a FILE (or - for stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(args[0], args[1]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runPut(ctx, e, o) })
		},
	}
	o.tls.addFlags(cmd)
	cmd.Flags().Lookup("tls").Usage = "AUTH TLS: auto (when the server offers it), require, or none (ftps:// always uses TLS)"
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Second, "give up when the server has not answered, or the transfer has not moved, for this long")
	o.ftp.addFlags(cmd, false)
	o.web.addFlags(cmd, false)
	return cmd
}

func (o *putOptions) parse(raw, file string) error {
	o.raw, o.file = raw, file
	if isHTTPURL(raw) {
		return o.parseHTTPPut(raw, file)
	}
	if !isFTPURL(raw) {
		return usagef("URL %q: want an ftp://, ftps://, http:// or https:// URL", redactRaw(raw))
	}
	u, err := parseFTPURL(raw)
	if err != nil {
		return err
	}
	if o.web.user != "" {
		u.user, u.pass = o.web.userPass()
	}
	if u.dir {
		if file == "-" {
			return usagef("URL %q names a folder: give the file's name after it to upload stdin", raw)
		}
		u.path = path.Join(u.path, baseName(file))
		u.dir = false
	}
	o.url = u
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return o.tls.validate()
}

// baseName is the last element of a local file name, with either
// separator.
func baseName(file string) string {
	if i := strings.LastIndexAny(file, `/\`); i >= 0 {
		return file[i+1:]
	}
	return file
}

func runPut(ctx context.Context, e *env, o *putOptions) error {
	if o.httpURL != nil {
		if err := putHTTP(ctx, e, o); err != nil {
			return fmt.Errorf("put %s: %s", o.httpURL.redacted(), ftpErrorLine(err))
		}
		return nil
	}
	if err := putFTP(ctx, e, o); err != nil {
		return fmt.Errorf("put %s: %s", o.url.redacted(), ftpErrorLine(err))
	}
	return nil
}

func putFTP(ctx context.Context, e *env, o *putOptions) error {
	src, size := e.stdin, int64(-1)
	if o.file != "-" {
		f, err := os.Open(o.file)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a folder: put uploads one file", o.file)
		}
		src, size = f, fi.Size()
	}
	s := &ftpSession{url: o.url, tls: &o.tls, timeout: o.timeout, active: o.ftp.active}
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	name := o.url.path
	var offset int64
	if o.ftp.cont {
		if offset, err = remoteSize(c, name); err != nil {
			return err
		}
		switch {
		case size >= 0 && offset == size:
			fmt.Fprintf(e.stderr, "%s is complete: %d bytes\n", name, size)
			return c.Quit()
		case size >= 0 && offset > size:
			return fmt.Errorf("%s has %d bytes, more than the %d of %s: it is not a copy of it", name, offset, size, o.file)
		}
		if err := skip(src, offset); err != nil {
			return err
		}
	}
	p := startProgress(e.stderr, cond(size < 0, size, size-offset))
	r := p.Reader(src)
	switch {
	case offset == 0:
		err = c.Store(name, r)
	case ftpHasFeature(c.Features(), "REST", "STREAM"):
		err = c.StoreAt(name, r, offset)
	default:
		err = c.Append(name, r)
	}
	p.Finish()
	if err != nil {
		return err
	}
	return c.Quit()
}

// remoteSize returns the size of the remote file name (SIZE), 0 when
// there is none.
func remoteSize(c *ftp.Client, name string) (int64, error) {
	n, err := c.Size(name)
	var fe *ftp.Error
	if errors.As(err, &fe) && fe.Code == 550 {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("--continue needs the size of %s: %w", name, err)
	}
	return n, nil
}

// skip moves src past its first n bytes: a seek for a file, a read for
// stdin.
func skip(src io.Reader, n int64) error {
	if n == 0 {
		return nil
	}
	if sk, ok := src.(io.Seeker); ok {
		if _, err := sk.Seek(n, io.SeekStart); err == nil {
			return nil
		}
	}
	m, err := io.CopyN(io.Discard, src, n)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("stdin has %d bytes, fewer than the %d the remote file has", m, n)
	}
	return err
}

// ftpErrorLine keeps an error on one line: a multi-line FTP reply becomes
// its lines joined with "; ".
func ftpErrorLine(err error) string {
	lines := strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\r' || r == '\n' })
	return strings.Join(lines, "; ")
}

// dialFTPExplained runs dial, which connects to u's server with a client
// whose DebugWriter is debug and which gives up when its context ends, and
// returns its error explained as explainFTP does. While the server says
// nothing, the port is probed as the mail clients' is (see dialWatch).
func dialFTPExplained(ctx context.Context, u *ftpURL, t *tlsOptions, dial func(ctx context.Context, debug io.Writer) error) error {
	w := newDialWatch(u.mailURL())
	dctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { watchFTP(dctx, u, w, cancel) })
	err := dial(dctx, w)
	cancel(nil)
	wg.Wait()
	if err == nil {
		return nil
	}
	var pe *ftpPortError
	if errors.As(context.Cause(dctx), &pe) {
		return pe
	}
	return explainFTP(ctx, u, t, w, err)
}

// mailURL is u as the probes of probe.go take it.
func (u *ftpURL) mailURL() *mailURL {
	return &mailURL{scheme: u.u.Scheme, implicitTLS: u.implicitTLS, addr: u.addr, host: u.host, portGiven: u.portGiven, protos: []string{"ftp"}}
}

// watchFTP is dialWatch.watch for FTP: after greetingWait without a word
// from the server, it probes the port, and cancels the client with an
// *ftpPortError when that shows it cannot work there.
func watchFTP(ctx context.Context, u *ftpURL, w *dialWatch, cancel context.CancelCauseFunc) {
	t := time.NewTimer(greetingWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-w.heard:
		return
	case <-t.C:
	}
	f := probe(ctx, u.addr, u.host, false)
	if f == nil {
		return
	}
	select {
	case <-w.heard:
	default:
		if ftpProves(f, u) {
			cancel(&ftpPortError{u: u, f: f})
		}
	}
}

// ftpProves reports whether f shows that an FTP client of u cannot work
// there. FTP greets with "220 ", as SMTP does: classify calls both "smtp".
func ftpProves(f *finding, u *ftpURL) bool {
	ftpLike := f.proto == "smtp"
	switch {
	case f.tls && !u.implicitTLS:
		return true
	case !f.tls && u.implicitTLS && ftpLike:
		return true
	}
	return f.proto != "" && !ftpLike
}

// explainFTP is explain (probe.go) for FTP: a refused loopback port names
// inetkit serve's, an unknown CA the files trusted, and a port that speaks
// another protocol, or FTP with the other TLS, what it speaks.
func explainFTP(ctx context.Context, u *ftpURL, t *tlsOptions, w *dialWatch, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return err
	}
	if isRefused(err) {
		if isLoopback(u.addr) {
			return &ftpRefusedError{u: u, err: err}
		}
		return err
	}
	var uae x509.UnknownAuthorityError
	if errors.As(err, &uae) {
		return &unknownCAError{err: err, files: t.caFiles()}
	}
	var oe *net.OpError
	var fe *ftp.Error
	if (errors.As(err, &oe) && oe.Op == "dial") || errors.As(err, &fe) {
		return err // no connection; or an FTP server's reply
	}
	f := w.finding()
	if f == nil && ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 6*probeStep)
		f = probe(pctx, u.addr, u.host, true)
		cancel()
	}
	if f == nil || !ftpProves(f, u) {
		return err
	}
	return &ftpPortError{u: u, f: f, err: err}
}

// An ftpPortError says that the server at an FTP URL's port does not speak
// FTP, or not with the URL's TLS.
type ftpPortError struct {
	u   *ftpURL
	f   *finding
	err error
}

func (e *ftpPortError) Unwrap() error { return e.err }

func (e *ftpPortError) Error() string {
	u, f := e.u, e.f
	switch {
	case f.tls && !u.implicitTLS:
		return fmt.Sprintf("that port expects TLS from its first octet (implicit TLS): if it serves FTP over TLS, use ftps://%s", u.addr)
	case u.implicitTLS && f.proto == "smtp":
		return fmt.Sprintf("that port speaks without implicit TLS (it greeted %s): use ftp://%s, with AUTH TLS when the server offers it", quoteSaid(f.said), u.addr)
	}
	msg := fmt.Sprintf("that port speaks %s (it %s %s), not FTP", protoNames[f.proto], cond(f.proto == "http", "answered", "greeted"), quoteSaid(f.said))
	if isLoopback(u.addr) {
		msg += ": " + ftpServeHint
	}
	return msg
}

// ftpServeHint says where inetkit serve listens for FTP.
const ftpServeHint = "inetkit serve listens for FTP on " + ftpDefaultAddr + " unless --ftp-addr says otherwise"

// An ftpRefusedError is a refused connection to a loopback address.
type ftpRefusedError struct {
	u   *ftpURL
	err error
}

func (e *ftpRefusedError) Unwrap() error { return e.err }

func (e *ftpRefusedError) Error() string {
	u := e.u
	_, servePort, _ := net.SplitHostPort(ftpDefaultAddr)
	_, port, _ := net.SplitHostPort(u.addr)
	msg := "connection refused: nothing listens on " + u.addr
	switch {
	case !u.portGiven:
		return msg + cond(u.implicitTLS, ", the standard FTPS port; ", ", the standard FTP port; ") + ftpServeHint +
			": use ftp://" + net.JoinHostPort(u.host, servePort) + "/"
	case port == servePort && !u.implicitTLS:
		return msg + ": is inetkit serve running? (it listens for FTP there unless --ftp-addr says otherwise)"
	case u.implicitTLS:
		return msg + "; inetkit serve listens for FTPS only where --ftps-addr says (it has no default), and for FTP with AUTH TLS on " + ftpDefaultAddr
	}
	return msg + "; " + ftpServeHint
}

// parseFTP checks an ftp:// or ftps:// URL of get against the flags.
func (o *getOptions) parseFTP(raw string) error {
	u, err := parseFTPURL(raw)
	if err != nil {
		return err
	}
	o.ftpURL = u
	if o.web.user != "" {
		u.user, u.pass = o.web.userPass()
	}
	if o.web.remoteName {
		if err := o.outputFile(raw, u.path); err != nil {
			return err
		}
	}
	switch {
	case o.web.head:
		return usagef("-I is for http:// and https:// URLs")
	case o.delete || o.match.subject != "" || o.match.from != "" || o.match.to != "" || o.match.sinceFlag != "":
		return usagef("--delete, --subject, --from, --to and --since are for mail URLs, not ftp://")
	case o.ftp.cont && o.ftp.output == "":
		return usagef("--continue resumes into a file: give it with -o FILE")
	case u.dir && (o.ftp.output != "" || o.ftp.cont):
		return usagef("URL %q names a folder: -o and --continue are for files", raw)
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return o.tls.validate()
}
