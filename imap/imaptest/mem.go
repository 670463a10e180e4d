package imaptest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/inetkit/inetkit/imap"
)

// MemBackend is an in-memory [imap.Backend] with user accounts. Each user
// has an INBOX. It keeps everything a Backend keeps: mod-sequences per
// mailbox with the UIDs of expunged messages (so Vanished never forgets),
// \Recent claimed by the first read-write session, subscriptions apart from
// mailboxes, keywords, special-use attributes. It is safe for concurrent
// use: one mutex guards all its state, and bodies, which never change once
// stored, are read without it.
//
// Where the contract leaves a choice, it does as Dovecot does: a read-only
// session (EXAMINE) sees the unclaimed messages \Recent without claiming
// them; keywords are compared without regard to case, spelled as the
// mailbox first saw them, and become the mailbox's as soon as a STORE
// (even -FLAGS) or an APPEND names them; a special-use attribute that RFC
// 6154 does not define is refused with USEATTR; the sessions that have a
// deleted mailbox open see its messages expunged.
type MemBackend struct {
	mu          sync.Mutex
	users       map[string]*memUser
	uidValidity uint32 // the last UIDVALIDITY given out
}

var _ imap.Backend = (*MemBackend)(nil)

// NewMemBackend returns a MemBackend with no users.
func NewMemBackend() *MemBackend {
	return &MemBackend{
		users:       make(map[string]*memUser),
		uidValidity: uint32(time.Now().Unix()),
	}
}

// AddUser adds a user with an empty INBOX, or replaces its password.
func (be *MemBackend) AddUser(user, pass string) {
	be.mu.Lock()
	defer be.mu.Unlock()
	if u := be.users[user]; u != nil {
		u.pass = pass
		return
	}
	u := &memUser{
		be:        be,
		pass:      pass,
		mailboxes: make(map[string]*memMailbox),
		subs:      make(map[string]bool),
		sessions:  make(map[*memUserSession]struct{}),
	}
	u.mailboxes["INBOX"] = be.newMailbox(u, "INBOX", nil)
	be.users[user] = u
}

// Deliver appends msg to user's INBOX, as a mail delivery does: sessions
// that have INBOX selected, and the user's sessions, are woken (a session
// in IDLE sees it at once). msg is stored as it is; it should have CRLF
// line endings.
func (be *MemBackend) Deliver(user string, msg []byte) error {
	be.mu.Lock()
	defer be.mu.Unlock()
	u := be.users[user]
	if u == nil {
		return fmt.Errorf("imaptest: no user %q", user)
	}
	m := u.mailboxes["INBOX"]
	m.add(slices.Clone(msg), nil, time.Now(), nil)
	m.changed()
	return nil
}

// Login checks the password of a user added with AddUser.
func (be *MemBackend) Login(ctx context.Context, username, password string) (imap.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	u := be.users[username]
	if u == nil || u.pass != password {
		return nil, imap.ErrAuthFailed
	}
	s := &memUserSession{u: u, ch: make(chan struct{}, 1)}
	u.sessions[s] = struct{}{}
	return s, nil
}

// newMailbox returns a new mailbox of u with a new UIDVALIDITY. The caller
// holds be.mu.
func (be *MemBackend) newMailbox(u *memUser, name string, specialUse []string) *memMailbox {
	be.uidValidity++
	return &memMailbox{
		u:           u,
		name:        name,
		specialUse:  slices.Clone(specialUse),
		uidValidity: be.uidValidity,
		uidNext:     1,
		sessions:    make(map[*memMailboxSession]struct{}),
	}
}

// memUser is a user's data; its fields are guarded by be.mu.
type memUser struct {
	be        *MemBackend
	pass      string
	mailboxes map[string]*memMailbox // by name, "INBOX" spelled so
	subs      map[string]bool
	sessions  map[*memUserSession]struct{}
}

// changed wakes every session of the user.
func (u *memUser) changed() {
	for s := range u.sessions {
		wake(s.ch)
	}
}

