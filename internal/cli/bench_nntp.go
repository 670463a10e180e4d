package cli

import (
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/internal/loadgen"
)

// parseNNTP reads the URL of `inetkit bench nntp://[USER:PASS@]HOST:PORT/GROUP`
// and the NNTP defaults: 1000-byte articles, a 30-second timeout.
func (o *benchOptions) parseNNTP(cmd *cobra.Command, u *url.URL) error {
	if u.Hostname() == "" {
		return usagef("URL %q has no host", u.Redacted())
	}
	o.network, o.addr = "nntp", u.Host
	if o.nntp.Op == "" {
		o.nntp.Op = loadgen.NNTPPost
	}
	if u.Port() == "" {
		o.addr = net.JoinHostPort(u.Hostname(), "119")
	}
	o.nntp.Group = strings.Trim(u.Path, "/")
	if o.nntp.Group == "" || strings.ContainsAny(o.nntp.Group, "/,") {
		return usagef("URL %q: want one group: nntp://HOST:PORT/GROUP", u.Redacted())
	}
	if u.User != nil {
		o.nntp.User = u.User.Username()
		o.nntp.Pass, _ = u.User.Password()
	}
	switch o.nntp.Op {
	case loadgen.NNTPPost, loadgen.NNTPOver, loadgen.NNTPArticle:
	default:
		return usagef("--op must be post, over or article, not %q", o.nntp.Op)
	}
	o.target = "nntp://" + o.addr + "/" + o.nntp.Group
	if !cmd.Flags().Changed("size") {
		o.size = 1000
	}
	if !cmd.Flags().Changed("timeout") {
		o.timeout = 30 * time.Second
	}
	return nil
}
