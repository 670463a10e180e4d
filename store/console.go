package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/inetkit/inetkit/internal/events"
)

// This file is what the console (the web UI and its REST API) reads from the
// store: messages and articles across users and groups, listed a page at a
// time, searched, opened, marked and deleted by id. The search syntax is
// in search.go, the news side in console_news.go.

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

// A MessagePage is one page of a MessageQuery's answer. Total and Unread
// count what Address, Mailbox and Search select, whatever the page: they
// are the same on every page (AfterID, BeforeID, Offset and Limit choose
// the page only).
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
// must match; text comparisons ignore case and match substrings. The text of
// a message is that of its first text/plain part (or, without one, of its
// first text/html part, without the markup), its first 64 KiB, with each run
// of white space one space: a phrase matches across line breaks. A message
// whose Date field is missing or bad is dated by its delivery (Received).
type Search struct {
	Terms []SearchTerm
}

// A SearchTerm is one word of a Search.
type SearchTerm struct {
	Field string // "from", "to", "subject", "text", "is", "has", "after", "before"
	Value string // lower-cased for text fields
	Not   bool
}

// Page sizes of MessageQuery.Limit and ArticleQuery.Limit.
const (
	defaultPageLimit = 50
	maxPageLimit     = 1000
)

// pageLimit returns the page size of a query's Limit.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultPageLimit
	case n > maxPageLimit:
		return maxPageLimit
	}
	return n
}

// maxMergeMailboxes is the most mailboxes whose pages are merged from each
// mailbox's own newest-first order; a page of more mailboxes than that is
// found in the order of all messages, or sorted.
const maxMergeMailboxes = 32

// Addresses returns every user that has at least one message, with its
// mailboxes (every one, also the empty ones: INBOX first, then by name)
// and counts, by address.
func (s *Store) Addresses(ctx context.Context) ([]AddressSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT u.address, mb.name, mb.total, mb.total - mb.seen
		FROM users u JOIN mailboxes mb ON mb.user_id = u.id
		WHERE u.id IN (SELECT user_id FROM mailboxes WHERE total > 0)
		ORDER BY u.address, mb.name != 'INBOX', mb.name`)
	if err != nil {
		return nil, fmt.Errorf("store: addresses: %w", err)
	}
	defer rows.Close()
	out := []AddressSummary{}
	for rows.Next() {
		var addr string
		var mb MailboxSummary
		if err := rows.Scan(&addr, &mb.Name, &mb.Total, &mb.Unread); err != nil {
			return nil, fmt.Errorf("store: addresses: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Address != addr {
			out = append(out, AddressSummary{Address: addr, Mailboxes: []MailboxSummary{}})
		}
		a := &out[len(out)-1]
		a.Mailboxes = append(a.Mailboxes, mb)
		a.Total += mb.Total
		a.Unread += mb.Unread
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: addresses: %w", err)
	}
	return out, nil
}

// ListMessages returns a page of the messages q selects, newest first (by
// id). It returns an error wrapping ErrNotFound if q names a user that
// does not exist, or a user and a mailbox it does not have (a mailbox
// named without a user selects that mailbox of every user that has one),
// and a *SearchError if q.Search does not parse.
//
// Paging by BeforeID (the last id of the page before) neither skips nor
// repeats a message while new ones arrive, which paging by Offset does.
// Without a search a page costs the same at any depth reached by
// BeforeID; a search reads the meta of every message it selects.
func (s *Store) ListMessages(ctx context.Context, q *MessageQuery) (*MessagePage, error) {
	if q == nil {
		q = &MessageQuery{}
	}
	var search *Search
	if q.Search != "" {
		var err error
		if search, err = ParseSearch(q.Search); err != nil {
			return nil, err
		}
		if len(search.Terms) == 0 {
			search = nil
		}
	}
	// One read transaction: the counts and the page are one snapshot.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	defer tx.Rollback()
	sel, err := selectMailboxes(ctx, tx, q.Address, q.Mailbox)
	if err != nil {
		return nil, err
	}
	page := &MessagePage{Messages: []MessageSummary{}}
	if !sel.all && len(sel.ids) == 0 {
		return page, nil
	}
	var ids []int64
	if search == nil {
		page.Total, page.Unread = int(sel.total), int(sel.total-sel.seen)
		ids, err = pageIDs(ctx, tx, sel, q)
	} else {
		ids, page.Total, page.Unread, err = searchPage(ctx, tx, sel, search, q)
	}
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	if page.Messages, err = loadSummaries(ctx, tx, ids); err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	return page, nil
}

// A mailboxSelection is the set of mailboxes a query selects, with their
// counts.
type mailboxSelection struct {
	all         bool    // every mailbox of every user
	ids         []int64 // when not all
	total, seen int64   // messages, and those with \Seen
	messages    int64   // messages of the whole store
}

// selectMailboxes returns the mailboxes of address (every user's if "")
// named mailbox (every one if "").
func selectMailboxes(ctx context.Context, q querier, address, mailbox string) (*mailboxSelection, error) {
	address = normAddress(address)
	if mailbox != "" {
		mailbox = normMailboxName(mailbox)
	}
	sel := &mailboxSelection{all: address == "" && mailbox == ""}
	if err := q.QueryRowContext(ctx, `SELECT coalesce(sum(total), 0), coalesce(sum(seen), 0) FROM mailboxes`).Scan(&sel.messages, &sel.seen); err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	if sel.all {
		sel.total = sel.messages
		return sel, nil
	}
	if address != "" {
		if _, _, err := lookupUserTx(ctx, q, address); err != nil {
			return nil, notFound(err, address, "")
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT mb.id, mb.total, mb.seen FROM mailboxes mb JOIN users u ON u.id = mb.user_id
		WHERE (?1 = '' OR u.address = ?1) AND (?2 = '' OR mb.name = ?2) ORDER BY mb.id`, address, mailbox)
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	defer rows.Close()
	sel.seen = 0
	for rows.Next() {
		var id, total, seen int64
		if err := rows.Scan(&id, &total, &seen); err != nil {
			return nil, fmt.Errorf("store: list messages: %w", err)
		}
		sel.ids = append(sel.ids, id)
		sel.total += total
		sel.seen += seen
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	if len(sel.ids) == 0 && address != "" && mailbox != "" {
		return nil, &NotFoundError{Address: address, Mailbox: mailbox}
	}
	return sel, nil
}

