package cli

import "github.com/inetkit/inetkit/imap"

// imapService is IMAP4rev1 and IMAP4rev2 (RFC 3501, RFC 9051) over the store, with STARTTLS, on
// 127.0.0.1:1143 unless --imap-addr says otherwise.
var imapService = mailService("imap", "127.0.0.1:1143", imap.DefaultIdleTimeout,
	"RFC 9051 §5.4 asks for at least 30 minutes", func(c *mailServerConfig) (mailServer, error) {
		return &imap.Server{
			Backend: c.store.IMAPBackend(), TLSConfig: c.tls, InsecureAuth: c.insecure,
			// One size limit for mail: SMTP's SIZE is IMAP's APPENDLIMIT.
			MaxLiteralBytes: c.opts.maxMessageBytes,
			Limits:          c.limits, AuthLimiter: c.authLimiter, Logger: c.log,
			Faults: c.faults,
		}, nil
	})
