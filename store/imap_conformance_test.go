package store_test

import (
	"context"
	"testing"
	"time"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
)

// TestIMAPBackend runs the imaptest conformance suite against the store.
func TestIMAPBackend(t *testing.T) {
	imaptest.TestBackend(t, func(t *testing.T) (inetimap.Backend, func(user, pass string), func(user string, msg []byte)) {
		ctx := context.Background()
		st := storeWithUser(t, "alice", "secret")
		addUser := func(user, pass string) {
			if user == "alice" && pass == "secret" {
				return // made by storeWithUser
			}
			if err := st.AddUser(ctx, user, pass); err != nil {
				t.Fatalf("AddUser(%q) = %v", user, err)
			}
		}
		deliver := func(user string, msg []byte) {
			if err := st.Deliver(ctx, []string{user}, msg, time.Now()); err != nil {
				t.Fatalf("Deliver(%q) = %v", user, err)
			}
		}
		return st.IMAPBackend(), addUser, deliver
	})
}
