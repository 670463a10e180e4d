// Package imap implements an IMAP server and small client helpers.
//
// The server speaks IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051), with
// STARTTLS and LOGINDISABLED (RFC 3501 §6.2.1), AUTH=PLAIN (RFC 4616),
// SASL-IR (RFC 4959), ENABLE (RFC 5161), ID (RFC 2971), IDLE (RFC 2177),
// NAMESPACE (RFC 2342), UIDPLUS (RFC 4315), MOVE (RFC 6851), UNSELECT
// (RFC 3691), LITERAL+ and LITERAL- (RFC 7888), CHILDREN (RFC 3348),
// SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154), LIST-EXTENDED (RFC 5258),
// LIST-STATUS (RFC 5819), ESEARCH (RFC 4731), SEARCHRES (RFC 5182),
// CONTEXT=SEARCH and ESORT (RFC 5267), SORT and THREAD (RFC 5256),
// SORT=DISPLAY (RFC 5957), CONDSTORE and QRESYNC (RFC 7162), BINARY
// (RFC 3516), CATENATE (RFC 4469), MULTIAPPEND (RFC 3502), NOTIFY
// (RFC 5465), STATUS=SIZE (RFC 8438), APPENDLIMIT (RFC 7889),
// COMPRESS=DEFLATE (RFC 4978) and implicit TLS (RFC 8314). It is written on
// package sockserver (connections, limits, graceful shutdown) and lineproto
// (bounded lines and literals, deadlines, error and login limits, STARTTLS
// with injected plaintext discarded, HTTP requests refused). Storage is a
// [Backend]: mailboxes, messages with their mod-sequences and the changes
// of other sessions; the server keeps each connection's view of its
// selected mailbox, and computes SEARCH, SORT, THREAD and FETCH itself.
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
// imap.Flag, imap.Error...) its client helpers use. A file that imports
// both keeps go-imap's name and imports this package as inetimap:
//
//	import (
//		"github.com/emersion/go-imap/v2"
//		inetimap "github.com/inetkit/inetkit/imap"
//	)
//
// A file that imports only this package needs no alias.
package imap
