package imapdtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/imapd/imapdtest"
)

func TestMemBackend(t *testing.T) {
	imapdtest.TestBackend(t, func(t *testing.T) (imapd.Backend, func(user, pass string), func(user string, msg []byte)) {
		be := imapdtest.NewMemBackend()
		return be, be.AddUser, func(user string, msg []byte) {
			if err := be.Deliver(user, msg); err != nil {
				t.Errorf("Deliver(%q) = %v", user, err)
			}
		}
	})
}

// TestMemBackend_renameInboxChild renames INBOX to a child of its own,
// which RFC 9051 §6.3.6 allows: INBOX's children are not renamed with it.
func TestMemBackend_renameInboxChild(t *testing.T) {
	ctx := context.Background()
	be := imapdtest.NewMemBackend()
	be.AddUser("alice", "secret")
	if err := be.Deliver("alice", []byte("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	u, err := be.Login(ctx, "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := u.RenameMailbox(ctx, "INBOX", "INBOX/old"); err != nil {
		t.Fatalf("RenameMailbox(INBOX, INBOX/old) = %v", err)
	}
	if st, err := u.Status(ctx, "INBOX/old"); err != nil || st.Messages != 1 {
		t.Errorf("Status(INBOX/old) = %+v, %v; want INBOX's message", st, err)
	}
	if err := u.RenameMailbox(ctx, "INBOX/old", "INBOX/old/sub"); err == nil {
		t.Errorf("RenameMailbox of a mailbox under itself succeeded")
	}
	if err := u.RenameMailbox(ctx, "INBOX", "inbox"); !errors.Is(err, imapd.ErrAlreadyExists) {
		t.Errorf("RenameMailbox(INBOX, inbox) = %v; want ErrAlreadyExists", err)
	}
}
