package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/store"
)

func TestMessages(t *testing.T) {
	st, addr := newIMAPStore(t)
	ctx := context.Background()

	// An unknown user is not found, and Messages does not make it even in
	// AnyLogin mode.
	if _, err := st.Messages(ctx, "alice@example.org", "INBOX"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Messages(unknown user) = %v; want ErrNotFound", err)
	}
	if users, _ := st.Users(ctx); len(users) != 0 {
		t.Fatalf("Messages made users %v", users)
	}

	delivered := time.Date(2021, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := st.Deliver(ctx, []string{"Alice@Example.org"}, []byte("Subject: one\n\nfirst\n"), delivered); err != nil {
		t.Fatal(err)
	}
	if err := st.Deliver(ctx, []string{"alice@example.org"}, []byte("Subject: two\r\n\r\nsecond\r\n"), delivered.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	c := imapDial(t, addr, "alice@example.org", "secret", nil)
	appended := time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC)
	appendMsg(t, c, "Sent", testMsg, &imap.AppendOptions{Flags: []imap.Flag{"Work", `\seen`, `\Flagged`}, Time: appended})

	got, err := st.Messages(ctx, "ALICE@example.org", "inbox")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Message{
		{UID: 1, Flags: []string{}, Size: int64(len("Subject: one\r\n\r\nfirst\r\n")), InternalDate: delivered, Body: []byte("Subject: one\r\n\r\nfirst\r\n")},
		{UID: 2, Flags: []string{}, Size: int64(len("Subject: two\r\n\r\nsecond\r\n")), InternalDate: delivered.Add(time.Second), Body: []byte("Subject: two\r\n\r\nsecond\r\n")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Messages(INBOX) (-want +got):\n%s", diff)
	}

	got, err = st.Messages(ctx, "alice@example.org", "Sent")
	if err != nil {
		t.Fatal(err)
	}
	want = []store.Message{{UID: 1, Flags: []string{`Work`, `\Flagged`, `\Seen`}, Size: int64(len(testMsg)), InternalDate: appended, Body: []byte(testMsg)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Messages(Sent) (-want +got):\n%s", diff)
	}

	// A flag set over IMAP shows; reading does not set \Seen.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagAnswered}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	got, err = st.Messages(ctx, "alice@example.org", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0].Flags) != 0 || strings.Join(got[1].Flags, " ") != `\Answered` {
		t.Errorf("after STORE: flags %v, %v; want [] [\\Answered]", got[0].Flags, got[len(got)-1].Flags)
	}

	if _, err := st.Messages(ctx, "alice@example.org", "Nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Messages(unknown mailbox) = %v; want ErrNotFound", err)
	}
	if got, err := st.Messages(ctx, "alice@example.org", "Trash"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Messages(empty Trash) = %#v, %v; want an empty non-nil slice", got, err)
	}
}

// Messages waits with Changed for a delivery, as a test helper would.
func TestMessages_withChanged(t *testing.T) {
	st := openStore(t, "", &store.Options{AnyLogin: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- st.Deliver(ctx, []string{"bob@example.org"}, []byte("Subject: hi\r\n\r\n"), time.Now())
	}()
	for {
		ch := st.Changed()
		msgs, err := st.Messages(ctx, "bob@example.org", "INBOX")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if len(msgs) == 1 {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("delivery never seen")
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
