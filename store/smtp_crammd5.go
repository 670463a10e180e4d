package store

import (
	"context"
	"errors"

	"github.com/inetkit/inetkit/smtp"
)

var _ smtp.BackendCRAMMD5 = smtpBackend{}

// CRAMMD5Available reports whether the SMTP backend takes AUTH CRAM-MD5
// (RFC 2195): with Options.AnyLogin, while no user has a password. A
// CRAM-MD5 digest can be checked only against a password held in the clear,
// and the store keeps bcrypt hashes; so the mechanism is offered only while
// every login it can bring would succeed, and a client that prefers it
// (curl does, and does not fall back to PLAIN) is never led to a login
// that must fail.
func (be smtpBackend) CRAMMD5Available(ctx context.Context) bool {
	if !be.s.opts.AnyLogin {
		return false
	}
	has, err := be.s.HasAccounts(ctx)
	return err == nil && !has
}

// LoginCRAMMD5 takes a CRAM-MD5 login as POP3Backend takes APOP: with
// Options.AnyLogin any digest logs in an address that has no password (and
// makes the user if it is new), as any password does; an account with a
// password cannot use it.
func (be smtpBackend) LoginCRAMMD5(ctx context.Context, username, challenge, digest string) error {
	_, err := be.s.authenticateNoPassword(ctx, username)
	if errors.Is(err, ErrAuthFailed) {
		return smtp.ErrAuthFailed
	}
	return err
}
