package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/store"
)

// The REST API (/api/v1) answers JSON, and an error as {"error": "..."}
// with its status: 400 for a request that makes no sense, 401 without a
// login, 403 for what the user may not do, 404 for what does not exist (or
// is another user's), 408 for a wait that timed out, 413 for a body over
// its cap, 500 for the console's own failures (logged, never detailed).
// openapi.json describes every route.

// maxIDs caps the ids of one request (mark read, delete).
const maxIDs = 10000

// An apiRoute is one route of the API: a net/http pattern and its handler.
type apiRoute struct {
	pattern string
	handler func(s *Server, w http.ResponseWriter, r *http.Request)
}

// apiRouteTable lists the routes of the API; openapi_test.go checks it
// against openapi.json.
var apiRouteTable = []apiRoute{
	{"GET /api/v1/addresses", (*Server).apiAddresses},
	{"GET /api/v1/messages", (*Server).apiMessages},
	{"DELETE /api/v1/messages", (*Server).apiDeleteMessages},
	{"PUT /api/v1/messages/read", (*Server).apiMarkRead},
	{"GET /api/v1/messages/{id}", (*Server).apiMessage},
	{"DELETE /api/v1/messages/{id}", (*Server).apiDeleteMessage},
	{"GET /api/v1/messages/{id}/raw", (*Server).apiMessageRaw},
	{"GET /api/v1/messages/{id}/parts/{part...}", (*Server).apiMessagePart},
	{"GET /api/v1/wait", (*Server).apiWait},
	{"POST /api/v1/send", (*Server).apiSend},

	{"GET /api/v1/groups", (*Server).apiGroups},
	{"GET /api/v1/articles", (*Server).apiArticles},
	{"POST /api/v1/articles", (*Server).apiPostArticle},
	{"DELETE /api/v1/articles", (*Server).apiDeleteArticles},
	{"GET /api/v1/articles/{id}", (*Server).apiArticle},
	{"DELETE /api/v1/articles/{id}", (*Server).apiDeleteArticle},
	{"GET /api/v1/articles/{id}/raw", (*Server).apiArticleRaw},
	{"GET /api/v1/news/wait", (*Server).apiNewsWait},

	{"GET /api/v1/files", (*Server).apiFiles},
	{"GET /api/v1/files/{path...}", (*Server).apiFiles},
	{"PUT /api/v1/files/{path...}", (*Server).apiPutFile},
	{"DELETE /api/v1/files/{path...}", (*Server).apiDeleteFile},

	{"GET /api/v1/faults", (*Server).apiFaults},
	{"POST /api/v1/faults", (*Server).apiAddFault},
	{"DELETE /api/v1/faults", (*Server).apiClearFaults},
	{"DELETE /api/v1/faults/{id}", (*Server).apiDeleteFault},

	{"GET /api/v1/services", (*Server).apiServices},
	{"GET /api/v1/ca.pem", (*Server).apiCACert},
	{"GET /api/v1/events", (*Server).apiEvents},
	{"GET /api/v1/openapi.json", (*Server).apiOpenAPI},
}

// apiRoutes registers the REST API under /api/v1.
func (s *Server) apiRoutes(mux *http.ServeMux) {
	for _, rt := range apiRouteTable {
		h := rt.handler
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API route")
	})
}

// An apiError is an error with the status and text the client gets.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// badRequest returns a 400 error.
func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

var (
	errNotFound  = &apiError{http.StatusNotFound, "not found"}
	errForbidden = &apiError{http.StatusForbidden, "a user may see and change only their own mail"}
	errAdminOnly = &apiError{http.StatusForbidden, "only a console without a login (on loopback) may do this"}
)

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// apiFail answers err: an *apiError as it says, a store.ErrNotFound as 404,
// a search that does not parse as 400, a body over its cap as 413, a client
// gone as nothing, anything else as 500 with a log line.
func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var se *store.SearchError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.status, ae.msg)
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
	case errors.As(err, &se):
		writeError(w, http.StatusBadRequest, "search: "+se.Err)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case r.Context().Err() != nil:
		// The client is gone.
	default:
		s.log.Error("console: api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// decodeJSON reads r's body, a JSON value, into v: unknown fields and
// trailing data are errors. The body's Content-Type is not checked (curl
// -d sends its own): a request that changes something passes the
// cross-origin check before, which is what a Content-Type check would be
// for.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("body: data after the JSON value")
	}
	return nil
}

