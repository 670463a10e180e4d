package imaptest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	inetimap "github.com/inetkit/inetkit/imap"
)

// Messages delivered by TestBackend. They end in CRLF, as stored messages
// do; a Backend must return them byte for byte.
const (
	suiteMsg1 = "From: Bob <bob@example.org>\r\n" +
		"To: alice@example.org\r\n" +
		"Subject: Hello Alice\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <1@example.org>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hi Alice,\r\nthis is the body.\r\n"
	suiteMsg2 = "From: Carol <carol@example.net>\r\n" +
		"To: alice@example.org\r\n" +
		"Subject: Meeting\r\n" +
		"\r\n" +
		"See you at noon.\r\n"
	suiteMsg3 = "From: Dave <dave@example.com>\r\n" +
		"Subject: Third\r\n" +
		"\r\n" +
		"3\r\n"
)

// suiteTimeout bounds every wait for an unsolicited response.
const suiteTimeout = 10 * time.Second

// TestBackend checks that a Backend behaves as package imap requires, through
// a real Server on a loopback port and go-imap's client. Each subtest calls
// newBackend for a fresh Backend with no users; addUser must add a user whose
// INBOX exists and is empty, and deliver must append a message to a user's
// INBOX as a mail delivery does (sessions with INBOX selected learn of it, at
// once when in IDLE). The suite uses user "alice", password "secret".
//
// The subtests cover LOGIN; LIST (INBOX, SPECIAL-USE attributes if any);
// CREATE, RENAME, DELETE; SELECT and EXAMINE; APPEND with APPENDUID (UIDPLUS);
// FETCH of FLAGS, UID, RFC822.SIZE, INTERNALDATE, ENVELOPE, BODYSTRUCTURE,
// BODY[], BODY.PEEK[HEADER], BODY[TEXT] and partial ranges, and \Seen; STORE;
// SEARCH; COPY with COPYUID; MOVE; EXPUNGE and UID EXPUNGE; IDLE (also with
// deliveries just before, during and just after its start); two sessions
// on one mailbox, each learning of the other's changes (RFC 3501 §5.2);
// STATUS; UIDVALIDITY stability; UNSELECT; NAMESPACE.
func TestBackend(t *testing.T, newBackend func(t *testing.T) (be inetimap.Backend, addUser func(user, pass string), deliver func(user string, msg []byte))) {
	tests := []struct {
		name string
		f    func(t *testing.T, e *env)
	}{
		{"Login", testLogin},
		{"List", testList},
		{"CreateRenameDelete", testCreateRenameDelete},
		{"SelectExamine", testSelectExamine},
		{"Append", testAppend},
		{"Fetch", testFetch},
		{"Store", testStore},
		{"Search", testSearch},
		{"CopyMove", testCopyMove},
		{"Expunge", testExpunge},
		{"Idle", testIdle},
		{"IdleRace", testIdleRace},
		{"TwoSessions", testTwoSessions},
		{"Status", testStatus},
		{"UIDValidity", testUIDValidity},
		{"Unselect", testUnselect},
		{"Namespace", testNamespace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be, addUser, deliver := newBackend(t)
			addUser("alice", "secret")
			srv := NewServer(be)
			t.Cleanup(srv.Close)
			tc.f(t, &env{srv: srv, deliver: func(msg string) { deliver("alice", []byte(msg)) }})
		})
	}
}

type env struct {
	srv     *Server
	deliver func(msg string)
}

// client returns a client logged in as alice, closed at the end of the test.
func (e *env) client(t *testing.T, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c, err := e.srv.Client(&inetimap.ClientOptions{UnilateralDataHandler: h})
	if err != nil {
		t.Fatalf("Client() = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Fatalf("LOGIN alice = %v", err)
	}
	return c
}

func selectInbox(t *testing.T, c *imapclient.Client) *imap.SelectData {
	t.Helper()
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT INBOX = %v", err)
	}
	return data
}

func fetch(t *testing.T, c *imapclient.Client, set imap.NumSet, opts *imap.FetchOptions) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Fetch(set, opts).Collect()
	if err != nil {
		t.Fatalf("FETCH %v = %v", set, err)
	}
	return msgs
}

