package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/store"
)

// A groupJSON is a newsgroup as GET /api/v1/groups lists it.
type groupJSON struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Count       int64     `json:"count"`
	Low         int64     `json:"low"`
	High        int64     `json:"high"`
	Status      string    `json:"status"` // "y" posting allowed, "n" not, "m" moderated
	Created     time.Time `json:"created"`
}

// apiGroups answers GET /api/v1/groups: every newsgroup, by name.
func (s *Server) apiGroups(w http.ResponseWriter, r *http.Request) {
	gs, err := s.cfg.Store.ListGroups(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]groupJSON, 0, len(gs))
	for _, g := range gs {
		out = append(out, groupJSON{Name: g.Name, Description: g.Description, Count: g.Count, Low: g.Low, High: g.High,
			Status: string(rune(g.Status)), Created: g.Created})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiArticles answers GET /api/v1/articles: a page of articles, newest
// first, of one group (or all) matching a search.
func (s *Server) apiArticles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	before, offset, limit, err := pageParams(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	page, err := s.cfg.Store.ListArticles(r.Context(), &store.ArticleQuery{
		Group: q.Get("group"), Search: q.Get("query"), BeforeID: before, Offset: offset, Limit: limit,
	})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if page.Articles == nil {
		page.Articles = []store.ArticleSummary{}
	}
	for i := range page.Articles {
		fixArticle(&page.Articles[i])
	}
	writeJSON(w, http.StatusOK, page)
}

// fixArticle makes an article summary's nil slices empty.
func fixArticle(a *store.ArticleSummary) {
	if a.Groups == nil {
		a.Groups = []string{}
	}
}

// An articleView is an article as GET /api/v1/articles/{id} answers it.
type articleView struct {
	*store.ArticleSummary
	*ParsedMessage
}

// articleView returns the view of article a.
func (s *Server) articleView(ctx context.Context, a *store.ArticleSummary) (*articleView, error) {
	fixArticle(a)
	rc, err := s.cfg.Store.OpenArticle(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	pm, err := parseMessage(rc)
	if err != nil {
		return nil, err
	}
	return &articleView{a, pm}, nil
}

// article returns the summary of article {id} of r.
func (s *Server) article(r *http.Request) (*store.ArticleSummary, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return s.cfg.Store.ArticleByID(r.Context(), id)
}

// apiArticle answers GET /api/v1/articles/{id}: the article's summary,
// header, text, HTML, MIME tree and attachments.
func (s *Server) apiArticle(w http.ResponseWriter, r *http.Request) {
	a, err := s.article(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	v, err := s.articleView(r.Context(), a)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// apiArticleRaw answers GET /api/v1/articles/{id}/raw: the article as
// stored, with its Xref.
func (s *Server) apiArticleRaw(w http.ResponseWriter, r *http.Request) {
	a, err := s.article(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	rc, err := s.cfg.Store.OpenArticle(r.Context(), a.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	defer rc.Close()
	serveRaw(w, rc, fmt.Sprintf("article-%d.eml", a.ID))
}

// apiDeleteArticle answers DELETE /api/v1/articles/{id}; only a console
// without a login may delete what every user shares.
func (s *Server) apiDeleteArticle(w http.ResponseWriter, r *http.Request) {
	if !isAdmin(r.Context()) {
		s.apiFail(w, r, errAdminOnly)
		return
	}
	a, err := s.article(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	n, err := s.cfg.Store.DeleteArticleIDs(r.Context(), []int64{a.ID})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if n == 0 {
		s.apiFail(w, r, errNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"deleted": n})
}

// apiDeleteArticles answers DELETE /api/v1/articles {"ids": [...]}.
func (s *Server) apiDeleteArticles(w http.ResponseWriter, r *http.Request) {
	if !isAdmin(r.Context()) {
		s.apiFail(w, r, errAdminOnly)
		return
	}
	var req idsRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if len(req.IDs) > maxIDs {
		s.apiFail(w, r, badRequest("ids: at most %d", maxIDs))
		return
	}
	n := 0
	if len(req.IDs) > 0 {
		var err error
		if n, err = s.cfg.Store.DeleteArticleIDs(r.Context(), req.IDs); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"deleted": n})
}

// A postRequest is the JSON body of POST /api/v1/articles.
type postRequest struct {
	From       string   `json:"from"`
	Groups     []string `json:"groups"`
	Subject    string   `json:"subject"`
	Text       string   `json:"text"`
	References []string `json:"references"`
}

// A groupNumber is the number an article was given in a group.
type groupNumber struct {
	Group  string `json:"group"`
	Number int64  `json:"number"`
}

// apiPostArticle answers POST /api/v1/articles: an article posted, given
// whole (as NNTP's POST takes it, with LF or CRLF line endings) or as JSON
// {from, groups, subject, text, references} (see isJSON). It is checked as NNTP's POST checks it (the
// groups must exist and allow posting). It answers 201 with the article's
// id, Message-ID and numbers.
func (s *Server) apiPostArticle(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	user, _ := userOf(ctx)
	article, err := io.ReadAll(r.Body)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if isJSON(r, article) {
		var req postRequest
		r.Body = io.NopCloser(bytes.NewReader(article))
		if err := decodeJSON(r, &req); err != nil {
			s.apiFail(w, r, err)
			return
		}
		if req.From == "" {
			req.From = user
		}
		if article, err = buildArticle(&req); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	if int64(len(article)) > s.cfg.MaxMessageBytes {
		s.apiFail(w, r, &apiError{http.StatusRequestEntityTooLarge, "article too large"})
		return
	}
	be := s.cfg.Store.NNTPBackend()
	p, err := nntp.NewPosting(ctx, be, article, "", user)
	var ne *nntp.Error
	if errors.As(err, &ne) {
		s.apiFail(w, r, &apiError{http.StatusBadRequest, ne.Message})
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	before, err := s.cfg.Store.ListArticles(ctx, &store.ArticleQuery{Limit: 1})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var after int64
	if len(before.Articles) > 0 {
		after = before.Articles[0].ID
	}
	nums, err := be.Post(ctx, p)
	switch {
	case errors.Is(err, nntp.ErrDuplicate):
		s.apiFail(w, r, &apiError{http.StatusConflict, "an article with Message-ID " + p.MessageID + " exists"})
		return
	case errors.As(err, &ne):
		s.apiFail(w, r, &apiError{http.StatusBadRequest, ne.Message})
		return
	case err != nil:
		s.apiFail(w, r, err)
		return
	}
	res := struct {
		ID        int64         `json:"id"`
		MessageID string        `json:"messageId"`
		Groups    []groupNumber `json:"groups"`
	}{MessageID: p.MessageID, Groups: []groupNumber{}}
	for _, n := range nums {
		res.Groups = append(res.Groups, groupNumber{n.Group, n.Number})
	}
	res.ID, err = s.findArticle(ctx, after, p.MessageID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// findArticle returns the id of the article with Message-ID mid stored
// after id after, or 0.
func (s *Server) findArticle(ctx context.Context, after int64, mid string) (int64, error) {
	q := &store.ArticleQuery{AfterID: after, Limit: 1000}
	for {
		page, err := s.cfg.Store.ListArticles(ctx, q)
		if err != nil || len(page.Articles) == 0 {
			return 0, err
		}
		for _, a := range page.Articles {
			if a.MessageID == mid {
				return a.ID, nil
			}
		}
		q.BeforeID = page.Articles[len(page.Articles)-1].ID
	}
}

// buildArticle makes the article of a JSON post: a text/plain body in
// UTF-8, the Subject and From encoded as RFC 2047 asks when not ASCII.
func buildArticle(req *postRequest) ([]byte, error) {
	if len(req.Groups) == 0 {
		return nil, badRequest("groups: at least one is required")
	}
	if strings.TrimSpace(req.Subject) == "" {
		return nil, badRequest("subject: required")
	}
	if strings.TrimSpace(req.From) == "" {
		return nil, badRequest("from: required")
	}
	for _, v := range append(append([]string{req.From, req.Subject}, req.Groups...), req.References...) {
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, badRequest("header values cannot hold line breaks")
		}
	}
	for _, g := range req.Groups {
		if strings.ContainsAny(g, ", \t") {
			return nil, badRequest("groups: invalid name %q", g)
		}
	}
	var b bytes.Buffer
	b.WriteString("From: " + encodeAddressList(req.From) + "\r\n")
	b.WriteString("Newsgroups: " + strings.Join(req.Groups, ",") + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", req.Subject) + "\r\n")
	if len(req.References) > 0 {
		b.WriteString("References: " + strings.Join(req.References, " ") + "\r\n")
	}
	writeTextBody(&b, req.Text)
	return b.Bytes(), nil
}
