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

// AddUser adds a user with a password (stored as a bcrypt hash), or returns
// ErrExists. The address is the login and the name of the mail address
// delivered to; it is compared without regard to case.
func (s *Store) AddUser(ctx context.Context, address, password string) error {
	address = normAddress(address)
	if err := validAddress(address); err != nil {
		return err
	}
	if password == "" {
		return errors.New("store: empty password")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.passwordCost())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return s.write(ctx, func(tx *wtx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE address = ?`, address).Scan(&id)
		switch {
		case err == nil:
			return ErrExists
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = createUser(ctx, tx, address, string(hash))
		return err
	})
}

// SetPassword changes the password of an existing user.
func (s *Store) SetPassword(ctx context.Context, address, password string) error {
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
			return ErrNotFound
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
// Options.AnyLogin every login succeeds and an unknown user is made;
// otherwise the address must exist and the password match, or
// ErrAuthFailed is returned.
func (s *Store) Authenticate(ctx context.Context, address, password string) (int64, error) {
	address = normAddress(address)
	id, hash, err := s.lookupUser(ctx, address)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if !s.opts.AnyLogin || validAddress(address) != nil {
			s.failSlowly(password)
			return 0, ErrAuthFailed
		}
		return s.ensureUser(ctx, address)
	case err != nil:
		return 0, err
	}
	if s.opts.AnyLogin && !hash.Valid {
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
	if !s.opts.AnyLogin || validAddress(address) != nil {
		return 0, ErrAuthFailed
	}
	id, hash, err := s.lookupUser(ctx, address)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return s.ensureUser(ctx, address)
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
	err = s.db.QueryRowContext(ctx, `SELECT id, password_hash FROM users WHERE address = ?`, address).Scan(&id, &hash)
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
		return s.ensureUser(ctx, address)
	}
	return id, err
}

// ensureUser returns the id of the user with address, making the user and
// its mailboxes if needed.
func (s *Store) ensureUser(ctx context.Context, address string) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		id, err = ensureUserTx(ctx, tx, address)
		return err
	})
	return id, err
}

func ensureUserTx(ctx context.Context, tx *wtx, address string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE address = ?`, address).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return createUser(ctx, tx, address, "")
	}
	return id, err
}

func createUser(ctx context.Context, tx *wtx, address, hash string) (int64, error) {
	var h any
	if hash != "" {
		h = hash
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO users (address, password_hash, created) VALUES (?, ?, ?)`, address, h, time.Now().Unix())
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

// validAddress accepts what a mailbox name can safely be: printable, no
// spaces or control characters, at most 254 octets (RFC 5321 §4.5.3.1.3).
func validAddress(a string) error {
	if a == "" || len(a) > 254 {
		return fmt.Errorf("store: invalid address %q", a)
	}
	for _, r := range a {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == '"' || r == '\\' {
			return fmt.Errorf("store: invalid address %q", a)
		}
	}
	return nil
}
