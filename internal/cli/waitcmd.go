package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// waitOptions are the flags of `inetkit wait`.
type waitOptions struct {
	url      string // the console's base URL
	to       string
	from     string
	subject  string
	query    string
	address  string
	mailbox  string
	group    string // news: wait for an article of this group
	news     bool
	existing bool
	timeout  time.Duration
	json     bool
	user     string
	tls      tlsOptions
}

func newWaitCmd(e *env, runF func(context.Context, *waitOptions) error) *cobra.Command {
	o := &waitOptions{}
	cmd := &cobra.Command{
		Use:   "wait",
		Short: "Wait for a message (or a news article) to arrive, and print it",
		Long: `Wait until inetkit has stored a message matching the flags, and print it:
what a test does after making its program send mail. It asks the console's
REST API (GET /api/v1/wait), so it works against an inetkit on another
machine too (--url), and the server answers as soon as the message is
committed, without polling.

By default only a message stored after wait starts matches; --existing also
takes one already there (the newest). --to, --from and --subject match a
part of the field, without regard to case; --query takes the console's
search syntax (from:, to:, subject:, is:unread, has:attachment, after:,
before:, words, "-" to negate); all must match.

The message is printed as it was received (its raw source); --json prints
the API's JSON of it instead (envelope, headers, text, HTML, attachments).
With --news (or --group) it waits for a news article instead.

wait exits 0 with the message, 1 when none arrived within --timeout (or on
any other error), 2 on a usage error. Off loopback, the console asks for a
login: -u USER:PASS, over https://.`,
		Example: `  inetkit wait --to alice@example.org --subject "Your code" --timeout 30s
  inetkit wait --query 'from:noreply has:attachment' --json
  inetkit wait --url https://ci-mail:8443 -u alice@example.org:pw --to alice@example.org
  inetkit wait --group inetkit.test --subject release`,
		Args: exactArgs(0, "wait takes no arguments; what to wait for is in its flags"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runWait(ctx, e, o) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "http://"+webDefaultAddr, "the console of the inetkit to ask (inetkit serve --web-addr)")
	f.StringVar(&o.to, "to", "", "a recipient (To or Cc) holding this text")
	f.StringVar(&o.from, "from", "", "a From field holding this text")
	f.StringVar(&o.subject, "subject", "", "a Subject holding this text")
	f.StringVar(&o.query, "query", "", "a query in the console's search syntax")
	f.StringVar(&o.address, "address", "", "only the mail of this user (a mail address)")
	f.StringVar(&o.mailbox, "mailbox", "", "only this mailbox (with --address)")
	f.BoolVar(&o.news, "news", false, "wait for a news article instead of a message")
	f.StringVar(&o.group, "group", "", "wait for a news article of this newsgroup (implies --news)")
	f.BoolVar(&o.existing, "existing", false, "a matching message already stored will do (the newest)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up after this long (at most 5m)")
	f.BoolVar(&o.json, "json", false, "print the API's JSON of the message rather than its source")
	f.StringVarP(&o.user, "user", "u", "", "log in to the console as `USER:PASS` (Basic authentication)")
	o.tls.addFlags(cmd)
	f.MarkHidden("tls") // the scheme of --url says
	return cmd
}

func (o *waitOptions) validate() error {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--url %q: want http://HOST:PORT or https://HOST:PORT", o.url)
	}
	if o.timeout <= 0 || o.timeout > 5*time.Minute {
		return usagef("--timeout must be more than 0 and at most 5m")
	}
	if o.group != "" {
		o.news = true
	}
	if o.news && (o.to != "" || o.address != "" || o.mailbox != "") {
		return usagef("--to, --address and --mailbox are for mail, not news")
	}
	if o.mailbox != "" && o.address == "" {
		return usagef("--mailbox goes with --address")
	}
	return o.tls.validate()
}

// waitURL returns the URL of the API's wait.
func (o *waitOptions) waitURL() string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("to", o.to)
	set("from", o.from)
	set("subject", o.subject)
	set("query", o.query)
	set("address", o.address)
	set("mailbox", o.mailbox)
	set("group", o.group)
	if o.existing {
		q.Set("existing", "true")
	}
	q.Set("timeout", o.timeout.String())
	path := "/api/v1/wait?"
	if o.news {
		path = "/api/v1/news/wait?"
	}
	return strings.TrimSuffix(o.url, "/") + path + q.Encode()
}

func runWait(ctx context.Context, e *env, o *waitOptions) error {
	u, _ := url.Parse(o.url)
	// The server answers within the wait's timeout; a little more for the
	// network.
	c, err := newHTTPClient(u, &o.tls, o.timeout+10*time.Second, nil)
	if err != nil {
		return err
	}
	get := func(target string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		if o.user != "" {
			user, pass, _ := strings.Cut(o.user, ":")
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			var apiErr struct {
				Error string `json:"error"`
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if json.Unmarshal(body, &apiErr) != nil || apiErr.Error == "" {
				apiErr.Error = strings.TrimSpace(string(body))
			}
			if resp.StatusCode == http.StatusRequestTimeout {
				return nil, fmt.Errorf("nothing matched within %v", o.timeout)
			}
			return nil, fmt.Errorf("%s: %s", resp.Status, apiErr.Error)
		}
		return resp, nil
	}
	resp, err := get(o.waitURL())
	if err != nil {
		return err
	}
	var found struct {
		ID int64 `json:"id"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&found)
	resp.Body.Close()
	if err != nil || found.ID == 0 {
		return errors.New("the console's answer names no message")
	}
	kind := cond(o.news, "articles", "messages")
	target := strings.TrimSuffix(o.url, "/") + "/api/v1/" + kind + "/" + strconv.FormatInt(found.ID, 10)
	if !o.json {
		target += "/raw"
	}
	if resp, err = get(target); err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(e.stdout, resp.Body)
	return err
}
