package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/inetkit/inetkit/internal/imapd"
)

// Both IMAP servers run over one store until the switch: what a session of
// the old one changes, a session of the new one sees with new
// mod-sequences, and the other way round.
func TestIMAPD_withOldServer(t *testing.T) {
	st := openStore(t, "", nil)
	u := imapdLogin(t, st)
	imapdDeliver(t, st, "1", "2", "3")
	mb := imapdOpen(t, u, "INBOX", false)
	first := imapdPoll(t, mb)

	var mu sync.Mutex
	var expunged []uint32
	// imapclient calls the Fetch handler on a goroutine of its own.
	fetched := make(chan uint32, 16)
	c := imapDial(t, imapServe(t, st), imapdAlice, "secret", &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			mu.Lock()
			expunged = append(expunged, seq)
			mu.Unlock()
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			select {
			case fetched <- msg.SeqNum:
			default:
			}
			for msg.Next() != nil {
			}
		},
	})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	drainChanged(mb.Changed())
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	waitChanged(t, mb.Changed(), "a new session after the old server's changes")
	ch := imapdPoll(t, mb)
	if len(ch.Messages) != 1 || ch.Messages[0].UID != 1 || !slices.Contains(ch.Messages[0].Flags, `\Flagged`) ||
		ch.Messages[0].ModSeq <= first.HighestModSeq || !slices.Equal(ch.Expunged, []uint32{2}) {
		t.Errorf("Poll after the old server's STORE and EXPUNGE: %+v", ch)
	}

	// The other way: the old session hears of the new one's changes.
	mu.Lock()
	expunged = nil
	mu.Unlock()
	for len(fetched) > 0 {
		<-fetched
	}
	ctx := context.Background()
	chg, _, err := mb.Store(ctx, []uint32{3}, imapd.StoreAdd, []string{`\Seen`, `\Deleted`}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(chg) != 1 {
		t.Fatalf("Store = %+v", chg)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	for seq := uint32(0); seq != 2; {
		select {
		case seq = <-fetched:
		case <-time.After(5 * time.Second):
			t.Fatal("old session after the new one's STORE: no FETCH of 2")
		}
	}
	if _, err := mb.Expunge(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(expunged, []uint32{2}) {
		t.Errorf("old session after the new one's EXPUNGE: EXPUNGE of %v; want 2", expunged)
	}
}
