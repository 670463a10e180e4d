package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/store"
)

func openStore(t testing.TB, dir string, opts *store.Options) *store.Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if opts == nil {
		opts = &store.Options{}
	}
	opts.PasswordCost = 4 // bcrypt.MinCost: fast tests
	st, err := store.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// HARDENING X1b: the durability pragmas hold on every pooled connection.
func TestOpen_pragmasOnEveryConnection(t *testing.T) {
	st := openStore(t, "", nil)
	ctx := context.Background()
	db := st.DB()
	db.SetMaxIdleConns(4)
	var conns []interface{ Close() error }
	for i := 0; i < 4; i++ {
		c, err := db.Conn(ctx) // four distinct connections held at once
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var mode string
		var sync, busy, fk int
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
		c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
		c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
		if mode != "wal" || sync != 2 || busy < 5000 || fk != 1 {
			t.Errorf("connection %d: journal_mode=%s synchronous=%d busy_timeout=%d foreign_keys=%d; want wal 2 >=5000 1", i, mode, sync, busy, fk)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestOpen_reopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(ctx, "Alice@Example.org", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := st.Deliver(ctx, []string{"alice@example.org"}, []byte("Subject: x\n\nhello\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = openStore(t, dir, nil)
	sess := pop3Login(t, st, "alice@example.org", "secret")
	defer sess.Close()
	infos, _ := sess.List(ctx)
	if len(infos) != 1 || infos[0].Size != int64(len("Subject: x\r\n\r\nhello\r\n")) {
		t.Fatalf("after reopen: List() = %+v; want one message of the CRLF size", infos)
	}
	var ic string
	st.DB().QueryRow("PRAGMA integrity_check").Scan(&ic)
	if ic != "ok" {
		t.Errorf("integrity_check = %q", ic)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", nil)
	if err := st.AddUser(ctx, "bob@example.org", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(ctx, "BOB@example.org", "pw2"); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddUser twice = %v; want ErrExists", err)
	}
	if _, err := st.Authenticate(ctx, "bob@EXAMPLE.org", "pw"); err != nil {
		t.Errorf("right password: %v", err)
	}
	for _, c := range [][2]string{{"bob@example.org", "bad"}, {"nobody@example.org", "pw"}, {"", ""}} {
		if _, err := st.Authenticate(ctx, c[0], c[1]); !errors.Is(err, store.ErrAuthFailed) {
			t.Errorf("Authenticate(%q, %q) = %v; want ErrAuthFailed", c[0], c[1], err)
		}
	}
	if ok, _ := st.HasAccounts(ctx); !ok {
		t.Error("HasAccounts = false after AddUser")
	}

	any := openStore(t, "", &store.Options{AnyLogin: true})
	if _, err := any.Authenticate(ctx, "new@example.org", "whatever"); err != nil {
		t.Errorf("AnyLogin: %v", err)
	}
	if users, _ := any.Users(ctx); len(users) != 1 || users[0] != "new@example.org" {
		t.Errorf("AnyLogin made users %v", users)
	}
	if ok, _ := any.HasAccounts(ctx); ok {
		t.Error("HasAccounts = true with only AnyLogin users")
	}
}

func TestDeliver_unknownRecipientStoresNothing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", nil)
	st.AddUser(ctx, "a@x.org", "pw")
	err := st.Deliver(ctx, []string{"a@x.org", "ghost@x.org"}, []byte("m\r\n"), time.Now())
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Deliver = %v; want ErrNotFound", err)
	}
	var n int
	st.DB().QueryRow("SELECT count(*) FROM messages").Scan(&n)
	if n != 0 {
		t.Errorf("%d messages stored after a failed delivery", n)
	}
}

// Concurrent deliveries are committed in batches, each delivery acknowledged
// only once its batch is durable; a bad delivery in a batch fails alone.
func TestDeliver_concurrent(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", nil)
	st.AddUser(ctx, "a@x.org", "pw")
	var wg sync.WaitGroup
	errs := make([]error, 100)
	for i := range errs {
		wg.Go(func() {
			rcpt := "a@x.org"
			if i%10 == 0 {
				rcpt = "ghost@x.org"
			}
			errs[i] = st.Deliver(ctx, []string{rcpt}, fmt.Appendf(nil, "Subject: %d\r\n\r\nbody\r\n", i), time.Now())
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%10 == 0) != (err != nil) {
			t.Errorf("delivery %d: err = %v", i, err)
		}
	}
	sess := pop3Login(t, st, "a@x.org", "pw")
	defer sess.Close()
	infos, _ := sess.List(ctx)
	if len(infos) != 90 {
		t.Errorf("%d messages stored; want 90", len(infos))
	}
	seen := map[string]bool{}
	for _, in := range infos {
		if seen[in.UID] {
			t.Errorf("duplicate UIDL %q", in.UID)
		}
		seen[in.UID] = true
	}
}

func TestDeliver_multipleRecipientsShareOneBody(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", &store.Options{AnyLogin: true})
	if err := st.Deliver(ctx, []string{"a@x.org", "b@x.org", "A@X.org"}, []byte("hi\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	var msgs, bodies int
	st.DB().QueryRow("SELECT count(*) FROM messages").Scan(&msgs)
	st.DB().QueryRow("SELECT count(*) FROM bodies").Scan(&bodies)
	if msgs != 2 || bodies != 1 {
		t.Errorf("messages=%d bodies=%d; want 2 and 1", msgs, bodies)
	}
	// Deleting both copies deletes the body.
	for _, u := range []string{"a@x.org", "b@x.org"} {
		sess := pop3Login(t, st, u, "")
		if err := sess.Commit(ctx, []int{1}); err != nil {
			t.Fatal(err)
		}
		sess.Close()
	}
	st.DB().QueryRow("SELECT count(*) FROM bodies").Scan(&bodies)
	if bodies != 0 {
		t.Errorf("%d bodies left after deleting every message", bodies)
	}
}

func TestChanged_wakesOnDelivery(t *testing.T) {
	st := openStore(t, "", &store.Options{AnyLogin: true})
	ch := st.Changed()
	select {
	case <-ch:
		t.Fatal("Changed closed before any delivery")
	default:
	}
	if err := st.Deliver(context.Background(), []string{"a@x.org"}, []byte("x\r\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Changed not closed by a delivery")
	}
}

func TestNormalizeCRLF(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		"a\r\nb\r\n":      "a\r\nb\r\n",
		"a\nb\n":          "a\r\nb\r\n",
		"a\rb\r":          "a\r\nb\r\n",
		"\n.\n":           "\r\n.\r\n",
		"a\r\r\nb":        "a\r\n\r\nb",
		"no newline":      "no newline",
		"\r\n\n\r":        "\r\n\r\n\r\n",
		"x\x00y\n":        "x\x00y\r\n",
		"mixed\r\nlf\nok": "mixed\r\nlf\r\nok",
	} {
		if got := string(store.NormalizeCRLF([]byte(in))); got != want {
			t.Errorf("NormalizeCRLF(%q) = %q; want %q", in, got, want)
		}
	}
}

func FuzzNormalizeCRLF(f *testing.F) {
	for _, s := range []string{"a\nb", "\r\r\n", "\n.\n", "x\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := store.NormalizeCRLF(b)
		for i, c := range out {
			if c == '\n' && (i == 0 || out[i-1] != '\r') || c == '\r' && (i+1 == len(out) || out[i+1] != '\n') {
				t.Fatalf("bare line ending at %d in %q", i, out)
			}
		}
		if strings.ReplaceAll(strings.ReplaceAll(string(out), "\r", ""), "\n", "") != strings.ReplaceAll(strings.ReplaceAll(string(b), "\r", ""), "\n", "") {
			t.Fatalf("content changed: %q → %q", b, out)
		}
		if string(store.NormalizeCRLF(out)) != string(out) {
			t.Fatal("not idempotent")
		}
	})
}

func pop3Login(t testing.TB, st *store.Store, user, pass string) pop3.Session {
	t.Helper()
	sess, err := st.POP3Backend().Login(context.Background(), user, pass)
	if err != nil {
		t.Fatalf("POP3 Login(%q): %v", user, err)
	}
	return sess
}

func TestPOP3Backend(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", nil)
	st.AddUser(ctx, "a@x.org", "pw")
	for i := 1; i <= 3; i++ {
		st.Deliver(ctx, []string{"a@x.org"}, fmt.Appendf(nil, "Subject: %d\n\n.line\n", i), time.Now())
	}
	be := st.POP3Backend()
	if _, err := be.Login(ctx, "a@x.org", "bad"); !errors.Is(err, pop3.ErrAuthFailed) {
		t.Errorf("bad password: %v; want pop3.ErrAuthFailed", err)
	}
	sess := pop3Login(t, st, "a@x.org", "pw")
	if _, err := be.Login(ctx, "a@x.org", "pw"); !errors.Is(err, pop3.ErrInUse) {
		t.Errorf("second session: %v; want pop3.ErrInUse", err)
	}
	infos, _ := sess.List(ctx)
	for i, in := range infos {
		r, err := sess.Open(ctx, i+1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if int64(len(b)) != in.Size {
			t.Errorf("message %d: %d bytes, List says %d", i+1, len(b), in.Size)
		}
	}
	if _, err := sess.Open(ctx, 4); err == nil {
		t.Error("Open(4) of 3 messages succeeded")
	}
	sess.Close() // no Commit: nothing deleted
	sess = pop3Login(t, st, "a@x.org", "pw")
	if err := sess.Commit(ctx, []int{1, 3}); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	sess = pop3Login(t, st, "a@x.org", "pw")
	defer sess.Close()
	after, _ := sess.List(ctx)
	if len(after) != 1 || after[0].UID != infos[1].UID {
		t.Errorf("after deleting 1 and 3: %+v; want only %q", after, infos[1].UID)
	}
}

func TestSMTPBackend(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", nil)
	st.AddUser(ctx, "a@x.org", "pw")
	be := st.SMTPBackend()
	env := &smtp.Envelope{From: "s@y.org", To: []string{"a@x.org"}}
	if err := be.CheckRecipient(ctx, env, "a@x.org"); err != nil {
		t.Errorf("known recipient: %v", err)
	}
	var se *smtp.Error
	if err := be.CheckRecipient(ctx, env, "b@x.org"); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("unknown recipient: %v; want 550", err)
	}
	if err := be.CheckRecipient(ctx, env, "a b@x.org"); !errors.As(err, &se) || se.Code/100 != 5 {
		t.Errorf("invalid recipient: %v; want 5xx", err)
	}
	if err := be.Login(ctx, "a@x.org", "bad"); !errors.Is(err, smtp.ErrAuthFailed) {
		t.Errorf("bad login: %v", err)
	}
	if err := be.Deliver(ctx, env, strings.NewReader("Subject: t\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	sess := pop3Login(t, st, "a@x.org", "pw")
	defer sess.Close()
	if infos, _ := sess.List(ctx); len(infos) != 1 {
		t.Errorf("%d messages after Deliver; want 1", len(infos))
	}

	full := openStore(t, "", &store.Options{AnyLogin: true, MinFreeBytes: 1 << 62})
	if err := full.SMTPBackend().CheckRecipient(ctx, env, "a@x.org"); !errors.As(err, &se) || se.Code != 452 {
		t.Errorf("no free space: %v; want 452", err)
	}
}

// The store's POP3 backend passes the same conformance suite as the
// in-memory one.
func TestPOP3Backend_conformance(t *testing.T) {
	pop3test.TestBackend(t, func(t *testing.T, user, pass string, msgs ...string) pop3.Backend {
		ctx := context.Background()
		st := openStore(t, "", nil)
		if err := st.AddUser(ctx, user, pass); err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := st.Deliver(ctx, []string{user}, []byte(m), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		return st.POP3Backend()
	})
}

// An Exclusive store refuses a second Exclusive Open of its directory until
// it is closed; a plain Open (inetkit user add) still works.
func TestOpen_exclusive(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, &store.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(dir, &store.Options{Exclusive: true}); !errors.Is(err, store.ErrLocked) {
		t.Errorf("second exclusive Open = %v; want ErrLocked", err)
	}
	plain, err := store.Open(dir, nil)
	if err != nil {
		t.Fatalf("plain Open beside an exclusive one: %v", err)
	}
	plain.Close()
	st.Close()
	again, err := store.Open(dir, &store.Options{Exclusive: true})
	if err != nil {
		t.Fatalf("exclusive Open after Close: %v", err)
	}
	again.Close()
}

// APOP: only with AnyLogin, and only for the addresses that need no
// password; the greeting offers it (the backend is a BackendAPOP) only then.
func TestPOP3APOP(t *testing.T) {
	ctx := context.Background()
	const digest = "c4c9334bac560ecc979e58001b3e22fb"
	if _, ok := openStore(t, "", nil).POP3Backend().(pop3.BackendAPOP); ok {
		t.Error("without AnyLogin the POP3 backend offers APOP")
	}
	st := openStore(t, "", &store.Options{AnyLogin: true})
	if err := st.AddUser(ctx, "account@x.org", "pw"); err != nil {
		t.Fatal(err)
	}
	st.Deliver(ctx, []string{"new@x.org"}, []byte("Subject: hi\n\nbody\n"), time.Now())
	be, ok := st.POP3Backend().(pop3.BackendAPOP)
	if !ok {
		t.Fatal("with AnyLogin the POP3 backend does not offer APOP")
	}
	sess, err := be.LoginAPOP(ctx, "new@x.org", "<1.2@h>", digest)
	if err != nil {
		t.Fatalf("APOP for a passwordless address: %v", err)
	}
	if infos, err := sess.List(ctx); err != nil || len(infos) != 1 {
		t.Errorf("List after APOP = %v, %v; want the one message delivered", infos, err)
	}
	sess.Close()
	if sess, err := be.LoginAPOP(ctx, "unknown@x.org", "<1.2@h>", digest); err != nil {
		t.Errorf("APOP for a new address: %v", err)
	} else {
		sess.Close()
	}
	if _, err := be.LoginAPOP(ctx, "account@x.org", "<1.2@h>", digest); !errors.Is(err, pop3.ErrAuthFailed) {
		t.Errorf("APOP for an account with a password: %v; want pop3.ErrAuthFailed", err)
	}
	if _, err := be.LoginAPOP(ctx, "not an address", "<1.2@h>", digest); !errors.Is(err, pop3.ErrAuthFailed) {
		t.Errorf("APOP for an invalid address: %v; want pop3.ErrAuthFailed", err)
	}
}
