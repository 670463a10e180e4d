// Package store is inetkit's one durable store: a SQLite database (through
// modernc.org/sqlite, no cgo) holding users, mailboxes, messages, flags, UIDs
// and UIDVALIDITY, with the backends of the mail protocols on top of it:
// [Store.SMTPBackend], [Store.POP3Backend] and [Store.IMAPBackend]. Mail sent
// over SMTP is read over POP3 and IMAP, and a change made over one protocol is
// seen by the others at once (IMAP sessions get EXISTS, EXPUNGE and FETCH
// updates as they happen).
//
// Durability: every pooled connection runs in WAL mode with
// synchronous=FULL, so a write is on disk when its COMMIT returns; Deliver
// returns only then, and the SMTP server says 250 only after Deliver. Writes
// are serialised by the store (SQLite has one writer anyway), and deliveries
// that arrive together are committed together (group commit), so one fsync
// covers many messages.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/inetkit/inetkit/internal/events"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// FileName is the name of the database file in the data directory.
const FileName = "inetkit.db"

var (
	// ErrNotFound is returned when a user, mailbox or message does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned when creating a user or mailbox that exists.
	ErrExists = errors.New("store: already exists")
	// ErrAuthFailed is returned by Authenticate for a wrong address or
	// password.
	ErrAuthFailed = errors.New("store: authentication failed")
	// ErrLocked is returned by Open with Options.Exclusive when another
	// process has the store open that way.
	ErrLocked = errors.New("store: the data directory is in use by another server")
	// ErrClosed is returned by operations on a closed Store.
	ErrClosed = errors.New("store: closed")
	// ErrNoStore is returned by Open with Options.MustExist when the
	// directory holds no store. It matches fs.ErrNotExist too.
	ErrNoStore = fmt.Errorf("store: no store in the directory: %w", fs.ErrNotExist)
)

// A NotFoundError names the address, or the mailbox of an address, that an
// operation did not find. It matches ErrNotFound.
type NotFoundError struct {
	Address string
	Mailbox string // "" when the address itself was not found
}

func (e *NotFoundError) Error() string {
	if e.Mailbox == "" {
		return fmt.Sprintf("store: no such address %q", e.Address)
	}
	return fmt.Sprintf("store: %q has no mailbox %q", e.Address, e.Mailbox)
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Options configures a Store. A nil *Options is equivalent to the zero value.
type Options struct {
	// AnyLogin accepts every login with any password and makes the user
	// (the login is the mail address) with its mailboxes on first use; the
	// SMTP backend then accepts mail for any address. It is meant for
	// servers that listen on loopback only, as test mail servers do.
	// Without it only users added with AddUser exist.
	AnyLogin bool
	// MinFreeBytes refuses new mail (452 4.3.1) while the file system of
	// the data directory has less free space than this. Zero means no check.
	MinFreeBytes int64
	// Exclusive locks the data directory while the Store is open, so that a
	// second server on the same directory fails with ErrLocked: IMAP
	// sessions learn of changes made in their own process only. The
	// Exclusive Store also carries out the DeleteMessages and RemoveUser
	// of other processes' Stores, so that its sessions learn of those.
	// Tools (inetkit user, inetkit mail) leave it off. On systems other
	// than Unix the directory is not locked, and a tool's DeleteMessages
	// or RemoveUser is carried out by the tool, unannounced.
	Exclusive bool
	// PasswordCost is the bcrypt cost of new password hashes. Zero means
	// bcrypt.DefaultCost; tests lower it to bcrypt.MinCost (4) for speed.
	PasswordCost int
	// MustExist makes Open fail with ErrNoStore if the directory holds no
	// store, instead of making one: for commands that read or change what
	// a server made, where a mistyped directory must not become a new,
	// empty store.
	MustExist bool
	// Logger receives the store's errors. Nil means slog.Default().
	Logger *slog.Logger
	// Events, if not nil, receives an event after the commit of every
	// message stored (delivered or appended) and every article posted.
	Events *events.Hub
}

// A Store is an open database. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	dir    string
	opts   Options
	unlock func() // releases the data directory's lock
	log    *slog.Logger

	// wmu serialises write transactions (SQLite has one writer), so that
	// what runs after each commit runs in commit order.
	wmu sync.Mutex

	deliveries chan *delivery
	stop       chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once

	// wconn is the one connection writes use (under wmu), so its page cache
	// stays warm and its prepared statements are reused.
	wconn *sql.Conn
	stmts map[string]*sql.Stmt // by query text, prepared on wconn
	// bodies are the read statements of message bodies.
	bodies *bodyQueries
	// commits counts write transactions; the checkpointer copies the WAL
	// into the database when it has grown, away from the commit path.
	commits        atomic.Int64
	checkpointDone chan struct{}
	// requestsDone is closed when serveRequests has returned (at once
	// unless the store is Exclusive).
	requestsDone chan struct{}

	pop3mu     sync.Mutex
	pop3Locked map[int64]bool // user ids with a POP3 session (RFC 1939 §8 lock)

	authKey   [32]byte
	authCache sync.Map // address → authEntry, so a repeated login costs no bcrypt

	tmu     sync.Mutex
	changed chan struct{} // closed (and replaced) at every commit that adds or removes messages

	imap imapHub // the users and mailboxes of IMAPBackend's sessions, woken after commits
}