func store(t *testing.T, c *imapclient.Client, set imap.NumSet, op imap.StoreFlagsOp, flags ...imap.Flag) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Store(set, &imap.StoreFlags{Op: op, Flags: flags}, nil).Collect()
	if err != nil {
		t.Fatalf("STORE %v %v %v = %v", set, op, flags, err)
	}
	return msgs
}

func search(t *testing.T, c *imapclient.Client, uid bool, criteria *imap.SearchCriteria) []uint32 {
	t.Helper()
	var (
		data *imap.SearchData
		err  error
	)
	if uid {
		data, err = c.UIDSearch(criteria, nil).Wait()
	} else {
		data, err = c.Search(criteria, nil).Wait()
	}
	if err != nil {
		t.Fatalf("SEARCH = %v", err)
	}
	if uid {
		var out []uint32
		for _, u := range data.AllUIDs() {
			out = append(out, uint32(u))
		}
		return out
	}
	return data.AllSeqNums()
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	return slices.ContainsFunc(flags, func(g imap.Flag) bool { return strings.EqualFold(string(g), string(f)) })
}

func listNames(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	l, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST \"\" * = %v", err)
	}
	var names []string
	for _, d := range l {
		names = append(names, d.Mailbox)
	}
	return names
}

func seqSet(nums ...uint32) imap.SeqSet { return imap.SeqSetNum(nums...) }

func testLogin(t *testing.T, e *env) {
	c, err := e.srv.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, cred := range [][2]string{{"alice", "wrong"}, {"mallory", "secret"}} {
		err := c.Login(cred[0], cred[1]).Wait()
		var imapErr *imap.Error
		if !errors.As(err, &imapErr) || imapErr.Type != imap.StatusResponseTypeNo {
			t.Errorf("LOGIN %s %s = %v; want a NO reply", cred[0], cred[1], err)
		}
	}
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Fatalf("LOGIN alice secret = %v", err)
	}
	// imapclient's Wait returns before the client records the new state;
	// both are done by its reader, which has finished with LOGIN once it
	// has answered NOOP.
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("NOOP = %v", err)
	}
	if st := c.State(); st != imap.ConnStateAuthenticated {
		t.Errorf("state after LOGIN = %v; want authenticated", st)
	}
}

var specialUse = []imap.MailboxAttr{imap.MailboxAttrAll, imap.MailboxAttrArchive, imap.MailboxAttrDrafts,
	imap.MailboxAttrFlagged, imap.MailboxAttrJunk, imap.MailboxAttrSent, imap.MailboxAttrTrash}

func testList(t *testing.T, e *env) {
	c := e.client(t, nil)
	l, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatalf("LIST \"\" * RETURN (SPECIAL-USE) = %v", err)
	}
	var inbox *imap.ListData
	for _, d := range l {
		if strings.EqualFold(d.Mailbox, "INBOX") {
			inbox = d
		}
		for _, a := range d.Attrs {
			if strings.EqualFold(string(a), string(imap.MailboxAttrNoSelect)) && d == inbox {
				t.Errorf("INBOX is \\Noselect")
			}
			if len(a) > 1 && slices.ContainsFunc(specialUse, func(s imap.MailboxAttr) bool { return strings.EqualFold(string(s), string(a)) }) && d == inbox {
				t.Errorf("INBOX has special-use attribute %s", a)
			}
		}
	}
	if inbox == nil {
		t.Fatalf("LIST \"\" * = %v; want INBOX among them", listNames(t, c))
	}
	// LIST "" "" returns the hierarchy delimiter (RFC 9051 §6.3.9).
	l, err = c.List("", "", nil).Collect()
	if err != nil || len(l) != 1 {
		t.Errorf("LIST \"\" \"\" = %d entries, %v; want one", len(l), err)
	}
}

