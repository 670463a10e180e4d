package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
)

// TestIMAPBackend runs the imaptest conformance suite against the store.
// The suite wants a new user to have INBOX only, unsubscribed: the store's
// users get the RFC 6154 mailboxes too, subscribed, so addUser removes them.
func TestIMAPBackend(t *testing.T) {
	imaptest.TestBackend(t, func(t *testing.T) (imap.Backend, func(user, pass string), func(user string, msg []byte)) {
		ctx := context.Background()
		st := openStore(t, "", nil)
		addUser := func(user, pass string) {
			if err := st.AddUser(ctx, user, pass); err != nil {
				t.Fatalf("AddUser(%q) = %v", user, err)
			}
			u, err := st.IMAPBackend().Login(ctx, user, pass)
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			mbs, err := u.Mailboxes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, mi := range mbs {
				if mi.Name != "INBOX" {
					if err := u.DeleteMailbox(ctx, mi.Name); err != nil {
						t.Fatal(err)
					}
				}
				if err := u.Subscribe(ctx, mi.Name, false); err != nil {
					t.Fatal(err)
				}
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