// Open opens the store in directory dir, creating it if needed (unless
// Options.MustExist), and applies the migrations it has not seen yet.
//
// The Store opened with Options.Exclusive (the server's) also carries out
// the changes that another process's Store asks of it: see
// [Store.DeleteMessages] and [Store.RemoveUser].
func Open(dir string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.MustExist {
		if _, err := os.Stat(filepath.Join(dir, FileName)); errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoStore
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	unlock := func() {}
	if opts.Exclusive {
		var err error
		if unlock, err = lockDir(dir); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName)))
	if err != nil {
		unlock()
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{
		db:         db,
		dir:        dir,
		opts:       *opts,
		log:        opts.Logger,
		deliveries: make(chan *delivery, 256),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
		unlock:     unlock,
		changed:    make(chan struct{}),
		pop3Locked: make(map[int64]bool),
	}
	rand.Read(s.authKey[:])
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.wconn, err = db.Conn(context.Background()); err != nil {
		db.Close()
		unlock()
		return nil, fmt.Errorf("store: %w", err)
	}
	s.stmts = make(map[string]*sql.Stmt)
	err = s.migrate(context.Background())
	if err == nil {
		s.bodies, err = prepareBodyQueries(context.Background(), db)
	}
	if err != nil {
		s.wconn.Close()
		db.Close()
		unlock()
		return nil, err
	}
	s.checkpointDone = make(chan struct{})
	s.requestsDone = make(chan struct{})
	go s.writer()
	go s.checkpointer()
	if opts.Exclusive {
		go s.serveRequests()
	} else {
		close(s.requestsDone)
	}
	return s, nil
}

