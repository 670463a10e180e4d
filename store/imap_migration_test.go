package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"
)

// schemaBefore makes, in dir, a database with the migrations before
// migration first applied, as an older inetkit left it.
func schemaBefore(t *testing.T, dir, first string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	names, err := fs.Glob(schemaFS, "schema/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if name >= first {
			break
		}
		body, _ := schemaFS.ReadFile(name)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, name); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// Opening a store made before 009: messages get mod-sequences below their
// mailbox's HIGHESTMODSEQ, subscriptions and keywords are copied, nothing is
// \Recent, and changes made afterwards by the old code paths get new
// mod-sequences.
func TestMigration009(t *testing.T) {
	dir := t.TempDir()
	db := schemaBefore(t, dir, "schema/009")
	stmts := []string{
		`INSERT INTO users (id, address, created) VALUES (1, 'alice@example.org', 0)`,
		`INSERT INTO mailboxes (id, user_id, name, uid_validity, uid_next, subscribed) VALUES (1, 1, 'INBOX', 7, 10, 1), (2, 1, 'Old', 8, 1, 0)`,
		`INSERT INTO bodies (id) VALUES (1)`,
		`INSERT INTO body_chunks (body_id, off, data) VALUES (1, 0, CAST('Subject: hi' || char(13) || char(10) || char(13) || char(10) || 'x' AS BLOB))`,
		`INSERT INTO messages (id, mailbox_id, uid, body_id, size, internal_date) VALUES (1, 1, 3, 1, 16, 0), (2, 1, 9, 1, 16, 0)`,
		`INSERT INTO flags VALUES (1, '$Second'), (2, '$First'), (2, '\Seen')`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%.60s: %v", s, err)
		}
	}
	db.Close()

	st, err := Open(dir, &Options{PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.SetPassword(ctx, "alice@example.org", "secret"); err != nil {
		t.Fatal(err)
	}
	u, err := st.IMAPBackend().Login(ctx, "alice@example.org", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	stat, err := u.Status(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if stat.HighestModSeq != 9 || stat.Recent != 0 || stat.Messages != 2 || stat.Unseen != 1 || stat.UIDValidity != 7 {
		t.Errorf("INBOX after the migration: %+v; want HIGHESTMODSEQ 9, nothing recent", stat)
	}
	if s, _ := u.Status(ctx, "Old"); s.HighestModSeq != 1 {
		t.Errorf("empty mailbox's HIGHESTMODSEQ = %d; want 1", s.HighestModSeq)
	}
	if subs, _ := u.Subscriptions(ctx); !slices.Equal(subs, []string{"INBOX"}) {
		t.Errorf("Subscriptions = %q; want [INBOX]", subs)
	}
	mb, err := u.Open(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	ch, err := mb.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Messages) != 2 || ch.Messages[0].ModSeq != 3 || ch.Messages[1].ModSeq != 9 || ch.Messages[0].Recent {
		t.Errorf("Poll after the migration: %+v", ch.Messages)
	}
	// Keywords in the order of the messages' UIDs, the mailbox's best guess.
	if !slices.Equal(ch.Keywords, []string{"$Second", "$First"}) {
		t.Errorf("Keywords = %q", ch.Keywords)
	}
	// The bodies stored before get their SortData at the first SORT.
	sd, err := mb.SortData(ctx, []uint32{3, 9})
	if err != nil || len(sd) != 2 || sd[0].BaseSubject != "hi" || sd[1].UID != 9 {
		t.Errorf("SortData of migrated messages = %+v, %v", sd, err)
	}
	var subj sql.NullString
	if err := st.db.QueryRow(`SELECT sort_subject FROM bodies WHERE id = 1`).Scan(&subj); err != nil || subj.String != "hi" {
		t.Errorf("sort_subject after the first SortData = %v, %v; want it kept", subj, err)
	}
	// The old code path (a delivery) gets a mod-sequence from the triggers.
	if err := st.Deliver(ctx, []string{"alice@example.org"}, []byte("Subject: new\r\n\r\nx\r\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	ch, err = mb.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Messages) != 1 || ch.Messages[0].UID != 10 || ch.Messages[0].ModSeq != 10 || !ch.Messages[0].Recent || ch.HighestModSeq != 10 {
		t.Errorf("Poll after a delivery: %+v", ch)
	}
}
