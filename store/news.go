package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/nntp"
)

// DefaultNewsGroup is the newsgroup every store has from the start.
const DefaultNewsGroup = "inetkit.test"

// AddGroup adds an empty newsgroup, open to posting. It returns ErrExists
// if the group exists, and an error for a name that cannot be a newsgroup
// name (RFC 3977 §4.1: no spaces, commas or wildmat characters).
func (s *Store) AddGroup(ctx context.Context, name, description string) error {
	if !validNewsGroup(name) {
		return fmt.Errorf("store: invalid newsgroup name %q", name)
	}
	return s.write(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO news_groups (name, description, created) VALUES (?, ?, ?)`,
			name, description, time.Now().Unix())
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return ErrExists
		}
		return err
	})
}

// validNewsGroup reports whether name can be a newsgroup name.
func validNewsGroup(name string) bool {
	if name == "" || len(name) > 497 {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(",*?!\\[]:", r) || r == 0xfffd {
			return false
		}
	}
	return true
}

// RemoveGroup removes a newsgroup and the articles filed in no other
// group. It returns ErrNotFound for an unknown group.
func (s *Store) RemoveGroup(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *wtx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM news_groups WHERE name = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM news_articles WHERE id IN (
			SELECT article_id FROM news_numbers WHERE group_id = ?1
			EXCEPT SELECT article_id FROM news_numbers WHERE group_id != ?1)`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM news_groups WHERE id = ?`, id)
		return err
	})
}

// groupQuery selects a group's fields as scanGroup reads them.
const groupQuery = `SELECT g.name, g.description, g.status, g.created, g.high,
	(SELECT min(number) FROM news_numbers WHERE group_id = g.id),
	g.count
	FROM news_groups g`

func scanGroup(sc interface{ Scan(...any) error }) (nntp.Group, error) {
	var g nntp.Group
	var status string
	var created int64
	var low sql.NullInt64
	if err := sc.Scan(&g.Name, &g.Description, &status, &created, &g.High, &low, &g.Count); err != nil {
		return g, err
	}
	if status != "" {
		g.Status = status[0]
	}
	g.Created = time.Unix(created, 0)
	g.Low = g.High + 1
	if low.Valid {
		g.Low = low.Int64
	}
	return g, nil
}

// ListGroups returns the newsgroups, sorted by name, with their counts and
// water marks.
func (s *Store) ListGroups(ctx context.Context) ([]nntp.Group, error) {
	rows, err := s.db.QueryContext(ctx, groupQuery+` ORDER BY g.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []nntp.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// NNTPBackend returns the news backend of the store. Logins are the mail
// accounts (Authenticate); with Options.AnyLogin, a login that is not an
// account with a password is accepted with any password, and makes no
// user: a news reader needs no mailbox. An article is committed before
// Post returns, so the server's 240 or 235 comes only for an article on
// disk.
func (s *Store) NNTPBackend() nntp.Backend { return newsBackend{s} }

type newsBackend struct{ s *Store }

func (be newsBackend) Login(ctx context.Context, user, pass string) error {
	s := be.s
	if s.opts.AnyLogin && user != "" {
		_, hash, err := s.lookupUser(ctx, normAddress(user))
		if errors.Is(err, sql.ErrNoRows) || err == nil && !hash.Valid {
			return nil
		}
	}
	_, err := s.Authenticate(ctx, user, pass)
	if errors.Is(err, ErrAuthFailed) {
		return nntp.ErrAuthFailed
	}
	return err
}

func (be newsBackend) Groups(ctx context.Context) ([]nntp.Group, error) {
	return be.s.ListGroups(ctx)
}

func (be newsBackend) Group(ctx context.Context, name string) (nntp.Group, error) {
	g, err := scanGroup(be.s.db.QueryRowContext(ctx, groupQuery+` WHERE g.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return g, nntp.ErrNoSuchGroup
	}
	return g, err
}

func (be newsBackend) Numbers(ctx context.Context, group string, low, high int64, limit int) ([]int64, error) {
	rows, err := be.s.db.QueryContext(ctx, `SELECT n.number FROM news_numbers n JOIN news_groups g ON g.id = n.group_id
		WHERE g.name = ? AND n.number BETWEEN ? AND ? ORDER BY n.number LIMIT ?`, group, low, high, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func (be newsBackend) Previous(ctx context.Context, group string, n int64) (int64, error) {
	var p sql.NullInt64
	err := be.s.db.QueryRowContext(ctx, `SELECT max(n.number) FROM news_numbers n JOIN news_groups g ON g.id = n.group_id
		WHERE g.name = ? AND n.number < ?`, group, n).Scan(&p)
	return p.Int64, err
}

// articleCols are the columns of news_articles that scanArticle reads.
const articleCols = `a.id, a.message_id, a.header, a.body_id, a.bytes, a.lines, a.xref`

func (be newsBackend) scanArticle(ctx context.Context, row *sql.Row, body bool) (*nntp.Article, error) {
	var art nntp.Article
	var id, bodyID int64
	if err := row.Scan(&id, &art.MessageID, &art.Header, &bodyID, &art.Bytes, &art.Lines, &art.Xref); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nntp.ErrNoSuchArticle
		}
		return nil, err
	}
	if body {
		b, err := be.s.openNewsBody(ctx, bodyID, art.Bytes-int64(len(art.Header))-2)
		if err != nil {
			return nil, err
		}
		art.Body = io.NopCloser(b.reader(ctx))
	}
	return &art, nil
}

func (be newsBackend) Article(ctx context.Context, group string, n int64, body bool) (*nntp.Article, error) {
	row := be.s.db.QueryRowContext(ctx, `SELECT `+articleCols+` FROM news_articles a
		JOIN news_numbers n ON n.article_id = a.id JOIN news_groups g ON g.id = n.group_id
		WHERE g.name = ? AND n.number = ?`, group, n)
	art, err := be.scanArticle(ctx, row, body)
	if art != nil {
		art.Number = n
	}
	return art, err
}

func (be newsBackend) ArticleByID(ctx context.Context, id string, body bool) (*nntp.Article, error) {
	row := be.s.db.QueryRowContext(ctx, `SELECT `+articleCols+` FROM news_articles a WHERE a.message_id = ?`, id)
	return be.scanArticle(ctx, row, body)
}

// openNewsBody returns the stored body bodyID of an article, of size
// octets: read at once if it fits in one piece, else a piece at a time.
func (s *Store) openNewsBody(ctx context.Context, bodyID, size int64) (*storedBody, error) {
	small := size <= bodyChunkBytes
	rows, err := s.db.QueryContext(ctx, `SELECT id, off, length(data), iif(?2, data, NULL) FROM body_chunks
		WHERE body_id = ?1 ORDER BY off`, bodyID, small)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	b := &storedBody{q: s.bodies, size: size}
	var total int64
	for rows.Next() {
		var c chunkRef
		var data sql.RawBytes
		if err := rows.Scan(&c.id, &c.off, &c.n, &data); err != nil {
			return nil, err
		}
		if c.off != total {
			return nil, fmt.Errorf("store: article body %d: piece at offset %d, want %d", bodyID, c.off, total)
		}
		total += c.n
		b.chunks = append(b.chunks, c)
		if small {
			b.data = append(b.data, data...)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if total != size {
		return nil, fmt.Errorf("store: article body %d holds %d bytes, want %d", bodyID, total, size)
	}
	if small && b.data == nil {
		b.data = []byte{}
	}
	return b, nil
}

func (be newsBackend) Overview(ctx context.Context, group string, low, high int64, limit int) ([]nntp.Overview, error) {
	rows, err := be.s.db.QueryContext(ctx, `SELECT n.number, a.subject, a.sender, a.date, a.message_id, a.refs, a.bytes, a.lines, a.xref
		FROM news_numbers n JOIN news_groups g ON g.id = n.group_id JOIN news_articles a ON a.id = n.article_id
		WHERE g.name = ? AND n.number BETWEEN ? AND ? ORDER BY n.number LIMIT ?`, group, low, high, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []nntp.Overview
	for rows.Next() {
		var o nntp.Overview
		if err := rows.Scan(&o.Number, &o.Subject, &o.From, &o.Date, &o.MessageID, &o.References, &o.Bytes, &o.Lines, &o.Xref); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (be newsBackend) NewNews(ctx context.Context, since time.Time) ([]nntp.NewArticle, error) {
	rows, err := be.s.db.QueryContext(ctx, `SELECT a.message_id, g.name FROM news_articles a
		JOIN news_numbers n ON n.article_id = a.id JOIN news_groups g ON g.id = n.group_id
		WHERE a.arrived >= ? ORDER BY a.arrived, a.id`, since.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []nntp.NewArticle
	for rows.Next() {
		var id, group string
		if err := rows.Scan(&id, &group); err != nil {
			return nil, err
		}
		if len(out) > 0 && out[len(out)-1].MessageID == id {
			out[len(out)-1].Groups = append(out[len(out)-1].Groups, group)
			continue
		}
		out = append(out, nntp.NewArticle{MessageID: id, Groups: []string{group}})
	}
	return out, rows.Err()
}

// Post stores the article and its numbers, committed (synchronous=FULL)
// before it returns. Posts (and mail deliveries) that arrive together are
// committed together by the store's writer (group commit), each within a
// savepoint: a post that fails (a duplicate message-id, also of a post in
// the same batch; an unknown group) takes back its numbers and fails
// alone, and the numbers of a group stay dense and increasing.
func (be newsBackend) Post(ctx context.Context, p *nntp.Posting) ([]nntp.GroupNumber, error) {
	if err := be.s.checkFree(); err != nil {
		return nil, &nntp.Error{Code: 441, Message: "insufficient storage"}
	}
	var nums []nntp.GroupNumber
	err := be.s.enqueue(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		nums, err = be.s.postTx(ctx, tx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nums, nil
}

// postTx stores the article of p in tx, with the next number of each of
// its groups, and returns the numbers.
func (s *Store) postTx(ctx context.Context, tx *wtx, p *nntp.Posting) ([]nntp.GroupNumber, error) {
	dup, err := s.stmt(ctx, tx, `SELECT 1 FROM news_articles WHERE message_id = ?`)
	if err != nil {
		return nil, err
	}
	var one int
	err = dup.QueryRowContext(ctx, p.MessageID).Scan(&one)
	if err == nil {
		return nil, nntp.ErrDuplicate
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	next, err := s.stmt(ctx, tx, `UPDATE news_groups SET high = high + 1 WHERE name = ? RETURNING id, high`)
	if err != nil {
		return nil, err
	}
	type filed struct{ group, number int64 }
	var files []filed
	var nums []nntp.GroupNumber
	var xref []string
	for _, name := range p.Groups {
		var id, high int64
		err := next.QueryRowContext(ctx, name).Scan(&id, &high)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, &nntp.Error{Code: 441, Message: "no such newsgroup " + name}
		} else if err != nil {
			return nil, err
		}
		files = append(files, filed{id, high})
		nums = append(nums, nntp.GroupNumber{Group: name, Number: high})
		xref = append(xref, name+":"+strconv.FormatInt(high, 10))
	}
	bodyID, err := s.insertBodyTx(ctx, tx, p.Body)
	if err != nil {
		return nil, err
	}
	artID, err := s.nextID(ctx, tx, "news_articles")
	if err != nil {
		return nil, err
	}
	insArt, err := s.stmt(ctx, tx, `INSERT INTO news_articles
		(id, message_id, header, body_id, bytes, lines, subject, sender, date, refs, xref, arrived)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	_, err = insArt.ExecContext(ctx, artID,
		p.MessageID, p.Header, bodyID, int64(len(p.Header))+2+int64(len(p.Body)), p.Lines,
		p.Subject, p.From, p.Date, p.References, strings.Join(xref, " "), time.Now().UnixNano())
	if err != nil {
		return nil, err
	}
	ins, err := s.stmt(ctx, tx, `INSERT INTO news_numbers (group_id, number, article_id) VALUES (?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if _, err := ins.ExecContext(ctx, f.group, f.number, artID); err != nil {
			return nil, err
		}
	}
	if hub := s.opts.Events; hub != nil {
		e := events.Event{Kind: events.Post, ID: artID, Groups: append([]string(nil), p.Groups...),
			From: decodeField(p.From), Subject: decodeField(p.Subject), Size: int64(len(p.Header)) + 2 + int64(len(p.Body))}
		tx.After(func() { hub.Publish(e) })
	}
	return nums, nil
}

var _ nntp.Backend = newsBackend{}