func testCreateRenameDelete(t *testing.T, e *env) {
	c := e.client(t, nil)
	if err := c.Create("Work", nil).Wait(); err != nil {
		t.Fatalf("CREATE Work = %v", err)
	}
	if names := listNames(t, c); !slices.Contains(names, "Work") {
		t.Errorf("LIST after CREATE Work = %v", names)
	}
	if err := c.Create("Work", nil).Wait(); err == nil {
		t.Errorf("CREATE Work again succeeded; want NO")
	}
	if err := c.Rename("Work", "Play", nil).Wait(); err != nil {
		t.Fatalf("RENAME Work Play = %v", err)
	}
	if names := listNames(t, c); !slices.Contains(names, "Play") || slices.Contains(names, "Work") {
		t.Errorf("LIST after RENAME = %v; want Play and not Work", names)
	}
	if err := c.Delete("Play").Wait(); err != nil {
		t.Fatalf("DELETE Play = %v", err)
	}
	if names := listNames(t, c); slices.Contains(names, "Play") {
		t.Errorf("LIST after DELETE Play = %v", names)
	}
	if _, err := c.Select("Play", nil).Wait(); err == nil {
		t.Errorf("SELECT of a deleted mailbox succeeded")
	}
	if err := c.Delete("Nonexistent").Wait(); err == nil {
		t.Errorf("DELETE Nonexistent succeeded")
	}
}

func testSelectExamine(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	c := e.client(t, nil)
	data := selectInbox(t, c)
	if data.NumMessages != 2 || data.UIDValidity == 0 || data.UIDNext != 0 && data.UIDNext < 3 {
		t.Errorf("SELECT INBOX = %d messages, UIDVALIDITY %d, UIDNEXT %d; want 2, non-zero, >= 3", data.NumMessages, data.UIDValidity, data.UIDNext)
	}
	data, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil || data.NumMessages != 2 {
		t.Errorf("EXAMINE INBOX = %v, %v; want 2 messages", data, err)
	}
	if _, err := c.Select("Nonexistent", nil).Wait(); err == nil {
		t.Errorf("SELECT Nonexistent succeeded")
	}
}

func testAppend(t *testing.T, e *env) {
	c := e.client(t, nil)
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cmd := c.Append("INBOX", int64(len(suiteMsg2)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged}, Time: date})
	if _, err := cmd.Write([]byte(suiteMsg2)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND INBOX = %v", err)
	}
	sel := selectInbox(t, c)
	if data.UID == 0 || data.UIDValidity != sel.UIDValidity {
		t.Fatalf("APPEND INBOX = APPENDUID %d %d; want a UID and the UIDVALIDITY %d", data.UIDValidity, data.UID, sel.UIDValidity)
	}
	m := fetch(t, c, imap.UIDSetNum(data.UID), &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true})
	if len(m) != 1 {
		t.Fatalf("UID FETCH %d = %d messages; want 1", data.UID, len(m))
	}
	if !hasFlag(m[0].Flags, imap.FlagFlagged) || !m[0].InternalDate.Equal(date) || m[0].RFC822Size != int64(len(suiteMsg2)) {
		t.Errorf("appended message = flags %v, date %v, size %d; want \\Flagged, %v, %d", m[0].Flags, m[0].InternalDate, m[0].RFC822Size, date, len(suiteMsg2))
	}
	if err := appendMsg(c, "Nonexistent", suiteMsg2); err == nil {
		t.Errorf("APPEND to a missing mailbox succeeded")
	}
}

func appendMsg(c *imapclient.Client, mbox, msg string) error {
	cmd := c.Append(mbox, int64(len(msg)), nil)
	cmd.Write([]byte(msg))
	cmd.Close()
	_, err := cmd.Wait()
	return err
}

