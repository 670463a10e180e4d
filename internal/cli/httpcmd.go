package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// maxRedirects is how many redirects get follows, as curl's --max-redirs
// is often set: enough for any site, few enough to end a loop at once.
const maxRedirects = 10

// isHTTPURL reports whether raw is an http:// or https:// URL.
func isHTTPURL(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	return ok && (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https"))
}

// webFlags are the flags of get and put for the URLs of files: http(s),
// and some of them for ftp and gopher.
type webFlags struct {
	user       string // -u USER:PASS
	remoteName bool   // -O
	head       bool   // -I
}

func (o *webFlags) addFlags(cmd *cobra.Command, get bool) {
	f := cmd.Flags()
	f.StringVarP(&o.user, "user", "u", "", "ftp, http: log in as `USER:PASS` (Basic authentication for http), rather than with the URL's user")
	if get {
		f.BoolVarP(&o.remoteName, "remote-name", "O", false, "write the file to a file named as the last element of the URL's path, in the current folder, as curl -O does")
		f.BoolVarP(&o.head, "head", "I", false, "http: print the status line and the headers of the response (HEAD) rather than the body")
	}
}

// userPass splits -u USER:PASS; a missing ":PASS" is an empty password.
func (o *webFlags) userPass() (user, pass string) {
	user, pass, _ = strings.Cut(o.user, ":")
	return user, pass
}

// remoteFileName returns the name -O writes to: the last element of p, a
// URL path or a selector, percent-decoded; empty and dot names, and ones
// that are no file name, are refused.
func remoteFileName(raw, p string) (string, error) {
	name := p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		name = p[i+1:]
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "\\\x00") {
		return "", usagef("URL %q names no file at the end of its path: -O needs one (or give -o FILE)", raw)
	}
	return name, nil
}

// httpURL is an http:// or https:// URL of get or put, its credentials
// taken out.
type httpURL struct {
	u          *url.URL // without user information
	user, pass string
	hasUser    bool
}

// redacted is the URL with its password hidden, for messages: the user
// stays, as curl shows it.
func (u *httpURL) redacted() string {
	if !u.hasUser {
		return u.u.String()
	}
	v := *u.u
	v.User = url.UserPassword(u.user, "xxxxx")
	return v.Redacted()
}

// parseHTTPURL parses raw, an http(s) URL; -u (user, when not empty)
// takes the place of the URL's credentials.
func parseHTTPURL(raw string, w *webFlags) (*httpURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("bad URL %q: %v", redactRaw(raw), err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Hostname() == "" {
		return nil, usagef("URL %q has no host", redactRaw(raw))
	}
	h := &httpURL{u: u}
	if u.User != nil {
		h.user, h.hasUser = u.User.Username(), true
		h.pass, _ = u.User.Password()
		u.User = nil
	}
	if w.user != "" {
		h.user, h.pass = w.userPass()
		h.hasUser = true
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	return h, nil
}

// redactRaw hides the password of a URL that may not parse.
func redactRaw(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	if i, j := strings.Index(raw, "://"), strings.LastIndexByte(raw, '@'); i >= 0 && j > i {
		if k := strings.IndexByte(raw[i+3:j], ':'); k >= 0 {
			return raw[:i+3+k+1] + "xxxxx" + raw[j:]
		}
	}
	return raw
}

// parseHTTP checks an http:// or https:// URL of get against the flags.
func (o *getOptions) parseHTTP(raw string) error {
	u, err := parseHTTPURL(raw, &o.web)
	if err != nil {
		return err
	}
	o.httpURL = u
	switch {
	case o.delete || o.match.subject != "" || o.match.from != "" || o.match.to != "" || o.match.sinceFlag != "":
		return usagef("--delete, --subject, --from, --to and --since are for mail URLs, not %s://", u.u.Scheme)
	case o.ftp.active:
		return usagef("--active is for ftp:// and ftps:// URLs")
	case o.web.head && (o.json || o.ftp.cont):
		return usagef("-I prints the headers: --json and --continue are for bodies")
	}
	if err := o.outputFile(raw, u.u.Path); err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return o.tls.validate()
}

// outputFile sets -o from -O, and checks --continue, which needs a file.
func (o *getOptions) outputFile(raw, p string) error {
	if o.web.remoteName {
		if o.ftp.output != "" {
			return usagef("-o and -O go apart: -O names the file after the URL")
		}
		name, err := remoteFileName(raw, p)
		if err != nil {
			return err
		}
		o.ftp.output = name
	}
	if o.ftp.cont && o.ftp.output == "" {
		return usagef("--continue resumes into a file: give it with -o FILE or -O")
	}
	return nil
}

// newHTTPClient returns the client of get, put and send xmlrpc://: the
// system's roots and inetkit's local CA trusted (as t says), HTTP/2 over
// TLS, redirects followed as checkRedirect says, and timeout bounding the
// connection, the TLS handshake and the wait for the response's header. No
// proxy is used: inetkit talks to the server it is given.
func newHTTPClient(u *url.URL, t *tlsOptions, timeout time.Duration, checkRedirect func(*http.Request, []*http.Request) error) (*http.Client, error) {
	cfg, err := t.config(u.Hostname())
	if err != nil {
		return nil, err
	}
	// ServerName follows each request's host, for redirects.
	cfg.ServerName = ""
	d := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		TLSClientConfig:       cfg,
		ForceAttemptHTTP2:     true, // with a TLSClientConfig of our own
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}, nil
}

// followRedirects is get's redirect policy: at most maxRedirects, to the
// same scheme or from http to https; never to another scheme, nor from
// https back to http. net/http sends the credentials on only to the same
// host (or one under it).
func followRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	from, to := via[len(via)-1].URL.Scheme, req.URL.Scheme
	if to != from && (from != "http" || to != "https") {
		return fmt.Errorf("redirect to %s refused: get follows redirects to http and https only, and never from https to http", req.URL.Redacted())
	}
	return nil
}

