package console

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/store"
)

// newsPage is the data of news.html: the groups.
type newsPage struct {
	page
	Groups []nntp.Group
}

// groupStatus says what a group's LIST ACTIVE status means.
func groupStatus(b byte) string {
	switch b {
	case nntp.StatusPostingNotAllowed:
		return "read-only"
	case nntp.StatusModerated:
		return "moderated"
	}
	return ""
}

// handleGroups lists the newsgroups: GET /news.
func (s *Server) handleGroups(w http.ResponseWriter, r *http.Request) {
	gs, err := s.cfg.Store.ListGroups(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	s.render(w, r, http.StatusOK, "news.html", &newsPage{page: s.newPage(r, "news", "News"), Groups: gs})
}

// groupPage is the data of group.html: a page of a group's articles,
// threaded.
type groupPage struct {
	page
	Group     nntp.Group
	Query     string
	SearchErr string
	Articles  []threadItem
	Pager     pager
	Empty     string
}

// A threadItem is an article in the threaded list, at its depth under the
// thread's first article on the page.
type threadItem struct {
	store.ArticleSummary
	Depth int // 0 for a thread's root; capped at maxDepth
}

// maxDepth is the deepest indentation of a reply (the CSS has a class per
// depth).
const maxDepth = 8

// threads orders a page of articles (newest first) into threads by their
// References: a reply goes under the nearest of its references on the page
// (replies to an article not on the page start threads of their own).
// Threads come newest activity first, replies oldest first.
func threads(arts []store.ArticleSummary) []threadItem {
	index := make(map[string]int, len(arts))
	for i, a := range arts {
		if _, dup := index[a.MessageID]; !dup && a.MessageID != "" {
			index[a.MessageID] = i
		}
	}
	parent := make([]int, len(arts))
	for i, a := range arts {
		parent[i] = -1
		for j := len(a.References) - 1; j >= 0; j-- {
			if p, ok := index[a.References[j]]; ok && p != i {
				parent[i] = p
				break
			}
		}
	}
	// Break cycles (articles that name each other): walking up from i
	// must reach a root within len(arts) steps.
	for i := range arts {
		p, steps := parent[i], 0
		for p >= 0 && steps <= len(arts) {
			if p == i {
				parent[i] = -1
				break
			}
			p, steps = parent[p], steps+1
		}
	}
	children := make([][]int, len(arts))
	var roots []int
	for i := range arts {
		if parent[i] < 0 {
			roots = append(roots, i)
		} else {
			children[parent[i]] = append(children[parent[i]], i)
		}
	}
	// latest is the greatest id in i's subtree: its thread's activity.
	latest := make([]int64, len(arts))
	var last func(i int) int64
	last = func(i int) int64 {
		if latest[i] != 0 {
			return latest[i]
		}
		m := arts[i].ID
		for _, c := range children[i] {
			m = max(m, last(c))
		}
		latest[i] = m
		return m
	}
	for _, r := range roots {
		last(r)
	}
	slices.SortStableFunc(roots, func(a, b int) int { return cmpInt64(latest[b], latest[a]) })
	out := make([]threadItem, 0, len(arts))
	var walk func(i, depth int)
	walk = func(i, depth int) {
		out = append(out, threadItem{ArticleSummary: arts[i], Depth: min(depth, maxDepth)})
		cs := children[i]
		slices.SortFunc(cs, func(a, b int) int { return cmpInt64(arts[a].ID, arts[b].ID) })
		for _, c := range cs {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// group returns the group the request's {group} names.
func (s *Server) group(r *http.Request) (nntp.Group, error) {
	name := r.PathValue("group")
	gs, err := s.cfg.Store.ListGroups(r.Context())
	if err != nil {
		return nntp.Group{}, err
	}
	for _, g := range gs {
		if g.Name == name {
			return g, nil
		}
	}
	return nntp.Group{}, store.ErrNotFound
}

// handleGroup shows a group's articles, threaded: GET /news/{group}?q=Q
// &page=N&before=ID.
func (s *Server) handleGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.group(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	q := r.URL.Query()
	d := &groupPage{page: s.newPage(r, "news", g.Name), Group: g, Query: strings.TrimSpace(q.Get("q"))}
	args := parseListArgs(q)
	res, err := s.cfg.Store.ListArticles(r.Context(), &store.ArticleQuery{Group: g.Name, Search: d.Query,
		BeforeID: args.Before, Offset: args.offset(), Limit: pageSize})
	var serr *store.SearchError
	switch {
	case errors.As(err, &serr):
		d.SearchErr = serr.Err
		res = &store.ArticlePage{}
	case err != nil:
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	base := &url.URL{Path: "/news/" + url.PathEscape(g.Name)}
	if d.Query != "" {
		base.RawQuery = url.Values{"q": {d.Query}}.Encode()
	}
	var lastID int64
	if n := len(res.Articles); n > 0 {
		lastID = res.Articles[n-1].ID
	}
	d.Pager = newPager(base, args, res.Total, len(res.Articles), lastID)
	d.Articles = threads(res.Articles)
	switch {
	case d.SearchErr != "":
		d.Empty = "Fix the search to see articles."
	case d.Query != "":
		d.Empty = "No article matches this search."
	default:
		d.Empty = "No articles in this group yet."
	}
	s.render(w, r, http.StatusOK, "group.html", d)
}

// articlePage is the data of article.html.
type articlePage struct {
	page
	Group     string
	Art       *store.ArticleSummary
	Header    []HeaderField
	Text      string
	CanDelete bool
}

// handleArticle shows an article: GET /news/{group}/{id}.
func (s *Server) handleArticle(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r)
		return
	}
	a, err := s.cfg.Store.ArticleByID(ctx, id)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	rc, err := s.cfg.Store.OpenArticle(ctx, id)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	var raw bytes.Buffer
	_, err = raw.ReadFrom(rc)
	rc.Close()
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	group := r.PathValue("group")
	if !slices.Contains(a.Groups, group) && len(a.Groups) > 0 {
		group = a.Groups[0]
	}
	title := a.Subject
	if title == "" {
		title = "(no subject)"
	}
	d := &articlePage{page: s.newPage(r, "news", title), Group: group, Art: a, CanDelete: isAdmin(ctx)}
	if pm, err := parseMessage(bytes.NewReader(raw.Bytes())); err == nil {
		d.Header, d.Text = pm.Header, pm.Text
		if d.Text == "" && pm.HTML != "" {
			d.Text = "(This article has only an HTML part, not shown here.)"
		}
	} else {
		// An article the parser refuses is still shown, as it is.
		head, body, _ := bytes.Cut(raw.Bytes(), []byte("\r\n\r\n"))
		for _, l := range strings.Split(string(head), "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				d.Header = append(d.Header, HeaderField{Name: k, Value: strings.TrimSpace(v)})
			}
		}
		d.Text = strings.ToValidUTF8(string(body), "\uFFFD")
	}
	s.render(w, r, http.StatusOK, "article.html", d)
}

// handleArticleDelete removes an article from every group: POST
// /news/{group}/{id}/delete. News is shared by every user, so only a
// console without a login (on loopback) may.
func (s *Server) handleArticleDelete(w http.ResponseWriter, r *http.Request) {
	if !isAdmin(r.Context()) {
		s.fail(w, r, http.StatusForbidden, userError("Only the console's administrator (no login, on loopback) may delete articles."))
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r)
		return
	}
	if _, err := s.cfg.Store.DeleteArticleIDs(r.Context(), []int64{id}); err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	redirectDone(w, r, "/news/"+url.PathEscape(r.PathValue("group")), "adeleted", -1)
}