func testFetch(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	c := e.client(t, nil)
	selectInbox(t, c)
	header := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	text := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true}
	whole := &imap.FetchItemBodySection{Peek: true}
	partial := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 3}}
	m := fetch(t, c, seqSet(1), &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection: []*imap.FetchItemBodySection{whole, header, text, partial},
	})
	if len(m) != 1 {
		t.Fatalf("FETCH 1 = %d messages; want 1", len(m))
	}
	msg := m[0]
	hdr, body, _ := strings.Cut(suiteMsg1, "\r\n\r\n")
	if msg.UID == 0 || msg.RFC822Size != int64(len(suiteMsg1)) || msg.InternalDate.IsZero() {
		t.Errorf("FETCH 1 = UID %d, RFC822.SIZE %d, INTERNALDATE %v; want non-zero, %d, a date", msg.UID, msg.RFC822Size, msg.InternalDate, len(suiteMsg1))
	}
	if env := msg.Envelope; env == nil || env.Subject != "Hello Alice" || len(env.From) != 1 || env.From[0].Addr() != "bob@example.org" || env.From[0].Name != "Bob" || env.MessageID != "1@example.org" {
		t.Errorf("ENVELOPE = %+v; want subject \"Hello Alice\", from Bob <bob@example.org>, message-id 1@example.org", msg.Envelope)
	}
	if bs, ok := msg.BodyStructure.(*imap.BodyStructureSinglePart); !ok || !strings.EqualFold(bs.Type, "text") || !strings.EqualFold(bs.Subtype, "plain") {
		t.Errorf("BODYSTRUCTURE = %#v; want a text/plain single part", msg.BodyStructure)
	}
	if got := string(msg.FindBodySection(whole)); got != suiteMsg1 {
		t.Errorf("BODY.PEEK[] = %q; want %q", got, suiteMsg1)
	}
	if got := string(msg.FindBodySection(header)); got != hdr+"\r\n\r\n" {
		t.Errorf("BODY.PEEK[HEADER] = %q; want %q", got, hdr+"\r\n\r\n")
	}
	if got := string(msg.FindBodySection(text)); got != body {
		t.Errorf("BODY.PEEK[TEXT] = %q; want %q", got, body)
	}
	if got := string(msg.FindBodySection(partial)); got != suiteMsg1[6:9] {
		t.Errorf("BODY.PEEK[]<6.3> = %q; want %q", got, suiteMsg1[6:9])
	}
	if hasFlag(msg.Flags, imap.FlagSeen) {
		t.Errorf("new message has \\Seen")
	}
	if m := fetch(t, c, seqSet(1), &imap.FetchOptions{Flags: true}); hasFlag(m[0].Flags, imap.FlagSeen) {
		t.Errorf("BODY.PEEK set \\Seen")
	}
	fetch(t, c, seqSet(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}})
	if m := fetch(t, c, seqSet(1), &imap.FetchOptions{Flags: true}); !hasFlag(m[0].Flags, imap.FlagSeen) {
		t.Errorf("flags after BODY[TEXT] = %v; want \\Seen", m[0].Flags)
	}
	if m := fetch(t, c, seqSet(5), &imap.FetchOptions{Flags: true}); len(m) != 0 {
		t.Errorf("FETCH 5 of 1 message = %d messages", len(m))
	}
}

func testStore(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	c := e.client(t, nil)
	selectInbox(t, c)
	m := store(t, c, seqSet(1), imap.StoreFlagsAdd, imap.FlagFlagged, imap.FlagAnswered)
	if len(m) != 1 || !hasFlag(m[0].Flags, imap.FlagFlagged) || !hasFlag(m[0].Flags, imap.FlagAnswered) {
		t.Fatalf("STORE 1 +FLAGS (\\Flagged \\Answered) = %v", m)
	}
	m = store(t, c, seqSet(1), imap.StoreFlagsDel, imap.FlagAnswered)
	if len(m) != 1 || !hasFlag(m[0].Flags, imap.FlagFlagged) || hasFlag(m[0].Flags, imap.FlagAnswered) {
		t.Fatalf("STORE 1 -FLAGS (\\Answered) = %v", m)
	}
	store(t, c, seqSet(1), imap.StoreFlagsSet, imap.FlagSeen)
	if m := fetch(t, c, seqSet(1), &imap.FetchOptions{Flags: true}); len(m) != 1 || len(m[0].Flags) != 1 || !hasFlag(m[0].Flags, imap.FlagSeen) {
		t.Errorf("flags after STORE 1 FLAGS (\\Seen) = %v; want only \\Seen", m[0].Flags)
	}
}

