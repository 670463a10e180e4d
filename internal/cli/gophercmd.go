package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/inetkit/inetkit/gopher"
)

// isGopherURL reports whether raw is a gopher:// URL.
func isGopherURL(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	return ok && strings.EqualFold(scheme, "gopher")
}

// parseGopherURL parses raw, a gopher URL (RFC 4266). For a search (type
// 7) without a search string after %09, what follows a "?" is the search
// string, as lynx reads gopher://HOST/7/search?QUERY.
func parseGopherURL(raw string) (*gopher.URL, error) {
	u, err := gopher.ParseURL(raw)
	if err != nil {
		return nil, usagef("URL %q: %v", raw, err)
	}
	if u.Type == gopher.TypeSearch && u.Search == "" {
		if sel, q, ok := strings.Cut(u.Selector, "?"); ok {
			u.Selector, u.Search = sel, q
		}
	}
	return u, nil
}

// parseGopher checks a gopher:// URL of get against the flags.
func (o *getOptions) parseGopher(raw string) error {
	u, err := parseGopherURL(raw)
	if err != nil {
		return err
	}
	o.gopherURL = u
	switch {
	case o.delete || o.match.subject != "" || o.match.from != "" || o.match.to != "" || o.match.sinceFlag != "":
		return usagef("--delete, --subject, --from, --to and --since are for mail URLs, not gopher://")
	case o.ftp.active:
		return usagef("--active is for ftp:// and ftps:// URLs")
	case o.ftp.cont:
		return usagef("--continue: Gopher cannot resume a transfer (it has no ranges)")
	case o.web.head:
		return usagef("-I is for http:// and https:// URLs")
	case o.web.user != "":
		return usagef("-u: Gopher has no logins")
	case o.json && !u.Type.IsMenu():
		return usagef("--json is for menus (type 1) and searches (type 7): a file is printed as it is")
	}
	if err := o.outputFile(raw, u.Selector); err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return nil
}

// getGopher prints a menu (or search result) as a table or JSON, or a file
// as it is, to stdout or -o FILE.
func getGopher(ctx context.Context, e *env, o *getOptions) error {
	u := o.gopherURL
	c := &gopher.Client{
		// --timeout bounds each read, not the whole answer: a large file
		// over a slow link arrives as long as it moves.
		Timeout: -1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: o.timeout}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &deadlineConn{Conn: conn, d: o.timeout}, nil
		},
	}
	resp, err := c.Do(ctx, u)
	if err != nil {
		return gopherError(err, u)
	}
	var data []byte
	if u.Type.IsMenu() {
		items, err := resp.Menu()
		if err != nil {
			return err
		}
		if len(items) == 0 && len(bytes.TrimSpace(resp.Body)) > 0 && !bytes.Equal(bytes.TrimSpace(resp.Body), []byte(".")) {
			// Text where a menu should be: an error, as gophernicus
			// sends them ("Error: File or directory not found!").
			line, _, _ := bytes.Cut(bytes.TrimSpace(resp.Body), []byte("\n"))
			return fmt.Errorf("the server sent no menu but: %s", oneLine(strings.TrimSpace(string(line[:min(len(line), 200)]))))
		}
		var b strings.Builder
		if err := writeGopherMenu(&b, items, u, o.json); err != nil {
			return err
		}
		data = []byte(b.String())
	} else if u.Type == gopher.TypeText {
		data = resp.Text()
	} else {
		data = resp.Body
	}
	if o.ftp.output == "" {
		_, err := e.stdout.Write(data)
		return err
	}
	return os.WriteFile(o.ftp.output, data, 0o644)
}

// deadlineConn gives each read and write of a connection d to make
// progress.
type deadlineConn struct {
	net.Conn
	d time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.d))
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.d))
	return c.Conn.Write(b)
}

// gopherError says what went wrong: the server's error item, a refused
// connection with the address, a timeout with the flag.
func gopherError(err error, u *gopher.URL) error {
	var se *gopher.ServerError
	if errors.As(err, &se) {
		return fmt.Errorf("the server says: %s", oneLine(se.Message))
	}
	if isRefused(err) {
		msg := "connection refused: nothing listens on " + u.Addr()
		if isLoopback(u.Addr()) {
			msg += "; inetkit serve listens for Gopher on " + gopherDefaultAddr + " unless --gopher-addr says otherwise"
		}
		return errors.New(msg)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("the server sent nothing for --timeout")
	}
	return err
}

// jsonGopherItem is a menu item in get's --json output.
type jsonGopherItem struct {
	Type     string `json:"type"` // "menu", "text", "info", …: gopher.Type's name
	Name     string `json:"name"`
	Selector string `json:"selector"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	URL      string `json:"url,omitempty"` // "" for info and error lines
}

// writeGopherMenu prints items: a table of type, name and selector (the
// item's URL for one on another server; nothing for info lines), or one
// JSON document.
func writeGopherMenu(w io.Writer, items []gopher.Item, u *gopher.URL, asJSON bool) error {
	list := make([]jsonGopherItem, len(items))
	for i, it := range items {
		list[i] = jsonGopherItem{Type: it.Type.String(), Name: it.Display, Selector: it.Selector, Host: it.Host, Port: it.Port, URL: it.URL()}
	}
	if asJSON {
		return writeJSON(w, struct {
			Items []jsonGopherItem `json:"items"`
		}{list})
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tSELECTOR")
	for i, it := range items {
		sel := it.Selector
		switch {
		case it.Type == gopher.TypeInfo || it.Type == gopher.TypeError:
			sel = ""
		case !sameGopherServer(it, u):
			sel = list[i].URL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", list[i].Type, oneLine(it.Display), oneLine(sel))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// No padding after the last column (info lines have no selector).
	for line := range strings.Lines(b.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// sameGopherServer reports whether it is on the server of u.
func sameGopherServer(it gopher.Item, u *gopher.URL) bool {
	host, port, err := net.SplitHostPort(u.Addr())
	return err == nil && strings.EqualFold(it.Host, host) && strconv.Itoa(it.Port) == port
}
