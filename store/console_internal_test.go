package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// oldSchema makes, in dir, a database with the migrations before 008
// applied, as an older inetkit left it.
func oldSchema(t *testing.T, dir string) *sql.DB {
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
		if name >= "schema/008" {
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

// Opening a store made before 008: the meta of its bodies is parsed, the
// counts made, and ids, flags and articles kept.
func TestMigration008(t *testing.T) {
	dir := t.TempDir()
	db := oldSchema(t, dir)
	bodies := []string{
		"From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>\r\nSubject: Hi\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\nfirst\r\n",
		"From: \xff\xfe\x00 <<<\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n\x00\x01",    // parses badly
		"Subject: " + strings.Repeat("x", 100<<10) + "\r\n\r\n" + strings.Repeat("big body ", 20<<10), // several pieces
	}
	stmts := []string{
		`INSERT INTO users (id, address, created) VALUES (1, 'alice@example.org', 0), (2, 'bob@example.org', 0)`,
		`INSERT INTO mailboxes (id, user_id, name, uid_validity, uid_next) VALUES (1, 1, 'INBOX', 1, 10), (2, 1, 'Sent', 1, 10), (3, 2, 'INBOX', 1, 10)`,
	}
	for i, b := range bodies {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO bodies (id) VALUES (%d)`, i+1))
		for off := 0; off < len(b); off += bodyChunkBytes {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO body_chunks (body_id, off, data) VALUES (%d, %d, X'%x')`, i+1, off, b[off:min(off+bodyChunkBytes, len(b))]))
		}
	}
	stmts = append(stmts,
		// Ids with holes, and a body shared by two messages (a COPY).
		fmt.Sprintf(`INSERT INTO messages (id, mailbox_id, uid, body_id, size, internal_date) VALUES
			(3, 1, 1, 1, %d, 1000000000000000000), (7, 1, 2, 2, %d, 0), (8, 2, 1, 1, %d, 0), (9, 3, 1, 3, %d, 0)`,
			len(bodies[0]), len(bodies[1]), len(bodies[0]), len(bodies[2])),
		`INSERT INTO flags VALUES (3, '\Seen'), (3, '\Flagged'), (8, '\Seen'), (9, 'custom')`,
		`INSERT INTO bodies (id) VALUES (4)`,
		`INSERT INTO body_chunks (body_id, off, data) VALUES (4, 0, 'article body')`,
		`INSERT INTO news_articles (id, message_id, header, body_id, bytes, lines, subject, sender, date, refs, xref, arrived)
			VALUES (5, '<a@x>', 'Path: host!x'||char(13)||char(10), 4, 30, 1, 'S', 'F', 'D', '', 'inetkit.test:1', 0)`,
		`INSERT INTO news_numbers VALUES (1, 1, 5)`,
	)
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
	page, err := st.ListMessages(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range page.Messages {
		got = append(got, fmt.Sprintf("%d %s/%s %q %v unread=%v flags=%v", m.ID, m.Address, m.Mailbox, m.Subject, m.From, m.Unread, m.Flags))
	}
	want := []string{
		`9 bob@example.org/INBOX "` + strings.Repeat("x", 100<<10) + `" [] unread=true flags=[custom]`,
		`8 alice@example.org/Sent "Hi" [{Zoë zoe@example.org}] unread=false flags=[\Seen]`,
		`7 alice@example.org/INBOX "" [{ÿþ  <<< }] unread=true flags=[]`,
		`3 alice@example.org/INBOX "Hi" [{Zoë zoe@example.org}] unread=false flags=[\Flagged \Seen]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages after the migration: (-want +got)\n%s", diff)
	}
	if page.Total != 4 || page.Unread != 2 {
		t.Errorf("Total, Unread = %d, %d; want 4, 2", page.Total, page.Unread)
	}
	if m := page.Messages[3]; !m.Date.Equal(time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)) || m.Received.Unix() != 1e9 || m.Snippet != "first" {
		t.Errorf("message 3: Date %v, Received %v, Snippet %q", m.Date, m.Received, m.Snippet)
	}
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM bodies WHERE search IS NOT NULL`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d bodies with meta (%v); want 3: the article's body has none", n, err)
	}
	// Ids are not given again, also after the newest is deleted.
	if k, err := st.DeleteMessageIDs(ctx, []int64{9}); k != 1 || err != nil {
		t.Fatalf("DeleteMessageIDs(9) = %d, %v", k, err)
	}
	if err := st.Deliver(ctx, []string{"bob@example.org"}, []byte("Subject: new\r\n\r\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if page, err := st.ListMessages(ctx, &MessageQuery{Address: "bob@example.org"}); err != nil || len(page.Messages) != 1 || page.Messages[0].ID != 10 {
		t.Errorf("bob's messages after a delivery = %+v, %v; want one of id 10", page, err)
	}
	// The article kept its number and count, and the triggers work.
	arts, err := st.ListArticles(ctx, &ArticleQuery{Group: DefaultNewsGroup})
	if err != nil || arts.Total != 1 || len(arts.Articles) != 1 || arts.Articles[0].ID != 5 || arts.Articles[0].Number != 1 {
		t.Errorf("ListArticles = %+v, %v; want article 5 numbered 1", arts, err)
	}
	if k, err := st.DeleteArticleIDs(ctx, []int64{5}); k != 1 || err != nil {
		t.Errorf("DeleteArticleIDs = %d, %v", k, err)
	}
	var count, bodiesLeft int
	st.DB().QueryRow(`SELECT count FROM news_groups WHERE name = ?`, DefaultNewsGroup).Scan(&count)
	st.DB().QueryRow(`SELECT count(*) FROM bodies WHERE id = 4`).Scan(&bodiesLeft)
	if count != 0 || bodiesLeft != 0 {
		t.Errorf("after deleting the article: group count %d, its body left %d; want 0, 0", count, bodiesLeft)
	}
	checkIntegrity(t, st.DB())
}

// checkIntegrity checks the database's structure, its foreign keys and the
// counts the triggers keep.
func checkIntegrity(t *testing.T, db *sql.DB) {
	t.Helper()
	var ic string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ic); err != nil || ic != "ok" {
		t.Errorf("integrity_check = %q, %v", ic, err)
	}
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("foreign_key_check reports violations")
	}
	rows.Close()
	var bad int
	err = db.QueryRow(`SELECT count(*) FROM mailboxes mb WHERE total != (SELECT count(*) FROM messages WHERE mailbox_id = mb.id)
		OR seen != (SELECT count(*) FROM messages m WHERE m.mailbox_id = mb.id AND ` + unseenSQL[len("NOT "):] + `)`).Scan(&bad)
	if err != nil || bad != 0 {
		t.Errorf("%d mailboxes with wrong counts (%v)", bad, err)
	}
	err = db.QueryRow(`SELECT count(*) FROM messages m JOIN bodies b ON b.id = m.body_id WHERE b.search IS NULL`).Scan(&bad)
	if err != nil || bad != 0 {
		t.Errorf("%d messages without meta (%v)", bad, err)
	}
}

