package store

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// defaultMailboxes are made with every user: INBOX and the RFC 6154
// special-use mailboxes clients look for.
var defaultMailboxes = []struct{ name, use string }{
	{"INBOX", ""},
	{"Archive", `\Archive`},
	{"Drafts", `\Drafts`},
	{"Junk", `\Junk`},
	{"Sent", `\Sent`},
	{"Trash", `\Trash`},
}

// AddUser adds an account: a user with a password (stored as a bcrypt
// hash). The address is the login and the name of the mail address
// delivered to; it is compared without regard to case. An address that
// exists without a password (made by a login in any-login mode, or by mail
// delivered to it) becomes an account, keeping its mail. AddUser returns
// ErrExists if the address already has a password.
//
// The address need not be a mail address (see [ValidateAddress]): an
// account such as "alice" logs in over POP3 and IMAP, but receives no mail
// over SMTP.
func (s *Store) AddUser(ctx context.Context, address, password string) error {
	address = normAddress(address)
	if err := validLogin(address); err != nil {
		return err
	}
	if password == "" {
		return errors.New("store: empty password")
	}
	// Checked before hashing too, to answer at once; again in the write.
	if _, old, err := s.lookupUser(ctx, address); err == nil && old.Valid {
		return ErrExists
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.passwordCost())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return s.write(ctx, func(tx *wtx) error {
		id, old, err := lookupUserTx(ctx, tx, address)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = createUser(ctx, tx, address, string(hash), originAccount)
			return err
		case err != nil:
			return err
		case old.Valid:
			return ErrExists
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, string(hash), id)
		return err
	})
}

// SetPassword changes the password of an existing user, or gives one to
// an address that has none (which makes it an account, as AddUser does).
// It returns an error matching ErrNotFound for an unknown address.
func (s *Store) SetPassword(ctx context.Context, address, password string) error {
	if password == "" {
		return errors.New("store: empty password")
	}
	if _, _, err := s.lookupUser(ctx, normAddress(address)); errors.Is(err, sql.ErrNoRows) {
		return &NotFoundError{Address: normAddress(address)}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.passwordCost())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE address = ?`, string(hash), normAddress(address))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &NotFoundError{Address: normAddress(address)}
		}
		return nil
	})
}

// Users returns the addresses of all users, sorted.
func (s *Store) Users(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT address FROM users ORDER BY address`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// HasAccounts reports whether any user has a password (was added with
// AddUser rather than made by an AnyLogin login).
func (s *Store) HasAccounts(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE password_hash IS NOT NULL`).Scan(&n)
	return n > 0, err
}

// Authenticate checks a login and returns the user's id. With
// Options.AnyLogin every login with a mail address (see [ValidateAddress])
// succeeds, with any password, and an unknown address is made a user; a
// login that is not a mail address fails. An account (a user with a
// password) needs its password in either mode. ErrAuthFailed is returned
// for a failed login.
func (s *Store) Authenticate(ctx context.Context, address, password string) (int64, error) {
	address = normAddress(address)
	id, hash, err := s.lookupUser(ctx, address)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if !s.opts.AnyLogin || ValidateAddress(address) != nil {
			s.failSlowly(password)
			return 0, ErrAuthFailed
		}
		return s.ensureUser(ctx, address, originLogin)
	case err != nil:
		return 0, err
	}
	if s.opts.AnyLogin && !hash.Valid && ValidateAddress(address) == nil {
		return id, nil
	}
	if !hash.Valid {
		s.failSlowly(password)
		return 0, ErrAuthFailed
	}
	mac := s.authMAC(address, hash.String, password)
	if e, ok := s.authCache.Load(address); ok && hmac.Equal(e.([]byte), mac) {
		return id, nil
	}
	if bcrypt.CompareHashAndPassword([]byte(hash.String), []byte(password)) != nil {
		return 0, ErrAuthFailed
	}
	s.authCache.Store(address, mac)
	return id, nil
}

// authenticateNoPassword is Authenticate for a login with no password to
// check (APOP's digest, which a bcrypt hash cannot verify): with
// Options.AnyLogin it succeeds for the addresses that need no password, and
// makes the user if there is none; it fails for an account with a password.
func (s *Store) authenticateNoPassword(ctx context.Context, address string) (int64, error) {
	address = normAddress(address)
	if !s.opts.AnyLogin || ValidateAddress(address) != nil {
		return 0, ErrAuthFailed
	}
	id, hash, err := s.lookupUser(ctx, address)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return s.ensureUser(ctx, address, originLogin)
	case err != nil:
		return 0, err
	case hash.Valid:
		return 0, ErrAuthFailed
	}
	return id, nil
}

// lookupUser returns the ID and password hash of the user address, or
// sql.ErrNoRows.
func (s *Store) lookupUser(ctx context.Context, address string) (id int64, hash sql.NullString, err error) {
	return lookupUserTx(ctx, s.db, address)
}

func lookupUserTx(ctx context.Context, q querier, address string) (id int64, hash sql.NullString, err error) {
	err = q.QueryRowContext(ctx, `SELECT id, password_hash FROM users WHERE address = ?`, address).Scan(&id, &hash)
	return id, hash, err
}

// authMAC binds a verified password to its user and stored hash, under a key
// that lives only in this process: a changed password changes the hash and
// so misses the cache.
func (s *Store) authMAC(address, hash, password string) []byte {
	m := hmac.New(sha256.New, s.authKey[:])
	for _, p := range []string{address, hash, password} {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// passwordCost is the bcrypt cost of the store's password hashes.
func (s *Store) passwordCost() int { return cmp.Or(s.opts.PasswordCost, bcrypt.DefaultCost) }

// failSlowly spends the time that checking password against an account's
// hash takes, for a login that fails without one (an unknown address, or
// an account without a password): every failed login then costs the same,
// and timing does not tell which addresses exist.
func (s *Store) failSlowly(password string) {
	bcrypt.CompareHashAndPassword(dummyHash(s.passwordCost()), []byte(password))
}

// dummyHashes holds, by bcrypt cost, a func returning the hash failSlowly
// compares with; each is computed once, on first use.
var dummyHashes sync.Map

// dummyHash returns a bcrypt hash of cost cost (or of bcrypt.DefaultCost if
// bcrypt refuses cost) of a password nobody has.
func dummyHash(cost int) []byte {
	f, ok := dummyHashes.Load(cost)
	if !ok {
		f, _ = dummyHashes.LoadOrStore(cost, sync.OnceValue(func() []byte {
			h, err := bcrypt.GenerateFromPassword([]byte("inetkit"), cost)
			if err != nil {
				h, _ = bcrypt.GenerateFromPassword([]byte("inetkit"), bcrypt.DefaultCost)
			}
			return h
		}))
	}
	return f.(func() []byte)()
}

// userID returns the id of a user, making it (as AnyLogin does) when create
// is true.
func (s *Store) userID(ctx context.Context, address string, create bool) (int64, error) {
	address = normAddress(address)
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM users WHERE address = ?`, address).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if !create {
			return 0, ErrNotFound
		}
		return s.ensureUser(ctx, address, originLogin)
	}
	return id, err
}