// wake sends on ch unless a value is waiting already.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// memMailbox is a mailbox; its fields are guarded by be.mu.
type memMailbox struct {
	u           *memUser
	name        string
	specialUse  []string
	uidValidity uint32
	uidNext     uint32
	modSeq      uint64    // the highest mod-sequence given out
	msgs        []*memMsg // ascending by UID
	expunged    []memTomb // ascending by mod-sequence
	keywords    []string  // in the order first used
	deleted     bool      // the mailbox was deleted; its sessions see it empty
	sessions    map[*memMailboxSession]struct{}
}

// memMsg is a message. body and sort never change once stored.
type memMsg struct {
	uid     uint32
	flags   []string
	modSeq  uint64
	date    time.Time
	body    []byte
	sort    imap.SortData
	claimed bool // a read-write session has had it as \Recent
}

// memTomb is the UID of an expunged message, and the mod-sequence of its
// expunge.
type memTomb struct {
	uid    uint32
	modSeq uint64
}

// add stores a new message and returns it. The caller holds be.mu and
// wakes the sessions.
func (m *memMailbox) add(body []byte, flags []string, date time.Time, sort *imap.SortData) *memMsg {
	m.modSeq++
	msg := &memMsg{uid: m.uidNext, modSeq: m.modSeq, date: date, body: body}
	msg.flags = m.useFlags(nil, flags)
	if sort != nil {
		msg.sort = *sort
	} else {
		msg.sort = newSortData(body)
	}
	msg.sort.UID = msg.uid
	m.uidNext++
	m.msgs = append(m.msgs, msg)
	return msg
}

