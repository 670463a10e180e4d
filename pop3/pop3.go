// Package pop3 implements the Post Office Protocol version 3, client and
// server:
//
//   - RFC 1939: POP3 (USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET,
//     QUIT, TOP, UIDL);
//   - RFC 2449: the CAPA command and extended response codes (RESP-CODES,
//     PIPELINING, IMPLEMENTATION, the 255-octet command line);
//   - RFC 2595: STLS;
//   - RFC 3206: the SYS and AUTH response codes (AUTH-RESP-CODE);
//   - RFC 5034: the AUTH command, with the PLAIN mechanism (RFC 4616).
//
// Use [Dial], [DialTLS], [DialStartTLS] or [NewClient] for the client side,
// and a [Server] with a [Backend] for the server side. Package pop3test runs a
// Server in process for tests, with an in-memory Backend and a conformance
// suite for Backends.
//
// The server keeps the deletion marks of a session itself and hands them to
// [Session.Commit] only when the client sends QUIT (the UPDATE state of RFC
// 1939 §6): a connection that ends any other way deletes nothing.
package pop3

import (
	"strconv"
	"time"
)

// ConnState is the state of a POP3 session (RFC 1939 §3).
type ConnState int

// The states of a POP3 session.
const (
	// ConnStateAuthorization is the state before the client has logged in.
	ConnStateAuthorization ConnState = iota
	// ConnStateTransaction is the state after a successful login.
	ConnStateTransaction
	// ConnStateUpdate is the state after QUIT in ConnStateTransaction,
	// while the deletions are committed.
	ConnStateUpdate
)

var connStateNames = [...]string{
	ConnStateAuthorization: "AUTHORIZATION",
	ConnStateTransaction:   "TRANSACTION",
	ConnStateUpdate:        "UPDATE",
}

// String returns the RFC 1939 name of the state: "AUTHORIZATION",
// "TRANSACTION" or "UPDATE".
func (s ConnState) String() string {
	if s >= 0 && int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return "ConnState(" + strconv.Itoa(int(s)) + ")"
}

// MessageSize is one entry of a LIST reply: a message number and the size of
// the message in octets.
type MessageSize struct {
	Number int
	Size   int64
}

// MessageUID is one entry of a UIDL reply: a message number and the
// message's unique-id.
type MessageUID struct {
	Number int
	UID    string
}

// Limits and defaults of the protocol.
const (
	// MaxLineBytes is the longest command line a server accepts, CRLF
	// included (RFC 2449 §4).
	MaxLineBytes = 255
	// MaxReplyBytes is the longest reply line a client accepts, CRLF
	// included. RFC 2449 §4 limits replies to 512 octets; the client
	// allows more, for servers that send long greetings or texts.
	MaxReplyBytes = 4096

	// DefaultIdleTimeout is how long the server waits for a command. RFC
	// 1939 §3: an inactivity autologout timer must be of at least 10
	// minutes.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultClientTimeout bounds every command of a Client.
	DefaultClientTimeout = time.Minute
)