// Meta rows lost (or never made) are made again by the back-fill step.
func TestBackfillMeta(t *testing.T) {
	st, err := Open(t.TempDir(), &Options{AnyLogin: true, PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, s := range []string{"Subject: one\r\n\r\n", "Subject: two\r\n\r\n"} {
		if err := st.Deliver(ctx, []string{"a@example.org"}, []byte(s), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.DB().Exec(`UPDATE bodies SET search = NULL`); err != nil {
		t.Fatal(err)
	}
	if err := st.write(ctx, func(tx *wtx) error { return st.backfillMetaTx(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
	page, err := st.ListMessages(ctx, &MessageQuery{Search: "subject:o"})
	if err != nil || len(page.Messages) != 2 || page.Messages[0].Subject != "two" || page.Messages[1].Subject != "one" {
		t.Errorf("ListMessages after the back-fill = %+v, %v", page, err)
	}
}

const benchMessages = 100_000

// benchMessage is the i-th message of the benchmark store: about 1 KB of
// text, From and Subject varying.
func benchMessage(i int) []byte {
	return fmt.Appendf(nil, "From: Sender %d <sender%d@example.org>\r\nTo: alice@example.org\r\nSubject: Report number %d about topic %d\r\n"+
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <%d@bench.example.org>\r\n\r\n%s\r\nToken%d.\r\n",
		i%1000, i%1000, i, i%97, i, strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 16), i)
}

// fillBenchStore makes a store of 100,000 messages in dir, through the
// same transaction functions as Deliver, many messages per transaction: 50
// users, alice@example.org holding half of them in her INBOX, with \Seen
// on every third.
func fillBenchStore(st *Store) error {
	ctx := context.Background()
	const batch = 2000
	for start := 0; start < benchMessages; start += batch {
		msgs := make([][]byte, batch)
		metas := make([]*messageMeta, batch)
		for i := range msgs {
			msgs[i] = benchMessage(start + i)
			metas[i] = parseMessageMeta(msgs[i])
		}
		err := st.write(ctx, func(tx *wtx) error {
			for i, msg := range msgs {
				n := start + i
				rcpt := "alice@example.org"
				if n%2 == 1 {
					rcpt = fmt.Sprintf("user%d@example.org", n%49)
				}
				if err := st.deliverTx(ctx, tx, []string{rcpt}, msg, metas[i], time.Unix(1136214245+int64(n), 0)); err != nil {
					return err
				}
				if n%3 == 0 {
					if _, err := tx.ExecContext(ctx, `INSERT INTO flags (message_id, flag) VALUES (last_insert_rowid(), '\Seen')`); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkListMessages_100k lists pages of 50 messages, newest first,
// with Total and Unread, of a store of 100,000 messages (alice's INBOX
// holds 50,000): one op is one page. The search/ ones search the whole
// store (or alice's mailboxes), and read the meta of every message.
func BenchmarkListMessages_100k(b *testing.B) {
	st, err := Open(b.TempDir(), &Options{AnyLogin: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	if err := fillBenchStore(st); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled in %v", time.Since(start))
	ctx := context.Background()
	run := func(b *testing.B, q MessageQuery, next func(q *MessageQuery, p *MessagePage)) {
		for b.Loop() {
			p, err := st.ListMessages(ctx, &q)
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Messages) == 0 && q.Search == "" {
				b.Fatalf("empty page for %+v", q)
			}
			if next != nil {
				next(&q, p)
			}
		}
	}
	// Page after page by BeforeID, starting over at the end.
	keyset := func(q *MessageQuery, p *MessagePage) {
		if len(p.Messages) < 50 {
			q.BeforeID = 0
		} else {
			q.BeforeID = p.Messages[len(p.Messages)-1].ID
		}
	}
	b.Run("all/first", func(b *testing.B) { run(b, MessageQuery{}, nil) })
	b.Run("all/keyset", func(b *testing.B) { run(b, MessageQuery{}, keyset) })
	b.Run("all/offset10000", func(b *testing.B) { run(b, MessageQuery{Offset: 10000}, nil) })
	b.Run("inbox/first", func(b *testing.B) { run(b, MessageQuery{Address: "alice@example.org", Mailbox: "INBOX"}, nil) })
	b.Run("inbox/keyset", func(b *testing.B) { run(b, MessageQuery{Address: "alice@example.org", Mailbox: "INBOX"}, keyset) })
	b.Run("inbox/deep", func(b *testing.B) {
		run(b, MessageQuery{Address: "alice@example.org", Mailbox: "INBOX", BeforeID: 200}, nil)
	})
	b.Run("inbox/offset10000", func(b *testing.B) {
		run(b, MessageQuery{Address: "alice@example.org", Mailbox: "INBOX", Offset: 10000}, nil)
	})
	b.Run("user/keyset", func(b *testing.B) { run(b, MessageQuery{Address: "alice@example.org"}, keyset) })
	b.Run("every-inbox/keyset", func(b *testing.B) { run(b, MessageQuery{Mailbox: "INBOX"}, keyset) })
	b.Run("small-user/first", func(b *testing.B) { run(b, MessageQuery{Address: "user7@example.org"}, nil) })
	for _, tc := range []struct{ name, search, address string }{
		{"text-rare", "token4242.", ""},
		{"text-none", "nowhere", ""},
		{"text-common", "lorem", ""},
		{"from", "from:sender42@", ""},
		{"subject+unread", "subject:\"topic 7\" is:unread", ""},
		{"user-text", "token4242.", "alice@example.org"},
		{"date", "after:2006-01-01 -before:2005-01-01", ""},
	} {
		b.Run("search/"+tc.name, func(b *testing.B) {
			run(b, MessageQuery{Search: tc.search, Address: tc.address}, nil)
		})
	}
}