func testSearch(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	c := e.client(t, nil)
	selectInbox(t, c)
	store(t, c, seqSet(1), imap.StoreFlagsAdd, imap.FlagSeen)
	uids := search(t, c, true, &imap.SearchCriteria{})
	if len(uids) != 2 {
		t.Fatalf("UID SEARCH ALL = %v; want 2 UIDs", uids)
	}
	for _, tc := range []struct {
		name     string
		uid      bool
		criteria *imap.SearchCriteria
		want     []uint32
	}{
		{"ALL", false, &imap.SearchCriteria{}, []uint32{1, 2}},
		{"UNSEEN", false, &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []uint32{2}},
		{"FROM carol", false, &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "carol"}}}, []uint32{2}},
		{"SUBJECT hello", false, &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "hello"}}}, []uint32{1}},
		{"BODY noon", false, &imap.SearchCriteria{Body: []string{"noon"}}, []uint32{2}},
		{"UID first", true, &imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(imap.UID(uids[0]))}}, uids[:1]},
		{"UID first:*", true, &imap.SearchCriteria{UID: []imap.UIDSet{{{Start: imap.UID(uids[0]), Stop: 0}}}}, uids},
		{"UID beyond", true, &imap.SearchCriteria{UID: []imap.UIDSet{{{Start: imap.UID(uids[1]) + 1, Stop: imap.UID(uids[1]) + 10}}}}, nil},
	} {
		if got := search(t, c, tc.uid, tc.criteria); !slices.Equal(got, tc.want) {
			t.Errorf("SEARCH %s = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func testCopyMove(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	c := e.client(t, nil)
	if err := c.Create("Saved", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	selectInbox(t, c)
	uids := search(t, c, true, &imap.SearchCriteria{})
	data, err := c.Copy(seqSet(1), "Saved").Wait()
	if err != nil {
		t.Fatalf("COPY 1 Saved = %v", err)
	}
	st, err := c.Status("Saved", &imap.StatusOptions{NumMessages: true, UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.UIDValidity != st.UIDValidity || !slices.Equal(uidList(data.SourceUIDs), []imap.UID{imap.UID(uids[0])}) || len(uidList(data.DestUIDs)) != 1 {
		t.Errorf("COPY = COPYUID %d %v %v; want %d %d and one UID", data.UIDValidity, data.SourceUIDs, data.DestUIDs, st.UIDValidity, uids[0])
	}
	if st.NumMessages == nil || *st.NumMessages != 1 {
		t.Errorf("STATUS Saved after COPY = %v messages; want 1", st.NumMessages)
	}
	if _, err := c.Copy(seqSet(1), "Nonexistent").Wait(); err == nil {
		t.Errorf("COPY to a missing mailbox succeeded")
	}
	if _, err := c.Move(seqSet(2), "Saved").Wait(); err != nil {
		t.Fatalf("MOVE 2 Saved = %v", err)
	}
	if got := search(t, c, true, &imap.SearchCriteria{}); !slices.Equal(got, uids[:1]) {
		t.Errorf("INBOX UIDs after MOVE = %v; want %v", got, uids[:1])
	}
	st, err = c.Status("Saved", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages != 2 {
		t.Errorf("STATUS Saved after MOVE = %v, %v; want 2 messages", st, err)
	}
}

func uidList(s imap.UIDSet) []imap.UID {
	l, _ := s.Nums()
	return l
}

func testExpunge(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	e.deliver(suiteMsg3)
	c := e.client(t, nil)
	selectInbox(t, c)
	uids := search(t, c, true, &imap.SearchCriteria{})
	store(t, c, seqSet(2), imap.StoreFlagsAdd, imap.FlagDeleted)
	seqs, err := c.Expunge().Collect()
	if err != nil || !slices.Equal(seqs, []uint32{2}) {
		t.Fatalf("EXPUNGE = %v, %v; want [2]", seqs, err)
	}
	if got := search(t, c, true, &imap.SearchCriteria{}); !slices.Equal(got, []uint32{uids[0], uids[2]}) {
		t.Fatalf("UIDs after EXPUNGE = %v; want %v", got, []uint32{uids[0], uids[2]})
	}
	store(t, c, seqSet(1, 2), imap.StoreFlagsAdd, imap.FlagDeleted)
	if _, err := c.UIDExpunge(imap.UIDSetNum(imap.UID(uids[2]))).Collect(); err != nil {
		t.Fatalf("UID EXPUNGE = %v", err)
	}
	if got := search(t, c, true, &imap.SearchCriteria{}); !slices.Equal(got, uids[:1]) {
		t.Errorf("UIDs after UID EXPUNGE %d = %v; want %v (the other \\Deleted message stays)", uids[2], got, uids[:1])
	}
}

// existsWatcher records EXISTS and EXPUNGE responses.
type existsWatcher struct {
	exists   chan uint32
	mu       sync.Mutex
	expunged []uint32
}

func newExistsWatcher() *existsWatcher { return &existsWatcher{exists: make(chan uint32, 16)} }

func (w *existsWatcher) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				w.exists <- *d.NumMessages
			}
		},
		Expunge: func(seq uint32) {
			w.mu.Lock()
			w.expunged = append(w.expunged, seq)
			w.mu.Unlock()
		},
	}
}

func (w *existsWatcher) wait(t *testing.T, n uint32) {
	t.Helper()
	timer := time.NewTimer(suiteTimeout)
	defer timer.Stop()
	for {
		select {
		case got := <-w.exists:
			if got == n {
				return
			}
		case <-timer.C:
			t.Fatalf("no \"* %d EXISTS\" within %v", n, suiteTimeout)
		}
	}
}

func testIdle(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	w := newExistsWatcher()
	c := e.client(t, w.handler())
	selectInbox(t, c)
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE = %v", err)
	}
	e.deliver(suiteMsg2)
	w.wait(t, 2)
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE ... DONE = %v", err)
	}
	if m := fetch(t, c, seqSet(2), &imap.FetchOptions{RFC822Size: true}); len(m) != 1 || m[0].RFC822Size != int64(len(suiteMsg2)) {
		t.Errorf("FETCH 2 after IDLE = %v", m)
	}
}

