package cli

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/nntp"
)

// nntpDefaultAddr is where nntp listens unless --nntp-addr says otherwise:
// 119 needs privileges, so 1119, as the mail services use 1110 and 1143.
const nntpDefaultAddr = "127.0.0.1:1119"

// nntpService is NNTP (RFC 3977) over the store's newsgroups, with
// STARTTLS (RFC 4642) and AUTHINFO (RFC 4643). It is a service of the store
// (storeService), for its logins, its TLS and its login policy, as ftp and
// http are: on loopback any login is accepted, without TLS, and anyone may
// post; off loopback only accounts log in, after STARTTLS (or on
// --nntps-addr), and only they post.
var nntpService = service{name: "nntp", newConfig: func(f *serveFlags) serviceConfig {
	o := &nntpOptions{}
	f.Int64Var(&o.maxArticleBytes, "nntp-max-article-bytes", nntp.DefaultMaxArticleBytes, "largest article nntp's POST takes, measured on the wire (INN's maxartsize)")
	mc := storeService(storeServiceSpec{
		name: "nntp", defaultAddr: nntpDefaultAddr, starttls: true,
		idleTimeout: nntp.DefaultIdleTimeout, idleWhy: "30 minutes unless given, INN's clienttimeout (RFC 3977 §3.1 asks for at least 3 minutes)",
		commandTimeout: lineproto.DefaultCommandTimeout, writeTimeout: lineproto.DefaultWriteTimeout,
		newServer: o.newServer,
	}).newConfig(f).(*mailConfig)
	o.addr = &mc.addr
	return &nntpConfig{mailConfig: mc, nntp: o}
}}

// nntpOptions are the flags of the nntp service of its own.
type nntpOptions struct {
	maxArticleBytes int64
	addr            *string // --nntp-addr, for the host name
}

// nntpConfig is the nntp service as the command line configures it.
type nntpConfig struct {
	*mailConfig
	nntp *nntpOptions
}

var _ serviceConfig = (*nntpConfig)(nil)

func (c *nntpConfig) validate() error {
	if c.nntp.maxArticleBytes < 1 {
		return usagef("--nntp-max-article-bytes must be at least 1")
	}
	return c.mailConfig.validate()
}

// nntpHostname is the name of the server in Path, Xref and the
// message-ids it makes: the host of --nntp-addr when it is a name, else
// the system's host name.
func nntpHostname(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err == nil && host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return host
		}
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "" // the package's own choice
}

// newServer makes the NNTP server over the store's newsgroups.
func (o *nntpOptions) newServer(c *mailServerConfig) (mailServer, error) {
	var backend = c.store.NNTPBackend()
	if n, err := strconv.Atoi(os.Getenv(killAfterPostEnv)); err == nil && n > 0 {
		c.log.Warn("test hook: the process kills itself after a post, before its 240", killAfterPostEnv, n)
		kb := &killAfterPost{Backend: backend}
		kb.left.Store(int64(n))
		backend = kb
	}
	host := nntpHostname(*o.addr)
	c.log.Info("serving newsgroups", "hostname", host, "posting", cond(c.anyLogin, "anyone (loopback)", "accounts"))
	return &nntp.Server{
		Backend:            backend,
		TLSConfig:          c.tls,
		InsecureAuth:       c.insecure,
		AllowAnonymousPost: c.anyLogin,
		Hostname:           host,
		MaxArticleBytes:    o.maxArticleBytes,
		Limits:             c.limits,
		AuthLimiter:        c.authLimiter,
		Logger:             c.log,
		Faults:             c.faults,
	}, nil
}

// killAfterPostEnv names a test hook of the kill -9 test of news: set to N,
// it makes the process kill itself (SIGKILL) right after the Nth article is
// durable and before the client is told 240.
const killAfterPostEnv = "INETKIT_TEST_KILL_AFTER_POST"

// killAfterPost is the nntp.Backend of that hook.
type killAfterPost struct {
	nntp.Backend
	left atomic.Int64
}

func (b *killAfterPost) Post(ctx context.Context, p *nntp.Posting) ([]nntp.GroupNumber, error) {
	nums, err := b.Backend.Post(ctx, p)
	if err == nil && b.left.Add(-1) == 0 {
		if pr, ferr := os.FindProcess(os.Getpid()); ferr == nil {
			pr.Kill()
		}
		select {} // the 240 must not go out before the signal lands
	}
	return nums, err
}
