package cli

import (
	"context"
	"io"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/inetkit/inetkit/smtp"
)

// smtpService is SMTP (RFC 5321) into the store, with STARTTLS (RFC 3207)
// and AUTH (RFC 4954), on 127.0.0.1:2525 unless --smtp-addr says otherwise.
var smtpService = mailService("smtp", "127.0.0.1:2525", smtp.DefaultIdleTimeout,
	"RFC 5321 §4.5.3.2.7 asks for at least 5 minutes", newSMTPServer)

func newSMTPServer(c *mailServerConfig) (mailServer, error) {
	var backend smtp.Backend = c.store.SMTPBackend()
	if n, err := strconv.Atoi(os.Getenv(killAfterDeliveryEnv)); err == nil && n > 0 {
		c.log.Warn("test hook: the process kills itself after a delivery, before its 250", killAfterDeliveryEnv, n)
		kb := &killAfterDelivery{Backend: backend}
		kb.left.Store(int64(n))
		backend = kb
	}
	return &smtp.Server{
		Domain: c.opts.hostname, Backend: backend, TLSConfig: c.tls,
		InsecureAuth: c.insecure, MaxMessageBytes: c.opts.maxMessageBytes,
		// Off loopback a bare CR or LF in DATA refuses the message (RFC
		// 5321 §2.3.8 allows no other line ending, and SMTP smuggling
		// hides a second message behind one); on loopback it is kept,
		// as sent, for tests of odd clients.
		StrictLineEndings: !c.insecure,
		Limits:            c.limits, AuthLimiter: c.authLimiter, Logger: c.log,
		Faults: c.faults,
	}, nil
}

// killAfterDeliveryEnv names a test hook of the kill -9 tests: set to N, it
// makes the process kill itself (SIGKILL) right after the Nth message is
// durable and before the client is told 250, the moment at which a crash
// must neither lose the message nor keep half of it.
const killAfterDeliveryEnv = "INETKIT_TEST_KILL_AFTER_DELIVERY"

// killAfterDelivery is the smtp.Backend of that hook.
type killAfterDelivery struct {
	smtp.Backend
	left atomic.Int64
}

func (b *killAfterDelivery) Deliver(ctx context.Context, env *smtp.Envelope, msg io.Reader) error {
	err := b.Backend.Deliver(ctx, env, msg)
	if err == nil && b.left.Add(-1) == 0 {
		if p, ferr := os.FindProcess(os.Getpid()); ferr == nil {
			p.Kill()
		}
		select {} // the 250 must not go out before the signal lands
	}
	return err
}
