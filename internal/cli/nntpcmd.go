package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/inetkit/inetkit/nntp"
)

// `inetkit get nntp://...` and `inetkit send nntp://...`.

// defaultOverview is how many of the last articles of a group `inetkit get
// nntp://HOST/GROUP` lists without ?range=.
const defaultOverview = 100

// nntpURL is an nntp://, nntps:// or news: URL (RFC 5538) as get and send
// take it.
type nntpURL struct {
	m         *mailURL
	group     string // "" for the list of groups, or with msgid
	number    int64  // an article of group; 0 for the group's overview
	msgid     string // with its angle brackets
	low, high int64  // ?range=; high 0 for no upper bound
	hasRange  bool
}

func isNNTPURL(s string) bool {
	s = strings.ToLower(s)
	return strings.HasPrefix(s, "nntp://") || strings.HasPrefix(s, "nntps://") || strings.HasPrefix(s, "news:")
}

// newsServerEnv names the server of news: URLs without one, as newsreaders
// use it.
const newsServerEnv = "NNTPSERVER"

// parseNNTPURL parses raw. news:ID and news:GROUP (no host) name the server
// $NNTPSERVER (HOST or HOST:PORT), else inetkit serve's 127.0.0.1:1119;
// news://HOST/... is nntp://HOST/....
func parseNNTPURL(raw string) (*nntpURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("bad URL %q: %v", raw, err)
	}
	if strings.EqualFold(u.Scheme, "news") {
		if u.Opaque != "" {
			server := cmpOr(os.Getenv(newsServerEnv), nntpDefaultAddr)
			if _, _, err := net.SplitHostPort(server); err != nil {
				server = net.JoinHostPort(server, "119")
			}
			u = &url.URL{Scheme: "nntp", Host: server, Path: "/" + u.Opaque, RawQuery: u.RawQuery}
		} else {
			u.Scheme = "nntp"
		}
		raw = u.String()
	}
	m, u, err := parseMailURL(raw, "nntp")
	if err != nil {
		return nil, err
	}
	n := &nntpURL{m: m}
	p := strings.TrimPrefix(u.Path, "/")
	first, rest, _ := strings.Cut(p, "/")
	switch {
	case first == "":
	case strings.Contains(first, "@"):
		if rest != "" {
			return nil, usagef("URL %q: a message-id is the whole path", raw)
		}
		n.msgid = first
		if !strings.HasPrefix(n.msgid, "<") {
			n.msgid = "<" + n.msgid + ">" // RFC 5538 leaves the brackets out
		}
		if strings.ContainsAny(n.msgid, " \t\r\n") || strings.Count(n.msgid, "<") != 1 || !strings.HasSuffix(n.msgid, ">") {
			return nil, usagef("URL %q: %q is not a message-id", raw, n.msgid)
		}
	default:
		n.group = first
		if rest != "" {
			if n.number, err = strconv.ParseInt(strings.TrimSuffix(rest, "/"), 10, 64); err != nil || n.number < 1 {
				return nil, usagef("URL %q: want an article number after the group, not %q", raw, rest)
			}
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, usagef("URL %q: bad query: %v", raw, err)
	}
	for k := range q {
		if k != "range" {
			return nil, usagef("URL %q: unknown query %q (want ?range=LOW-HIGH)", raw, k)
		}
	}
	if r := q.Get("range"); r != "" {
		if n.group == "" || n.number != 0 {
			return nil, usagef("URL %q: ?range= is for a group's overview: nntp://HOST/GROUP?range=LOW-HIGH", raw)
		}
		if n.low, n.high, err = parseRange(r); err != nil {
			return nil, usagef("URL %q: %v", raw, err)
		}
		n.hasRange = true
	}
	return n, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// parseRange parses N, N- or N-M (RFC 3977 §3.1.1).
func parseRange(s string) (low, high int64, err error) {
	lo, hi, dash := strings.Cut(s, "-")
	low, err = strconv.ParseInt(lo, 10, 64)
	if err != nil || low < 0 {
		return 0, 0, fmt.Errorf("range %q: want N, N- or N-M", s)
	}
	switch {
	case !dash:
		high = low
	case hi != "":
		if high, err = strconv.ParseInt(hi, 10, 64); err != nil || high < low {
			return 0, 0, fmt.Errorf("range %q: want N, N- or N-M with M ≥ N", s)
		}
	}
	return low, high, nil
}

// redacted is the URL without its password, for messages.
func (n *nntpURL) redacted() string {
	u := &url.URL{Scheme: n.m.scheme, Host: n.m.addr}
	if n.m.hasUser {
		u.User = url.User(n.m.user)
	}
	switch {
	case n.msgid != "":
		u.Path = "/" + n.msgid
	case n.number != 0:
		u.Path = "/" + n.group + "/" + strconv.FormatInt(n.number, 10)
	case n.group != "":
		u.Path = "/" + n.group
	default:
		u.Path = "/"
	}
	return u.String()
}

// dialNNTP connects as the URL says: implicit TLS for nntps://, else
// STARTTLS as --tls asks; MODE READER where the server wants it, and
// AUTHINFO with the URL's user.
func dialNNTP(ctx context.Context, m *mailURL, t *tlsOptions, opts nntp.ClientOptions) (*nntp.Client, error) {
	cfg, err := t.config(m.host)
	if err != nil {
		return nil, err
	}
	opts.TLSConfig = cfg
	var c *nntp.Client
	err = dialExplained(ctx, m, t, func(ctx context.Context, debug io.Writer) error {
		o := opts
		if o.DebugWriter != nil {
			debug = io.MultiWriter(o.DebugWriter, debug)
		}
		o.DebugWriter = debug
		var err error
		if m.implicitTLS {
			c, err = nntp.DialTLS(ctx, m.addr, &o)
		} else {
			c, err = nntp.Dial(ctx, m.addr, &o)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err = startNNTP(c, m, t)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startNNTP starts TLS as --tls asks, sends MODE READER to a server that
// wants it and logs in with the URL's user.
func startNNTP(c *nntp.Client, m *mailURL, t *tlsOptions) error {
	caps, err := c.Capabilities()
	if err != nil {
		return err
	}
	if !m.implicitTLS && t.mode != "none" {
		if _, ok := caps["STARTTLS"]; ok {
			var ne *nntp.Error
			switch err := c.StartTLS(nil); {
			case err == nil:
				if caps, err = c.Capabilities(); err != nil {
					return err
				}
			case t.mode == "auto" && errors.As(err, &ne):
				// Refused (INN without a certificate says 580): no TLS
				// was started, and --tls auto goes on in plain text. A
				// failed handshake is never retried.
			default:
				return err
			}
		} else if t.mode == "require" {
			return errors.New("the server does not offer STARTTLS (--tls require)")
		}
	}
	if _, ok := caps["MODE-READER"]; ok {
		if _, err := c.ModeReader(); err != nil {
			return err
		}
	}
	if m.hasUser {
		return c.Login(m.user, m.pass)
	}
	return nil
}

func (o *getOptions) parseNNTP(raw string) error {
	n, err := parseNNTPURL(raw)
	if err != nil {
		return err
	}
	o.nntpURL = n
	if err := o.ftp.ftpOnly(); err != nil {
		return err
	}
	switch {
	case o.web.user != "" || o.web.remoteName || o.web.head:
		return usagef("-u, -O and -I are for ftp, http and gopher URLs: put the user of an nntp URL in the URL")
	case o.match.set() || o.delete:
		return usagef("--subject, --from, --to, --since and --delete are for mail: an nntp URL lists a group or prints an article")
	case o.json && (n.number != 0 || n.msgid != ""):
		return usagef("--json is for listings: an article is printed as it is")
	case o.timeout <= 0:
		return usagef("--timeout must be positive")
	}
	return o.tls.validate()
}

func getNNTP(ctx context.Context, e *env, o *getOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	n := o.nntpURL
	c, err := dialNNTP(ctx, n.m, &o.tls, nntp.ClientOptions{Timeout: o.timeout})
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	switch {
	case n.msgid != "":
		err = printArticle(e.stdout, c, n.msgid)
	case n.group == "":
		var groups []nntp.Group
		if groups, err = c.List(""); err == nil {
			for i, g := range groups {
				// LIST ACTIVE gives no count: the water marks' estimate
				// (RFC 3977 §6.1.1.2).
				groups[i].Count = max(g.High-g.Low+1, 0)
			}
			err = writeGroups(e.stdout, groups, o.json, false)
		}
	case n.number != 0:
		if _, err = c.Group(n.group); err == nil {
			err = printArticle(e.stdout, c, strconv.FormatInt(n.number, 10))
		}
	default:
		err = listOverview(e.stdout, c, n, o.json)
	}
	if err != nil {
		return err
	}
	return c.Quit()
}

func printArticle(w io.Writer, c *nntp.Client, spec string) error {
	r, err := c.Article(spec)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	return r.Close()
}

// jsonOverview is an article in the JSON of `inetkit get nntp://HOST/GROUP`.
type jsonOverview struct {
	Number     int64  `json:"number"`
	Date       string `json:"date"`
	From       string `json:"from"`
	Subject    string `json:"subject"`
	MessageID  string `json:"message_id"`
	References string `json:"references"`
	Bytes      int64  `json:"bytes"`
	Lines      int64  `json:"lines"`
}

// listOverview prints the overview of the URL's range of its group, or of
// the group's last defaultOverview articles.
func listOverview(w io.Writer, c *nntp.Client, n *nntpURL, asJSON bool) error {
	g, err := c.Group(n.group)
	if err != nil {
		return err
	}
	low, high := n.low, n.high
	if !n.hasRange {
		low, high = max(g.Low, g.High-defaultOverview+1), g.High
	}
	var ovs []nntp.Overview
	if g.Count > 0 && (high == 0 || high >= low) {
		ovs, err = c.Over(low, high)
		var ne *nntp.Error
		if errors.As(err, &ne) && ne.Code == 423 { // no article in the range
			ovs, err = nil, nil
		}
		if err != nil {
			return err
		}
	}
	if asJSON {
		list := make([]jsonOverview, len(ovs))
		for i, ov := range ovs {
			list[i] = jsonOverview{Number: ov.Number, Date: ov.Date, From: ov.From, Subject: ov.Subject,
				MessageID: ov.MessageID, References: ov.References, Bytes: ov.Bytes, Lines: ov.Lines}
		}
		return writeJSON(w, struct {
			Group    string         `json:"group"`
			Count    int64          `json:"count"`
			Low      int64          `json:"low"`
			High     int64          `json:"high"`
			Articles []jsonOverview `json:"articles"`
		}{g.Name, g.Count, g.Low, g.High, list})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tDATE\tFROM\tSUBJECT")
	dec := new(mime.WordDecoder)
	decode := func(s string) string {
		if d, err := dec.DecodeHeader(s); err == nil {
			s = d
		}
		return oneLine(s)
	}
	for _, ov := range ovs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", ov.Number, oneLine(ov.Date), decode(ov.From), decode(ov.Subject))
	}
	return tw.Flush()
}

// nntpSendOptions are the flags of `inetkit send nntp://...`.
type nntpSendOptions struct {
	url  *nntpURL
	file string // "" for --body, "-" for stdin
}

func (o *sendOptions) parseNNTP(args []string) error {
	n, err := parseNNTPURL(args[0])
	if err != nil {
		return err
	}
	if n.group == "" || n.number != 0 || n.hasRange {
		return usagef("send %s posts to a group: nntp://HOST:PORT/GROUP (crosspost with GROUP,GROUP)", args[0])
	}
	o.nntp.url = n
	if len(args) == 2 {
		o.nntp.file = args[1]
	}
	s := &o.smtp
	switch {
	case len(s.to) > 0:
		return usagef("--to is for smtp: an article goes to the URL's group")
	case o.nntp.file != "" && s.body != "":
		return usagef("give a FILE or --body, not both")
	case o.nntp.file == "" && s.body == "" && s.subject == "":
		return usagef("send nntp:// needs an article FILE (or - for stdin), or --subject and a body (FILE, - or --body)")
	case o.nntp.file == "" && s.subject == "":
		return usagef("--body needs --subject: it makes the header of the article")
	case strings.ContainsAny(s.from+s.subject, "\r\n\x00"):
		return usagef("--from and --subject must be one line")
	case o.timeout <= 0:
		return usagef("--timeout must be positive")
	}
	return s.tls.validate()
}

// headerLineRE matches a header field's first line.
var headerLineRE = regexp.MustCompile(`^[!-9;-~]+:`)

// article returns the article to post. With --subject the input (FILE,
// stdin or --body) is the body and the flags make the header; without it
// the input is a whole article, sent as it is but for the fields it lacks:
// Newsgroups from the URL, From from --from, Subject from --subject.
func (o *sendOptions) article(stdin io.Reader) ([]byte, error) {
	s := &o.smtp
	var in []byte
	var err error
	switch o.nntp.file {
	case "":
		in = []byte(s.body)
	case "-":
		in, err = io.ReadAll(io.LimitReader(stdin, maxStdinMessage+1))
		if err == nil && len(in) > maxStdinMessage {
			err = fmt.Errorf("article on stdin is longer than %d bytes", maxStdinMessage)
		}
	default:
		in, err = os.ReadFile(o.nntp.file)
	}
	if err != nil {
		return nil, err
	}
	var header, body []byte
	if s.subject == "" {
		in = bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n"))
		h, b, ok := bytes.Cut(in, []byte("\n\n"))
		if !ok || !headerLineRE.Match(h) {
			return nil, errors.New("the input is not an article (a header, an empty line, the body): give --subject to post it as a body")
		}
		header, body = append(h, '\n'), b
	} else {
		body = in
		header = []byte("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n")
	}
	has := func(name string) bool {
		return regexp.MustCompile(`(?im)^` + name + `:`).Match(header)
	}
	var add bytes.Buffer
	if !has("From") {
		if s.from == "" {
			return nil, errors.New("the article has no From: give --from")
		}
		fmt.Fprintf(&add, "From: %s\n", s.from)
	}
	if !has("Newsgroups") {
		fmt.Fprintf(&add, "Newsgroups: %s\n", o.nntp.url.group)
	}
	if !has("Subject") && s.subject != "" {
		fmt.Fprintf(&add, "Subject: %s\n", mime.QEncoding.Encode("utf-8", s.subject))
	}
	art := append(add.Bytes(), header...)
	art = append(art, '\n')
	art = append(art, body...)
	if len(art) > 0 && art[len(art)-1] != '\n' {
		art = append(art, '\n')
	}
	return art, nil
}

func runSendNNTP(ctx context.Context, e *env, o *sendOptions) error {
	n := o.nntp.url
	fail := func(err error) error { return fmt.Errorf("send %s: %s", n.redacted(), ftpErrorLine(err)) }
	art, err := o.article(e.stdin)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := dialNNTP(ctx, n.m, &o.smtp.tls, nntp.ClientOptions{Timeout: o.timeout})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	id, err := c.Post(bytes.NewReader(art))
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(e.stdout, id)
	return c.Quit()
}
