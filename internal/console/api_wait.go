package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/store"
	"github.com/inetkit/inetkit/web"
)

// Timeouts of a wait (GET /api/v1/wait, GET /api/v1/news/wait).
const (
	defaultWaitTimeout = 30 * time.Second
	maxWaitTimeout     = 5 * time.Minute
)

// errWaitClosed answers a long request once Close is called.
var errWaitClosed = &apiError{http.StatusServiceUnavailable, "the console is shutting down"}

// A waitParams is what a wait asks for, beyond its search.
type waitParams struct {
	timeout  time.Duration
	after    int64 // match ids above this; -1: above the newest at the start
	existing bool
}

// readWaitParams reads timeout (a Go duration, "30s", or seconds, "30"; at
// most maxWaitTimeout), after (an id) and existing (true or false).
func readWaitParams(r *http.Request) (*waitParams, error) {
	q := r.URL.Query()
	p := &waitParams{timeout: defaultWaitTimeout, after: -1}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			n, nerr := strconv.ParseFloat(v, 64)
			if nerr != nil {
				return nil, badRequest("timeout: want a duration such as 30s, got %q", v)
			}
			d = time.Duration(n * float64(time.Second))
		}
		if d <= 0 || d > maxWaitTimeout {
			return nil, badRequest("timeout: want more than 0 and at most %v", maxWaitTimeout)
		}
		p.timeout = d
	}
	if v := q.Get("existing"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badRequest("existing: want true or false, got %q", v)
		}
		p.existing = b
	}
	if q.Has("after") {
		n, err := intParam(r, "after", 0, 0, 1<<62)
		if err != nil {
			return nil, err
		}
		p.after = n
	}
	if p.existing && p.after < 0 {
		p.after = 0
	}
	return p, nil
}

// searchTerms returns query with a field:"value" term for each of the
// named query parameters of r that is set, before it (the value quoted as
// the search syntax quotes, so that it is matched as it is, and first, so
// that a quote that query leaves open cannot take it in).
func searchTerms(r *http.Request, query string, fields ...string) string {
	terms := []string{}
	q := r.URL.Query()
	for _, f := range fields {
		v := strings.TrimSpace(q.Get(f))
		if v == "" {
			continue
		}
		v = strings.NewReplacer("\\", "\\\\", "\"", "\\\"").Replace(v)
		terms = append(terms, f+`:"`+v+`"`)
	}
	if strings.TrimSpace(query) != "" {
		terms = append(terms, query)
	}
	return strings.Join(terms, " ")
}

// apiWait answers GET /api/v1/wait: the first message matching the
// search (query, and to=, from=, subject= as the terms to:, from:,
// subject:) in address (the user's own when logged in) and mailbox that is
// stored after the request arrived (after=ID: whose id is above ID), as
// soon as its delivery is committed; with existing=true, the newest
// matching message already stored, or else the first one stored. It
// answers 408 after timeout (30s unless given, at most 5m). The server
// does not poll: it looks again at each commit that adds messages.
func (s *Server) apiWait(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := readWaitParams(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	q := r.URL.Query()
	address, err := scopeAddress(ctx, q.Get("address"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	mq := store.MessageQuery{Address: address, Mailbox: q.Get("mailbox"), Search: searchTerms(r, q.Get("query"), "to", "from", "subject")}
	var found *store.MessageSummary
	find := func() (bool, error) {
		if p.after < 0 {
			newest, err := s.cfg.Store.ListMessages(ctx, &store.MessageQuery{Limit: 1})
			if err != nil {
				return false, err
			}
			p.after = 0
			if len(newest.Messages) > 0 {
				p.after = newest.Messages[0].ID
			}
		}
		q := mq
		q.AfterID, q.Limit = p.after, 1
		page, err := s.cfg.Store.ListMessages(ctx, &q)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // the address or mailbox does not exist yet
		}
		if err != nil || len(page.Messages) == 0 {
			return false, err
		}
		if !p.existing && page.Total > 1 {
			// The first to arrive, not the newest.
			q.Offset = page.Total - 1
			if page, err = s.cfg.Store.ListMessages(ctx, &q); err != nil || len(page.Messages) == 0 {
				return false, err
			}
		}
		found = &page.Messages[0]
		return true, nil
	}
	if err := s.wait(w, r, p.timeout, "", find); err != nil {
		s.apiFail(w, r, err)
		return
	}
	fixSummary(found)
	v, err := s.messageView(ctx, found)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// apiNewsWait answers GET /api/v1/news/wait: as GET /api/v1/wait, for an
// article of group (every group if not given) matching the search (query,
// from=, subject=).
func (s *Server) apiNewsWait(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := readWaitParams(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	q := r.URL.Query()
	aq := store.ArticleQuery{Group: q.Get("group"), Search: searchTerms(r, q.Get("query"), "from", "subject")}
	var found *store.ArticleSummary
	find := func() (bool, error) {
		if p.after < 0 {
			newest, err := s.cfg.Store.ListArticles(ctx, &store.ArticleQuery{Limit: 1})
			if err != nil {
				return false, err
			}
			p.after = 0
			if len(newest.Articles) > 0 {
				p.after = newest.Articles[0].ID
			}
		}
		q := aq
		q.AfterID, q.Limit = p.after, 1
		page, err := s.cfg.Store.ListArticles(ctx, &q)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil || len(page.Articles) == 0 {
			return false, err
		}
		if !p.existing && page.Total > 1 {
			q.Offset = page.Total - 1
			if page, err = s.cfg.Store.ListArticles(ctx, &q); err != nil || len(page.Articles) == 0 {
				return false, err
			}
		}
		found = &page.Articles[0]
		return true, nil
	}
	if err := s.wait(w, r, p.timeout, events.Post, find); err != nil {
		s.apiFail(w, r, err)
		return
	}
	v, err := s.articleView(ctx, found)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// wait calls find until it finds what it looks for: at once, then after
// each commit of the store that adds or removes messages (Store.Changed)
// and, if kind is not "", each event of that kind (articles posted, which
// the store announces there). It returns an *apiError with 408 after
// timeout, and ctx's error when the client goes away.
func (s *Server) wait(w http.ResponseWriter, r *http.Request, timeout time.Duration, kind string, find func() (bool, error)) error {
	ctx := r.Context()
	done, ok := s.beginLong()
	if !ok {
		return errWaitClosed
	}
	defer done()
	defer web.KeepOpen(w, r)()
	var evc <-chan events.Event
	if kind != "" && s.cfg.Events != nil {
		c, cancel := s.cfg.Events.Subscribe(16)
		defer cancel()
		evc = c
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if s.waitHook != nil {
		defer s.waitHook("end")
	}
	for {
		changed := s.cfg.Store.Changed()
		ok, err := find()
		if ok || (err != nil && ctx.Err() == nil) {
			return err
		}
		if s.waitHook != nil {
			s.waitHook("block")
		}
		select {
		case <-changed:
		case <-evc:
		case <-ctx.Done():
			if r.Context().Err() != nil {
				return r.Context().Err()
			}
			return &apiError{http.StatusRequestTimeout, fmt.Sprintf("nothing matched within %v", timeout)}
		case <-s.closed:
			return errWaitClosed
		}
	}
}
