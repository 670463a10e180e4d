package console

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/inetkit/inetkit/store"
)

// maxRawShown is how much of a message's source the Raw tab shows; the
// whole of it is a download away.
const maxRawShown = 1 << 20

// mailPage is the data of mail.html: the addresses and their mailboxes
// (the side bar), the search box and a page of the message list.
type mailPage struct {
	page
	Side      mailSide
	Address   string
	Mailbox   string
	Query     string
	SearchErr string
	List      mailList
}

// mailSide is the side bar: every address that has mail, with its
// mailboxes.
type mailSide struct {
	Addresses []store.AddressSummary
	Total     int
	Unread    int
	Address   string // the current one
	Mailbox   string
}

// mailList is one page of the message list.
type mailList struct {
	Messages []store.MessageSummary
	Pager    pager
	Owner    bool   // show each message's owner (the list spans addresses)
	Refresh  string // the URL of this list's fragment, for live updates; "" when the page is not the newest
	Empty    string // what to say when there are no messages
}

// A pager is the paging links of a list: page numbers (by offset), and the
// "older" link by keyset (BeforeID), which stays right while mail arrives.
type pager struct {
	Total       int
	First, Last int // 1-based positions shown; 0 when unknown
	Page, Pages int
	Links       []pageLink
	Newer       string
	Older       string
}

// A pageLink is a page number link, or a gap ("…") when Gap.
type pageLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool
}

// listArgs are the paging arguments of a list page's URL: ?page=N (an
// offset) and ?before=ID (a keyset; page then only names the page).
type listArgs struct {
	Page   int // 0 when the page is not known (before without page)
	Before int64
}

func parseListArgs(q url.Values) listArgs {
	var a listArgs
	a.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	if a.Before < 0 {
		a.Before = 0
	}
	a.Page, _ = strconv.Atoi(q.Get("page"))
	if a.Page < 1 || a.Page > 1<<20 {
		a.Page = 0
	}
	if a.Page == 0 && a.Before == 0 {
		a.Page = 1
	}
	return a
}

// offset is the query's Offset for a.
func (a listArgs) offset() int {
	if a.Before != 0 || a.Page < 1 {
		return 0
	}
	return (a.Page - 1) * pageSize
}

