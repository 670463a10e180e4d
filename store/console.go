package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// This file is what the console (the web UI and its REST API) reads from the
// store: messages and articles across users and groups, listed a page at a
// time, searched, opened, marked and deleted by id.

var errTODO = errors.New("store: not implemented yet")

// An Address is a mailbox (an address and its display name) of a message's
// From, To or Cc field, decoded (RFC 2047).
type Address struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"`
}

// A MessageSummary is what a message list shows of one message. ID is the
// message's id in the store, stable while the message exists, and the one
// the console's API uses.
type MessageSummary struct {
	ID          int64     `json:"id"`
	Address     string    `json:"address"` // the mailbox's owner
	Mailbox     string    `json:"mailbox"`
	UID         uint32    `json:"uid"`
	MessageID   string    `json:"messageId,omitempty"` // the Message-ID field, without <>
	From        []Address `json:"from"`
	To          []Address `json:"to"`
	Cc          []Address `json:"cc,omitempty"`
	Subject     string    `json:"subject"`  // decoded
	Date        time.Time `json:"date"`     // the Date field; Received if it has none or a bad one
	Received    time.Time `json:"received"` // the internal date: delivery or APPEND
	Size        int64     `json:"size"`
	Attachments int       `json:"attachments"` // parts with Content-Disposition attachment, or a file name
	Unread      bool      `json:"unread"`      // no \Seen flag
	Flags       []string  `json:"flags"`
	Snippet     string    `json:"snippet"` // the start of the text, at most 250 characters
}

// A MessageQuery selects messages and a page of them. The zero query is the
// first page of every message of every user, newest first.
type MessageQuery struct {
	Address string // the owner; "" for every user
	Mailbox string // "" for every mailbox (INBOX without regard to case)
	// Search is a query in the console's search syntax (see ParseSearch).
	Search string
	// AfterID, if not zero, keeps only messages with a greater id (those
	// stored after it): what a wait for new mail asks.
	AfterID int64
	// BeforeID, if not zero, keeps only messages with a smaller id: the
	// next page after a page whose last (oldest) message was BeforeID.
	BeforeID int64
	Offset   int // messages skipped, newest first
	Limit    int // 0 means 50; at most 1000
}

// A MessagePage is one page of a MessageQuery's answer.
type MessagePage struct {
	Messages []MessageSummary `json:"messages"`
	Total    int              `json:"total"`  // messages the query matches, on every page
	Unread   int              `json:"unread"` // of Total, those without \Seen
}

// A MailboxSummary counts one mailbox's messages.
type MailboxSummary struct {
	Name   string `json:"name"`
	Total  int    `json:"total"`
	Unread int    `json:"unread"`
}

// An AddressSummary is a user that has mail, with its mailboxes.
type AddressSummary struct {
	Address   string           `json:"address"`
	Total     int              `json:"total"`
	Unread    int              `json:"unread"`
	Mailboxes []MailboxSummary `json:"mailboxes"`
}

// A Search is a parsed search query. The syntax is words separated by
// spaces, a phrase in double quotes being one word:
//
//	from:TEXT  to:TEXT (To or Cc)  subject:TEXT  text (anywhere: from, to,
//	subject and the text of the message)  is:unread  is:read
//	has:attachment  after:YYYY-MM-DD  before:YYYY-MM-DD  (dates of the Date
//	field, in UTC; after: is inclusive, before: exclusive)
//
// A word prefixed with "-" matches the messages the word does not. Every word
// must match; text comparisons ignore case and match substrings.
type Search struct {
	Terms []SearchTerm
}

// A SearchTerm is one word of a Search.
type SearchTerm struct {
	Field string // "from", "to", "subject", "text", "is", "has", "after", "before"
	Value string // lower-cased for text fields
	Not   bool
}

// ParseSearch parses q. It fails on an unknown field name before a colon
// (a word such as "re:" with no known field is text), a bad date, or an
// unknown is:/has: value.
func ParseSearch(q string) (*Search, error) { return nil, errTODO }

