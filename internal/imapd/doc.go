// Package imapd is inetkit's IMAP server (RFC 3501 IMAP4rev1, RFC 9051
// IMAP4rev2, and extensions), on sockserver and lineproto, being written to
// replace the server of package imap; it moves there when complete.
package imapd