// testIdleRace delivers a message as IDLE starts: just before the command,
// while it is on its way, or as soon as "+ idling" is received. Each time the
// EXISTS must come before DONE; a Backend whose Idle wakes only for updates
// queued after it started would keep some for DONE.
func testIdleRace(t *testing.T, e *env) {
	const rounds = 50
	w := newExistsWatcher()
	c := e.client(t, w.handler())
	selectInbox(t, c)
	for i := uint32(1); i <= rounds; i++ {
		delivered := make(chan struct{})
		switch i % 3 {
		case 0:
			e.deliver(suiteMsg3)
			close(delivered)
		case 1:
			go func() {
				defer close(delivered)
				e.deliver(suiteMsg3)
			}()
		}
		idle, err := c.Idle()
		if err != nil {
			t.Fatalf("round %d: IDLE = %v", i, err)
		}
		if i%3 == 2 {
			e.deliver(suiteMsg3)
			close(delivered)
		}
		<-delivered
		w.wait(t, i)
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatalf("round %d: IDLE ... DONE = %v", i, err)
		}
	}
}

func testTwoSessions(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	w2 := newExistsWatcher()
	c1 := e.client(t, nil)
	c2 := e.client(t, w2.handler())
	selectInbox(t, c1)
	selectInbox(t, c2)

	// S1 APPEND; S2 NOOP sees EXISTS.
	if err := appendMsg(c1, "INBOX", suiteMsg2); err != nil {
		t.Fatalf("S1 APPEND = %v", err)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	w2.wait(t, 2)

	// Concurrent STORE of different flags on one message: both stay.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, pair := range []struct {
		c    *imapclient.Client
		flag imap.Flag
	}{{c1, imap.FlagSeen}, {c2, imap.FlagFlagged}} {
		wg.Go(func() {
			_, errs[i] = pair.c.Store(seqSet(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{pair.flag}}, nil).Collect()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent STORE = %v", err)
	}
	for i, c := range []*imapclient.Client{c1, c2} {
		m := fetch(t, c, seqSet(1), &imap.FetchOptions{Flags: true})
		if len(m) != 1 || !hasFlag(m[0].Flags, imap.FlagSeen) || !hasFlag(m[0].Flags, imap.FlagFlagged) {
			t.Errorf("S%d: flags of 1 after concurrent STORE = %v; want \\Seen and \\Flagged", i+1, m)
		}
	}

	// S1 EXPUNGE; S2 is told before its sequence numbers shift.
	uids := search(t, c1, true, &imap.SearchCriteria{})
	store(t, c1, seqSet(1), imap.StoreFlagsAdd, imap.FlagDeleted)
	if _, err := c1.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	w2.mu.Lock()
	expunged := slices.Clone(w2.expunged)
	w2.mu.Unlock()
	if !slices.Equal(expunged, []uint32{1}) {
		t.Errorf("S2 EXPUNGE responses after S1 EXPUNGE = %v; want [1]", expunged)
	}
	for i, c := range []*imapclient.Client{c1, c2} {
		m := fetch(t, c, imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true})
		if len(m) != 1 || uint32(m[0].UID) != uids[1] {
			t.Errorf("S%d: FETCH 1:* UID after EXPUNGE = %v; want only UID %d", i+1, m, uids[1])
		}
	}
}

func testStatus(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	e.deliver(suiteMsg2)
	c := e.client(t, nil)
	sel := selectInbox(t, c)
	store(t, c, seqSet(1), imap.StoreFlagsAdd, imap.FlagSeen)
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS INBOX = %v", err)
	}
	if st.NumMessages == nil || *st.NumMessages != 2 || st.NumUnseen == nil || *st.NumUnseen != 1 || st.UIDValidity != sel.UIDValidity || st.UIDNext < 3 {
		t.Errorf("STATUS INBOX = %+v; want 2 messages, 1 unseen, UIDVALIDITY %d, UIDNEXT >= 3", st, sel.UIDValidity)
	}
	if _, err := c.Status("Nonexistent", &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
		t.Errorf("STATUS Nonexistent succeeded")
	}
}

