package store_test

import (
	"context"
	"testing"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/imapd/imapdtest"
)

// TestIMAPDBackend_imaptest runs Dovecot's imaptest (its scripted files and
// its stress mode) against package imapd's server over the store, each run
// over a store of its own: what the server's tests check over the in-memory
// backend, checked over SQLite, with every writer's triggers.
func TestIMAPDBackend_imaptest(t *testing.T) {
	if testing.Short() {
		t.Skip("imaptest takes minutes over SQLite under -race")
	}
	imapdtest.Imaptest(t, func(t *testing.T) (imapd.Backend, func(user, pass string)) {
		st := openStore(t, "", nil)
		return st.IMAPDBackend(), func(user, pass string) {
			if err := st.AddUser(context.Background(), user, pass); err != nil {
				t.Fatalf("AddUser(%q) = %v", user, err)
			}
		}
	})
}