// Addresses returns every user that has at least one message, with its
// mailboxes (every one, also the empty ones) and counts, by address.
func (s *Store) Addresses(ctx context.Context) ([]AddressSummary, error) { return nil, errTODO }

// ListMessages returns a page of the messages q selects, newest first (by
// id). It returns an error wrapping ErrNotFound if q names a user or a
// mailbox that does not exist, and a *SearchError if q.Search does not parse.
func (s *Store) ListMessages(ctx context.Context, q *MessageQuery) (*MessagePage, error) {
	return nil, errTODO
}

// MessageByID returns the summary of message id, or an error wrapping
// ErrNotFound.
func (s *Store) MessageByID(ctx context.Context, id int64) (*MessageSummary, error) {
	return nil, errTODO
}

// OpenMessage returns the whole message id (header and body, CRLF line
// endings), read from the store a piece at a time.
func (s *Store) OpenMessage(ctx context.Context, id int64) (io.ReadCloser, error) {
	return nil, errTODO
}

// SetSeen adds (seen) or removes the \Seen flag of the messages ids and
// returns how many it changed; ids that do not exist are skipped. IMAP
// sessions with the mailbox selected get the FETCH FLAGS updates.
func (s *Store) SetSeen(ctx context.Context, ids []int64, seen bool) (int, error) {
	return 0, errTODO
}

// DeleteMessageIDs deletes the messages ids and returns how many it
// deleted; ids that do not exist are skipped. IMAP sessions with the
// mailbox selected get the EXPUNGE responses, as with DeleteMessages.
func (s *Store) DeleteMessageIDs(ctx context.Context, ids []int64) (int, error) {
	return 0, errTODO
}

// An ArticleSummary is what an article list shows of one news article.
type ArticleSummary struct {
	ID         int64     `json:"id"`
	MessageID  string    `json:"messageId"` // with <>
	Groups     []string  `json:"groups"`    // where it is filed, in Newsgroups order
	Number     int64     `json:"number"`    // its number in ArticleQuery.Group, or in its first group
	From       string    `json:"from"`      // decoded
	Subject    string    `json:"subject"`   // decoded
	Date       time.Time `json:"date"`      // the Date field; Arrived if bad
	Arrived    time.Time `json:"arrived"`
	Bytes      int64     `json:"bytes"`
	Lines      int64     `json:"lines"`
	References []string  `json:"references,omitempty"` // message ids, with <>, oldest first
}

// An ArticleQuery selects articles and a page of them, as MessageQuery does
// messages. Search has the same syntax; to: and is:, has: never match.
type ArticleQuery struct {
	Group    string // "" for every group
	Search   string
	AfterID  int64
	BeforeID int64
	Offset   int
	Limit    int
}

// An ArticlePage is one page of an ArticleQuery's answer, newest first.
type ArticlePage struct {
	Articles []ArticleSummary `json:"articles"`
	Total    int              `json:"total"`
}

// ListArticles returns a page of the articles q selects, newest first.
func (s *Store) ListArticles(ctx context.Context, q *ArticleQuery) (*ArticlePage, error) {
	return nil, errTODO
}

// ArticleByID returns the summary of article id, or an error wrapping
// ErrNotFound.
func (s *Store) ArticleByID(ctx context.Context, id int64) (*ArticleSummary, error) {
	return nil, errTODO
}

// OpenArticle returns the whole article id, header (with its Xref) and body.
func (s *Store) OpenArticle(ctx context.Context, id int64) (io.ReadCloser, error) {
	return nil, errTODO
}

// DeleteArticleIDs removes the articles ids from every group and returns
// how many it removed.
func (s *Store) DeleteArticleIDs(ctx context.Context, ids []int64) (int, error) {
	return 0, errTODO
}

// A SearchError is a search query that does not parse.
type SearchError struct {
	Query string
	Err   string
}

func (e *SearchError) Error() string { return "store: search " + e.Query + ": " + e.Err }