func testUIDValidity(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	c1 := e.client(t, nil)
	v1 := selectInbox(t, c1).UIDValidity
	m1 := fetch(t, c1, seqSet(1), &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true, Envelope: true})
	c1.Logout().Wait()
	c2 := e.client(t, nil)
	v2 := selectInbox(t, c2).UIDValidity
	m2 := fetch(t, c2, seqSet(1), &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true, Envelope: true})
	if v1 == 0 || v1 != v2 {
		t.Errorf("UIDVALIDITY = %d, then %d in a new session; want equal and non-zero", v1, v2)
	}
	// Static metadata does not change (RFC 3501 §2.3).
	if len(m1) != 1 || len(m2) != 1 || m1[0].UID != m2[0].UID || m1[0].RFC822Size != m2[0].RFC822Size ||
		!m1[0].InternalDate.Equal(m2[0].InternalDate) || m1[0].Envelope.Subject != m2[0].Envelope.Subject {
		t.Errorf("message metadata differs between sessions: %+v, %+v", m1, m2)
	}
}

func testUnselect(t *testing.T, e *env) {
	e.deliver(suiteMsg1)
	c := e.client(t, nil)
	selectInbox(t, c)
	store(t, c, seqSet(1), imap.StoreFlagsAdd, imap.FlagDeleted)
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT = %v", err)
	}
	if _, err := c.Fetch(seqSet(1), &imap.FetchOptions{Flags: true}).Collect(); err == nil {
		t.Errorf("FETCH after UNSELECT succeeded")
	}
	// UNSELECT does not expunge (RFC 3691).
	if n := selectInbox(t, c).NumMessages; n != 1 {
		t.Errorf("messages after UNSELECT = %d; want 1", n)
	}
}

func testNamespace(t *testing.T, e *env) {
	c := e.client(t, nil)
	ns, err := c.Namespace().Wait()
	if err != nil {
		t.Fatalf("NAMESPACE = %v", err)
	}
	if len(ns.Personal) == 0 {
		t.Errorf("NAMESPACE = %+v; want a personal namespace", ns)
	}
	// Bytes in a mailbox name survive the round trip through the server.
	name := "Caf\u00e9 & Bar"
	if err := c.Create(name, nil).Wait(); err != nil {
		t.Fatalf("CREATE %q = %v", name, err)
	}
	if names := listNames(t, c); !slices.ContainsFunc(names, func(n string) bool { return bytes.Equal([]byte(n), []byte(name)) }) {
		t.Errorf("LIST after CREATE %q = %q", name, names)
	}
}