// stallReader cancels a transfer that receives nothing for timeout: each
// read puts the deadline off.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

// newStallReader returns r, and calls cancel with errStalled when a read
// of r has waited d; stop stops the watch.
func newStallReader(r io.Reader, d time.Duration, cancel context.CancelCauseFunc) (sr *stallReader, stop func()) {
	sr = &stallReader{r: r, d: d}
	sr.timer = time.AfterFunc(d, func() { cancel(&stallError{d}) })
	return sr, func() { sr.timer.Stop() }
}

func (r *stallReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.timer.Reset(r.d)
	return n, err
}

// A stallError ends a transfer that received nothing for d.
type stallError struct{ d time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("nothing received for %v (--timeout)", e.d)
}

// httpStatusError is a response of status 400 or more, or one get cannot
// take: its status line, and the first line of a short plain-text body
// that says why.
type httpStatusError struct {
	status string // "HTTP/1.1 404 Not Found"
	why    string
	hint   string
}

func (e *httpStatusError) Error() string {
	msg := e.status
	if e.why != "" {
		msg += ": " + e.why
	}
	if e.hint != "" {
		msg += " (" + e.hint + ")"
	}
	return msg
}

// statusError makes the error of resp, reading a little of its body.
func statusError(resp *http.Response, u *httpURL) error {
	e := &httpStatusError{status: resp.Proto + " " + resp.Status}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/plain" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		line, _, _ := strings.Cut(string(bytes.TrimSpace(b)), "\n")
		line = strings.TrimSpace(line)
		text := strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)+" ")
		if len(line) <= 200 && !strings.EqualFold(line, resp.Status) && !strings.EqualFold(line, text) {
			e.why = oneLine(line)
		}
	}
	if resp.StatusCode == http.StatusUnauthorized {
		e.hint = cond(u.hasUser, "wrong user or password", "give -u USER:PASS")
	}
	return e
}

