package imapd

import (
	"context"
	"io"
	"time"
)

// A Backend authenticates users and gives access to their mailboxes. Its
// methods, and those of the User and Mailbox values it returns, are called
// concurrently from many connections (but one at a time from one
// connection, see User).
//
// A returned *Error is sent to the client as it is (ErrNonExistent,
// ErrAlreadyExists and the other Err values are *Error); any other error is
// logged and the client gets "NO [SERVERBUG] internal error".
//
// Mailbox names are UTF-8 (the server decodes modified UTF-7), hierarchy
// levels are separated by "/", and the inbox is "INBOX" whatever case the
// client used (RFC 9051 §5.1). A backend refuses a name with an empty level
// ("a//b", "/a", "a/") or a level of "." or "..", with ErrBadName.
type Backend interface {
	// Login checks username and password and returns the user's mailboxes.
	// It returns ErrAuthFailed when they are wrong.
	Login(ctx context.Context, username, password string) (User, error)
}

// A User is one connection's access to a logged-in user's mailboxes. The
// server calls its methods from one goroutine at a time, and Close once, at
// the end of the connection.
type User interface {
	// Mailboxes returns every mailbox of the user, in any order: the
	// server works out \HasChildren, \HasNoChildren and the \Noselect
	// parents that exist only as part of a child's name.
	Mailboxes(ctx context.Context) ([]MailboxInfo, error)
	// CreateMailbox creates mailbox name, and any missing parent (RFC 9051
	// §6.3.4), with the special-use attributes given (RFC 6154 §5, "\Sent"
	// and the like; none is the usual case). It returns ErrAlreadyExists if
	// name exists. INBOX always exists.
	CreateMailbox(ctx context.Context, name string, specialUse []string) error
	// DeleteMailbox deletes mailbox name and its messages, but not its
	// children, nor its subscription (RFC 9051 §6.3.5). It returns
	// ErrNonExistent if there is no such mailbox and an *Error for INBOX.
	DeleteMailbox(ctx context.Context, name string) error
	// RenameMailbox renames mailbox from to to, with its children (whose
	// names start with from + "/"), creating to's missing parents (RFC 9051
	// §6.3.6); the mailbox keeps its UIDVALIDITY. Renaming INBOX moves its
	// messages to a new mailbox named to and leaves INBOX empty. It returns
	// ErrNonExistent or ErrAlreadyExists. Subscriptions are not changed.
	RenameMailbox(ctx context.Context, from, to string) error

	// Subscriptions returns the names the user subscribed to (RFC 9051
	// §6.3.7), which need not exist, in any order.
	Subscriptions(ctx context.Context) ([]string, error)
	// Subscribe adds name to the subscriptions, or removes it if
	// subscribe is false; neither is an error if already done.
	Subscribe(ctx context.Context, name string, subscribe bool) error

	// Status returns the counters of mailbox name (RFC 9051 §6.3.11),
	// or ErrNonExistent.
	Status(ctx context.Context, name string) (*MailboxStatus, error)

	// Append adds msgs to mailbox name, all or none (MULTIAPPEND, RFC 3502),
	// each with the flags and internal date given (the current time if
	// zero), and returns their UIDs (UIDPLUS, RFC 4315). It returns
	// ErrNonExistent (answered with TRYCREATE), ErrTooBig or ErrOverQuota.
	// The messages are new to every session: the first to see them gets
	// them as \Recent.
	Append(ctx context.Context, name string, msgs []*AppendMessage) (*CopyResult, error)

	// Open opens mailbox name for SELECT (readOnly false) or EXAMINE
	// (readOnly true), or returns ErrNonExistent. The Mailbox is closed by
	// the server when the client selects another mailbox, closes it or
	// logs out.
	Open(ctx context.Context, name string, readOnly bool) (Mailbox, error)

	// Changed returns a channel that receives a value when any mailbox of
	// the user may have changed (messages, flags, mailboxes created,
	// deleted, renamed, subscriptions) since the value before, for NOTIFY
	// (RFC 5465) and for the STATUS of mailboxes other than the selected
	// one. Several changes may share one value. It returns the same channel
	// every time.
	Changed() <-chan struct{}

	// Close releases the user; it is always called, once.
	Close() error
}

// MailboxInfo describes a mailbox in User.Mailboxes.
type MailboxInfo struct {
	Name       string
	SpecialUse []string // RFC 6154 attributes, such as "\Sent"; nil if none
}

// MailboxStatus is the STATUS of a mailbox (RFC 9051 §6.3.11, RFC 7162
// HIGHESTMODSEQ, RFC 8438 SIZE). Recent counts the messages that are
// \Recent: new to every session that has had the mailbox selected.
type MailboxStatus struct {
	Messages, Recent, Unseen, Deleted uint32
	UIDNext, UIDValidity              uint32
	Size                              int64 // of all messages, octets
	HighestModSeq                     uint64
}

// An AppendMessage is one message of APPEND.
type AppendMessage struct {
	Flags []string  // system flags in their canonical case ("\Seen"), keywords as sent
	Date  time.Time // internal date; zero means now
	Body  []byte    // the whole message, CRLF line endings as sent
}

// CopyResult is what APPEND, COPY and MOVE report (RFC 4315 APPENDUID and
// COPYUID): the destination's UIDVALIDITY and, pairwise, the UIDs of the
// source messages (not for APPEND) and of their copies.
type CopyResult struct {
	UIDValidity uint32
	Source      []uint32
	Dest        []uint32
}

