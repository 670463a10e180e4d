package imapd

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapwire"
	"github.com/inetkit/inetkit/lineproto"
)

// fuzzConn is the net.Conn a lineproto.Reader sets deadlines on.
type fuzzConn struct{ net.Conn }

func (fuzzConn) SetReadDeadline(time.Time) error { return nil }

// memMailbox is a Mailbox of fixed messages: only SortData and Fetch,
// which a search calls, are implemented.
type memMailbox struct {
	Mailbox
	bodies map[uint32][]byte
}

func (m *memMailbox) SortData(ctx context.Context, uids []uint32) ([]SortData, error) {
	var out []SortData
	for _, u := range uids {
		if b, ok := m.bodies[u]; ok {
			out = append(out, NewSortData(u, b))
		}
	}
	return out, nil
}

func (m *memMailbox) Fetch(ctx context.Context, uids []uint32, fn func(*Message) error) error {
	for _, u := range uids {
		if b, ok := m.bodies[u]; ok {
			if err := fn(&Message{UID: u, Size: int64(len(b)), Body: bytes.NewReader(b)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// fuzzView returns a view of six messages and their mailbox.
func fuzzView() ([]MessageState, *memMailbox) {
	bodies := []string{
		"From: Bob <bob@example.org>\r\nSubject: Re: hello\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\n\r\nfirst body\r\n",
		matchMsg,
		"Subject: plain\r\n\r\nno date here\r\n",
		"To: g: a@b, c@d;\r\nDate: 1 Jan 70 00:00 EST\r\nX-Extra: x\r\n\r\n",
		"",
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nw6k=\r\n",
	}
	flags := [][]string{{`\Seen`}, {`\Flagged`, "$Work"}, nil, {`\Deleted`, `\Answered`}, {`\Draft`}, {`\Seen`, `\Flagged`}}
	mb := &memMailbox{bodies: make(map[uint32][]byte)}
	var msgs []MessageState
	for i, b := range bodies {
		uid := uint32(3*i + 2)
		mb.bodies[uid] = []byte(b)
		msgs = append(msgs, MessageState{
			UID: uid, Flags: flags[i], ModSeq: uint64(10 - i), Size: int64(len(b)), Recent: i%2 == 0,
			InternalDate: time.Date(2007, 3, 20+i, 23, 30, 0, 0, time.FixedZone("", 3600*(i-2))),
		})
	}
	return msgs, mb
}

// FuzzSearchEval checks that a search run as the server runs it (what the
// view says first, then the sort data, then the text of the messages that
// can still match) finds what evaluating every key with everything read
// finds.
func FuzzSearchEval(f *testing.F) {
	for _, s := range []string{
		"ALL", "OR SEEN BODY world", "NOT (FROM bob SENTBEFORE 1-Jan-2000)", "1:3,5 UID 5:*",
		"OR NOT TEXT x HEADER X-Extra \"\" LARGER 20", "KEYWORD $work SUBJECT hello",
		"NOT OR RECENT NEW OLD", "SENTON 24-Mar-2007 ON 22-Mar-2007", "MODSEQ 8 NOT $",
		"OR (SUBJECT plain SINCE 1-Jan-2008) OR TO g: BCC x", "YOUNGER 10 OLDER 10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prog string) {
		if strings.ContainsAny(prog, "\r\n{") {
			return
		}
		r := lineproto.NewReader(fuzzConn{}, strings.NewReader("T SEARCH "+prog+"\r\n"), 1<<16, 0, 0)
		dec := imapwire.NewDecoder(r, &imapwire.Options{})
		if _, _, err := dec.ReadCommand(); err != nil {
			return
		}
		args, err := dec.ReadSearch()
		if err != nil {
			return
		}
		msgs, mb := fuzzView()
		s := &search{msgs: msgs, saved: []uint32{5, 11}, mbox: mb, now: time.Now()}
		s.root = s.compile(&args.Key)
		got, err := s.run(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		for ix := range msgs {
			u := msgs[ix].UID
			sd := NewSortData(u, mb.bodies[u])
			mc := &msgCtx{ix: ix, m: &msgs[ix], sd: &sd, text: newMsgText(mb.bodies[u])}
			switch s.root.eval(s, mc) {
			case yes:
				want = append(want, ix)
			case maybe:
				t.Fatalf("message %d: maybe with everything read", ix)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("SEARCH %s: found %v; evaluated with everything read: %v", prog, got, want)
		}
	})
}
