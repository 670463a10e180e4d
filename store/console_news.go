package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// ListArticles returns a page of the articles q selects, newest first (by
// id). It returns an error wrapping ErrNotFound if q names a group that
// does not exist, and a *SearchError if q.Search does not parse. A search
// reads the overview fields of every article of the group (or the store);
// text matches the From and Subject fields.
func (s *Store) ListArticles(ctx context.Context, q *ArticleQuery) (*ArticlePage, error) {
	if q == nil {
		q = &ArticleQuery{}
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
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: list articles: %w", err)
	}
	defer tx.Rollback()
	var group int64
	var count int
	if q.Group != "" {
		err := tx.QueryRowContext(ctx, `SELECT id, count FROM news_groups WHERE name = ?`, q.Group).Scan(&group, &count)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("store: no newsgroup %q: %w", q.Group, ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("store: list articles: %w", err)
		}
	} else if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM news_articles`).Scan(&count); err != nil {
		return nil, fmt.Errorf("store: list articles: %w", err)
	}
	page := &ArticlePage{Articles: []ArticleSummary{}, Total: count}
	var ids []int64
	if search == nil {
		ids, err = articlePageIDs(ctx, tx, group, q)
	} else {
		ids, page.Total, err = searchArticles(ctx, tx, group, search, q)
	}
	if err != nil {
		return nil, fmt.Errorf("store: list articles: %w", err)
	}
	if page.Articles, err = loadArticles(ctx, tx, ids, q.Group); err != nil {
		return nil, fmt.Errorf("store: list articles: %w", err)
	}
	return page, nil
}

// articlePageIDs returns the ids of the page q asks of the articles of
// group (of every group if 0), newest first.
func articlePageIDs(ctx context.Context, q querier, group int64, aq *ArticleQuery) ([]int64, error) {
	var args sqlArgs
	col, query := "id", "SELECT id FROM news_articles WHERE 1"
	if group != 0 {
		col, query = "article_id", "SELECT article_id FROM news_numbers WHERE group_id = "+args.add(group)
	}
	if aq.BeforeID > 0 {
		query += " AND " + col + " < " + args.add(aq.BeforeID)
	}
	if aq.AfterID > 0 {
		query += " AND " + col + " > " + args.add(aq.AfterID)
	}
	query += " ORDER BY " + col + " DESC LIMIT " + args.add(pageLimit(aq.Limit)) + " OFFSET " + args.add(max(aq.Offset, 0))
	return queryIDs(ctx, q, query, args...)
}

func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// searchArticles returns the ids of the page q asks of the articles of
// group (of every group if 0) that match search, newest first, and how
// many match in all.
func searchArticles(ctx context.Context, q querier, group int64, search *Search, aq *ArticleQuery) ([]int64, int, error) {
	query := `SELECT a.id, a.subject, a.sender, a.date, a.arrived FROM news_articles a ORDER BY a.id DESC`
	var args []any
	if group != 0 {
		query = `SELECT a.id, a.subject, a.sender, a.date, a.arrived FROM news_numbers n
			JOIN news_articles a ON a.id = n.article_id WHERE n.group_id = ? ORDER BY n.article_id DESC`
		args = append(args, group)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	needDate := slices.ContainsFunc(search.Terms, func(t SearchTerm) bool {
		return t.Field == searchAfter || t.Field == searchBefore
	})
	total, skip, limit := 0, max(aq.Offset, 0), pageLimit(aq.Limit)
	var ids []int64
	for rows.Next() {
		var id, arrived int64
		var subject, sender, date string
		if err := rows.Scan(&id, &subject, &sender, &date, &arrived); err != nil {
			return nil, 0, err
		}
		a := articleFields{from: strings.ToLower(decodeField(sender)), subject: strings.ToLower(decodeField(subject))}
		if needDate {
			a.date = articleDate(date, arrived)
		}
		if !search.matchArticle(&a) {
			continue
		}
		total++
		if aq.BeforeID > 0 && id >= aq.BeforeID || aq.AfterID > 0 && id <= aq.AfterID {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(ids) < limit {
			ids = append(ids, id)
		}
	}
	return ids, total, rows.Err()
}

// articleDate returns the time of an article's Date field, or its arrival
// if the field does not parse.
func articleDate(date string, arrived int64) time.Time {
	if t, err := mail.ParseDate(strings.TrimSpace(date)); err == nil {
		return t.UTC()
	}
	return time.Unix(0, arrived).UTC()
}

// loadArticles returns the summaries of the articles ids, in the order of
// ids, numbered in group (if not "", else in their first group); an id
// that is no article is left out.
func loadArticles(ctx context.Context, q querier, ids []int64, group string) ([]ArticleSummary, error) {
	out := []ArticleSummary{}
	if len(ids) == 0 {
		return out, nil
	}
	list := idList(ids)
	rows, err := q.QueryContext(ctx, `SELECT id, message_id, subject, sender, date, refs, xref, bytes, lines, arrived
		FROM news_articles WHERE id IN (`+list+`)`)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*ArticleSummary, len(ids))
	xrefs := make(map[int64]string, len(ids))
	for rows.Next() {
		var a ArticleSummary
		var subject, sender, date, refs, xref string
		var arrived int64
		if err := rows.Scan(&a.ID, &a.MessageID, &subject, &sender, &date, &refs, &xref, &a.Bytes, &a.Lines, &arrived); err != nil {
			rows.Close()
			return nil, err
		}
		a.Subject, a.From = decodeField(subject), decodeField(sender)
		a.Arrived = time.Unix(0, arrived).UTC()
		a.Date = articleDate(date, arrived)
		a.References = messageIDs(refs)
		a.Groups = []string{}
		byID[a.ID] = &a
		xrefs[a.ID] = xref
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The groups where each article is filed now, in Newsgroups order
	// (that of its Xref).
	rows, err = q.QueryContext(ctx, `SELECT n.article_id, g.name, n.number FROM news_numbers n
		JOIN news_groups g ON g.id = n.group_id WHERE n.article_id IN (`+list+`)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type filing struct {
		group  string
		number int64
	}
	filed := make(map[int64][]filing)
	for rows.Next() {
		var id int64
		var f filing
		if err := rows.Scan(&id, &f.group, &f.number); err != nil {
			return nil, err
		}
		filed[id] = append(filed[id], f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for id, fs := range filed {
		a := byID[id]
		if a == nil {
			continue
		}
		order := xrefs[id] + " "
		slices.SortFunc(fs, func(x, y filing) int {
			return strings.Index(order, " "+x.group+":") - strings.Index(order, " "+y.group+":")
		})
		for _, f := range fs {
			a.Groups = append(a.Groups, f.group)
			if f.group == group || group == "" && a.Number == 0 {
				a.Number = f.number
			}
		}
	}
	for _, id := range ids {
		if a := byID[id]; a != nil {
			out = append(out, *a)
		}
	}
	return out, nil
}

// messageIDs returns the message ids of a References field (RFC 5536
// §3.4.4), with their angle brackets.
func messageIDs(refs string) []string {
	var out []string
	for _, w := range strings.Fields(refs) {
		if strings.HasPrefix(w, "<") && strings.HasSuffix(w, ">") && len(w) > 2 {
			out = append(out, w)
		}
	}
	return out
}

// ArticleByID returns the summary of article id, or an error wrapping
// ErrNotFound.
func (s *Store) ArticleByID(ctx context.Context, id int64) (*ArticleSummary, error) {
	list, err := loadArticles(ctx, s.db, []int64{id}, "")
	if err != nil {
		return nil, fmt.Errorf("store: article %d: %w", id, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("store: article %d: %w", id, ErrNotFound)
	}
	return &list[0], nil
}

// OpenArticle returns the whole article id, header (with its Xref) and
// body, as an NNTP ARTICLE command sends it (without the dot-stuffing):
// the Xref field names the server as the article's Path does, first (RFC
// 5536 §3.1.5: the server that accepted it puts its name there).
func (s *Store) OpenArticle(ctx context.Context, id int64) (io.ReadCloser, error) {
	var header []byte
	var bodyID, size int64
	var xref string
	err := s.db.QueryRowContext(ctx, `SELECT header, body_id, bytes, xref FROM news_articles WHERE id = ?`, id).Scan(&header, &bodyID, &size, &xref)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: article %d: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: article %d: %w", id, err)
	}
	b, err := s.openNewsBody(ctx, bodyID, size-int64(len(header))-2)
	if err != nil {
		return nil, fmt.Errorf("store: article %d: %w", id, err)
	}
	head := bytes.NewBuffer(header)
	if xref != "" {
		head.WriteString("Xref: " + pathHost(header) + " " + xref + "\r\n")
	}
	head.WriteString("\r\n")
	return io.NopCloser(io.MultiReader(head, b.reader(ctx))), nil
}

// pathHost returns the first name of the Path field of header: the
// server's own; "localhost" if there is none.
func pathHost(header []byte) string {
	host := ""
	scanHeader(header, func(name, value []byte) {
		if host == "" && bytes.EqualFold(name, []byte("Path")) {
			v := headerText(value)
			if i := strings.IndexAny(v, "!% \t"); i >= 0 {
				v = v[:i]
			}
			host = v
		}
	})
	if host == "" {
		return "localhost"
	}
	return host
}

// DeleteArticleIDs removes the articles ids from every group and returns
// how many it removed; ids that do not exist are skipped. A group's
// numbers are never given again (RFC 3977 §6.1.1.2).
func (s *Store) DeleteArticleIDs(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	n := 0
	err := s.write(ctx, func(tx *wtx) error {
		n = 0
		st, err := s.stmt(ctx, tx, `DELETE FROM news_articles WHERE id = ?`)
		if err != nil {
			return err
		}
		for _, id := range ids {
			res, err := st.ExecContext(ctx, id)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete articles: %w", err)
	}
	return n, nil
}
