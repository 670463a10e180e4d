package store_test

import (
	"context"
	"testing"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
)

// TestIMAPBackend_imaptest runs Dovecot's imaptest (its scripted files and
// its stress mode) against package imap's server over the store, each run
// over a store of its own: what the server's tests check over the in-memory
// backend, checked over SQLite, with every writer's triggers.
func TestIMAPBackend_imaptest(t *testing.T) {
	imaptest.Imaptest(t, func(t *testing.T) (imap.Backend, func(user, pass string)) {
		st := openStore(t, "", nil)
		return st.IMAPBackend(), func(user, pass string) {
			if err := st.AddUser(context.Background(), user, pass); err != nil {
				t.Fatalf("AddUser(%q) = %v", user, err)
			}
		}
	})
}