// How a user was made, as the users.origin column records it.
const (
	originAccount = "account" // by AddUser
	originLogin   = "login"   // by a login in any-login mode
	originRcpt    = "rcpt"    // by mail delivered to it
)

// ensureUser returns the id of the user with address, making the user and
// its mailboxes if needed, as origin says.
func (s *Store) ensureUser(ctx context.Context, address, origin string) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		id, err = ensureUserTx(ctx, tx, address, origin)
		return err
	})
	return id, err
}

// ensureUserTx is ensureUser in tx. Only a mail address is made a user.
func ensureUserTx(ctx context.Context, tx *wtx, address, origin string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE address = ?`, address).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if err := ValidateAddress(address); err != nil {
			return 0, err
		}
		return createUser(ctx, tx, address, "", origin)
	}
	return id, err
}

func createUser(ctx context.Context, tx *wtx, address, hash, origin string) (int64, error) {
	var h any
	if hash != "" {
		h = hash
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO users (address, password_hash, created, origin) VALUES (?, ?, ?, ?)`, address, h, time.Now().Unix(), origin)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for _, mb := range defaultMailboxes {
		if _, err := createMailboxTx(ctx, tx, id, mb.name, mb.use); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// createMailboxTx makes a mailbox with a fresh UIDVALIDITY.
func createMailboxTx(ctx context.Context, tx *wtx, userID int64, name, specialUse string) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO mailboxes (user_id, name, uid_validity, special_use) VALUES (?, ?, ?, ?)`,
		userID, name, newUIDValidity(), specialUse)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return 0, ErrExists
		}
		return 0, err
	}
	return res.LastInsertId()
}

// newUIDValidity returns a UIDVALIDITY that grows with time (RFC 9051
// §2.3.1.1 asks that a recreated mailbox get a larger one).
func newUIDValidity() uint32 {
	mu.Lock()
	defer mu.Unlock()
	v := uint32(time.Now().Unix())
	if v <= lastValidity {
		v = lastValidity + 1
	}
	lastValidity = v
	return v
}

// inboxID returns the id of a user's INBOX.
func inboxID(ctx context.Context, q querier, userID int64) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM mailboxes WHERE user_id = ? AND name = 'INBOX'`, userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return id, err
}

// querier is what *sql.DB, *sql.Tx and *wtx have in common.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// validLogin accepts what a login of an account can be: valid UTF-8,
// printable, no spaces or control characters, at most 254 octets (RFC 5321
// §4.5.3.1.3). An address made without AddUser must be a mail address too
// (ValidateAddress).
func validLogin(a string) error {
	if a == "" || len(a) > maxAddressBytes || !utf8.ValidString(a) {
		return fmt.Errorf("store: invalid login %q", a)
	}
	for _, r := range a {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == '"' || r == '\\' || (r >= utf8.RuneSelf && !unicode.IsPrint(r)) {
			return fmt.Errorf("store: invalid login %q", a)
		}
	}
	return nil
}
