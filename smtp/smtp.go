// Package smtp implements the Simple Mail Transfer Protocol (RFC 5321): a
// Client and a Server that delivers every accepted message to local
// mailboxes through a [Backend]. Both are built on
// github.com/emersion/go-smtp.
//
// The server speaks ESMTP with these extensions:
//
//   - PIPELINING (RFC 2920)
//   - 8BITMIME (RFC 6152)
//   - SIZE (RFC 1870)
//   - ENHANCEDSTATUSCODES (RFC 2034, codes from RFC 3463)
//   - CHUNKING, the BDAT command (RFC 3030)
//   - STARTTLS (RFC 3207), and implicit TLS (RFC 8314)
//   - AUTH PLAIN (RFC 4954, RFC 4616) and AUTH LOGIN, and AUTH CRAM-MD5
//     (RFC 2195) with a Backend that implements [BackendCRAMMD5]
//   - SMTPUTF8 (RFC 6531)
//
// It never relays: every recipient it accepts is a local mailbox that
// [Backend.CheckRecipient] approved, and it answers 250 to the end of a
// message only after [Backend.Deliver] returned nil. Received and
// Return-Path header fields (RFC 5321 §4.4) are prepended to every message.
//
// A guard between the network and go-smtp reads every command line first,
// with package lineproto: it caps the length of command lines (not the
// text lines of a message, which only the message size bounds), bounds the
// wait for a command and the time a command may take to arrive, refuses control
// characters in commands and envelope addresses, closes connections that
// speak HTTP, counts errors and failed logins (delaying replies, and failed
// logins across connections), handles STARTTLS itself (discarding plaintext
// pipelined behind it, RFC 3207 §4.2), refuses a message sent before the
// 354 reply to DATA (RFC 2920 §3.1), ends DATA only at CRLF.CRLF (RFC 5321
// §4.1.1.4), and sends the 421 goodbyes for timeouts and shutdown. The
// accept loop, connection limits and graceful shutdown come from package
// sockserver.
//
// Use [Dial], [DialTLS], [DialStartTLS] or [NewClient] for the client side,
// or [SendMail] to send one message. Package smtptest runs a Server
// in-process for tests.
package smtp

import "time"

// Defaults for the zero values of [Server] fields. The other limits are
// lineproto's (lineproto.DefaultCommandTimeout, ...), shared by every
// server of the module.
const (
	// DefaultMaxMessageBytes is the default message size limit, advertised
	// with SIZE (RFC 1870).
	DefaultMaxMessageBytes = 32 << 20
	// DefaultMaxRecipients is the default limit on RCPT commands in one
	// transaction; RFC 5321 §4.5.3.1.8 asks for at least 100.
	DefaultMaxRecipients = 1000
	// DefaultMaxLineBytes is the default limit on a command line, CRLF
	// included: RFC 5321 §4.5.3.1.4 sets 512 octets, and extensions make
	// lines longer, so this is as generous as Postfix's line_length_limit.
	DefaultMaxLineBytes = 2000
	// DefaultIdleTimeout is how long the server waits for the next command,
	// and for each read of a message: RFC 5321 §4.5.3.2.7 asks a server to
	// wait at least 5 minutes.
	DefaultIdleTimeout = 5 * time.Minute
)
