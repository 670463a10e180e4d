// Package fault describes the faults that inetkit's servers inject on
// demand, so that a client's handling of errors, timeouts and lost
// connections can be tested against a server that misbehaves the way real
// servers and networks do.
//
// A [Rule] says where a fault is injected (a service and a moment of its
// exchanges: the greeting, a login, a command, a datagram, an HTTP path), for
// whom (any client, a login, a client address or prefix, a recipient), what
// the client then sees (a reply of the rule's own, a delayed or trickled
// reply, a cut, reset, closed or silent connection, a datagram dropped,
// duplicated or held back, a store that is full or failing) and how often
// (always, with a probability, every Nth match, the first N matches, within a
// time window).
//
// A [Set] holds the rules a server consults. Every server of inetkit has a
// field Faults *fault.Set, and servers that share one Set share its rules and
// counters; a nil Set injects nothing. Rules can be added, removed, listed
// and cleared while the servers run, and each counts how often it matched and
// how often it fired. Every fault injected is logged ("fault injected", with
// the rule, the service, the moment and the client) and counted by its rule,
// never as an error of the server.
//
// [Parse] reads rules in a small text format, one per line, as `inetkit serve
// --faults FILE` does:
//
//	# SERVICE MOMENT [WHO...] WHAT [HOW OFTEN...]
//	smtp RCPT to=*@fail.test reply="550 5.1.1 no such user" first=3
//	smtp DATA reply="451 4.3.0 try again later" prob=0.5
//	pop3 RETR user=alice reset
//	imap FETCH close="* BYE [UNAVAILABLE] going away"
//	ftp data reply="425 Can't open data connection."
//	http /api/ reply="503 Service Unavailable" every=2
//	udp datagram drop prob=0.2
//
// The format is described in full at [ParseRule].
//
// # Determinism
//
// Whether the nth match of a rule fires depends only on the set's seed, the
// rule's ID and n: a probability draws from a hash of the three, not from a
// shared generator, so a rule's sequence of decisions is the same in every
// run with the same seed, whatever the other rules and connections do. Which
// connection is a rule's nth match is the order in which the server sees
// them: clients that connect and send one after another meet the same
// faults every run; concurrent clients meet the same sequence, shared among
// them in the order their commands arrive. Time windows (after, for) are
// measured from when the rule was added, and so depend on timing.
package fault

import (
	"errors"
	"net/netip"
	"strconv"
	"time"
)

// ErrInjected is returned by the reads and writes of a connection that a
// fault ended (cut, reset, closed or hung up), and by the server code that
// ended it, so that the connection's end is not counted as an error.
var ErrInjected = errors.New("fault: connection ended by an injected fault")

// Moments that are not commands. A command is named as the client sends it,
// in upper case ("RCPT", "RETR", "FETCH"); an HTTP moment is a path prefix
// starting with "/".
const (
	// MomentConnect is the start of a connection: in place of the
	// greeting of a protocol that has one.
	MomentConnect = "connect"
	// MomentLogin is a successful login, before the reply that says so: a
	// rule's reply refuses the login.
	MomentLogin = "login"
	// MomentData is the opening of an FTP data connection.
	MomentData = "data"
	// MomentDatagram is a UDP datagram answered by the server.
	MomentDatagram = "datagram"
)

// A Kind is what a fault does.
type Kind int