// A Mailbox is a mailbox a connection has selected. The server keeps its
// own view of the messages, which it builds from Poll; the backend keeps
// no sequence numbers.
//
// Every change to a message (a delivery, a flag set, an expunge) gets a new
// mod-sequence from a counter kept per mailbox that never goes back (RFC
// 7162 §3.1): the backend reports the changes of other sessions, and of this
// one, in mod-sequence order.
type Mailbox interface {
	// UIDValidity returns the mailbox's UIDVALIDITY.
	UIDValidity() uint32

	// Poll returns what changed since the previous Poll: the first call
	// returns every message. A message is in Changes.Messages if it is new
	// or its flags changed since; it appears once, with its current state.
	// Poll also gives the session the messages that are \Recent for it
	// (RFC 3501 §2.3.2): those that no session has seen \Recent before.
	// A read-write session claims them (no other session sees them
	// \Recent); a read-only one sees them without claiming them, as in
	// Dovecot.
	Poll(ctx context.Context) (*Changes, error)
	// Changed returns a channel that receives a value when a change may be
	// waiting for Poll (another session's or a delivery), at once if one
	// is already waiting. It returns the same channel every time.
	Changed() <-chan struct{}

	// Vanished returns the UIDs of the messages expunged after mod-sequence
	// since, in ascending order, for QRESYNC (RFC 7162 §3.2.5, §3.2.6).
	// A backend that has forgotten them returns every UID below UIDNext
	// that no message has now, as RFC 7162 §3.2.5.2 allows.
	Vanished(ctx context.Context, since uint64) ([]uint32, error)

	// Fetch calls fn for each message of uids (ascending) that still
	// exists, in the same order, with its content. The Message is valid
	// only until fn returns.
	Fetch(ctx context.Context, uids []uint32, fn func(*Message) error) error

	// Store changes the flags of the messages of uids (ascending) as op
	// says, skipping those whose mod-sequence is above unchangedSince if it
	// is not 0 (RFC 7162 §3.1.3): their UIDs are returned in modified.
	// It returns the new state of each message whose flags changed, with its
	// new mod-sequence. Flags are system flags in their canonical case, or
	// keywords as sent; "\Recent" is never passed.
	Store(ctx context.Context, uids []uint32, op StoreOp, flags []string, unchangedSince uint64) (changed []MessageState, modified []uint32, err error)

	// Expunge removes those messages of uids (all messages if uids is nil)
	// that have the \Deleted flag, and returns their UIDs, ascending.
	Expunge(ctx context.Context, uids []uint32) ([]uint32, error)

	// Copy copies the messages of uids (ascending) to mailbox dest, with
	// their flags and internal dates, and returns their new UIDs; with move,
	// it removes them from this mailbox in the same transaction (RFC 6851).
	// It returns ErrNonExistent for a dest that does not exist (answered
	// with TRYCREATE).
	Copy(ctx context.Context, uids []uint32, dest string, move bool) (*CopyResult, error)

	// SortData returns, for each message of uids (ascending) that still
	// exists, in the same order, what SORT and THREAD (RFC 5256) and the
	// sent-date SEARCH keys need: computed once, when the message was
	// stored, by NewSortData.
	SortData(ctx context.Context, uids []uint32) ([]SortData, error)

	// Close releases the mailbox.
	Close() error
}

// StoreOp says how Store changes flags.
type StoreOp int

// Store operations (RFC 9051 §6.4.6).
const (
	StoreReplace StoreOp = iota // FLAGS
	StoreAdd                    // +FLAGS
	StoreRemove                 // -FLAGS
)

// MessageState is what the server keeps of a message in its view of the
// selected mailbox.
type MessageState struct {
	UID          uint32
	Flags        []string // without \Recent
	ModSeq       uint64
	InternalDate time.Time
	Size         int64
	Recent       bool // \Recent for this session
}

// Changes are the changes that Mailbox.Poll reports.
type Changes struct {
	// Messages are the messages that are new or whose flags changed,
	// ascending by UID.
	Messages []MessageState
	// Expunged are the UIDs of the messages expunged, ascending; a UID the
	// server does not know (a message both added and expunged since the
	// last Poll, or one whose expunge the session reported itself) is
	// ignored.
	Expunged []uint32
	// Keywords are the mailbox's keywords, for FLAGS and PERMANENTFLAGS
	// (RFC 9051 §7.3.5): every keyword that a STORE or APPEND named, even
	// one that changed no message (a client that stored a keyword expects
	// it in FLAGS), in the order they were first named.
	Keywords []string
	// UIDNext and HighestModSeq are the mailbox's, as of this Poll.
	UIDNext       uint32
	HighestModSeq uint64
}

// A Message is a message's content, for FETCH.
type Message struct {
	UID  uint32
	Size int64
	// Body reads the message, Size octets, with CRLF line endings.
	Body io.ReaderAt
}

// SortData is what SORT, THREAD and the sent-date SEARCH keys need of a
// message (RFC 5256, RFC 5957).
type SortData struct {
	UID uint32
	// Date is the Date field, zero if absent or unparseable (SORT then
	// uses the internal date, RFC 5256 §3).
	Date time.Time
	// BaseSubject is the base subject of RFC 5256 §2.1, decoded (RFC 2047),
	// in UTF-8.
	BaseSubject string
	// From, To and Cc are the addr-mailbox of the first address of each
	// field ("" if none), and DisplayFrom and DisplayTo the display name of
	// the first, or its addr-spec if it has none (RFC 5957 §2), decoded.
	From, To, Cc, DisplayFrom, DisplayTo string
	// MessageID, InReplyTo and References are message ids without the
	// angle brackets, as THREAD=REFERENCES reads them (RFC 5256 §3).
	MessageID  string
	InReplyTo  string
	References []string
	// HasRe is whether the subject had a "Re:" or similar prefix or a
	// "(fwd)" trailer, for THREAD=ORDEREDSUBJECT (RFC 5256 §2.1 step 6).
	HasRe bool
}