// isJSON reports whether the body of a request that takes either JSON or
// a message (send, post) is JSON: its Content-Type says so, or it has
// none, or curl's default (application/x-www-form-urlencoded), and it
// starts with "{" (a message starts with a header field name).
func isJSON(r *http.Request, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		return true
	case "", "application/x-www-form-urlencoded":
		return len(bytes.TrimLeft(body, " \t\r\n")) > 0 && bytes.TrimLeft(body, " \t\r\n")[0] == '{'
	}
	return false
}

// pathID returns the {id} of r's path, a positive integer.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("id: not a positive integer: %q", r.PathValue("id"))
	}
	return id, nil
}

// intParam returns the query parameter name of r as an int64 in [lo, hi],
// or def if it is absent.
func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s: want an integer from %d to %d, got %q", name, lo, hi, v)
	}
	return n, nil
}

// pageParams reads the paging parameters: before (an id), offset, limit.
func pageParams(r *http.Request) (before int64, offset, limit int, err error) {
	if before, err = intParam(r, "before", 0, 0, 1<<62); err != nil {
		return
	}
	var o, l int64
	if o, err = intParam(r, "offset", 0, 0, 1<<31-1); err != nil {
		return
	}
	if l, err = intParam(r, "limit", 50, 1, 1000); err != nil {
		return
	}
	return before, int(o), int(l), nil
}

// scopeAddress returns the address a request about mail may cover: the
// one it names, which must be the user's own when logged in, or, when it
// names none, the user's own ("" without a login: every address).
func scopeAddress(ctx context.Context, named string) (string, error) {
	user, all := userOf(ctx)
	if all {
		return named, nil
	}
	if named != "" && !strings.EqualFold(named, user) {
		return "", errForbidden
	}
	return user, nil
}