// The kinds of fault.
const (
	// KindReply sends the rule's Text, a reply in the protocol's own form
	// ("451 4.3.0 try later", "-ERR [SYS/TEMP] busy", "NO [UNAVAILABLE]
	// busy", an HTTP status), in place of the server's. At MomentConnect
	// it refuses the connection: the text replaces the greeting and the
	// server closes the connection.
	KindReply Kind = iota + 1
	// KindClose closes the connection cleanly, after the rule's Text if it
	// has one (a "421" or "* BYE"). The client sees the end of the
	// stream.
	KindClose
	// KindReset resets the connection (TCP RST: SO_LINGER 0, then close).
	KindReset
	// KindHang stops answering: the server reads and discards what the
	// client sends until the client gives up, or until the server's idle
	// timeout ends the connection.
	KindHang
	// KindDelay waits Delay, then the server goes on as usual.
	KindDelay
	// KindTrickle sends the server's reply at Rate bytes a second.
	KindTrickle
	// KindTruncate lets Bytes bytes of what the server sends from this
	// moment on through, then closes the connection: a reply cut short.
	KindTruncate
	// KindDrop drops a datagram: no reply.
	KindDrop
	// KindDuplicate sends the reply to a datagram twice.
	KindDuplicate
	// KindReorder holds the reply to a datagram back until the reply to the
	// next datagram from the same client has been sent (or for a second),
	// so that the two arrive in reverse order.
	KindReorder
	// KindDiskFull refuses a delivery (an SMTP message, a news article, an
	// upload, an APPEND) as if the disk were full: SMTP "452 4.3.1", FTP
	// "452", IMAP "NO [OVERQUOTA]", HTTP 507.
	KindDiskFull
	// KindStoreError fails a delivery as a transient error of the store
	// does: SMTP "451 4.3.0", FTP "451", NNTP "441", IMAP
	// "NO [UNAVAILABLE]", HTTP 503.
	KindStoreError
)

var kindNames = [...]string{
	KindReply:      "reply",
	KindClose:      "close",
	KindReset:      "reset",
	KindHang:       "hang",
	KindDelay:      "delay",
	KindTrickle:    "trickle",
	KindTruncate:   "truncate",
	KindDrop:       "drop",
	KindDuplicate:  "duplicate",
	KindReorder:    "reorder",
	KindDiskFull:   "disk-full",
	KindStoreError: "store-error",
}

// String returns the kind's name in the rule format: "reply", "disk-full".
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// isStorage reports whether k fails a delivery.
func (k Kind) isStorage() bool { return k == KindDiskFull || k == KindStoreError }

// A Rule is one fault: where, for whom, what and how often. The zero values
// of the who and how-often fields mean any client and every match.
type Rule struct {
	// ID identifies the rule in its Set. Set.Add assigns it.
	ID int

	// Service is the service whose server injects the fault: "smtp",
	// "pop3", "imap", "ftp", "nntp", "http", "gopher", "telnet", "tcp"
	// (the uppercase service over TCP) or "udp".
	Service string
	// Moment is when: MomentConnect, MomentLogin, MomentData,
	// MomentDatagram, a command in upper case ("RCPT"; for SMTP "DATA" is
	// the end of the message, before it is delivered), or for HTTP a path
	// prefix ("/", "/api/").
	Moment string

	// User, if not "", is a pattern (path.Match, case-insensitive) that
	// the client's login must match: the rule reaches only sessions
	// logged in as it.
	User string
	// Client, if valid, is the address prefix the client's address must
	// be in; a single address is a /32 or /128 prefix.
	Client netip.Prefix
	// Rcpt, if not "", is a pattern (path.Match, case-insensitive) that
	// the recipient of an SMTP RCPT command must match.
	Rcpt string

	// Kind is what the fault does.
	Kind Kind
	// Text is the reply of KindReply, and the last words of KindClose.
	Text string
	// Delay is a wait before the fault acts (before its reply, its cut,
	// its close), or, for KindDelay, before the server goes on. For a
	// datagram it delays the reply.
	Delay time.Duration
	// Rate is the pace of KindTrickle in bytes a second; with KindReply
	// or KindClose it paces their Text.
	Rate int
	// Bytes is how much KindTruncate lets through.
	Bytes int

	// Probability, if not zero, is the chance (0 < p ≤ 1) that a match
	// fires; zero means always.
	Probability float64
	// Every, if not zero, makes only every Nth match fire: the Nth, the
	// 2Nth and so on.
	Every int
	// First, if not zero, makes only the first N matches fire.
	First int
	// After, if not zero, makes the rule fire only once it has been in
	// the set for that long.
	After time.Duration
	// For, if not zero, makes the rule fire only for that long, from
	// After on.
	For time.Duration
}

// A Point is where a server is in an exchange with a client: what a Set
// matches its rules against.
type Point struct {
	Service string
	Moment  string
	// Remote is the client's address; the zero Addr matches no Client
	// prefix.
	Remote netip.Addr
	// RemoteString is the client's address as logged; "" means Remote's.
	RemoteString string
	// User is the client's login, "" before login.
	User string
	// Rcpt is the recipient of an SMTP RCPT command.
	Rcpt string
}