// httpError says what went wrong in the user's terms: the error inside
// net/http's *url.Error, a refused connection with the address, an unknown
// CA with the files trusted.
func httpError(err error, u *httpURL, t *tlsOptions) error {
	var se *stallError
	if errors.As(err, &se) {
		return se
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var uae x509.UnknownAuthorityError
	if errors.As(err, &uae) {
		return &unknownCAError{err: err, files: t.caFiles()}
	}
	if isRefused(err) {
		addr := u.u.Host
		if u.u.Port() == "" {
			addr = net.JoinHostPort(u.u.Hostname(), cond(u.u.Scheme == "https", "443", "80"))
		}
		msg := "connection refused: nothing listens on " + addr
		if isLoopback(addr) {
			msg += "; inetkit serve listens for HTTP on " + httpDefaultAddr + " unless --http-addr says otherwise"
		}
		return errors.New(msg)
	}
	return err
}

// getHTTP prints or saves what an http(s) URL names, its headers with -I,
// or its JSON listing with --json.
func getHTTP(ctx context.Context, e *env, o *getOptions) error {
	u := o.httpURL
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	client, err := newHTTPClient(u.u, &o.tls, o.timeout, followRedirects)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	method := cond(o.web.head, http.MethodHead, http.MethodGet)
	req, err := http.NewRequestWithContext(ctx, method, u.u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "inetkit")
	if u.hasUser {
		req.SetBasicAuth(u.user, u.pass)
	}
	if o.json {
		req.Header.Set("Accept", "application/json")
	}
	var offset int64
	if o.ftp.cont {
		fi, err := os.Stat(o.ftp.output)
		switch {
		case err == nil:
			offset = fi.Size()
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if offset > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return httpError(err, u, &o.tls)
	}
	defer resp.Body.Close()
	if o.web.head {
		if err := writeHeaders(e.stdout, resp); err != nil {
			return err
		}
		if resp.StatusCode >= 400 {
			return statusError(resp, u)
		}
		return nil
	}
	appending := false
	switch {
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && offset > 0:
		// RFC 9110 §15.5.17: Content-Range: bytes */SIZE.
		if size, ok := unsatisfiedSize(resp.Header.Get("Content-Range")); ok && size < offset {
			return fmt.Errorf("%s has %d bytes, more than the %d of %s: it is not a part of it", o.ftp.output, offset, size, u.redacted())
		}
		fmt.Fprintf(e.stderr, "%s is complete: %d bytes\n", o.ftp.output, offset)
		return nil
	case resp.StatusCode >= 400:
		return statusError(resp, u)
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		start, ok := rangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			return fmt.Errorf("the server sent a part from %s, not from byte %d", resp.Header.Get("Content-Range"), offset)
		}
		appending = true
	case resp.StatusCode == http.StatusPartialContent:
		return &httpStatusError{status: resp.Proto + " " + resp.Status, why: "a part, unasked for"}
	case resp.StatusCode != http.StatusOK:
		return &httpStatusError{status: resp.Proto + " " + resp.Status, why: "not the resource; see -I"}
	case offset > 0:
		fmt.Fprintf(e.stderr, "the server sends the whole file (200, not 206 Partial Content): %s is written from the start\n", o.ftp.output)
	}
	if o.json {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
			return fmt.Errorf("--json: the server sent %s, not a JSON listing (inetkit serve http lists a folder as JSON; other servers may not)", cmp0(mt, "no Content-Type"))
		}
	}
	body, stop := newStallReader(resp.Body, o.timeout, cancel)
	defer stop()
	dst := e.stdout
	var f *os.File
	if o.ftp.output != "" {
		flags := os.O_WRONLY | os.O_CREATE | cond(appending, os.O_APPEND, os.O_TRUNC)
		if f, err = os.OpenFile(o.ftp.output, flags, 0o644); err != nil {
			return err
		}
		defer f.Close()
		dst = f
	}
	p := startProgress(e.stderr, resp.ContentLength)
	_, err = io.Copy(dst, p.Reader(body))
	p.Finish()
	if err != nil {
		if c := context.Cause(ctx); c != nil {
			return httpError(c, u, &o.tls)
		}
		return err
	}
	if f != nil {
		return f.Close()
	}
	return nil
}

// writeHeaders prints the status line and the headers of resp, sorted by
// name, as curl -I shows them.
func writeHeaders(w io.Writer, resp *http.Response) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", resp.Proto, resp.Status)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, oneLine(v))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rangeStart returns the first byte of a Content-Range "bytes A-B/N".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	return n, err == nil
}

// unsatisfiedSize returns the size of a Content-Range "bytes */N".
func unsatisfiedSize(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes */")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
	return n, err == nil
}

// parseHTTPPut checks an http(s) URL of put against the flags.
func (o *putOptions) parseHTTPPut(raw, file string) error {
	u, err := parseHTTPURL(raw, &o.web)
	if err != nil {
		return err
	}
	switch {
	case o.ftp.cont:
		return usagef("--continue is for ftp: an HTTP PUT sends the whole file (inetkit serve http stores it whole or not at all)")
	case o.ftp.active:
		return usagef("--active is for ftp:// and ftps:// URLs")
	}
	if strings.HasSuffix(u.u.Path, "/") {
		if file == "-" {
			return usagef("URL %q names a folder: give the file's name after it to upload stdin", u.redacted())
		}
		u.u = u.u.JoinPath(baseName(file))
	}
	o.httpURL = u
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return o.tls.validate()
}

// putHTTP uploads the file with PUT, with its Content-Length when it is a
// file, and Expect: 100-continue for a large one, so that a refusal comes
// before the body.
func putHTTP(ctx context.Context, e *env, o *putOptions) error {
	u := o.httpURL
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
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	client, err := newHTTPClient(u.u, &o.tls, o.timeout, func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse })
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	p := startProgress(e.stderr, size)
	// The server's reads of the body put the deadline off.
	body, stop := newStallReader(p.Reader(src), o.timeout, cancel)
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.u.String(), body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("User-Agent", "inetkit")
	if size > 1<<20 {
		req.Header.Set("Expect", "100-continue")
	}
	if u.hasUser {
		req.SetBasicAuth(u.user, u.pass)
	}
	resp, err := client.Do(req)
	p.Finish()
	if err != nil {
		if c := context.Cause(ctx); c != nil {
			err = c
		}
		return httpError(err, u, &o.tls)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return &httpStatusError{status: resp.Proto + " " + resp.Status, why: "redirected to " + resp.Header.Get("Location") + ": put there"}
	case resp.StatusCode >= 300:
		return statusError(resp, u)
	}
	return nil
}