// newPager returns the paging links of a page of n items (the last of them
// lastID) out of total, at a, for the list at base (path and query without
// the paging arguments).
func newPager(base *url.URL, a listArgs, total, n int, lastID int64) pager {
	link := func(page int, before int64) string {
		u := *base
		q := u.Query()
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		if before != 0 {
			q.Set("before", strconv.FormatInt(before, 10))
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	p := pager{Total: total, Page: a.Page, Pages: (total + pageSize - 1) / pageSize}
	if p.Pages < 1 {
		p.Pages = 1
	}
	if a.Page > 0 && n > 0 {
		p.First = (a.Page-1)*pageSize + 1
		p.Last = p.First + n - 1
	}
	switch {
	case a.Page > 1:
		p.Newer = link(a.Page-1, 0)
	case a.Before != 0:
		p.Newer = link(1, 0)
	}
	if n == pageSize && lastID > 0 && (p.Last == 0 || p.Last < total) {
		next := 0
		if a.Page > 0 {
			next = a.Page + 1
		}
		p.Older = link(next, lastID)
	}
	if p.Pages > 1 {
		last := 0
		for i := 1; i <= p.Pages; i++ {
			if i != 1 && i != p.Pages && (i < a.Page-2 || i > a.Page+2) {
				continue
			}
			if last != 0 && i > last+1 {
				p.Links = append(p.Links, pageLink{Gap: true})
			}
			p.Links = append(p.Links, pageLink{N: i, URL: link(i, 0), Current: i == a.Page})
			last = i
		}
	}
	return p
}

// handleMailList shows the message list: GET /mail?address=A&mailbox=M&q=Q
// &page=N&before=ID. With ?fragment=list it renders only the list and the
// side bar (for live updates, with the unread count in X-Unread), with
// ?fragment=unread only the unread count (text/plain).
func (s *Server) handleMailList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if q.Get("fragment") == "unread" {
		p := s.newPage(r, "", "")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, strconv.Itoa(p.Unread))
		return
	}
	d := &mailPage{
		page:    s.newPage(r, "mail", "Mail"),
		Address: strings.TrimSpace(q.Get("address")),
		Mailbox: q.Get("mailbox"),
		Query:   strings.TrimSpace(q.Get("q")),
	}
	if user, all := userOf(ctx); !all {
		d.Address = user
	}
	d.Side.Address, d.Side.Mailbox = d.Address, d.Mailbox
	as, err := s.visibleAddresses(ctx)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	d.Side.Addresses = as
	for _, a := range as {
		d.Side.Total += a.Total
		d.Side.Unread += a.Unread
	}
	switch {
	case d.Mailbox != "" && d.Address != "":
		d.Title = d.Mailbox + " · " + d.Address
	case d.Address != "":
		d.Title = d.Address
	}

	base := &url.URL{Path: "/mail"}
	bq := url.Values{}
	if d.Address != "" {
		bq.Set("address", d.Address)
	}
	if d.Mailbox != "" {
		bq.Set("mailbox", d.Mailbox)
	}
	if d.Query != "" {
		bq.Set("q", d.Query)
	}
	base.RawQuery = bq.Encode()
	args := parseListArgs(q)
	mq := &store.MessageQuery{Address: d.Address, Mailbox: d.Mailbox, Search: d.Query,
		BeforeID: args.Before, Offset: args.offset(), Limit: pageSize}
	res, err := s.cfg.Store.ListMessages(ctx, mq)
	var serr *store.SearchError
	switch {
	case errors.As(err, &serr):
		d.SearchErr = serr.Err
		res = &store.MessagePage{}
	case errors.Is(err, store.ErrNotFound) && d.Address != "" && !isFragment(q):
		s.fail(w, r, http.StatusNotFound, err)
		return
	case errors.Is(err, store.ErrNotFound):
		res = &store.MessagePage{}
	case err != nil:
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	var lastID int64
	if n := len(res.Messages); n > 0 {
		lastID = res.Messages[n-1].ID
	}
	d.List = mailList{
		Messages: res.Messages,
		Pager:    newPager(base, args, res.Total, len(res.Messages), lastID),
		Owner:    d.Address == "",
	}
	if args.Page == 1 && args.Before == 0 {
		f := *base
		fq := f.Query()
		fq.Set("fragment", "list")
		f.RawQuery = fq.Encode()
		d.List.Refresh = f.String()
	}
	switch {
	case d.SearchErr != "":
		d.List.Empty = "Fix the search to see messages."
	case d.Query != "":
		d.List.Empty = "No message matches this search."
	case len(as) == 0:
		d.List.Empty = "No mail yet. Messages sent to the SMTP server appear here as they arrive."
	default:
		d.List.Empty = "No messages here."
	}
	if isFragment(q) {
		var buf bytes.Buffer
		if err := pages["mail.html"].ExecuteTemplate(&buf, "mail-fragment", d); err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		pageHeaders(w.Header())
		w.Header().Set("X-Unread", strconv.Itoa(d.Unread))
		w.Write(buf.Bytes())
		return
	}
	s.render(w, r, http.StatusOK, "mail.html", d)
}

func isFragment(q url.Values) bool { return q.Get("fragment") == "list" }

// messagePage is the data of message.html.
type messagePage struct {
	page
	Msg       *store.MessageSummary
	Parsed    *ParsedMessage
	ParseErr  bool
	Tab       string
	Tabs      []tabInfo
	Remote    bool // remote content is loaded
	HasRemote bool // the HTML refers to remote content
	Raw       string
	RawCut    bool
	Downloads []Part
	MIME      mimeNode
	Back      string
}

// A mimeNode is a node of the MIME tree as message.html shows it.
type mimeNode struct {
	Msg int64
	Part
	Children []mimeNode
}

func newMIMENode(id int64, p Part) mimeNode {
	n := mimeNode{Msg: id, Part: p}
	for _, c := range p.Parts {
		n.Children = append(n.Children, newMIMENode(id, c))
	}
	return n
}

// A tabInfo is a tab of the message view.
type tabInfo struct {
	ID, Label string
	Selected  bool
}

// tabs are the message view's tabs, in order.
var tabs = []tabInfo{{"html", "HTML", false}, {"text", "Text", false}, {"headers", "Headers", false},
	{"mime", "MIME", false}, {"raw", "Raw", false}}

// message returns the summary of the message of the request's {id} if the
// user may see it.
func (s *Server) message(r *http.Request) (*store.MessageSummary, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, store.ErrNotFound
	}
	m, err := s.cfg.Store.MessageByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !mayAccess(r.Context(), m.Address) {
		return nil, store.ErrNotFound
	}
	return m, nil
}

