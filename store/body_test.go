package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/inetkit/inetkit/store"
)

// largeMultipart returns a multipart message of about size bytes: a text
// part and a base64 attachment, so that its sections span several of the
// pieces the store keeps bodies in.
func largeMultipart(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: carol@example.org\r\nSubject: large\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n")
	b.WriteString("--XX\r\nContent-Type: text/plain\r\n\r\n")
	for i := 0; b.Len() < size/2; i++ {
		fmt.Fprintf(&b, "line %d of the first part\r\n", i)
	}
	b.WriteString("--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for b.Len() < size {
		b.WriteString("aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8g\r\n")
	}
	b.WriteString("--XX--\r\n")
	return b.Bytes()
}

// The sections FETCH streams from the store (BODY[], BODY[TEXT] and their
// partial ranges) and those it extracts are what go-imap's
// ExtractBodySection gives, for small messages and for messages of many
// pieces.
func TestIMAPBackend_fetchSections(t *testing.T) {
	st, addr := newIMAPStore(t)
	msgs := [][]byte{[]byte(testMsg), []byte(multipartMsg), largeMultipart(300 << 10), bigMessage(200 << 10)}
	for _, msg := range msgs {
		if err := st.Deliver(context.Background(), []string{"alice@example.org"}, msg, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	c := imapDial(t, addr, "alice@example.org", "x", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	partial := func(off, n int64) *imap.SectionPartial { return &imap.SectionPartial{Offset: off, Size: n} }
	sections := []*imap.FetchItemBodySection{
		{},
		{Specifier: imap.PartSpecifierText},
		{Specifier: imap.PartSpecifierHeader},
		{Part: []int{1}},
		{Part: []int{2}, Specifier: imap.PartSpecifierMIME},
		{Partial: partial(0, 10)},
		{Partial: partial(65530, 100000)},
		{Partial: partial(1<<30, 10)},
		{Specifier: imap.PartSpecifierText, Partial: partial(70000, 3)},
		{Specifier: imap.PartSpecifierText, Partial: partial(5, 1<<30)},
	}
	for i, msg := range msgs {
		for _, sec := range sections {
			sec := *sec
			sec.Peek = true
			got, err := c.Fetch(imap.SeqSetNum(uint32(i+1)), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{&sec}}).Collect()
			if err != nil {
				t.Fatalf("message %d, FETCH %+v: %v", i+1, sec, err)
			}
			want := imapserver.ExtractBodySection(bytes.NewReader(msg), &sec)
			if len(got) != 1 || !bytes.Equal(got[0].FindBodySection(&sec), want) {
				t.Errorf("message %d (%d bytes), FETCH %+v: got %d bytes, want the %d of ExtractBodySection", i+1, len(msg), sec, len(got[0].FindBodySection(&sec)), len(want))
			}
		}
	}
}

// A body read a piece at a time whose message is deleted meanwhile ends in
// an error: the reader never returns bytes of another message, even one
// that was given the deleted message's ids.
func TestPOP3Backend_bodyDeletedWhileRead(t *testing.T) {
	st := openStore(t, "", &store.Options{AnyLogin: true})
	ctx := context.Background()
	first := bytes.Repeat([]byte("a"), 300<<10)
	if err := st.Deliver(ctx, []string{"alice@example.org"}, first, time.Now()); err != nil {
		t.Fatal(err)
	}
	sess := pop3Login(t, st, "alice@example.org", "x")
	rc, err := sess.Open(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`DELETE FROM messages`); err != nil {
		t.Fatal(err)
	}
	second := bytes.Repeat([]byte("b"), 300<<10)
	if err := st.Deliver(ctx, []string{"alice@example.org"}, second, time.Now()); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rc)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reading on after the message was deleted: %v; want an error wrapping ErrNotFound", err)
	}
	if bytes.Contains(rest, []byte("b")) {
		t.Errorf("the reader returned bytes of another message")
	}
}

// A store made before bodies were kept in pieces opens with its messages
// whole.
func TestOpen_migratesWholeBodies(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile("schema/001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	msgs := [][]byte{[]byte(testMsg), {}, largeMultipart(200 << 10)}
	stmts := []string{
		string(schema),
		`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES ('schema/001_init.sql', 0)`,
		`INSERT INTO users (id, address, created) VALUES (1, 'alice@example.org', 0)`,
		`INSERT INTO mailboxes (id, user_id, name, uid_validity, uid_next) VALUES (1, 1, 'INBOX', 1, 4)`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%.40s: %v", s, err)
		}
	}
	for i, msg := range msgs {
		if _, err := db.Exec(`INSERT INTO bodies (id, data) VALUES (?, ?)`, i+1, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO messages (mailbox_id, uid, body_id, size, internal_date) VALUES (1, ?, ?, ?, 0)`, i+1, i+1, len(msg)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	st := openStore(t, dir, nil)
	got, err := st.Messages(context.Background(), "alice@example.org", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d messages after the migration; want %d", len(got), len(msgs))
	}
	for i, m := range got {
		if !bytes.Equal(m.Body, msgs[i]) {
			t.Errorf("message %d: %d bytes after the migration, %q...; want %d", i+1, len(m.Body), m.Body[:min(len(m.Body), 20)], len(msgs[i]))
		}
	}
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM pragma_table_info('bodies') WHERE name = 'data'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("bodies.data still there after the migration (%d, %v)", n, err)
	}
}
