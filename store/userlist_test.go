package store_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/inetkit/inetkit/store"
)

func deliver(t *testing.T, st *store.Store, rcpt, msg string) {
	t.Helper()
	if err := st.Deliver(context.Background(), []string{rcpt}, []byte(msg), time.Now()); err != nil {
		t.Fatalf("Deliver to %s: %v", rcpt, err)
	}
}

// AddUser gives a password to an address made by a login or a delivery,
// keeping its mail; only an address with a password is ErrExists.
func TestAddUser_givesAPasswordToAnAddressWithout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, &store.Options{AnyLogin: true})
	if _, err := st.Authenticate(ctx, "alice@example.org", "anything"); err != nil {
		t.Fatal(err)
	}
	deliver(t, st, "bob@example.org", "Subject: hi\r\n\r\nhi\r\n")
	for _, a := range []string{"Alice@example.org", "bob@example.org"} {
		if err := st.AddUser(ctx, a, "s3cret"); err != nil {
			t.Errorf("AddUser(%q) for an address without a password = %v; want nil", a, err)
		}
		if err := st.AddUser(ctx, a, "other"); !errors.Is(err, store.ErrExists) {
			t.Errorf("AddUser(%q) again = %v; want ErrExists", a, err)
		}
		if _, err := st.Authenticate(ctx, a, "wrong"); !errors.Is(err, store.ErrAuthFailed) {
			t.Errorf("Authenticate(%q, wrong) after AddUser = %v; want ErrAuthFailed", a, err)
		}
		if _, err := st.Authenticate(ctx, a, "s3cret"); err != nil {
			t.Errorf("Authenticate(%q, s3cret) = %v", a, err)
		}
	}
	if msgs, err := st.Messages(ctx, "bob@example.org", "INBOX"); err != nil || len(msgs) != 1 {
		t.Errorf("bob's INBOX after AddUser: %d messages, %v; want the 1 delivered", len(msgs), err)
	}
	err := st.SetPassword(ctx, "nobody@example.org", "pw")
	var nf *store.NotFoundError
	if !errors.Is(err, store.ErrNotFound) || !errors.As(err, &nf) || nf.Address != "nobody@example.org" {
		t.Errorf("SetPassword(unknown) = %v; want a *NotFoundError naming the address", err)
	}
}

func TestListUsers(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", &store.Options{AnyLogin: true})
	if users, err := st.ListUsers(ctx); err != nil || len(users) != 0 {
		t.Fatalf("ListUsers of an empty store = %v, %v", users, err)
	}
	if err := st.AddUser(ctx, "carol@example.org", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, "alice@example.org", "x"); err != nil {
		t.Fatal(err)
	}
	deliver(t, st, "alice@example.org", "Subject: 1\r\n\r\n1\r\n")
	deliver(t, st, "someone@gmail.com", "Subject: 2\r\n\r\n2\r\n")
	deliver(t, st, "someone@gmail.com", "Subject: 3\r\n\r\n3\r\n")
	// someone logs in later: still made by RCPT.
	if _, err := st.Authenticate(ctx, "someone@gmail.com", "x"); err != nil {
		t.Fatal(err)
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	boxes := func(inbox int) []store.MailboxCount {
		return []store.MailboxCount{{"INBOX", inbox}, {"Archive", 0}, {"Drafts", 0}, {"Junk", 0}, {"Sent", 0}, {"Trash", 0}}
	}
	want := []store.User{
		{Address: "alice@example.org", Kind: store.UserKindLogin, Mailboxes: boxes(1)},
		{Address: "carol@example.org", Kind: store.UserKindAccount, Mailboxes: boxes(0)},
		{Address: "someone@gmail.com", Kind: store.UserKindRecipient, Mailboxes: boxes(2)},
	}
	if diff := cmp.Diff(want, users, cmpopts.IgnoreFields(store.User{}, "Created")); diff != "" {
		t.Errorf("ListUsers (-want +got):\n%s", diff)
	}
	for _, u := range users {
		if time.Since(u.Created) > time.Minute || u.Created.Location() != time.UTC {
			t.Errorf("%s: Created = %v; want just now, in UTC", u.Address, u.Created)
		}
	}
	if n := users[2].Messages(); n != 2 {
		t.Errorf("Messages() = %d; want 2", n)
	}
	for k, s := range map[store.UserKind]string{store.UserKindAuto: "auto", store.UserKindAccount: "account", store.UserKindLogin: "any-login", store.UserKindRecipient: "rcpt"} {
		if k.String() != s {
			t.Errorf("UserKind(%d).String() = %q; want %q", k, k.String(), s)
		}
	}
}

// Options.MustExist opens a store only where there is one, and makes
// nothing where there is none.
func TestOpen_mustExist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	if _, err := store.Open(dir, &store.Options{MustExist: true}); !errors.Is(err, store.ErrNoStore) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(MustExist) of a missing directory = %v; want ErrNoStore", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(MustExist) made %s: %v", dir, err)
	}
	empty := t.TempDir()
	if _, err := store.Open(empty, &store.Options{MustExist: true}); !errors.Is(err, store.ErrNoStore) {
		t.Errorf("Open(MustExist) of an empty directory = %v; want ErrNoStore", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("Open(MustExist) wrote %v in an empty directory", entries)
	}
	openStore(t, dir, nil).Close()
	st, err := store.Open(dir, &store.Options{MustExist: true})
	if err != nil {
		t.Fatalf("Open(MustExist) of a store = %v", err)
	}
	st.Close()
}
