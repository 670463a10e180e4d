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
//   - AUTH PLAIN (RFC 4954, RFC 4616) and AUTH LOGIN
//   - SMTPUTF8 (RFC 6531)
//
// It never relays: every recipient it accepts is a local mailbox that
// [Backend.CheckRecipient] approved, and it answers 250 to the end of a
// message only after [Backend.Deliver] returned nil. Received and
// Return-Path header fields (RFC 5321 §4.4) are prepended to every message.
//
// A guard between the network and go-smtp reads every command line first:
// it caps line length, refuses control characters in commands and
// envelope addresses, closes connections that speak HTTP, counts errors
// and failed logins, handles STARTTLS itself (discarding plaintext pipelined
// behind it), and sends the 421 goodbyes for idle timeouts and shutdown.
// The accept loop, connection limits, deadlines and graceful shutdown come
// from package sockserver.
//
// Use [Dial], [DialTLS], [DialStartTLS] or [NewClient] for the client side,
// or [SendMail] to send one message. Package smtptest runs a Server
// in-process for tests.
package smtp

import "time"

// Defaults for the zero values of [Server] fields.
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
	// DefaultIdleTimeout bounds every read: RFC 5321 §4.5.3.2.7 asks a
	// server to wait at least 5 minutes for the next command.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultCommandTimeout bounds the arrival of one command line once
	// its first byte is in (HARDENING G2, as go-imap's 30 s).
	DefaultCommandTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds every write.
	DefaultWriteTimeout = time.Minute
	// DefaultAuthFailureDelay is how long every failed AUTH is delayed.
	DefaultAuthFailureDelay = time.Second
	// DefaultMaxAuthFailures is how many failed AUTH commands end a
	// connection.
	DefaultMaxAuthFailures = 3
	// DefaultSoftErrorLimit is the number of error replies after which
	// every further error reply is delayed by ErrorDelay (Postfix
	// smtpd_soft_error_limit).
	DefaultSoftErrorLimit = 10
	// DefaultHardErrorLimit is the number of error replies that ends a
	// connection with 421 (Postfix smtpd_hard_error_limit).
	DefaultHardErrorLimit = 20
	// DefaultErrorDelay is the delay of error replies past the soft limit.
	DefaultErrorDelay = time.Second
)
