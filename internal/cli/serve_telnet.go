package cli

import (
	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/telnet"
)

// telnetDefaultAddr is where telnet listens unless --telnet-addr says
// otherwise: 23 needs privileges, so 2323.
const telnetDefaultAddr = "127.0.0.1:2323"

// telnetService is Telnet (RFC 854) serving inetkit's console, never an
// operating-system shell: each line typed comes back upper-cased, and a few
// commands show the file tree, the mailboxes and the newsgroups of the
// store (telnetConsole). It is a service of the store (storeService) for
// its logins, its TLS (implicit TLS on --telnets-addr, as telnets, port
// 992, has it) and its login policy, as ftp and http are.
var telnetService = service{name: "telnet", newConfig: func(f *serveFlags) serviceConfig {
	return storeService(storeServiceSpec{
		name: "telnet", defaultAddr: telnetDefaultAddr,
		idleTimeout: telnet.DefaultIdleTimeout, idleWhy: "15 minutes unless given, the autologout of many consoles",
		commandTimeout: lineproto.DefaultCommandTimeout, writeTimeout: lineproto.DefaultWriteTimeout,
		newServer: newTelnetServer,
	}).newConfig(f)
}}

// newTelnetServer makes the Telnet server of the console. On loopback (the
// any-login policy) no login is asked for, and "login NAME" takes any name;
// otherwise a session logs in with an account at once, over TLS, or over
// plain Telnet only when every telnet listener is on loopback.
func newTelnetServer(c *mailServerConfig) (mailServer, error) {
	root, err := sharedFiles(c.se, c.opts.data)
	if err != nil {
		return nil, err
	}
	logins := "any (loopback)"
	if !c.anyLogin {
		logins = "accounts" + cond(c.insecure, "", ", over TLS only")
	}
	c.log.Info("console", "files", filesDir(c.opts.data), "logins", logins)
	if !c.insecure {
		c.log.Info("off loopback, plain telnet takes no logins: they go over the telnets listener (--telnets-addr)")
	}
	return &telnet.Server{
		Handler: &telnetConsole{
			store:    c.store,
			files:    fileroot.ReadOnly(root),
			anyLogin: c.anyLogin,
			insecure: c.insecure,
			limiter:  c.authLimiter,
			log:      c.log,
		},
		TLSConfig: c.tls,
		Limits:    c.limits,
		Logger:    c.log,
		Faults:    c.faults,
	}, nil
}
