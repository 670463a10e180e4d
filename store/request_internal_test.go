//go:build unix

package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// requester opens a store in a temporary directory, with alice's INBOX
// holding one message, and holds the directory's lock as a server would,
// but serves no requests; unlock releases it.
func requester(t *testing.T) (s *Store, unlock func()) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, &Options{AnyLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Deliver(context.Background(), []string{"alice@example.org"}, []byte("Subject: x\r\n\r\nx\r\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	unlock, err = lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	return s, unlock
}

func countRows(t *testing.T, s *Store, query string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A requester whose context ends before the server answers withdraws its
// request: nothing is deleted, later either.
func TestAsk_withdrawnOnTimeout(t *testing.T) {
	s, _ := requester(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*requestPollInterval)
	defer cancel()
	n, err := s.DeleteMessages(ctx, MessageFilter{Address: "alice@example.org"})
	if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DeleteMessages with no server answering = %d, %v; want 0, a deadline error", n, err)
	}
	if r := countRows(t, s, `SELECT count(*) FROM requests`); r != 0 {
		t.Errorf("%d requests left; want the request withdrawn", r)
	}
	if m := countRows(t, s, `SELECT count(*) FROM messages`); m != 1 {
		t.Errorf("%d messages; want 1 (nothing deleted)", m)
	}
}

// A requester whose server stops before answering carries the request out
// itself.
func TestAsk_serverStops(t *testing.T) {
	s, unlock := requester(t)
	time.AfterFunc(3*requestPollInterval, unlock)
	n, err := s.DeleteMessages(context.Background(), MessageFilter{Address: "alice@example.org"})
	if n != 1 || err != nil {
		t.Errorf("DeleteMessages after the server stopped = %d, %v; want 1, nil", n, err)
	}
	if r := countRows(t, s, `SELECT count(*) FROM requests`); r != 0 {
		t.Errorf("%d requests left; want 0", r)
	}
}

// A server drops a request older than requestMaxAge (its requester gave
// up long ago) instead of carrying it out, and carries out a fresh one.
func TestServeQueued_dropsOld(t *testing.T) {
	s, _ := requester(t)
	ctx := context.Background()
	old := time.Now().Add(-2 * requestMaxAge).Unix()
	if _, err := s.db.Exec(`INSERT INTO requests (op, args, created) VALUES (?, ?, ?)`, opDelete, `{"op":"delete","filter":{}}`, old); err != nil {
		t.Fatal(err)
	}
	if err := s.serveQueued(ctx); err != nil {
		t.Fatal(err)
	}
	if r, m := countRows(t, s, `SELECT count(*) FROM requests`), countRows(t, s, `SELECT count(*) FROM messages`); r != 0 || m != 1 {
		t.Errorf("after an old request: %d requests, %d messages; want 0 and 1", r, m)
	}
	if _, err := s.db.Exec(`INSERT INTO requests (op, args, created) VALUES (?, ?, ?)`, opDelete, `{"op":"delete","filter":{}}`, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	if err := s.serveQueued(ctx); err != nil {
		t.Fatal(err)
	}
	var result string
	if err := s.db.QueryRow(`SELECT result FROM requests WHERE done = 1`).Scan(&result); err != nil || result != `{"deleted":1}` {
		t.Errorf("outcome of a fresh request: %q, %v; want {\"deleted\":1}", result, err)
	}
}
