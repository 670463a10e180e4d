package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/inetkit/inetkit/smtp"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SMTPBackend returns the SMTP backend of the store: it accepts a recipient
// when it is a user of the store (any address with Options.AnyLogin) and
// delivers to that user's INBOX. It never relays.
func (s *Store) SMTPBackend() smtp.Backend { return smtpBackend{s} }

type smtpBackend struct{ s *Store }

func (be smtpBackend) Login(ctx context.Context, username, password string) error {
	_, err := be.s.Authenticate(ctx, username, password)
	if errors.Is(err, ErrAuthFailed) {
		return smtp.ErrAuthFailed
	}
	return err
}

func (be smtpBackend) CheckRecipient(ctx context.Context, env *smtp.Envelope, rcpt string) error {
	if err := be.s.checkFree(); err != nil {
		return err
	}
	addr := normAddress(rcpt)
	if ValidateAddress(addr) != nil {
		return &smtp.Error{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Invalid recipient address"}
	}
	if be.s.opts.AnyLogin {
		return nil
	}
	if _, err := be.s.userID(ctx, addr, false); errors.Is(err, ErrNotFound) {
		return smtp.ErrNoSuchMailbox
	} else if err != nil {
		return err
	}
	return nil
}

func (be smtpBackend) Deliver(ctx context.Context, env *smtp.Envelope, msg io.Reader) error {
	var data []byte
	if b, ok := msg.(interface{ Bytes() []byte }); ok {
		data = b.Bytes() // the server's buffer, valid until we return
	} else {
		var err error
		if data, err = io.ReadAll(msg); err != nil {
			return err
		}
	}
	err := be.s.Deliver(ctx, env.To, data, time.Now())
	var se *sqlite.Error
	switch {
	case errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL:
		return smtp.ErrInsufficientStorage
	case errors.Is(err, ErrNotFound):
		return smtp.ErrNoSuchMailbox
	case err != nil:
		return fmt.Errorf("store: deliver: %w", err)
	}
	return nil
}

// checkFree refuses mail while free space is below Options.MinFreeBytes,
// with "452 4.3.1 Insufficient system storage" (RFC 5321 §4.2.2, RFC 3463
// §3.4), a temporary failure the client retries later.
func (s *Store) checkFree() error {
	if s.opts.MinFreeBytes <= 0 {
		return nil
	}
	if free, ok := freeBytes(s.dir); ok && free < s.opts.MinFreeBytes {
		return smtp.ErrInsufficientStorage
	}
	return nil
}

// CheckSender refuses a new transaction while the disk is nearly full, so
// that the client hears 452 at MAIL rather than after sending the message.
func (be smtpBackend) CheckSender(ctx context.Context, env *smtp.Envelope) error {
	return be.s.checkFree()
}

var _ smtp.SenderChecker = smtpBackend{}
