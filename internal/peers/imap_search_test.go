//go:build unix

package peers_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/peers"
)

// inetkit's search program, SearchMessages and DeleteMessages against
// Dovecot's SEARCH, UID STORE and UID EXPUNGE.
func TestIMAP_SearchAndDelete(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	uids := deliver(t, d, message("hello one", "a\r\n"), message("other", "hello in the body\r\n"),
		message("Hello two", "b\r\n"), message("marked", "c\r\n"))
	c := imapLogin(t, d, nil)
	ctx := testContext(t)
	subjects := func(msgs []inetimap.MessageSummary) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, m.Subject)
		}
		return out
	}
	for _, tc := range []struct {
		search string
		want   []string
	}{
		{"SUBJECT hello", []string{"hello one", "Hello two"}},
		{"BODY hello", []string{"other"}},
		{"TEXT hello", []string{"hello one", "other", "Hello two"}},
		{`OR SUBJECT other SUBJECT "two"`, []string{"other", "Hello two"}},
		{"NOT SUBJECT hello UNSEEN", []string{"other", "marked"}},
		{"HEADER Message-ID <marked@example.org>", []string{"marked"}},
		{"SINCE 1-Jan-2000 FROM bob@example.org TO alice LARGER 10 SMALLER 100000", []string{"hello one", "other", "Hello two", "marked"}},
		{"UID " + imap.UIDSetNum(uids[1], uids[3]).String(), []string{"other", "marked"}},
		{"SEEN", nil},
	} {
		crit, err := inetimap.ParseSearch(tc.search)
		if err != nil {
			t.Fatalf("ParseSearch(%q): %v", tc.search, err)
		}
		got, err := inetimap.SearchMessages(ctx, c, "INBOX", crit)
		if err != nil || !slices.Equal(subjects(got), tc.want) {
			t.Errorf("SearchMessages(%q) = %q, %v; want %q", tc.search, subjects(got), err, tc.want)
		}
	}

	// "marked" is \Deleted, but not asked for: it stays.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	deleted := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(imap.UIDSetNum(uids[3]), deleted, nil).Close(); err != nil {
		t.Fatal(err)
	}
	crit, _ := inetimap.ParseSearch("SUBJECT hello")
	hello, err := inetimap.SearchMessages(ctx, c, "INBOX", crit)
	if err != nil || len(hello) != 2 {
		t.Fatalf("SearchMessages(SUBJECT hello) = %v, %v", hello, err)
	}
	if n, err := inetimap.DeleteMessages(ctx, c, "INBOX", hello); n != 2 || err != nil {
		t.Errorf("DeleteMessages = %d, %v; want 2", n, err)
	}
	left, err := inetimap.ListMessages(ctx, c, "INBOX")
	if err != nil || !slices.Equal(subjects(left), []string{"other", "marked"}) {
		t.Errorf("after DeleteMessages: %q, %v; want other and marked", subjects(left), err)
	}
	stale := left[0]
	stale.UIDValidity++
	if _, err := inetimap.DeleteMessages(ctx, c, "INBOX", []inetimap.MessageSummary{stale}); !errors.Is(err, inetimap.ErrUIDValidity) {
		t.Errorf("DeleteMessages with another UIDVALIDITY = %v; want ErrUIDValidity", err)
	}
}

// Watch with Existing reports what Dovecot holds, and stops at fn's error.
func TestIMAP_WatchExisting(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.IMAP)
	deliver(t, d, message("first", "x\r\n"), message("second", "x\r\n"))
	c := imapLogin(t, d, nil)
	errEnough := errors.New("enough")
	var got []string
	err := inetimap.Watch(testContext(t), c, "INBOX", func(m inetimap.MessageSummary) error {
		got = append(got, m.Subject)
		if len(got) == 2 {
			return errEnough
		}
		return nil
	}, &inetimap.WatchOptions{Existing: true})
	if !errors.Is(err, errEnough) || !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("Watch(Existing) = %v, %q; want fn's error after first and second", err, got)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Errorf("NOOP after Watch: %v", err)
	}
}