// readMessage returns the whole of message id.
func (s *Server) readMessage(ctx context.Context, id int64) ([]byte, error) {
	rc, err := s.cfg.Store.OpenMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// handleMessage shows a message: GET /mail/{id}?tab=T. Opening a message
// marks it read, as mail clients and Mailpit do.
func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	m, err := s.message(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if m.Unread {
		if _, err := s.cfg.Store.SetSeen(ctx, []int64{m.ID}, true); err != nil {
			s.log.Warn("console: marking a message read", "id", m.ID, "err", err)
		} else {
			m.Unread = false
		}
	}
	raw, err := s.readMessage(ctx, m.ID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	title := m.Subject
	if title == "" {
		title = "(no subject)"
	}
	d := &messagePage{page: s.newPage(r, "mail", title), Msg: m, Back: backToList(r, m)}
	d.Parsed, err = parseMessage(bytes.NewReader(raw))
	if err != nil {
		s.log.Warn("console: parsing a message", "id", m.ID, "err", err)
		d.ParseErr = true
		d.Parsed = &ParsedMessage{}
	}
	d.Downloads = append(append(d.Downloads, d.Parsed.Attachments...), d.Parsed.Inline...)
	d.MIME = newMIMENode(m.ID, d.Parsed.Root)
	d.HasRemote = hasRemote(d.Parsed.HTML)
	d.Remote = r.URL.Query().Get("remote") == "1"
	if len(raw) > maxRawShown {
		raw, d.RawCut = raw[:maxRawShown], true
	}
	d.Raw = strings.ToValidUTF8(string(raw), "\uFFFD")
	d.Tab = r.URL.Query().Get("tab")
	if !validTab(d.Tab) {
		d.Tab = "text"
		if d.Parsed.HTML != "" {
			d.Tab = "html"
		} else if d.ParseErr {
			d.Tab = "raw"
		}
	}
	for _, t := range tabs {
		t.Selected = t.ID == d.Tab
		d.Tabs = append(d.Tabs, t)
	}
	s.render(w, r, http.StatusOK, "message.html", d)
}

func validTab(t string) bool {
	for _, x := range tabs {
		if t == x.ID {
			return true
		}
	}
	return false
}

// backToList returns the list the user came from (the Referer, when it is
// a list of this console), or the list of the message's mailbox.
func backToList(r *http.Request, m *store.MessageSummary) string {
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && ref.Path == "/mail" {
		q := ref.Query()
		q.Del("fragment")
		q.Del("done")
		q.Del("n")
		return (&url.URL{Path: "/mail", RawQuery: q.Encode()}).String()
	}
	v := url.Values{"address": {m.Address}}
	if !strings.EqualFold(m.Mailbox, "INBOX") {
		v.Set("mailbox", m.Mailbox)
	}
	return "/mail?" + v.Encode()
}

// remoteRE finds references to remote content in HTML: images, styles and
// fonts of http(s) or protocol-relative URLs.
var remoteRE = regexp.MustCompile(`(?i)<(?:img|image|link|video|audio|source|input|table|td|th|tr|body|div|span|picture)\b[^>]*\b(?:src|srcset|background|href|poster)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import`)

func hasRemote(html string) bool { return html != "" && remoteRE.MatchString(html) }

// cidRE finds cid: URLs in attribute values and CSS url()s.
var cidRE = regexp.MustCompile(`(?i)((?:=|\()\s*["']?\s*)cid:([^"'\s)>]+)`)

// rewriteCID points every cid: URL of html to the part route of message
// id, from which the frame's CSP allows images.
func rewriteCID(html string, id int64) string {
	return cidRE.ReplaceAllStringFunc(html, func(m string) string {
		sub := cidRE.FindStringSubmatch(m)
		cid, err := url.PathUnescape(sub[2])
		if err != nil {
			cid = sub[2]
		}
		return sub[1] + partURL(id, "cid:"+cid)
	})
}

// partURL returns the URL of part (an ID of the MIME tree, or "cid:ID") of
// message id.
func partURL(id int64, part string) string {
	return "/mail/" + strconv.FormatInt(id, 10) + "/part/" + url.PathEscape(part)
}

// frameCSP returns the Content-Security-Policy of a message's HTML: nothing
// but inline styles and images (data: and parts, the source of the
// message's own parts); with remote, images, styles and fonts from
// anywhere too. Never a script, never a form, no frames, no connections.
// sandbox repeats the iframe's sandbox for a frame opened on its own.
func frameCSP(parts string, remote bool) string {
	img, style, font := "cid: data: "+parts, "'unsafe-inline'", "data:"
	if remote {
		img += " https: http:"
		style += " https: http:"
		font += " https: http:"
	}
	return "default-src 'none'; style-src " + style + "; img-src " + img + "; font-src " + font +
		"; frame-ancestors 'self'; form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
}

// partsSource returns the CSP source of message id's parts on this
// console, as the request addressed it: an absolute URL with the parts'
// path, so that the message's HTML can load its own parts and no other URL
// of the console. A host that a CSP source cannot name (an IPv6 literal)
// gets 'self', which CSP 3 matches against the frame's URL also in a
// sandboxed document whose origin is opaque (Chromium does).
func partsSource(r *http.Request, id int64) string {
	host := r.Host
	if host == "" || strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != "" ||
		strings.Count(host, ":") > 1 {
		return "'self'"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + host + "/mail/" + strconv.FormatInt(id, 10) + "/part/"
}

// doctypeRE matches a leading document type declaration.
var doctypeRE = regexp.MustCompile(`(?is)^\s*(?:<\?xml[^>]*>\s*)?<!doctype[^>]*>`)

// handleMailHTML serves a message's HTML for the sandboxed frame of the
// message view: GET /mail/{id}/html[?remote=1].
func (s *Server) handleMailHTML(w http.ResponseWriter, r *http.Request) {
	m, err := s.message(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	raw, err := s.readMessage(r.Context(), m.ID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	pm, err := parseMessage(bytes.NewReader(raw))
	if err != nil || pm.HTML == "" {
		http.NotFound(w, r)
		return
	}
	html := rewriteCID(pm.HTML, m.ID)
	// Links open in a new tab (allow-popups-to-escape-sandbox), not in the
	// frame. The base goes after a doctype, which must stay first.
	const base = `<base target="_blank">`
	if loc := doctypeRE.FindStringIndex(html); loc != nil {
		html = html[:loc[1]] + base + html[loc[1]:]
	} else {
		html = base + html
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", frameCSP(partsSource(r, m.ID), r.URL.Query().Get("remote") == "1"))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "private, no-cache")
	io.WriteString(w, html)
}

// handleMailPart serves a part of a message as a download: GET
// /mail/{id}/part/{part}, part an ID of the MIME tree or "cid:ID". It is
// always an attachment, under a CSP that runs nothing, so that an HTML or
// SVG part opened in a tab runs nothing with the console's origin (H9).
func (s *Server) handleMailPart(w http.ResponseWriter, r *http.Request) {
	m, err := s.message(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	rc, err := s.cfg.Store.OpenMessage(r.Context(), m.ID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	defer rc.Close()
	p, body, err := openPart(rc, r.PathValue("part"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", partType(p))
	h.Set("Content-Disposition", attachment(p.Filename, "part-"+p.ID))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-cache")
	io.Copy(w, body)
}

// partType returns the Content-Type to serve part p with.
func partType(p *Part) string {
	ct := p.ContentType
	if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
		return "application/octet-stream"
	}
	if strings.HasPrefix(ct, "text/") && p.Charset != "" {
		if t := mime.FormatMediaType(ct, map[string]string{"charset": p.Charset}); t != "" {
			return t
		}
	}
	return ct
}

// attachment returns a Content-Disposition that downloads a file as name
// (RFC 6266, with RFC 8187 encoding where it needs it), or as fallback.
func attachment(name, fallback string) string {
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	if name == "" || !utf8.ValidString(name) {
		name = fallback
	}
	if d := mime.FormatMediaType("attachment", map[string]string{"filename": name}); d != "" {
		return d
	}
	return mime.FormatMediaType("attachment", map[string]string{"filename": fallback})
}

// handleMailRaw serves a message's source: GET /mail/{id}/raw, as text,
// or as a .eml download with ?download=1.
func (s *Server) handleMailRaw(w http.ResponseWriter, r *http.Request) {
	m, err := s.message(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	rc, err := s.cfg.Store.OpenMessage(r.Context(), m.ID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	if r.URL.Query().Get("download") == "1" {
		h.Set("Content-Type", "message/rfc822")
		h.Set("Content-Disposition", attachment("message-"+strconv.FormatInt(m.ID, 10)+".eml", "message.eml"))
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-cache")
	io.Copy(w, rc)
}

// handleMailSeen marks a message read (seen=1) or unread (seen=0): POST
// /mail/{id}/seen, then back to next.
func (s *Server) handleMailSeen(w http.ResponseWriter, r *http.Request) {
	m, err := s.message(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	seen := r.PostFormValue("seen") == "1"
	if _, err := s.cfg.Store.SetSeen(r.Context(), []int64{m.ID}, seen); err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	done := "unread"
	if seen {
		done = "read"
	}
	redirectDone(w, r, nextOr(r, "/mail/"+strconv.FormatInt(m.ID, 10)), done, -1)
}

// handleMailDelete deletes a message: POST /mail/{id}/delete, then to
// next (the list).
func (s *Server) handleMailDelete(w http.ResponseWriter, r *http.Request) {
	m, err := s.message(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	n, err := s.cfg.Store.DeleteMessageIDs(r.Context(), []int64{m.ID})
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	redirectDone(w, r, nextOr(r, "/mail"), "deleted", n)
}

// nextOr returns the form's next field if it is a path on this console,
// or def.
func nextOr(r *http.Request, def string) string {
	if n := r.PostFormValue("next"); localPath(n) {
		return n
	}
	return def
}

// confirmPage is the data of confirm.html: a question and the form that
// answers it.
type confirmPage struct {
	page
	Question string
	Detail   string
	Action   string
	Fields   map[string]string
	Button   string
	Cancel   string
}

// deleteScope returns the address and mailbox of a delete-all request (a
// user without the right to see all is held to their own address) and what
// they are, in words.
func deleteScope(ctx context.Context, address, mailbox string) (string, string, string) {
	if user, all := userOf(ctx); !all {
		address = user
	}
	switch {
	case address == "":
		return "", "", "every message of every address"
	case mailbox == "":
		return address, "", "every message of " + address
	default:
		return address, mailbox, "every message in " + mailbox + " of " + address
	}
}

// handleMailDeleteConfirm asks before deleting many messages: GET
// /mail/delete?address=A&mailbox=M.
func (s *Server) handleMailDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	addr, mbox, what := deleteScope(r.Context(), q.Get("address"), q.Get("mailbox"))
	res, err := s.cfg.Store.ListMessages(r.Context(), &store.MessageQuery{Address: addr, Mailbox: mbox, Limit: 1})
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	back := url.Values{}
	if addr != "" {
		back.Set("address", addr)
	}
	if mbox != "" {
		back.Set("mailbox", mbox)
	}
	cancel := "/mail"
	if len(back) > 0 {
		cancel += "?" + back.Encode()
	}
	d := &confirmPage{
		page:     s.newPage(r, "mail", "Delete messages"),
		Question: "Delete " + what + "?",
		Detail: strconv.Itoa(res.Total) + " message" + plural(res.Total) +
			" will be deleted for good, also for IMAP and POP3 clients.",
		Action: "/mail/delete",
		Fields: map[string]string{"address": addr, "mailbox": mbox, "confirm": "yes"},
		Button: "Delete " + strconv.Itoa(res.Total) + " message" + plural(res.Total),
		Cancel: cancel,
	}
	s.render(w, r, http.StatusOK, "confirm.html", d)
}

// handleMailDeleteAll deletes every message of an address, of one of its
// mailboxes, or of everyone: POST /mail/delete with address, mailbox and
// confirm=yes.
func (s *Server) handleMailDeleteAll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.PostFormValue("confirm") != "yes" {
		s.badRequest(w, r, "Deleting many messages needs a confirmation.")
		return
	}
	addr, mbox, _ := deleteScope(ctx, r.PostFormValue("address"), r.PostFormValue("mailbox"))
	total := 0
	for {
		res, err := s.cfg.Store.ListMessages(ctx, &store.MessageQuery{Address: addr, Mailbox: mbox, Limit: 1000})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		if err != nil || len(res.Messages) == 0 {
			break
		}
		ids := make([]int64, len(res.Messages))
		for i, m := range res.Messages {
			ids[i] = m.ID
		}
		n, err := s.cfg.Store.DeleteMessageIDs(ctx, ids)
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		total += n
		if n == 0 {
			break
		}
	}
	redirectDone(w, r, "/mail", "deleted", total)
}