// useFlags returns flags added to have, without duplicates (keywords
// compared without case, spelled as the mailbox first saw them), and
// records new keywords.
func (m *memMailbox) useFlags(have, flags []string) []string {
	out := slices.Clone(have)
	for _, f := range flags {
		if f == "" || strings.EqualFold(f, `\Recent`) {
			continue
		}
		if !strings.HasPrefix(f, `\`) {
			f = m.keyword(f)
		}
		if !containsFold(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// keyword returns the mailbox's spelling of keyword k, adding it to the
// mailbox's keywords if new.
func (m *memMailbox) keyword(k string) string {
	for _, kw := range m.keywords {
		if strings.EqualFold(kw, k) {
			return kw
		}
	}
	m.keywords = append(m.keywords, k)
	return k
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// find returns the index of uid in m.msgs, or -1.
func (m *memMailbox) find(uid uint32) int {
	i, ok := slices.BinarySearchFunc(m.msgs, uid, func(msg *memMsg, u uint32) int {
		switch {
		case msg.uid < u:
			return -1
		case msg.uid > u:
			return 1
		}
		return 0
	})
	if !ok {
		return -1
	}
	return i
}

// lookup returns the messages of uids (ascending) that exist.
func (m *memMailbox) lookup(uids []uint32) []*memMsg {
	var out []*memMsg
	for _, uid := range uids {
		if i := m.find(uid); i >= 0 {
			out = append(out, m.msgs[i])
		}
	}
	return out
}

// remove expunges the messages of uids (which exist), each with a new
// mod-sequence. The caller holds be.mu and wakes the sessions.
func (m *memMailbox) remove(uids []uint32) {
	if len(uids) == 0 {
		return
	}
	gone := make(map[uint32]bool, len(uids))
	for _, uid := range uids {
		gone[uid] = true
		m.modSeq++
		m.expunged = append(m.expunged, memTomb{uid, m.modSeq})
	}
	m.msgs = slices.DeleteFunc(m.msgs, func(msg *memMsg) bool { return gone[msg.uid] })
}

// changed wakes the sessions that have m open and the user's sessions.
func (m *memMailbox) changed() {
	for s := range m.sessions {
		wake(s.ch)
	}
	m.u.changed()
}

func (m *memMailbox) status() *imap.MailboxStatus {
	st := &imap.MailboxStatus{
		Messages:      uint32(len(m.msgs)),
		UIDNext:       m.uidNext,
		UIDValidity:   m.uidValidity,
		HighestModSeq: m.modSeq,
	}
	for _, msg := range m.msgs {
		if !msg.claimed {
			st.Recent++
		}
		if !slices.Contains(msg.flags, `\Seen`) {
			st.Unseen++
		}
		if slices.Contains(msg.flags, `\Deleted`) {
			st.Deleted++
		}
		st.Size += int64(len(msg.body))
	}
	return st
}

// memUserSession is one connection's imap.User.
type memUserSession struct {
	u      *memUser
	ch     chan struct{}
	closed bool
}

var _ imap.User = (*memUserSession)(nil)

func (s *memUserSession) be() *MemBackend { return s.u.be }

// lock locks the backend, or returns ctx's error.
func (s *memUserSession) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.be().mu.Lock()
	return nil
}

func (s *memUserSession) unlock() { s.be().mu.Unlock() }

// canonName checks name as Backend's doc says and returns it with the
// inbox spelled "INBOX".
func canonName(name string) (string, error) {
	levels := strings.Split(name, "/")
	for _, l := range levels {
		if l == "" || l == "." || l == ".." {
			return "", imap.ErrBadName
		}
	}
	if strings.EqualFold(levels[0], "INBOX") {
		levels[0] = "INBOX"
	}
	return strings.Join(levels, "/"), nil
}

// mailbox returns the mailbox named name, or an error. The caller holds
// be.mu.
func (s *memUserSession) mailbox(name string) (*memMailbox, error) {
	name, err := canonName(name)
	if err != nil {
		return nil, imap.ErrNonExistent
	}
	m := s.u.mailboxes[name]
	if m == nil {
		return nil, imap.ErrNonExistent
	}
	return m, nil
}

// Mailboxes returns every mailbox of the user.
func (s *memUserSession) Mailboxes(ctx context.Context) ([]imap.MailboxInfo, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	out := make([]imap.MailboxInfo, 0, len(s.u.mailboxes))
	for name, m := range s.u.mailboxes {
		out = append(out, imap.MailboxInfo{Name: name, SpecialUse: slices.Clone(m.specialUse)})
	}
	return out, nil
}

// specialUses are the attributes of RFC 6154 §2.
var specialUses = []string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`}

// errUseAttr answers a special-use attribute that RFC 6154 does not define
// (RFC 6154 §5.3 USEATTR).
var errUseAttr = &imap.Error{Code: "USEATTR", Text: "Unsupported special-use attribute."}

// CreateMailbox creates name and its missing parents.
func (s *memUserSession) CreateMailbox(ctx context.Context, name string, specialUse []string) error {
	name, err := canonName(name)
	if err != nil {
		return err
	}
	var use []string
	for _, a := range specialUse {
		i := slices.IndexFunc(specialUses, func(u string) bool { return strings.EqualFold(u, a) })
		if i < 0 {
			return errUseAttr
		}
		if !slices.Contains(use, specialUses[i]) {
			use = append(use, specialUses[i])
		}
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if s.u.mailboxes[name] != nil {
		return imap.ErrAlreadyExists
	}
	s.createParents(name)
	s.u.mailboxes[name] = s.be().newMailbox(s.u, name, use)
	s.u.changed()
	return nil
}

// createParents creates the missing parents of name. The caller holds
// be.mu.
func (s *memUserSession) createParents(name string) {
	for i := range len(name) {
		if name[i] != '/' {
			continue
		}
		if p := name[:i]; s.u.mailboxes[p] == nil {
			s.u.mailboxes[p] = s.be().newMailbox(s.u, p, nil)
		}
	}
}

// errDeleteInbox answers DELETE INBOX (RFC 9051 §6.3.5: it is an error).
var errDeleteInbox = &imap.Error{Code: "CANNOT", Text: "INBOX can't be deleted."}

// DeleteMailbox deletes name but not its children. Sessions that have it
// open see its messages expunged.
func (s *memUserSession) DeleteMailbox(ctx context.Context, name string) error {
	name, err := canonName(name)
	if err != nil {
		return imap.ErrNonExistent
	}
	if name == "INBOX" {
		return errDeleteInbox
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	m := s.u.mailboxes[name]
	if m == nil {
		return imap.ErrNonExistent
	}
	delete(s.u.mailboxes, name)
	m.deleted = true
	m.remove(uids(m.msgs))
	m.changed()
	return nil
}

func uids(msgs []*memMsg) []uint32 {
	out := make([]uint32, len(msgs))
	for i, msg := range msgs {
		out[i] = msg.uid
	}
	return out
}

// errRenameChild answers a RENAME of a mailbox into its own subtree.
var errRenameChild = &imap.Error{Code: "CANNOT", Text: "Can't rename mailbox under its own child."}

// RenameMailbox renames from to to, with its children; for INBOX, it moves
// the messages to a new mailbox to and leaves INBOX empty.
func (s *memUserSession) RenameMailbox(ctx context.Context, from, to string) error {
	from, err := canonName(from)
	if err != nil {
		return imap.ErrNonExistent
	}
	if to, err = canonName(to); err != nil {
		return err
	}
	switch {
	case to == from:
		return imap.ErrAlreadyExists
	case from != "INBOX" && strings.HasPrefix(to, from+"/"):
		// INBOX's children stay where they are: "INBOX/old" is fine.
		return errRenameChild
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	m := s.u.mailboxes[from]
	if m == nil {
		return imap.ErrNonExistent
	}
	if s.u.mailboxes[to] != nil {
		return imap.ErrAlreadyExists
	}
	if from == "INBOX" {
		s.renameInbox(m, to)
		return nil
	}
	moves := map[string]*memMailbox{to: m}
	for name, c := range s.u.mailboxes {
		if rest, ok := strings.CutPrefix(name, from+"/"); ok {
			if s.u.mailboxes[to+"/"+rest] != nil {
				return imap.ErrAlreadyExists
			}
			moves[to+"/"+rest] = c
		}
	}
	for _, c := range moves {
		delete(s.u.mailboxes, c.name)
	}
	s.createParents(to)
	for name, c := range moves {
		c.name = name
		s.u.mailboxes[name] = c
	}
	s.u.changed()
	return nil
}

// renameInbox moves the messages of INBOX (m) to a new mailbox to, where
// they keep their UIDs, flags and dates. The caller holds be.mu.
func (s *memUserSession) renameInbox(m *memMailbox, to string) {
	s.createParents(to)
	n := s.be().newMailbox(s.u, to, nil)
	for _, msg := range m.msgs {
		c := *msg
		c.flags = slices.Clone(msg.flags)
		n.modSeq++
		c.modSeq = n.modSeq
		n.msgs = append(n.msgs, &c)
	}
	n.uidNext = m.uidNext
	n.keywords = slices.Clone(m.keywords)
	s.u.mailboxes[to] = n
	m.remove(uids(m.msgs))
	m.changed()
}

// Subscriptions returns the subscribed names.
func (s *memUserSession) Subscriptions(ctx context.Context) ([]string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	out := make([]string, 0, len(s.u.subs))
	for name := range s.u.subs {
		out = append(out, name)
	}
	return out, nil
}

// Subscribe adds or removes a subscription, whether or not the mailbox
// exists.
func (s *memUserSession) Subscribe(ctx context.Context, name string, subscribe bool) error {
	if n, err := canonName(name); err == nil {
		name = n
	} else if subscribe {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if subscribe {
		s.u.subs[name] = true
	} else {
		delete(s.u.subs, name)
	}
	s.u.changed()
	return nil
}

// Status returns the counters of name.
func (s *memUserSession) Status(ctx context.Context, name string) (*imap.MailboxStatus, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	m, err := s.mailbox(name)
	if err != nil {
		return nil, err
	}
	return m.status(), nil
}

// Append adds msgs to name, all of them or (on an error) none.
func (s *memUserSession) Append(ctx context.Context, name string, msgs []*imap.AppendMessage) (*imap.CopyResult, error) {
	// Parse outside the lock: it is the slow part.
	sorts := make([]imap.SortData, len(msgs))
	for i, msg := range msgs {
		sorts[i] = newSortData(msg.Body)
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	m, err := s.mailbox(name)
	if err != nil {
		return nil, err
	}
	res := &imap.CopyResult{UIDValidity: m.uidValidity}
	now := time.Now()
	for i, msg := range msgs {
		date := msg.Date
		if date.IsZero() {
			date = now
		}
		res.Dest = append(res.Dest, m.add(slices.Clone(msg.Body), msg.Flags, date, &sorts[i]).uid)
	}
	m.changed()
	return res, nil
}

// Open opens name for a session.
func (s *memUserSession) Open(ctx context.Context, name string, readOnly bool) (imap.Mailbox, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	m, err := s.mailbox(name)
	if err != nil {
		return nil, err
	}
	ms := &memMailboxSession{
		us:       s,
		m:        m,
		readOnly: readOnly,
		ch:       make(chan struct{}, 1),
		recent:   make(map[uint32]bool),
		known:    make(map[uint32]bool),
	}
	m.sessions[ms] = struct{}{}
	return ms, nil
}

// Changed returns the channel woken on every change of the user's data.
func (s *memUserSession) Changed() <-chan struct{} { return s.ch }

// Close ends the session.
func (s *memUserSession) Close() error {
	s.be().mu.Lock()
	defer s.be().mu.Unlock()
	delete(s.u.sessions, s)
	s.closed = true
	return nil
}

// memMailboxSession is one connection's imap.Mailbox.
type memMailboxSession struct {
	us       *memUserSession
	m        *memMailbox
	readOnly bool
	ch       chan struct{}
	polled   bool
	seen     uint64          // the mod-sequence up to which Poll reported
	recent   map[uint32]bool // the messages that are \Recent for this session
	known    map[uint32]bool // the messages Poll has reported and not their expunge
}

var _ imap.Mailbox = (*memMailboxSession)(nil)

func (s *memMailboxSession) lock(ctx context.Context) error { return s.us.lock(ctx) }
func (s *memMailboxSession) unlock()                        { s.us.unlock() }

// UIDValidity returns the mailbox's UIDVALIDITY.
func (s *memMailboxSession) UIDValidity() uint32 { return s.m.uidValidity }

// state returns msg as the session sees it. The caller holds be.mu.
func (s *memMailboxSession) state(msg *memMsg) imap.MessageState {
	return imap.MessageState{
		UID:          msg.uid,
		Flags:        slices.Clone(msg.flags),
		ModSeq:       msg.modSeq,
		InternalDate: msg.date,
		Size:         int64(len(msg.body)),
		Recent:       s.recent[msg.uid],
	}
}

// Poll returns the changes since the previous Poll, every message the
// first time. A message no read-write session has claimed is \Recent for
// the session; a read-write session claims it, a read-only one does not.
func (s *memMailboxSession) Poll(ctx context.Context) (*imap.Changes, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	select { // the changes waiting are those returned now
	case <-s.ch:
	default:
	}
	m := s.m
	ch := &imap.Changes{
		Keywords:      slices.Clone(m.keywords),
		UIDNext:       m.uidNext,
		HighestModSeq: m.modSeq,
	}
	for _, msg := range m.msgs {
		if !msg.claimed && !s.known[msg.uid] {
			// A read-only session sees it \Recent without claiming it,
			// as Dovecot's EXAMINE does (RFC 3501 §6.3.2: EXAMINE must
			// not make messages lose \Recent).
			msg.claimed = !s.readOnly
			s.recent[msg.uid] = true
		}
		if msg.modSeq > s.seen || !s.polled {
			ch.Messages = append(ch.Messages, s.state(msg))
			s.known[msg.uid] = true
		}
	}
	if s.polled {
		i, _ := slices.BinarySearchFunc(m.expunged, s.seen+1, func(t memTomb, ms uint64) int {
			return cmpUint(t.modSeq, ms)
		})
		for _, t := range m.expunged[i:] {
			if s.known[t.uid] {
				ch.Expunged = append(ch.Expunged, t.uid)
				delete(s.known, t.uid)
				delete(s.recent, t.uid)
			}
		}
		slices.Sort(ch.Expunged)
	}
	s.polled = true
	s.seen = m.modSeq
	return ch, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Changed returns the channel woken on every change of the mailbox.
func (s *memMailboxSession) Changed() <-chan struct{} { return s.ch }

// Vanished returns the UIDs expunged after since, ascending.
func (s *memMailboxSession) Vanished(ctx context.Context, since uint64) ([]uint32, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	var out []uint32
	for _, t := range s.m.expunged {
		if t.modSeq > since {
			out = append(out, t.uid)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Fetch calls fn for each message of uids that exists. The lock is not
// held while fn runs: bodies never change.
func (s *memMailboxSession) Fetch(ctx context.Context, uids []uint32, fn func(*imap.Message) error) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	msgs := s.m.lookup(uids)
	s.unlock()
	for _, msg := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(&imap.Message{UID: msg.uid, Size: int64(len(msg.body)), Body: bytes.NewReader(msg.body)}); err != nil {
			return err
		}
	}
	return nil
}

// Store changes flags as op says.
func (s *memMailboxSession) Store(ctx context.Context, uids []uint32, op imap.StoreOp, flags []string, unchangedSince uint64) (changed []imap.MessageState, modified []uint32, err error) {
	if err := s.lock(ctx); err != nil {
		return nil, nil, err
	}
	defer s.unlock()
	m := s.m
	// A keyword is the mailbox's once a STORE names it, even -FLAGS, even
	// if no message changes (those of uids were expunged meanwhile), as in
	// Dovecot: imaptest expects it in FLAGS after the OK.
	m.useFlags(nil, flags)
	for _, msg := range m.lookup(uids) {
		if unchangedSince != 0 && msg.modSeq > unchangedSince {
			modified = append(modified, msg.uid)
			continue
		}
		var nf []string
		switch op {
		case imap.StoreReplace:
			nf = m.useFlags(nil, flags)
		case imap.StoreAdd:
			nf = m.useFlags(msg.flags, flags)
		case imap.StoreRemove:
			nf = slices.DeleteFunc(slices.Clone(msg.flags), func(f string) bool { return containsFold(flags, f) })
		}
		if sameFlags(nf, msg.flags) {
			continue
		}
		m.modSeq++
		msg.flags, msg.modSeq = nf, m.modSeq
		changed = append(changed, s.state(msg))
	}
	if len(changed) > 0 {
		m.changed()
	}
	return changed, modified, nil
}

// sameFlags reports whether a and b hold the same flags, in any order.
func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !slices.Contains(b, f) {
			return false
		}
	}
	return true
}

// Expunge removes the messages of uids (all if nil) that have \Deleted.
func (s *memMailboxSession) Expunge(ctx context.Context, uids []uint32) ([]uint32, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	m := s.m
	msgs := m.msgs
	if uids != nil {
		msgs = m.lookup(uids)
	}
	var gone []uint32
	for _, msg := range msgs {
		if slices.Contains(msg.flags, `\Deleted`) {
			gone = append(gone, msg.uid)
		}
	}
	m.remove(gone)
	if len(gone) > 0 {
		m.changed()
	}
	return gone, nil
}

// Copy copies (or moves) the messages of uids to dest.
func (s *memMailboxSession) Copy(ctx context.Context, uids []uint32, dest string, move bool) (*imap.CopyResult, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	d, err := s.us.mailbox(dest)
	if err != nil {
		return nil, err
	}
	res := &imap.CopyResult{UIDValidity: d.uidValidity}
	for _, msg := range s.m.lookup(uids) {
		c := d.add(msg.body, msg.flags, msg.date, &msg.sort)
		res.Source = append(res.Source, msg.uid)
		res.Dest = append(res.Dest, c.uid)
	}
	if len(res.Source) == 0 {
		return res, nil
	}
	if move {
		s.m.remove(res.Source)
		s.m.changed()
	}
	d.changed()
	return res, nil
}

// SortData returns the sort data of the messages of uids that exist.
func (s *memMailboxSession) SortData(ctx context.Context, uids []uint32) ([]imap.SortData, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	var out []imap.SortData
	for _, msg := range s.m.lookup(uids) {
		sd := msg.sort
		sd.References = slices.Clone(sd.References)
		out = append(out, sd)
	}
	return out, nil
}

// Close closes the session.
func (s *memMailboxSession) Close() error {
	s.us.be().mu.Lock()
	defer s.us.be().mu.Unlock()
	delete(s.m.sessions, s)
	return nil
}

// newSortData computes a message's sort data from its header, with UID 0:
// the caller sets the UID.
func newSortData(body []byte) imap.SortData {
	header := body
	if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
		header = body[:i+4]
	} else if i := bytes.Index(body, []byte("\n\n")); i >= 0 {
		header = body[:i+2]
	}
	return imap.NewSortData(0, header)
}
