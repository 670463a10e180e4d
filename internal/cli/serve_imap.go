package cli

import "github.com/inetkit/inetkit/imap"

// imapService is IMAP4rev1 (RFC 3501) over the store, with STARTTLS, on
// 127.0.0.1:1143 unless --imap-addr says otherwise.
var imapService = mailService("imap", "127.0.0.1:1143", func(c *mailServerConfig) (mailServer, error) {
	return &imap.Server{
		Backend: c.store.IMAPBackend(), TLSConfig: c.tls, InsecureAuth: c.insecure,
		Limits: c.limits, AuthLimiter: c.authLimiter, Logger: c.log,
	}, nil
})
