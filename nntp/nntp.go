// Package nntp implements the Network News Transfer Protocol, client and
// server:
//
//   - RFC 3977: NNTP version 2, the reader commands (MODE READER, GROUP,
//     LISTGROUP, ARTICLE, HEAD, BODY, STAT, NEXT, LAST, OVER, HDR, LIST,
//     NEWGROUPS, NEWNEWS, POST, DATE, HELP, CAPABILITIES, QUIT) and the
//     transit command IHAVE, with wildmats (§4) matched in time linear in
//     the name for each pattern, never by backtracking;
//   - RFC 2980: XOVER and XHDR, the older names of OVER and HDR;
//   - RFC 4643: AUTHINFO USER/PASS and AUTHINFO SASL with the PLAIN
//     mechanism (RFC 4616);
//   - RFC 4642: STARTTLS.
//
// Use [Dial], [DialTLS], [DialStartTLS] or [NewClient] for the client side,
// and a [Server] with a [Backend] for the server side. Package nntptest runs
// a Server in process for tests, with an in-memory Backend and a conformance
// suite for Backends.
//
// The server, not the Backend, checks what is posted: the required header
// fields, the Newsgroups named, the Message-ID, the size of the article on
// the wire. It adds Path, Date and Message-ID when they are missing and
// removes an Xref the poster sent; the Xref field of an article it sends is
// made from the numbers the Backend gave the article. Only a line holding a
// single "." after a CRLF, and followed by CRLF, ends an article: a dot
// line ended by a bare LF is data, so that nothing after such a line is
// ever run as a command.
//
// Times given to NEWNEWS and NEWGROUPS without "GMT" are the server's local
// time (RFC 3977 §7.3.2).
package nntp

import (
	"io"
	"strings"
	"time"
)

// Limits and defaults of the protocol.
const (
	// MaxLineBytes is the longest command line a server accepts, CRLF
	// included (RFC 3977 §3.1).
	MaxLineBytes = 512
	// MaxReplyBytes is the longest reply line a client accepts, CRLF
	// included. Lines of multi-line replies (an article's) may be longer:
	// see Client.
	MaxReplyBytes = 4096
	// DefaultMaxArticleBytes is the default of Server.MaxArticleBytes: the
	// largest article accepted, measured on the wire (dot-stuffed, CRLF
	// line endings, without the terminating line), INN's maxartsize.
	DefaultMaxArticleBytes = 1000000
	// MaxNewsgroups is the largest number of groups the Newsgroups field of
	// an article may name: a crosspost to more is refused with 441.
	MaxNewsgroups = 100
	// DefaultIdleTimeout is how long the server waits for a command. RFC
	// 3977 §3.1 asks for at least 3 minutes; this is INN's 1800 seconds
	// (clienttimeout), since newsreaders keep a connection open while their
	// user reads.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultClientTimeout bounds every command of a Client.
	DefaultClientTimeout = time.Minute
)

// Posting status of a group, as LIST ACTIVE shows it (RFC 3977 §7.6.3).
const (
	StatusPostingAllowed    = 'y'
	StatusPostingNotAllowed = 'n'
	StatusModerated         = 'm'
)

// A Group describes a newsgroup.
type Group struct {
	Name        string
	Description string    // for LIST NEWSGROUPS; may be ""
	Count       int64     // estimated number of articles
	Low, High   int64     // the low and high water marks; an empty group has High = Low - 1
	Status      byte      // StatusPostingAllowed, StatusPostingNotAllowed or StatusModerated
	Created     time.Time // for NEWGROUPS and LIST ACTIVE.TIMES
}

// An Article is an article as the Backend returns it.
type Article struct {
	// Number is the article's number in the group it was looked up in, or
	// 0 when it was looked up by message-id.
	Number    int64
	MessageID string
	// Header is the header section, each line ending in CRLF, without the
	// empty line that ends it and without an Xref field.
	Header []byte
	// Body is the body, with CRLF line endings, when it was asked for;
	// the server closes it.
	Body io.ReadCloser
	// Bytes is the size of the header, the empty line and the body.
	Bytes int64
	// Lines is the number of lines of the body.
	Lines int64
	// Xref lists where the article is filed: "group:number" entries,
	// separated by spaces, in the order of its Newsgroups field.
	Xref string
}

// Overview is the overview of an article (RFC 3977 §8.3): the fields OVER
// sends.
type Overview struct {
	Number     int64
	Subject    string
	From       string
	Date       string
	MessageID  string
	References string
	Bytes      int64 // as Article.Bytes
	Lines      int64
	Xref       string // as Article.Xref
}

// A NewArticle is one entry of NEWNEWS: an article and its groups.
type NewArticle struct {
	MessageID string
	Groups    []string
}

// A GroupNumber is the number an article was given in a group.
type GroupNumber struct {
	Group  string
	Number int64
}

// A Posting is an article the server accepted from POST or IHAVE, checked
// and completed, for the Backend to store.
type Posting struct {
	// Header is the header section as it must be stored and sent: CRLF
	// line endings, without the empty line, with Path, Date and Message-ID
	// and without Xref.
	Header []byte
	// Body is the body, CRLF line endings.
	Body []byte
	// Groups are the groups to file it in: those of its Newsgroups field
	// that exist, without duplicates, in order. There is at least one.
	Groups []string
	// The overview fields, from the header, unfolded.
	MessageID, Subject, From, Date, References string
	// Bytes is len(Header) + 2 + len(Body); Lines the body's lines.
	Bytes, Lines int64
	// Transfer is true for IHAVE (a peer's article), false for POST.
	Transfer bool
	// User is the login of the poster, or "".
	User string
}

// xrefField returns the Xref header field of an article filed as xref, on
// the server host.
func xrefField(host, xref string) string {
	return "Xref: " + host + " " + xref
}

// cleanField makes s fit in one line of an overview or HDR reply: CR, LF and
// TAB become spaces (RFC 3977 §8.3.2, §8.5.2).
func cleanField(s string) string {
	if !strings.ContainsAny(s, "\r\n\t\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', '\t', 0:
			return ' '
		}
		return r
	}, s)
}
