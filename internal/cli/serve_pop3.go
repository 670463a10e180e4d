package cli

import "github.com/inetkit/inetkit/pop3"

// pop3Service is POP3 (RFC 1939) from the store, with STLS (RFC 2595), on
// 127.0.0.1:1110 unless --pop3-addr says otherwise.
var pop3Service = mailService("pop3", "127.0.0.1:1110", pop3.DefaultIdleTimeout,
	"RFC 1939 §3 asks for at least 10 minutes", func(c *mailServerConfig) (mailServer, error) {
		return &pop3.Server{
			Backend: c.store.POP3Backend(), TLSConfig: c.tls, InsecureAuth: c.insecure,
			Limits: c.limits, AuthLimiter: c.authLimiter, Logger: c.log,
			Faults: c.faults,
		}, nil
	})
