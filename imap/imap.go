// Package imap implements an IMAP server and small client helpers.
//
// The server speaks IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) through
// go-imap's imapserver, with STARTTLS and LOGINDISABLED (RFC 3501 §6.2.1),
// AUTH=PLAIN (RFC 4616), SASL-IR (RFC 4959), IDLE (RFC 2177), UIDPLUS
// (RFC 4315), MOVE (RFC 6851), UNSELECT (RFC 3691), NAMESPACE (RFC 2342),
// ENABLE (RFC 5161), ID (RFC 2971), LITERAL+ (RFC 7888), SPECIAL-USE
// (RFC 6154) and CHILDREN (RFC 3348), and implicit TLS (RFC 8314). [Server]
// puts a guard in front of go-imap's parser that bounds every command line
// and literal, bounds each command in time from its first octet to its last
// line, times out stalled literals and idle sessions with "* BYE", answers
// malformed commands with BAD, delays and limits failed logins (also across
// connections, with a lineproto.AuthLimiter), refuses HTTP requests
// (cross-protocol attacks) and discards plaintext injected after STARTTLS.
// Storage is a [Backend].
//
// The client side is go-imap's imapclient; [Dial], [DialTLS] and
// [DialStartTLS] return one, and [ListMessages], [SearchMessages],
// [DeleteMessages], [FetchMessage] and [Watch] do the work of "inetkit get
// imap://..." and "inetkit imap idle". [ParseURL] parses IMAP URLs (RFC
// 5092), whose query [ParseSearch] reads as a search program (RFC 9051
// §6.4.4).
//
// Package imaptest runs a Server in-process for tests, with an in-memory
// Backend and a conformance suite for Backends.
//
// # Package name
//
// This package is named imap, as the protocol is, like go-imap's root
// package (github.com/emersion/go-imap/v2), whose types (imap.UID,
// imap.Flag, imap.Error...) a Backend uses. A file that imports both keeps
// go-imap's name and imports this package as inetimap:
//
//	import (
//		"github.com/emersion/go-imap/v2"
//		inetimap "github.com/inetkit/inetkit/imap"
//	)
//
// A file that imports only this package needs no alias.
package imap

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/inetkit/inetkit/sockserver"
)

// ErrServerClosed is returned by [Server.Serve] and [Server.ListenAndServe]
// after [Server.Shutdown] or [Server.Close]. It is sockserver.ErrServerClosed.
var ErrServerClosed = sockserver.ErrServerClosed

// Error is an IMAP status response used as an error: a backend that returns
// (or wraps) one has it sent to the client as it is. It is go-imap's
// imap.Error.
type Error = imap.Error

// ErrAuthFailed is the error a Session's Login returns for wrong credentials:
// "NO [AUTHENTICATIONFAILED]".
// It is imapserver.ErrAuthFailed.
var ErrAuthFailed = imapserver.ErrAuthFailed
