package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/store"
)

// The console's pages (this file and ui_*.go) are rendered on the server
// with html/template, which escapes everything a message, an article or a
// file name brings. The pages load nothing but the console's own assets
// (pageCSP); a message's HTML is shown only in a sandboxed frame served by
// handleMailHTML under a CSP of its own.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageCSP is the Content-Security-Policy of every console page: scripts,
// styles and images from the console alone, no inline script or style
// (templates use classes, never style attributes), frames only of the
// console (the message frame), and no framing of the console by others.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// pageSize is the number of messages or articles on a page.
const pageSize = 50

// uiRoutes registers the console's pages and assets.
//
// Every route that changes something is a POST: the guards of protect
// (security.go) check its Origin, and forms posted from the console's pages
// carry the console's Origin (the pages' Referrer-Policy is same-origin, not
// no-referrer, which would make browsers send "Origin: null").
func (s *Server) uiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/mail", http.StatusFound)
	})
	mux.HandleFunc("GET /static/{name}", s.handleStatic)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, asset("icon.svg"), http.StatusMovedPermanently)
	})

	mux.HandleFunc("GET /mail", s.handleMailList)
	mux.HandleFunc("GET /mail/delete", s.handleMailDeleteConfirm)
	mux.HandleFunc("POST /mail/delete", s.handleMailDeleteAll)
	mux.HandleFunc("GET /mail/{id}", s.handleMessage)
	mux.HandleFunc("GET /mail/{id}/html", s.handleMailHTML)
	mux.HandleFunc("GET /mail/{id}/part/{part}", s.handleMailPart)
	mux.HandleFunc("GET /mail/{id}/raw", s.handleMailRaw)
	mux.HandleFunc("POST /mail/{id}/seen", s.handleMailSeen)
	mux.HandleFunc("POST /mail/{id}/delete", s.handleMailDelete)

	mux.HandleFunc("GET /news", s.handleGroups)
	mux.HandleFunc("GET /news/{group}", s.handleGroup)
	mux.HandleFunc("GET /news/{group}/{id}", s.handleArticle)
	mux.HandleFunc("POST /news/{group}/{id}/delete", s.handleArticleDelete)

	mux.HandleFunc("GET /files", s.handleFiles)
	mux.HandleFunc("GET /files/{path...}", s.handleFiles)
	mux.HandleFunc("POST /files", s.handleFilesPost)
	mux.HandleFunc("POST /files/{path...}", s.handleFilesPost)

	mux.HandleFunc("GET /faults", s.handleFaults)
	mux.HandleFunc("POST /faults", s.handleFaultsAdd)
	mux.HandleFunc("POST /faults/delete", s.handleFaultsClear)
	mux.HandleFunc("POST /faults/{id}/delete", s.handleFaultDelete)

	mux.HandleFunc("GET /server", s.handleServer)
	mux.HandleFunc("GET /ca.pem", s.handleCACert)
}

// The parsed page templates and the assets' version tags, made once by
// init.
var (
	pages    = make(map[string]*template.Template)
	versions = make(map[string]string) // asset name -> short hash of its content
)

// pageFiles are the templates of pages; each is parsed with layout.html and
// partials.html.
var pageFiles = []string{"mail.html", "message.html", "confirm.html", "news.html", "group.html",
	"article.html", "files.html", "server.html", "faults.html", "error.html"}

func init() {
	ents, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range ents {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		versions[e.Name()] = hex.EncodeToString(sum[:6])
	}
	funcs := template.FuncMap{
		"asset":     asset,
		"bytes":     humanBytes,
		"date":      shortDate,
		"datetime":  longDate,
		"isotime":   func(t time.Time) string { return t.Format(time.RFC3339) },
		"addrs":     formatAddrs,
		"addr":      formatAddr,
		"partURL":   partURL,
		"pathEsc":   url.PathEscape,
		"plural":    plural,
		"add":       func(a, b int) int { return a + b },
		"statusTxt": groupStatus,
	}
	for _, name := range pageFiles {
		t := template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name))
		pages[name] = t
	}
}