// apiAddresses answers GET /api/v1/addresses: every address with mail (the
// user's own when logged in), with its mailboxes and counts.
func (s *Server) apiAddresses(w http.ResponseWriter, r *http.Request) {
	as, err := s.cfg.Store.Addresses(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]store.AddressSummary, 0, len(as))
	for _, a := range as {
		if mayAccess(r.Context(), a.Address) {
			if a.Mailboxes == nil {
				a.Mailboxes = []store.MailboxSummary{}
			}
			out = append(out, a)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// apiMessages answers GET /api/v1/messages: a page of messages, newest
// first, of one address (or all), one mailbox (or all), matching a search.
func (s *Server) apiMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	address, err := scopeAddress(r.Context(), q.Get("address"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	before, offset, limit, err := pageParams(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	page, err := s.cfg.Store.ListMessages(r.Context(), &store.MessageQuery{
		Address: address, Mailbox: q.Get("mailbox"), Search: q.Get("query"),
		BeforeID: before, Offset: offset, Limit: limit,
	})
	if errors.Is(err, store.ErrNotFound) && address != "" && q.Get("address") == "" && q.Get("mailbox") == "" {
		page, err = &store.MessagePage{}, nil // a logged-in user without mail yet
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, fixPage(page))
}

// fixPage makes a page's nil slices empty, for clients that want arrays.
func fixPage(p *store.MessagePage) *store.MessagePage {
	if p.Messages == nil {
		p.Messages = []store.MessageSummary{}
	}
	for i := range p.Messages {
		fixSummary(&p.Messages[i])
	}
	return p
}

// fixSummary makes a summary's nil slices empty.
func fixSummary(m *store.MessageSummary) {
	if m.From == nil {
		m.From = []store.Address{}
	}
	if m.To == nil {
		m.To = []store.Address{}
	}
	if m.Flags == nil {
		m.Flags = []string{}
	}
}

// visibleMessage returns the summary of message {id} of r, if the user may
// see it; another user's message is not found.
func (s *Server) visibleMessage(r *http.Request) (*store.MessageSummary, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	m, err := s.cfg.Store.MessageByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !mayAccess(r.Context(), m.Address) {
		return nil, errNotFound
	}
	fixSummary(m)
	return m, nil
}

// A messageView is a message as GET /api/v1/messages/{id} answers it: its
// summary and its parts.
type messageView struct {
	*store.MessageSummary
	*ParsedMessage
	// Attachments, the list of ParsedMessage, hides the summary's count,
	// whose JSON name is the same.
	Attachments []Part `json:"attachments"`
}

// messageView returns the view of message m.
func (s *Server) messageView(ctx context.Context, m *store.MessageSummary) (*messageView, error) {
	rc, err := s.cfg.Store.OpenMessage(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	pm, err := parseMessage(rc)
	if err != nil {
		return nil, err
	}
	return &messageView{m, pm, pm.Attachments}, nil
}

// apiMessage answers GET /api/v1/messages/{id}: the message's summary,
// header, text, HTML, MIME tree, attachments and inline parts. It does not
// mark the message read.
func (s *Server) apiMessage(w http.ResponseWriter, r *http.Request) {
	m, err := s.visibleMessage(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	v, err := s.messageView(r.Context(), m)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// apiMessageRaw answers GET /api/v1/messages/{id}/raw: the message as
// stored, message/rfc822.
func (s *Server) apiMessageRaw(w http.ResponseWriter, r *http.Request) {
	m, err := s.visibleMessage(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	rc, err := s.cfg.Store.OpenMessage(r.Context(), m.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	defer rc.Close()
	serveRaw(w, rc, fmt.Sprintf("message-%d.eml", m.ID))
}

// serveRaw streams a message or an article.
func serveRaw(w http.ResponseWriter, rc io.Reader, name string) {
	h := w.Header()
	h.Set("Content-Type", "message/rfc822")
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-cache")
	io.Copy(w, rc)
}

// apiMessagePart answers GET /api/v1/messages/{id}/parts/{part}: one part,
// its transfer encoding undone, part a section number of the MIME tree or
// "cid:" and a Content-ID.
func (s *Server) apiMessagePart(w http.ResponseWriter, r *http.Request) {
	m, err := s.visibleMessage(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	rc, err := s.cfg.Store.OpenMessage(r.Context(), m.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	defer rc.Close()
	s.servePart(w, r, rc, fmt.Sprintf("part-%d-", m.ID))
}

// servePart serves part {part} of the message rc.
func (s *Server) servePart(w http.ResponseWriter, r *http.Request, rc io.Reader, namePrefix string) {
	p, body, err := openPart(rc, r.PathValue("part"))
	if errors.Is(err, errPartNotFound) {
		s.apiFail(w, r, &apiError{http.StatusNotFound, "no such part"})
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	ct := p.ContentType
	if strings.HasPrefix(ct, "text/") && p.Charset != "" {
		ct = mime.FormatMediaType(ct, map[string]string{"charset": p.Charset})
	}
	name := p.Filename
	if name == "" {
		name = namePrefix + p.ID
	}
	setSafeContent(w.Header(), ct, name)
	w.Header().Set("Cache-Control", "private, no-cache")
	io.Copy(w, body)
}

// inlineTypes are the media types served inline: nothing in them runs
// script, nor can a browser be made to read them as something that does
// (X-Content-Type-Options: nosniff). Everything else, HTML and SVG first,
// is an attachment.
var inlineTypes = map[string]bool{
	"text/plain": true, "image/png": true, "image/jpeg": true, "image/gif": true,
	"image/webp": true, "image/avif": true, "image/bmp": true, "application/json": true,
}

// setSafeContent sets the Content-Type ct (application/octet-stream if it
// does not parse) and a Content-Disposition with name: inline for
// inlineTypes, attachment otherwise. The console's CSP (sandbox, nothing
// loads) stays on it in any case.
func setSafeContent(h http.Header, ct, name string) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		ct, mt = "application/octet-stream", "application/octet-stream"
	}
	disp := "attachment"
	if inlineTypes[mt] {
		disp = "inline"
	}
	h.Set("Content-Type", ct)
	d := mime.FormatMediaType(disp, map[string]string{"filename": name})
	if d == "" {
		d = disp
	}
	h.Set("Content-Disposition", d)
}

// An idsRequest is the body of the requests that name messages or
// articles.
type idsRequest struct {
	IDs  []int64 `json:"ids"`
	Read *bool   `json:"read,omitempty"`
}

// visibleIDs returns those of ids that are messages the user may change.
func (s *Server) visibleIDs(ctx context.Context, ids []int64) ([]int64, error) {
	if len(ids) > maxIDs {
		return nil, badRequest("ids: at most %d", maxIDs)
	}
	if _, all := userOf(ctx); all {
		return ids, nil
	}
	out := ids[:0:0]
	for _, id := range ids {
		m, err := s.cfg.Store.MessageByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if mayAccess(ctx, m.Address) {
			out = append(out, id)
		}
	}
	return out, nil
}

// apiMarkRead answers PUT /api/v1/messages/read {"ids": [...], "read":
// true|false}: the \Seen flag set or cleared; it answers how many
// messages changed.
func (s *Server) apiMarkRead(w http.ResponseWriter, r *http.Request) {
	var req idsRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if req.Read == nil {
		s.apiFail(w, r, badRequest(`body: "read" (true or false) is required`))
		return
	}
	ids, err := s.visibleIDs(r.Context(), req.IDs)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	n := 0
	if len(ids) > 0 {
		if n, err = s.cfg.Store.SetSeen(r.Context(), ids, *req.Read); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"changed": n})
}

// apiDeleteMessage answers DELETE /api/v1/messages/{id}.
func (s *Server) apiDeleteMessage(w http.ResponseWriter, r *http.Request) {
	m, err := s.visibleMessage(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	n, err := s.cfg.Store.DeleteMessageIDs(r.Context(), []int64{m.ID})
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

// apiDeleteMessages answers DELETE /api/v1/messages: with a body {"ids":
// [...]}, those messages; else with ?address= (and ?mailbox=), every
// message of that address (mailbox); else every message (the user's own
// when logged in). It answers how many it deleted.
func (s *Server) apiDeleteMessages(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req idsRequest
	hasBody, err := decodeOptionalJSON(r, &req)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	user, _ := userOf(ctx)
	n := 0
	if hasBody {
		ids, err := s.visibleIDs(ctx, req.IDs)
		if err == nil && len(ids) > 0 {
			n, err = s.cfg.Store.DeleteMessageIDs(ctx, ids)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
	} else {
		q := r.URL.Query()
		address, err := scopeAddress(ctx, q.Get("address"))
		if err == nil {
			n, err = s.cfg.Store.DeleteMessages(ctx, store.MessageFilter{Address: address, Mailbox: q.Get("mailbox")})
			if errors.Is(err, store.ErrNotFound) {
				n, err = 0, nil // nothing to delete
			}
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if user == "" {
			user = address
		}
	}
	if n > 0 && !hasBody {
		// DeleteMessages, unlike DeleteMessageIDs, publishes nothing.
		s.cfg.Events.Publish(events.Event{Kind: events.Delete, Service: "console", Address: user, Remote: r.RemoteAddr})
	}
	writeJSON(w, http.StatusOK, map[string]int{"deleted": n})
}

// decodeOptionalJSON is decodeJSON for a body that may be empty; it
// reports whether there was one.
func decodeOptionalJSON(r *http.Request, v any) (bool, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return false, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return true, decodeJSON(r, v)
}
