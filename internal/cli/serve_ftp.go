package cli

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/store"
)

// ftpDefaultAddr is where ftp listens unless --ftp-addr says otherwise: 21
// needs privileges, so 2121, as the mail services use 2525 and 1110.
const ftpDefaultAddr = "127.0.0.1:2121"

// ftpService is FTP (RFC 959) with AUTH TLS (RFC 4217) over the file tree
// files/ in --data, for the store's logins: it is a service of the mail
// store (mailService), for its accounts, its TLS and its login policy, with
// flags of its own for passive mode and anonymous logins.
var ftpService = service{name: "ftp", newConfig: func(f *serveFlags) serviceConfig {
	o := &ftpOptions{}
	f.StringVar(&o.pasvPorts, "ftp-pasv-ports", "", "MIN-MAX: the ports ftp's passive data connections listen on, for a firewall (default: any free port)")
	f.StringVar(&o.publicHost, "ftp-public-host", "", "the IPv4 address, or a host name resolved at start, that ftp's PASV replies give, for clients that reach the server through NAT (default: the address the client connected to)")
	f.BoolVar(&o.anonymous, "ftp-anonymous", false, `let anonymous ftp logins ("anonymous" or "ftp", any password) read the files off loopback too; on loopback they always may`)
	mc := mailService("ftp", ftpDefaultAddr, ftp.DefaultIdleTimeout, "5 minutes unless given, RFC 959 sets none",
		o.newServer).newConfig(f).(*mailConfig)
	return &ftpConfig{mailConfig: mc, ftp: o}
}}

// ftpOptions are the flags of the ftp service of its own.
type ftpOptions struct {
	pasvPorts  string
	ports      ftp.PortRange // parsed from pasvPorts
	publicHost string
	anonymous  bool
}

// ftpConfig is the ftp service as the command line configures it: a mail
// service of the store, with ftp's own options.
type ftpConfig struct {
	*mailConfig
	ftp *ftpOptions
}

var _ serviceConfig = (*ftpConfig)(nil)

func (c *ftpConfig) validate() error {
	if c.ftp.pasvPorts != "" {
		r, err := ftp.ParsePortRange(c.ftp.pasvPorts)
		if err != nil {
			return usagef("--ftp-pasv-ports %q: want MIN-MAX, such as 50000-50100", c.ftp.pasvPorts)
		}
		c.ftp.ports = r
	}
	return c.mailConfig.validate()
}

// newServer makes the FTP server over the store's logins and the file tree
// of --data. On loopback every login of the store (any mail address, with
// the store's any-login policy) reads and writes, and anonymous logins
// read; off loopback only accounts log in, after AUTH TLS, and anonymous
// logins read only with --ftp-anonymous.
func (o *ftpOptions) newServer(c *mailServerConfig) (mailServer, error) {
	root, err := sharedFiles(c.se, c.opts.data)
	if err != nil {
		return nil, err
	}
	anonymous := c.insecure || o.anonymous
	c.log.Info("serving files", "dir", filesDir(c.opts.data), "anonymous", map[bool]string{true: "read", false: "refused"}[anonymous])
	return &ftp.Server{
		Backend:      &ftpBackend{store: c.store, files: root, anonymous: anonymous, anyLogin: c.anyLogin},
		TLSConfig:    c.tls,
		InsecureAuth: c.insecure,
		PassivePorts: o.ports,
		PublicHost:   o.publicHost,
		Limits:       c.limits,
		AuthLimiter:  c.authLimiter,
		Logger:       c.log,
		Faults:       c.faults,
	}, nil
}

// filesDir returns the file tree of the data directory data, absolute when
// it can be.
func filesDir(data string) string {
	dir := filepath.Join(data, "files")
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// sharedFiles returns the file tree of --data that ftp, http and gopher
// share, opened once per serve command by the first of them to start.
func sharedFiles(se *serveEnv, data string) (*eventFiles, error) {
	return sharedState(se, func() (*eventFiles, error) {
		root, err := openFiles(se, data)
		if err != nil {
			return nil, err
		}
		return &eventFiles{Root: root, hub: serveEvents(se)}, nil
	})
}

// openFiles opens the file tree of the data directory data, making it if
// needed; it is closed once every service has stopped.
func openFiles(se *serveEnv, data string) (*fileroot.Root, error) {
	dir := filesDir(data)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	root, err := fileroot.Open(dir)
	if err != nil {
		return nil, err
	}
	se.afterStop(func() { root.Close() })
	return root, nil
}

// ftpBackend is the ftp.Backend of inetkit serve: the store checks the
// logins, and every login sees the one file tree, writable, while anonymous
// logins, when allowed, see it read-only. Under the any-login policy (every
// listener on loopback) any name and password log in, as Python's ftplib
// and curl users expect of a test server, and no mail user is made for it.
type ftpBackend struct {
	store     *store.Store
	files     fileroot.FS
	anonymous bool
	anyLogin  bool
}

var errAnonymousRefused = &ftp.Error{Code: 530, Message: "Anonymous login is not allowed here."}

func (be *ftpBackend) Login(ctx context.Context, user, pass string) (fs.FS, error) {
	if ftp.IsAnonymous(user) {
		if !be.anonymous {
			return nil, errAnonymousRefused
		}
		return fileroot.ReadOnly(be.files), nil
	}
	if be.anyLogin {
		return be.files, nil
	}
	if _, err := be.store.Authenticate(ctx, user, pass); err != nil {
		if errors.Is(err, store.ErrAuthFailed) {
			return nil, ftp.ErrAuthFailed
		}
		return nil, err
	}
	return be.files, nil
}
