// Package imapmsg computes what an IMAP FETCH needs from a stored message:
// the ENVELOPE and the BODY and BODYSTRUCTURE of IMAP4rev1 (RFC 3501 §7.4.2)
// and IMAP4rev2 (RFC 9051 §7.5.2), the byte ranges of BODY[section]
// (RFC 3501 §6.4.5, RFC 9051 §6.4.5), and the decoded content of
// BINARY[section] and BINARY.SIZE (RFC 3516).
//
// A message is the whole RFC 5322 message as stored, with CRLF line
// endings (a bare LF is tolerated). [Parse] reads it once and returns a
// tree of [Part] values that hold the offsets of each part's header and
// body, its line count and its parsed MIME header fields (RFC 2045, RFC 2046,
// RFC 2183 Content-Disposition, RFC 3282 Content-Language, RFC 2557
// Content-Location, RFC 2231 parameter continuations); the server can cache
// the tree per message. The writers then need only the tree, and the
// section ranges let the server stream a section from its store without a
// copy.
//
// Header values in ENVELOPE and BODYSTRUCTURE are returned as they are in
// the header: encoded words (RFC 2047) stay encoded and raw 8-bit text stays
// 8-bit (as a literal unless UTF-8 is enabled); types, subtypes,
// parameters and encodings are as written, and what the message leaves out
// is written as RFC 2045 defines it, in upper case as in the RFC examples:
// "TEXT" "PLAIN", ("CHARSET" "US-ASCII"), "7BIT". Addresses are parsed as
// RFC 5322 §3.4 allows, obsolete syntax (§4.4) included: groups, routes,
// comments and folding whitespace. Malformed input never fails: like
// Dovecot, the parser returns its best reading, filling a missing local part
// or domain with MISSING_MAILBOX or MISSING_DOMAIN rather than NIL, which in
// an address means the start of a group.
package imapmsg

// Limits of the parser. A part nested deeper, or beyond the part count, is
// not parsed into sub-parts: a multipart or message/rfc822 part that is
// cut there is described as application/octet-stream, as Dovecot does.
const (
	MaxDepth = 100
	MaxParts = 10000
)

// A Param is a MIME parameter (RFC 2045 §5.1) as written, after RFC 2231
// continuations are joined: an extended parameter keeps its name with the
// trailing "*" and its charset'language'value form.
type Param struct {
	Name, Value string
}

// An Address is one element of an ENVELOPE address list (RFC 3501 §7.4.2).
// A group (RFC 5322 §3.4) is written as a GroupStart address, whose Mailbox
// is the group's name, then its members, then a GroupEnd address.
type Address struct {
	Name    string // display name as written, "" for none (NIL)
	Route   string // obsolete source route ("@a,@b"), "" for none
	Mailbox string
	Host    string

	GroupStart, GroupEnd bool
}

// An Envelope holds the ENVELOPE fields of a message (RFC 3501 §7.4.2).
// A string field that is nil was absent from the header; an address list
// that is nil was absent or empty.
type Envelope struct {
	Date, Subject, InReplyTo, MessageID *string

	From, Sender, ReplyTo, To, Cc, Bcc []Address
}

// Kind says how a part's body is structured.
type Kind uint8

// Kinds of part. KindTruncated is a multipart or message/rfc822 part that
// was not parsed because of [MaxDepth] or [MaxParts].
const (
	KindBasic Kind = iota
	KindText
	KindMultipart
	KindMessage
	KindTruncated
)

// A Part is one MIME entity of a message: the message itself, one body
// part of a multipart, or the message inside a message/rfc822 part.
//
// Offsets are relative to the start of the stored message. The header runs
// from Start to BodyStart (including the blank line that ends it) and the
// body from BodyStart to End. A multipart body does not end with the
// CRLF that precedes the next boundary line: that CRLF belongs to the
// boundary (RFC 2046 §5.1.1).
type Part struct {
	Start, BodyStart, End int64
	Lines                 int64 // LF count of the body

	Kind Kind
	// Type and Subtype are as written; both are empty if the part had no
	// Content-Type (it is then text/plain, or message/rfc822 in a
	// multipart/digest).
	Type, Subtype string
	Params        []Param

	ID, Description, Encoding, MD5, Location *string
	Disposition                              *string
	DispositionParams                        []Param
	Language                                 []string

	// Parts are the body parts of a multipart.
	Parts []*Part
	// Message is the message inside a message/rfc822 part.
	Message *Part
	// Envelope is set for the message and for each message inside a
	// message/rfc822 part.
	Envelope *Envelope
}