// idList returns ids as SQL integers, separated by commas.
func idList(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

// searchPage returns the ids of the page q asks of the messages of sel
// that match search, newest first, with how many match and how many of
// those have no \Seen flag. One aggregate query reads the meta of every
// message of sel once, and hands back the ids of the matches in one
// value (cheaper than a row each); they are sorted here.
func searchPage(ctx context.Context, q querier, sel *mailboxSelection, search *Search, mq *MessageQuery) (ids []int64, total, unread int, err error) {
	var args sqlArgs
	cond := search.sql(&args)
	var from, where string
	if sel.all || sel.total*4 >= sel.messages {
		// Much of the store: read the meta in its own order, and look up
		// the messages of the bodies that match only.
		from, where = "bodies x CROSS JOIN messages m ON m.body_id = x.id", cond
		if !sel.all {
			where += " AND m.mailbox_id IN (" + idList(sel.ids) + ")"
		}
	} else {
		from = "messages m CROSS JOIN bodies x ON x.id = m.body_id"
		where = "m.mailbox_id IN (" + idList(sel.ids) + ") AND " + cond
	}
	var list sql.NullString
	err = q.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(`+unseenSQL+`), 0), group_concat(m.id)
		FROM `+from+` WHERE `+where, args...).Scan(&total, &unread, &list)
	if err != nil {
		return nil, 0, 0, err
	}
	matches := make([]int64, 0, total)
	for f := range strings.SplitSeq(list.String, ",") {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			matches = append(matches, id)
		}
	}
	slices.SortFunc(matches, func(a, b int64) int { return cmp.Compare(b, a) })
	skip, limit := max(mq.Offset, 0), pageLimit(mq.Limit)
	for _, id := range matches {
		if mq.BeforeID > 0 && id >= mq.BeforeID || mq.AfterID > 0 && id <= mq.AfterID {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(ids) == limit {
			break
		}
		ids = append(ids, id)
	}
	return ids, total, unread, nil
}

// pageIDs returns the ids of the page q asks of the messages of sel,
// newest first.
func pageIDs(ctx context.Context, q querier, sel *mailboxSelection, mq *MessageQuery) ([]int64, error) {
	var args sqlArgs
	var conds []string
	if mq.BeforeID > 0 {
		conds = append(conds, "m.id < "+args.add(mq.BeforeID))
	}
	if mq.AfterID > 0 {
		conds = append(conds, "m.id > "+args.add(mq.AfterID))
	}
	where := func(mailbox string) string {
		c := conds
		if mailbox != "" {
			c = append([]string{mailbox}, conds...)
		}
		if len(c) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(c, " AND ")
	}
	page := " LIMIT " + args.add(pageLimit(mq.Limit)) + " OFFSET " + args.add(max(mq.Offset, 0))
	var query string
	switch {
	case sel.all:
		query = "SELECT m.id FROM messages m" + where("") + " ORDER BY m.id DESC" + page
	case len(sel.ids) <= maxMergeMailboxes:
		// Each mailbox's messages come newest first from its index; SQLite
		// merges them (a compound SELECT's ORDER BY), reading no more
		// than the page and what it skips.
		arms := make([]string, len(sel.ids))
		for i, id := range sel.ids {
			arms[i] = "SELECT m.id FROM messages m" + where("m.mailbox_id = "+strconv.FormatInt(id, 10))
		}
		query = strings.Join(arms, " UNION ALL ") + " ORDER BY 1 DESC" + page
	case sel.total*8 >= sel.messages:
		// Mailboxes that hold much of the store: walk every message
		// newest first (the unary + keeps SQLite from the mailbox index).
		query = "SELECT m.id FROM messages m" + where("+m.mailbox_id IN ("+idList(sel.ids)+")") + " ORDER BY m.id DESC" + page
	default:
		// Mailboxes that hold little: find their messages, then sort.
		query = "SELECT m.id FROM messages m" + where("m.mailbox_id IN ("+idList(sel.ids)+")") + " ORDER BY m.id DESC" + page
	}
	return queryIDs(ctx, q, query, args...)
}

// loadSummaries returns the summaries of the messages ids, in the order
// of ids; an id that is no message is left out.
func loadSummaries(ctx context.Context, q querier, ids []int64) ([]MessageSummary, error) {
	out := []MessageSummary{}
	if len(ids) == 0 {
		return out, nil
	}
	list := idList(ids)
	rows, err := q.QueryContext(ctx, `SELECT m.id, u.address, mb.name, m.uid, m.size, m.internal_date,
		ifnull(x.message_id, ''), ifnull(x.from_addrs, '[]'), ifnull(x.to_addrs, '[]'), ifnull(x.cc_addrs, '[]'),
		ifnull(x.subject, ''), x.date, ifnull(x.attachments, 0), ifnull(x.snippet, '')
		FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox_id JOIN users u ON u.id = mb.user_id
		JOIN bodies x ON x.id = m.body_id
		WHERE m.id IN (`+list+`)`)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*MessageSummary, len(ids))
	for rows.Next() {
		var m MessageSummary
		var received int64
		var date sql.NullInt64
		var from, to, cc string
		if err := rows.Scan(&m.ID, &m.Address, &m.Mailbox, &m.UID, &m.Size, &received,
			&m.MessageID, &from, &to, &cc, &m.Subject, &date, &m.Attachments, &m.Snippet); err != nil {
			rows.Close()
			return nil, err
		}
		m.Received = time.Unix(0, received).UTC()
		m.Date = m.Received
		if date.Valid {
			m.Date = time.Unix(date.Int64, 0).UTC()
		}
		m.From, m.To, m.Cc = decodeAddresses(from), decodeAddresses(to), decodeAddresses(cc)
		if len(m.Cc) == 0 {
			m.Cc = nil
		}
		m.Flags = []string{}
		m.Unread = true
		byID[m.ID] = &m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT message_id, flag FROM flags WHERE message_id IN (`+list+`) ORDER BY message_id, flag`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var flag string
		if err := rows.Scan(&id, &flag); err != nil {
			return nil, err
		}
		if m := byID[id]; m != nil {
			m.Flags = append(m.Flags, flag)
			if strings.EqualFold(flag, string(imap.FlagSeen)) {
				m.Unread = false
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if m := byID[id]; m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// decodeAddresses returns the addresses of a column of bodies.
func decodeAddresses(s string) []Address {
	out := []Address{}
	if s != "[]" {
		json.Unmarshal([]byte(s), &out)
	}
	return out
}

// MessageByID returns the summary of message id, or an error wrapping
// ErrNotFound.
func (s *Store) MessageByID(ctx context.Context, id int64) (*MessageSummary, error) {
	list, err := loadSummaries(ctx, s.db, []int64{id})
	if err != nil {
		return nil, fmt.Errorf("store: message %d: %w", id, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("store: message %d: %w", id, ErrNotFound)
	}
	return &list[0], nil
}

// OpenMessage returns the whole message id (header and body, CRLF line
// endings), read from the store a piece at a time: a large message is
// never all in memory. If the message is deleted while it is read, a
// Read fails with an error wrapping ErrNotFound.
func (s *Store) OpenMessage(ctx context.Context, id int64) (io.ReadCloser, error) {
	var mbox, size int64
	var uid uint32
	err := s.db.QueryRowContext(ctx, `SELECT mailbox_id, uid, size FROM messages WHERE id = ?`, id).Scan(&mbox, &uid, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: message %d: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: message %d: %w", id, err)
	}
	b, err := openBody(ctx, s.bodies, id, mbox, uid, size)
	if err != nil {
		return nil, fmt.Errorf("store: message %d: %w", id, err)
	}
	return io.NopCloser(b.reader(ctx)), nil
}

// SetSeen adds (seen) or removes the \Seen flag of the messages ids and
// returns how many it changed; ids that do not exist are skipped. IMAP
// sessions with the mailbox selected get the FETCH FLAGS updates (RFC 9051
// §7.5.2), and Options.Events an events.Delete event for each message
// changed. As DeleteMessages, it is carried out by the server when another
// process holds the data directory.
func (s *Store) SetSeen(ctx context.Context, ids []int64, seen bool) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := s.do(ctx, &request{Op: opSetSeen, IDs: ids, Seen: seen})
	return res.Changed, err
}

// A messageRow locates a message: its mailbox, UID and owner.
type messageRow struct {
	id      int64
	mailbox int64
	uid     uint32
	name    string // of the mailbox
	address string
}

// messageRowsTx returns the messages of ids that exist, by id, each once.
func messageRowsTx(ctx context.Context, q querier, ids []int64) ([]messageRow, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var out []messageRow
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		rows, err := q.QueryContext(ctx, `SELECT m.id, m.mailbox_id, m.uid, mb.name, u.address
			FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox_id JOIN users u ON u.id = mb.user_id
			WHERE m.id IN (`+idList(chunk)+`) ORDER BY m.id`)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r messageRow
			if err := rows.Scan(&r.id, &r.mailbox, &r.uid, &r.name, &r.address); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// setSeenTx is SetSeen in tx.
func (s *Store) setSeenTx(ctx context.Context, tx *wtx, ids []int64, seen bool) (_ int, err error) {
	defer wrapErr(&err, "set seen")
	msgs, err := messageRowsTx(ctx, tx, ids)
	if err != nil {
		return 0, err
	}
	query := `DELETE FROM flags WHERE message_id = ?1 AND flag = '\Seen' COLLATE NOCASE`
	if seen {
		query = `INSERT INTO flags (message_id, flag) SELECT ?1, '\Seen'
			WHERE NOT EXISTS (SELECT 1 FROM flags WHERE message_id = ?1 AND flag = '\Seen' COLLATE NOCASE)`
	}
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range msgs {
		res, err := st.ExecContext(ctx, m.id)
		if err != nil {
			return 0, err
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			continue
		}
		n++
		s.publishDelete(tx, m)
	}
	return n, nil
}

// wrapErr makes *err, if not nil, an error of the store's operation op.
func wrapErr(err *error, op string) {
	if *err != nil {
		*err = fmt.Errorf("store: %s: %w", op, *err)
	}
}

// publishDelete arranges for an events.Delete event for message m to be
// published after the commit.
func (s *Store) publishDelete(tx *wtx, m messageRow) {
	if hub := s.opts.Events; hub != nil {
		e := events.Event{Kind: events.Delete, ID: m.id, Address: m.address, Mailbox: m.name}
		tx.After(func() { hub.Publish(e) })
	}
}

// DeleteMessageIDs deletes the messages ids and returns how many it
// deleted; ids that do not exist are skipped. IMAP sessions with the
// mailbox selected get the EXPUNGE responses, as with DeleteMessages (and,
// as it, it is carried out by the server when another process holds the
// data directory), and Options.Events an events.Delete event for each
// message deleted.
func (s *Store) DeleteMessageIDs(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := s.do(ctx, &request{Op: opDeleteIDs, IDs: ids})
	return res.Deleted, err
}

// deleteIDsTx is DeleteMessageIDs in tx.
func (s *Store) deleteIDsTx(ctx context.Context, tx *wtx, ids []int64) (_ int, err error) {
	defer wrapErr(&err, "delete messages")
	msgs, err := messageRowsTx(ctx, tx, ids)
	if err != nil {
		return 0, err
	}
	byMailbox := make(map[int64]map[int64]bool)
	var boxes []int64
	for _, m := range msgs {
		if byMailbox[m.mailbox] == nil {
			byMailbox[m.mailbox] = make(map[int64]bool)
			boxes = append(boxes, m.mailbox)
		}
		byMailbox[m.mailbox][m.id] = true
	}
	slices.Sort(boxes)
	for _, mbox := range boxes {
		refs, err := loadRefs(ctx, tx, mbox)
		if err != nil {
			return 0, err
		}
		del := make([]bool, len(refs))
		for i, r := range refs {
			del[i] = byMailbox[mbox][r.id]
		}
		if err := s.expungeRefsTx(ctx, tx, mbox, refs, del); err != nil {
			return 0, err
		}
	}
	for _, m := range msgs {
		s.publishDelete(tx, m)
	}
	return len(msgs), nil
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

// A SearchError is a search query that does not parse.
type SearchError struct {
	Query string
	Err   string
}

func (e *SearchError) Error() string { return "store: search " + e.Query + ": " + e.Err }