// dsn sets the pragmas on every connection the pool opens, as _pragma
// parameters of the driver's DSN: a pragma run once with Exec would apply
// to one pooled connection only.
func dsn(path string) string {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"busy_timeout(10000)",
		"foreign_keys(ON)",
		// Checkpoints run in the background (Store.checkpointer), not in
		// the commit that crosses the threshold.
		"wal_autocheckpoint(0)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// migrationSteps are the parts of migrations that SQL cannot do well, by
// file name; each runs after the file's SQL, in its transaction.
var migrationSteps = map[string]func(s *Store, ctx context.Context, tx *wtx) error{
	"schema/002_body_chunks.sql":  (*Store).splitBodiesTx,
	"schema/008_message_meta.sql": (*Store).backfillMetaTx,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	names, err := fs.Glob(schemaFS, "schema/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := schemaFS.ReadFile(name)
		if err != nil {
			return err
		}
		err = s.write(ctx, func(tx *wtx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			if step := migrationSteps[name]; step != nil {
				if err := step(s, ctx, tx); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied) VALUES (?, ?)`, name, time.Now().Unix())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
	}
	return nil
}

// Dir returns the data directory of the store.
func (s *Store) Dir() string { return s.dir }

// DB returns the underlying database, for inspection (tests, integrity
// checks). Writing through it bypasses the notifications to IMAP sessions.
func (s *Store) DB() *sql.DB { return s.db }

// Close waits for deliveries in progress, then closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.writerDone
	<-s.checkpointDone
	<-s.requestsDone
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// A final checkpoint leaves no WAL to recover at the next Open.
	s.wconn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	for _, st := range s.stmts {
		st.Close()
	}
	s.wconn.Close()
	s.bodies.close()
	err := s.db.Close()
	s.unlock()
	return err
}

// checkpointInterval is how often the checkpointer looks at the WAL.
const checkpointInterval = 200 * time.Millisecond

// checkpointer copies committed pages from the WAL into the database while
// writes go on (a PASSIVE checkpoint never blocks them), so that commits do
// not pay for it and the WAL stays small.
func (s *Store) checkpointer() {
	defer close(s.checkpointDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	last := s.commits.Load()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if n := s.commits.Load(); n != last {
			last = n
			if _, err := s.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				s.log.Warn("store: checkpoint", "err", err)
			}
		}
	}
}

// stmt returns query prepared on the write connection, for use in tx; the
// caller holds the write lock.
func (s *Store) stmt(ctx context.Context, tx *wtx, query string) (*sql.Stmt, error) {
	st := s.stmts[query]
	if st == nil {
		var err error
		if st, err = tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		s.stmts[query] = st
	}
	return st, nil
}

// A wtx is a write transaction on the write connection (BEGIN IMMEDIATE
// ... COMMIT, run by hand so that statements prepared on the connection are
// reused), plus work to do after its commit.
type wtx struct {
	*sql.Conn
	after []func()
}

// After arranges for f to run after the transaction has committed, still
// under the store's write lock (so that notifications keep commit order).
func (tx *wtx) After(f func()) { tx.after = append(tx.after, f) }

// write runs f in a write transaction under the store's write lock and
// commits it; f's After functions then run, in order.
func (s *Store) write(ctx context.Context, f func(tx *wtx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writeLocked(ctx, f)
}

func (s *Store) writeLocked(ctx context.Context, f func(tx *wtx) error) error {
	_, err := s.wconn.ExecContext(ctx, "BEGIN IMMEDIATE")
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		// The write connection broke: take a fresh one, with fresh
		// statements.
		s.resetWriteConn()
		if s.wconn, err = s.db.Conn(ctx); err == nil {
			_, err = s.wconn.ExecContext(ctx, "BEGIN IMMEDIATE")
		}
	}
	if err != nil {
		return err
	}
	tx := &wtx{Conn: s.wconn}
	if err := f(tx); err != nil {
		s.rollback()
		return err
	}
	if _, err := s.wconn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		s.rollback()
		return err
	}
	s.commits.Add(1)
	for _, fn := range tx.after {
		fn()
	}
	s.notifyIMAP()
	return nil
}

// rollback ends a failed write transaction; if even that fails the
// connection is replaced, so that no transaction is left open on it.
func (s *Store) rollback() {
	if _, err := s.wconn.ExecContext(context.Background(), "ROLLBACK"); err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		s.log.Warn("store: rollback", "err", err)
		s.resetWriteConn()
		if c, err := s.db.Conn(context.Background()); err == nil {
			s.wconn = c
		}
	}
}

// resetWriteConn closes the write connection and its statements.
func (s *Store) resetWriteConn() {
	for _, st := range s.stmts {
		st.Close()
	}
	clear(s.stmts)
	s.wconn.Raw(func(any) error { return driver.ErrBadConn }) // never back to the pool
	s.wconn.Close()
}

// normAddress is the key of a user: the address in lower case, trimmed. An
// address that is not valid UTF-8 is left so (only trimmed), not made
// valid (strings.ToLower would make each bad octet U+FFFD), so that the
// checks that follow refuse it.
func normAddress(addr string) string {
	addr = strings.TrimSpace(addr)
	if !utf8.ValidString(addr) {
		return addr
	}
	return strings.ToLower(addr)
}

var (
	mu           sync.Mutex
	lastValidity uint32
)