// asset returns the URL of a static asset, versioned by its content so
// that it can be cached for good.
func asset(name string) string {
	return "/static/" + name + "?v=" + versions[name]
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	switch path.Ext(name) {
	case ".css":
		h.Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case ".svg":
		h.Set("Content-Type", "image/svg+xml")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	default:
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	if v := r.URL.Query().Get("v"); v != "" && v == versions[name] {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+versions[name]+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// A page is what the layout shows around every page's content.
type page struct {
	Title   string // the page's own title, without the unread count
	Section string // "mail", "news", "files", "server" or "faults": the current nav item
	Unread  int    // unread messages the user may see, for the title
	User    string // the logged-in user; "" without a login
	Files   bool   // the Files page exists
	Faults  bool   // the Faults page exists
	CACert  bool   // the CA certificate can be downloaded
	Live    bool   // the page listens to the event stream
	Flash   string // a one-line notice after an action
}

func (s *Server) newPage(r *http.Request, section, title string) page {
	user, _ := userOf(r.Context())
	p := page{
		Title:   title,
		Section: section,
		User:    user,
		Files:   s.cfg.Files != nil,
		Faults:  s.cfg.Faults != nil,
		CACert:  len(s.cfg.CACert) > 0,
		Live:    s.cfg.Events != nil,
		Flash:   flashText(r.URL.Query()),
	}
	if as, err := s.visibleAddresses(r.Context()); err == nil {
		for _, a := range as {
			p.Unread += a.Unread
		}
	}
	return p
}

// render writes page name with data, or a 500 if it fails to render.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("console: rendering a page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pageHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageHeaders sets the headers of a console page.
func pageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
}

// errorPage is the data of error.html.
type errorPage struct {
	page
	Status  int
	Message string
	Back    string
}

// fail shows an error page: err's text for errors the user caused (status
// below 500), a generic text (and a log line) otherwise. A store error
// wrapping store.ErrNotFound becomes a 404.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := ""
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		status, msg = http.StatusNotFound, "Not found."
	} else if status >= 500 {
		s.log.Error("console: page", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Something went wrong on the server; its log has the details."
	} else {
		msg = err.Error()
	}
	p := s.newPage(r, "", http.StatusText(status))
	p.Flash = ""
	s.render(w, r, status, "error.html", &errorPage{page: p, Status: status, Message: msg, Back: r.Referer()})
}

// notFound is fail with a 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, store.ErrNotFound)
}

// badRequest is fail with a 400 and a message for the user.
func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	s.fail(w, r, http.StatusBadRequest, userError(msg))
}

// A userError is an error whose text is a sentence for the console's user.
type userError string

func (e userError) Error() string { return string(e) }

// flashes are the notices an action's redirect asks for with ?done=CODE
// (and ?n=COUNT): fixed texts, so that a link cannot put words of its own
// on a console page.
var flashes = map[string]string{
	"deleted":   "Deleted %d message%s.",
	"read":      "Marked as read.",
	"unread":    "Marked as unread.",
	"adeleted":  "Deleted the article.",
	"uploaded":  "Uploaded %d file%s.",
	"fdeleted":  "Deleted.",
	"mkdir":     "Folder created.",
	"undeleted": "Nothing was deleted.",
	"fadded":    "Added %d fault rule%s.",
	"fremoved":  "Removed the fault rule.",
	"fcleared":  "Removed %d fault rule%s.",
}

func flashText(q url.Values) string {
	f, ok := flashes[q.Get("done")]
	if !ok {
		return ""
	}
	if strings.Contains(f, "%d") {
		n, _ := strconv.Atoi(q.Get("n"))
		return fmt.Sprintf(f, n, plural(n))
	}
	return f
}

// redirectDone answers a POST with a redirect (303) to next with a notice.
func redirectDone(w http.ResponseWriter, r *http.Request, next, done string, n int) {
	u, err := url.Parse(next)
	if err != nil || !localPath(next) {
		u = &url.URL{Path: "/"}
	}
	q := u.Query()
	q.Del("done")
	q.Del("n")
	if done != "" {
		q.Set("done", done)
		if n >= 0 {
			q.Set("n", strconv.Itoa(n))
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// localPath reports whether p is a path on this console ("/x", not
// "//host/x" or "/\host"), safe to redirect to.
func localPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\") &&
		!strings.ContainsAny(p, "\r\n")
}

// visibleAddresses returns the addresses that have mail that the user of
// ctx may see: every one, or the user's own.
func (s *Server) visibleAddresses(ctx context.Context) ([]store.AddressSummary, error) {
	as, err := s.cfg.Store.Addresses(ctx)
	if err != nil {
		return nil, err
	}
	user, all := userOf(ctx)
	if all {
		return as, nil
	}
	out := as[:0]
	for _, a := range as {
		if strings.EqualFold(a.Address, user) {
			out = append(out, a)
		}
	}
	return out, nil
}

// humanBytes formats n bytes as "512 B", "1.5 KB", "23 MB" (powers of
// 1024, the units people read).
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	units := []string{"KB", "MB", "GB", "TB"}
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f < 10 {
		return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
	}
	return strconv.FormatFloat(f, 'f', 0, 64) + " " + units[i]
}

// shortDate formats t for a list: the time today, the day this year, the
// date before.
func shortDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.Local()
	now := time.Now()
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("Jan 2")
	default:
		return t.Format("2006-01-02")
	}
}

// longDate formats t in full, in the server's time zone.
func longDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("Mon, 2 Jan 2006 15:04:05 MST")
}

// formatAddr formats a as "Name <address>", or the address alone.
func formatAddr(a store.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// formatAddrs formats a list of addresses, names only where they exist.
func formatAddrs(as []store.Address) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteString(", ")
		}
		if a.Name != "" {
			b.WriteString(a.Name)
		} else {
			b.WriteString(a.Address)
		}
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
