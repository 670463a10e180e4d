// Package lineproto holds what every server of a line-based protocol (SMTP,
// POP3, IMAP, NNTP, FTP's control connection) needs besides its commands and
// reply texts, so that each protocol package supplies only those:
//
//   - [Reader]: command lines under a size cap, LF or CRLF terminated, with
//     an idle deadline while waiting for a line to start and a total deadline
//     for the whole command once its first octet has arrived (so that a
//     client trickling one octet at a time cannot hold a session), and the
//     discarding of an overlong line;
//   - [Limits]: the timeouts and limits those servers share, under one rule:
//     zero means the default, a negative value means none;
//   - [Counter]: the error-flood and failed-login limits of one connection,
//     with one rule for delays, and [AuthLimiter], which counts failed logins
//     per client address and per account across connections and servers;
//   - [StartTLS] and [Handshake]: the TLS upgrade (pipelined plaintext
//     discarded, RFC 3207 §4.2, RFC 2595 §3.1; the handshake bounded by
//     CommandTimeout), [ImplicitTLS] and [IsTLS], the one way to mark and
//     recognise an encrypted connection;
//   - [IsHTTPRequest]: a web browser or proxy talking to the wrong port;
//   - [Classify]: which goodbye a failed read calls for (shutdown, idle
//     timeout, command timeout, line too long), so that every protocol ends
//     a session the same way with its own words;
//   - [DotReader] and [DotWriter]: the dot-stuffed multi-line blocks of SMTP
//     DATA, POP3 and NNTP (RFC 5321 §4.5.2, RFC 1939 §3, RFC 3977 §3.1.1);
//   - [Conn]: all of the above for one connection of a server written on
//     sockserver (POP3's), with its goodbyes from [Config.Goodbye];
//   - [Busy], [ListenAndServe] and [ServeTLS]: a server's busy reply to a
//     refused connection and its ListenAndServe, ListenAndServeTLS and
//     ServeTLS, each in a line.
//
// It stands on package sockserver, which accepts connections, enforces the
// connection limits and shuts servers down gracefully.
package lineproto
