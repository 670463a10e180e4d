package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/store"
)

// uiReply is a response of the console, its body read.
type uiReply struct {
	Status int
	Header http.Header
	Body   string
}

// uiClient never follows redirects, so that tests see the 303 of a POST.
var uiClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       20 * time.Second,
}

// uiDo sends req to the console with the browser's headers of a same-origin
// page (Origin on POST, as every current browser sends).
func (tc *testConsole) uiDo(t testing.TB, req *http.Request) uiReply {
	t.Helper()
	if req.Method == http.MethodPost {
		req.Header.Set("Origin", tc.HTTP.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := uiClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return uiReply{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// uiGet gets path of the console.
func (tc *testConsole) uiGet(t testing.TB, path string) uiReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, tc.HTTP.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tc.uiDo(t, req)
}

// uiPage gets path and fails the test unless it is a 200 console page.
func (tc *testConsole) uiPage(t testing.TB, path string) string {
	t.Helper()
	r := tc.uiGet(t, path)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d; want 200; body:\n%s", path, r.Status, r.Body)
	}
	if got := r.Header.Get("Content-Security-Policy"); got != pageCSP {
		t.Errorf("GET %s: Content-Security-Policy = %q; want %q", path, got, pageCSP)
	}
	if got := r.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("GET %s: Content-Type = %q", path, got)
	}
	return r.Body
}

// uiPostForm posts a form to path.
func (tc *testConsole) uiPostForm(t testing.TB, path string, form url.Values) uiReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tc.HTTP.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return tc.uiDo(t, req)
}

// uiPostFiles posts files (name -> content) as the upload form does.
func (tc *testConsole) uiPostFiles(t testing.TB, path string, files map[string]string) uiReply {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, content := range files {
		w, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, tc.HTTP.URL+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return tc.uiDo(t, req)
}

// uiMessages returns the summaries of every message, newest first.
func (tc *testConsole) uiMessages(t testing.TB) []store.MessageSummary {
	t.Helper()
	p, err := tc.Store.ListMessages(context.Background(), &store.MessageQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return p.Messages
}

// uiPostArticle posts an article to the default news group and returns
// its id in the console.
func (tc *testConsole) uiPostArticle(t testing.TB, msgID, subject, from, refs, body string) int64 {
	t.Helper()
	ctx := context.Background()
	date := "Thu, 03 Dec 2026 12:00:00 +0000"
	header := "Path: inetkit\r\nFrom: " + from + "\r\nNewsgroups: " + store.DefaultNewsGroup + "\r\nSubject: " + subject +
		"\r\nDate: " + date + "\r\nMessage-ID: " + msgID + "\r\n"
	if refs != "" {
		header += "References: " + refs + "\r\n"
	}
	if _, err := tc.Store.NNTPBackend().Post(ctx, &nntp.Posting{
		Header: []byte(header), Body: []byte(body), Groups: []string{store.DefaultNewsGroup},
		MessageID: msgID, Subject: subject, From: from, Date: date, References: refs,
		Bytes: int64(len(header) + 2 + len(body)), Lines: int64(strings.Count(body, "\n")),
	}); err != nil {
		t.Fatal(err)
	}
	p, err := tc.Store.ListArticles(ctx, &store.ArticleQuery{Group: store.DefaultNewsGroup, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Articles) == 0 || p.Articles[0].MessageID != msgID {
		t.Fatalf("ListArticles after posting %s = %+v", msgID, p.Articles)
	}
	return p.Articles[0].ID
}

// uiTitle returns the text of a page's title element.
func uiTitle(body string) string {
	m := regexp.MustCompile(`<title[^>]*>([^<]*)</title>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// uiRichMessage is a message with a text and an HTML part, an inline image
// the HTML shows by cid:, and an attachment.
const uiRichMessage = `From: Alice Example <alice@example.org>
To: bob@example.org
Subject: Quarterly report
Date: Thu, 03 Dec 2026 12:00:00 +0000
Message-ID: <rich@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Hello Bob, the report is attached.
--alt
Content-Type: text/html; charset=utf-8

<!DOCTYPE html><html><body><p>Hello <b>Bob</b></p><img src="cid:logo@example.org" alt="logo"><img src="https://tracker.example/pixel.gif"></body></html>
--alt--
--rel
Content-Type: image/png
Content-ID: <logo@example.org>
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
--rel--
--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcTl8uXrCg==
--outer--
`

// hostile is markup that must reach every page as text.
const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>`

func TestUIPagesRender(t *testing.T) {
	tc := newTestConsole(t, func(c *Config) {
		c.CACert = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
		c.Services = func() []Service {
			return []Service{
				{Name: "smtp", Addr: "127.0.0.1:2525", TLS: "starttls", Stats: func() sockserver.Stats {
					return sockserver.Stats{Accepted: 12, Active: 2, Errors: 1, BytesRead: 4096, BytesWritten: 1 << 20}
				}},
				{Name: "imaps", Addr: "127.0.0.1:9933", TLS: "implicit"},
			}
		}
	})
	tc.deliver(t, uiRichMessage, "bob@example.org")
	msgs := tc.uiMessages(t)
	art := tc.uiPostArticle(t, "<a1@example.org>", "Release notes", "carol@example.org", "", "All fixed.\r\n")
	if err := tc.Files.Mkdir("docs"); err != nil {
		t.Fatal(err)
	}
	g := url.PathEscape(store.DefaultNewsGroup)
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"/mail", []string{"All mail", "Quarterly report", "bob@example.org", "Alice Example"}},
		{"/mail?address=bob@example.org", []string{"Quarterly report", `aria-current="page"`}},
		{"/mail?address=bob@example.org&mailbox=INBOX", []string{"Quarterly report"}},
		{fmt.Sprintf("/mail/%d", msgs[0].ID), []string{"Quarterly report", "report.pdf", `role="tablist"`, "Hello Bob, the report is attached."}},
		{fmt.Sprintf("/mail/%d?tab=raw", msgs[0].ID), []string{"Message-ID: &lt;rich@example.org&gt;"}},
		{"/mail/delete?address=bob@example.org", []string{"Delete every message of bob@example.org?", "1 message will be deleted"}},
		{"/news", []string{store.DefaultNewsGroup}},
		{"/news/" + g, []string{"Release notes", "carol@example.org"}},
		{fmt.Sprintf("/news/%s/%d", g, art), []string{"Release notes", "All fixed.", "&lt;a1@example.org&gt;"}},
		{"/files", []string{"docs/", "Upload"}},
		{"/files/docs", []string{"This folder is empty."}},
		{"/server", []string{"smtp", "127.0.0.1:2525", "STARTTLS", "implicit TLS", "1.0 MB", "Download ca.pem"}},
	} {
		body := tc.uiPage(t, tt.path)
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: no %q in the page:\n%s", tt.path, w, body)
			}
		}
		for _, w := range []string{`href="#main"`, `<main id="main"`, `/static/app.css?v=`, `/static/app.js?v=`} {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: the layout lacks %q", tt.path, w)
			}
		}
	}

	if r := tc.uiGet(t, "/"); r.Status != http.StatusFound || r.Header.Get("Location") != "/mail" {
		t.Errorf("GET / = %d, Location %q; want 302 to /mail", r.Status, r.Header.Get("Location"))
	}
	r := tc.uiGet(t, "/ca.pem")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/x-pem-file" || !strings.HasPrefix(r.Body, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("GET /ca.pem = %d, %q, %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	for _, p := range []string{"/mail/999999", "/mail/x", "/news/no.such.group", fmt.Sprintf("/news/%s/999999", g), "/files/nothere", "/static/nothere.css"} {
		if r := tc.uiGet(t, p); r.Status != http.StatusNotFound {
			t.Errorf("GET %s = %d; want 404", p, r.Status)
		}
	}
}

func TestUIStatic(t *testing.T) {
	tc := newTestConsole(t, nil)
	for name, ctype := range map[string]string{
		"app.css":  "text/css; charset=utf-8",
		"app.js":   "text/javascript; charset=utf-8",
		"icon.svg": "image/svg+xml",
	} {
		r := tc.uiGet(t, asset(name))
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != ctype || r.Body == "" {
			t.Errorf("GET %s = %d, %q, %d bytes; want 200, %q", asset(name), r.Status, r.Header.Get("Content-Type"), len(r.Body), ctype)
		}
		if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("GET %s: Cache-Control %q; want immutable", asset(name), got)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", asset(name))
		}
	}
	// Nothing in the assets or the templates loads anything from outside.
	for _, dir := range []string{"static", "templates"} {
		fsys := staticFS
		if dir == "templates" {
			fsys = templateFS
		}
		ents, _ := fs.ReadDir(fsys, dir)
		for _, e := range ents {
			b, _ := fs.ReadFile(fsys, dir+"/"+e.Name())
			for _, bad := range regexp.MustCompile(`(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/"']`).FindAllString(string(b), -1) {
				if !strings.Contains(bad, "www.w3.org") {
					t.Errorf("%s/%s refers to %q", dir, e.Name(), bad)
				}
			}
		}
	}
}

func TestUIEscaping(t *testing.T) {
	tc := newTestConsole(t, nil)
	msg := "From: \"" + hostile + "\" <evil@example.org>\r\nTo: \"<b>bold</b>\" <bob@example.org>\r\n" +
		"Subject: " + hostile + "\r\nContent-Type: text/plain\r\n\r\n" + hostile + "\r\n"
	tc.deliver(t, msg, "bob@example.org")
	id := tc.uiMessages(t)[0].ID
	art := tc.uiPostArticle(t, "<x1@example.org>", hostile, hostile+" <evil@example.org>", "", hostile+"\r\n")
	name := `<img src=x onerror=alert(3)>.txt`
	if err := writeFile(tc, name, "x"); err != nil {
		t.Fatal(err)
	}
	g := url.PathEscape(store.DefaultNewsGroup)
	for _, p := range []string{"/mail", "/mail?address=bob@example.org", fmt.Sprintf("/mail/%d", id),
		fmt.Sprintf("/mail/%d?tab=headers", id), "/news/" + g, fmt.Sprintf("/news/%s/%d", g, art), "/files"} {
		body := tc.uiPage(t, p)
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>bold"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: the page has %q unescaped", p, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") && !strings.Contains(body, "&lt;img src=x onerror=alert(3)&gt;") {
			t.Errorf("GET %s: no escaped markup in the page:\n%s", p, body)
		}
	}
	// The hostile file name is listed escaped (H12) and downloads as an
	// attachment.
	body := tc.uiPage(t, "/files")
	if !strings.Contains(body, "&lt;img src=x onerror=alert(3)&gt;.txt") {
		t.Errorf("the listing lacks the escaped file name:\n%s", body)
	}
	r := tc.uiGet(t, fileURL(name))
	if r.Status != http.StatusOK || r.Body != "x" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("GET %s = %d, %q, Content-Disposition %q", fileURL(name), r.Status, r.Body, r.Header.Get("Content-Disposition"))
	}
}

// writeFile stores a file in the console's file root.
func writeFile(tc *testConsole, name, content string) error {
	up, err := tc.Files.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(up, content); err != nil {
		up.Abort()
		return err
	}
	return up.Close()
}

func TestUIMailHTMLFrame(t *testing.T) {
	tc := newTestConsole(t, nil)
	tc.deliver(t, uiRichMessage, "bob@example.org")
	id := tc.uiMessages(t)[0].ID
	host := strings.TrimPrefix(tc.HTTP.URL, "http://")
	parts := fmt.Sprintf("http://%s/mail/%d/part/", host, id)

	r := tc.uiGet(t, fmt.Sprintf("/mail/%d/html", id))
	if r.Status != http.StatusOK {
		t.Fatalf("GET html = %d", r.Status)
	}
	want := "default-src 'none'; style-src 'unsafe-inline'; img-src cid: data: " + parts +
		"; font-src data:; frame-ancestors 'self'; form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
	if got := r.Header.Get("Content-Security-Policy"); got != want {
		t.Errorf("the frame's CSP:\n got %s\nwant %s", got, want)
	}
	for h, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("the frame's %s = %q; want %q", h, got, want)
		}
	}
	cidURL := fmt.Sprintf(`src="/mail/%d/part/cid:logo@example.org"`, id)
	if !strings.Contains(r.Body, cidURL) {
		t.Errorf("the frame's HTML lacks %s:\n%s", cidURL, r.Body)
	}
	if !strings.HasPrefix(r.Body, `<!DOCTYPE html><base target="_blank">`) {
		t.Errorf("the frame's HTML does not start with the doctype and the base:\n%s", r.Body)
	}

	r = tc.uiGet(t, fmt.Sprintf("/mail/%d/html?remote=1", id))
	want = "default-src 'none'; style-src 'unsafe-inline' https: http:; img-src cid: data: " + parts +
		" https: http:; font-src data: https: http:; frame-ancestors 'self'; form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
	if got := r.Header.Get("Content-Security-Policy"); got != want {
		t.Errorf("the frame's CSP with remote content:\n got %s\nwant %s", got, want)
	}

	// The rewritten image is served from the path the CSP allows.
	r = tc.uiGet(t, fmt.Sprintf("/mail/%d/part/%s", id, url.PathEscape("cid:logo@example.org")))
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(r.Body, "\x89PNG") {
		t.Errorf("GET the cid: part = %d, %q, %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}

	// The message view frames it sandboxed: no scripts, no same origin.
	body := tc.uiPage(t, fmt.Sprintf("/mail/%d", id))
	frame := regexp.MustCompile(`<iframe[^>]*>`).FindString(body)
	if !strings.Contains(frame, `sandbox="allow-popups allow-popups-to-escape-sandbox"`) ||
		strings.Contains(frame, "allow-scripts") || strings.Contains(frame, "allow-same-origin") {
		t.Errorf("the iframe is %s; want sandbox without allow-scripts and allow-same-origin", frame)
	}
	if !strings.Contains(frame, fmt.Sprintf(`src="/mail/%d/html"`, id)) {
		t.Errorf("the iframe is %s", frame)
	}
	if !strings.Contains(body, "Load remote content") {
		t.Errorf("no Load remote content button for a message with a remote image")
	}
	body = tc.uiPage(t, fmt.Sprintf("/mail/%d?remote=1", id))
	if !strings.Contains(body, fmt.Sprintf(`src="/mail/%d/html?remote=1"`, id)) || strings.Contains(body, "Load remote content") {
		t.Errorf("with remote=1, the frame does not load remote content")
	}

	// A Host that cannot be put in a CSP source gets 'self', never a
	// directive of its own.
	for host, want := range map[string]string{
		"a;script-src *":  "'self'",
		"[::1]:8025":      "'self'",
		"":                "'self'",
		"Console.Example": "http://Console.Example/mail/1/part/",
	} {
		if got := partsSource(&http.Request{Host: host}, 1); got != want {
			t.Errorf("partsSource of Host %q = %q; want %q", host, got, want)
		}
	}
}

func TestUIParts(t *testing.T) {
	tc := newTestConsole(t, nil)
	tc.deliver(t, uiRichMessage, "bob@example.org")
	id := tc.uiMessages(t)[0].ID
	pm, err := parseMessage(strings.NewReader(strings.ReplaceAll(uiRichMessage, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if len(pm.Attachments) != 1 {
		t.Fatalf("attachments %+v", pm.Attachments)
	}
	r := tc.uiGet(t, partURL(id, pm.Attachments[0].ID))
	if r.Status != http.StatusOK || r.Body != "%PDF-1.4\n%\xc4\xe5\xf2\xe5\xeb\n" {
		t.Errorf("GET the attachment = %d, %q", r.Status, r.Body)
	}
	for h, want := range map[string]string{
		"Content-Type":            "application/pdf",
		"Content-Disposition":     "attachment; filename=report.pdf",
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("the attachment's %s = %q; want %q", h, got, want)
		}
	}
	body := tc.uiPage(t, fmt.Sprintf("/mail/%d?tab=mime", id))
	for _, w := range []string{"multipart/mixed", "multipart/related", "text/html", "image/png", "cid:logo@example.org", "report.pdf", partURL(id, pm.Attachments[0].ID)} {
		if !strings.Contains(body, w) {
			t.Errorf("the MIME tab lacks %q", w)
		}
	}
	if r := tc.uiGet(t, fmt.Sprintf("/mail/%d/part/9.9", id)); r.Status != http.StatusNotFound {
		t.Errorf("GET a part that does not exist = %d; want 404", r.Status)
	}
	r = tc.uiGet(t, fmt.Sprintf("/mail/%d/raw?download=1", id))
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "Message-ID: <rich@example.org>\r\n") ||
		r.Header.Get("Content-Type") != "message/rfc822" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("GET raw?download=1 = %d, %q, %q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
	}
}

func TestUIReadUnreadDelete(t *testing.T) {
	tc := newTestConsole(t, nil)
	for i := range 3 {
		tc.deliver(t, fmt.Sprintf("From: a@example.org\nSubject: note %d\n\nbody %d\n", i, i), "bob@example.org")
	}
	if got, want := uiTitle(tc.uiPage(t, "/mail")), "(3) Mail · inetkit"; got != want {
		t.Errorf("title = %q; want %q", got, want)
	}
	msgs := tc.uiMessages(t)
	id := msgs[0].ID
	body := tc.uiPage(t, fmt.Sprintf("/mail/%d", id))
	if got, want := uiTitle(body), "(2) note 2 · inetkit"; got != want {
		t.Errorf("title after opening a message = %q; want %q (opening marks it read)", got, want)
	}
	page := tc.uiPage(t, "/mail")
	if n := strings.Count(page, `class="msg unread"`); n != 2 {
		t.Errorf("%d unread rows; want 2", n)
	}
	if n := strings.Count(page, `<span class="sr">Unread: </span>`); n != 2 {
		t.Errorf("%d unread markers in text; want 2 (not colour alone)", n)
	}

	r := tc.uiPostForm(t, fmt.Sprintf("/mail/%d/seen", id), url.Values{"seen": {"0"}, "next": {"/mail?address=bob@example.org"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/mail?address=bob%40example.org&done=unread" {
		t.Errorf("POST seen=0 = %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	if m, _ := tc.Store.MessageByID(context.Background(), id); m == nil || !m.Unread {
		t.Errorf("after POST seen=0 the message is %+v; want unread", m)
	}
	if body := tc.uiPage(t, "/mail?address=bob@example.org&done=unread"); !strings.Contains(body, "Marked as unread.") {
		t.Errorf("no notice after marking unread")
	}
	// A redirect goes only to this console.
	r = tc.uiPostForm(t, fmt.Sprintf("/mail/%d/seen", id), url.Values{"seen": {"1"}, "next": {"//evil.example/"}})
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/mail/") {
		t.Errorf("POST with next=//evil.example/: Location %q", loc)
	}

	r = tc.uiPostForm(t, fmt.Sprintf("/mail/%d/delete", id), url.Values{"next": {"/mail"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/mail?done=deleted&n=1" {
		t.Errorf("POST delete = %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	if n := len(tc.uiMessages(t)); n != 2 {
		t.Errorf("%d messages after deleting one; want 2", n)
	}
	if r := tc.uiGet(t, fmt.Sprintf("/mail/%d/delete", id)); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET of a delete = %d; want 405", r.Status)
	}

	// Delete all needs its confirmation.
	tc.deliver(t, "Subject: other\n\nx\n", "carol@example.org")
	if r := tc.uiPostForm(t, "/mail/delete", url.Values{"address": {"bob@example.org"}}); r.Status != http.StatusBadRequest {
		t.Errorf("POST /mail/delete without confirm = %d; want 400", r.Status)
	}
	body = tc.uiPage(t, "/mail/delete?address=bob@example.org")
	if !strings.Contains(body, `name="confirm" value="yes"`) || !strings.Contains(body, "Delete 2 messages") {
		t.Errorf("the confirmation page:\n%s", body)
	}
	r = tc.uiPostForm(t, "/mail/delete", url.Values{"address": {"bob@example.org"}, "confirm": {"yes"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/mail?done=deleted&n=2" {
		t.Errorf("POST /mail/delete = %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	if ms := tc.uiMessages(t); len(ms) != 1 || ms[0].Address != "carol@example.org" {
		t.Errorf("after deleting bob's mail: %+v", ms)
	}
	r = tc.uiPostForm(t, "/mail/delete", url.Values{"confirm": {"yes"}})
	if r.Header.Get("Location") != "/mail?done=deleted&n=1" || len(tc.uiMessages(t)) != 0 {
		t.Errorf("POST /mail/delete of everything: Location %q, %d left", r.Header.Get("Location"), len(tc.uiMessages(t)))
	}
}

func TestUIPaging(t *testing.T) {
	tc := newTestConsole(t, nil)
	const n = 2*pageSize + 7
	var msg strings.Builder
	for i := range n {
		msg.Reset()
		fmt.Fprintf(&msg, "From: a@example.org\nSubject: number %03d\n\nx\n", i)
		tc.deliver(t, msg.String(), "bob@example.org")
	}
	all := tc.uiMessages(t)
	body := tc.uiPage(t, "/mail?address=bob@example.org")
	if !strings.Contains(body, fmt.Sprintf("1–%d of %d", pageSize, n)) {
		t.Errorf("page 1 lacks its range")
	}
	older := fmt.Sprintf(`href="/mail?address=bob%%40example.org&amp;before=%d&amp;page=2" rel="next"`, all[pageSize-1].ID)
	if !strings.Contains(body, older) {
		t.Errorf("page 1 lacks the older link %s:\n%s", older, body)
	}
	for _, w := range []string{`href="/mail?address=bob%40example.org&amp;page=3"`, `aria-current="page"><span class="sr">Page </span>1</a>`} {
		if !strings.Contains(body, w) {
			t.Errorf("page 1 lacks %s", w)
		}
	}
	if !strings.Contains(body, "number 106") || strings.Contains(body, "number 056") {
		t.Errorf("page 1 does not hold the newest %d", pageSize)
	}
	// The keyset link shows the next 50, and its page number.
	body = tc.uiPage(t, fmt.Sprintf("/mail?address=bob@example.org&before=%d&page=2", all[pageSize-1].ID))
	if !strings.Contains(body, "number 056") || strings.Contains(body, "number 057") || strings.Contains(body, "number 006") {
		t.Errorf("the older page does not hold messages 56 to 7")
	}
	if !strings.Contains(body, fmt.Sprintf("%d–%d of %d", pageSize+1, 2*pageSize, n)) {
		t.Errorf("page 2 lacks its range")
	}
	if !strings.Contains(body, `href="/mail?address=bob%40example.org" rel="prev"`) {
		t.Errorf("page 2 lacks the newer link")
	}
	// The last page by offset has the rest and no older link.
	body = tc.uiPage(t, "/mail?address=bob@example.org&page=3")
	if !strings.Contains(body, "number 000") || !strings.Contains(body, "number 006") || strings.Contains(body, "number 007") {
		t.Errorf("page 3 does not hold messages 6 to 0")
	}
	if !strings.Contains(body, `aria-disabled="true">Older →`) {
		t.Errorf("page 3 has an older link")
	}
}

func TestUIPager(t *testing.T) {
	base := &url.URL{Path: "/mail", RawQuery: "q=x"}
	for _, tt := range []struct {
		name         string
		args         listArgs
		total, n     int
		wantLinks    string
		newer, older string
	}{
		{"one page", listArgs{Page: 1}, 3, 3, "", "", ""},
		{"first of many", listArgs{Page: 1}, 1000, 50, "[1] 2 3 … 20", "", "/mail?before=9&page=2&q=x"},
		{"middle", listArgs{Page: 10}, 1000, 50, "1 … 8 9 [10] 11 12 … 20", "/mail?page=9&q=x", "/mail?before=9&page=11&q=x"},
		{"last", listArgs{Page: 20}, 1000, 50, "1 … 18 19 [20]", "/mail?page=19&q=x", ""},
		{"keyset, page unknown", listArgs{Before: 500}, 1000, 50, "1 2 … 20", "/mail?q=x", "/mail?before=9&q=x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newPager(base, tt.args, tt.total, tt.n, 9)
			var links []string
			for _, l := range p.Links {
				switch {
				case l.Gap:
					links = append(links, "…")
				case l.Current:
					links = append(links, fmt.Sprintf("[%d]", l.N))
				default:
					links = append(links, fmt.Sprint(l.N))
				}
			}
			if got := strings.Join(links, " "); got != tt.wantLinks {
				t.Errorf("links %q; want %q", got, tt.wantLinks)
			}
			if p.Newer != tt.newer || p.Older != tt.older {
				t.Errorf("newer %q, older %q; want %q, %q", p.Newer, p.Older, tt.newer, tt.older)
			}
		})
	}
}

func TestUISearch(t *testing.T) {
	tc := newTestConsole(t, nil)
	tc.deliver(t, "From: alice@example.org\nSubject: invoice 7\n\nx\n", "bob@example.org")
	tc.deliver(t, "From: carol@example.org\nSubject: lunch\n\nx\n", "bob@example.org")
	body := tc.uiPage(t, "/mail?q="+url.QueryEscape("from:alice"))
	if !strings.Contains(body, "invoice 7") || strings.Contains(body, "lunch") {
		t.Errorf("from:alice does not select alice's message")
	}
	if !strings.Contains(body, `value="from:alice"`) {
		t.Errorf("the search box does not keep the query")
	}
	body = tc.uiPage(t, "/mail?q="+url.QueryEscape("colour:<b>red</b>"))
	if !strings.Contains(body, `role="alert" id="search-error"`) || !strings.Contains(body, `aria-invalid="true"`) ||
		!strings.Contains(body, "Search syntax") || strings.Contains(body, "<b>red") {
		t.Errorf("a bad search is not shown as an error:\n%s", body)
	}
	_, err := store.ParseSearch("colour:x")
	if err == nil {
		t.Fatal("ParseSearch(colour:x) = nil error")
	}
	if !strings.Contains(body, "colour") {
		t.Errorf("the error does not say what is wrong")
	}
}

func TestUILiveFragment(t *testing.T) {
	tc := newTestConsole(t, nil)
	tc.deliver(t, "Subject: first\n\nx\n", "bob@example.org")
	tc.deliver(t, "Subject: second\n\nx\n", "bob@example.org")
	body := tc.uiPage(t, "/mail?address=bob@example.org")
	if !strings.Contains(body, `data-refresh="/mail?address=bob%40example.org&amp;fragment=list"`) {
		t.Errorf("the first page does not name its fragment")
	}
	if !strings.Contains(body, `data-live="/api/v1/events"`) {
		t.Errorf("the page does not listen to the event stream")
	}
	r := tc.uiGet(t, "/mail?address=bob@example.org&fragment=list")
	if r.Status != http.StatusOK || r.Header.Get("X-Unread") != "2" || !strings.Contains(r.Body, `<div id="list"`) ||
		!strings.Contains(r.Body, `<div id="side">`) || strings.Contains(r.Body, "<html") {
		t.Errorf("the fragment = %d, X-Unread %q:\n%s", r.Status, r.Header.Get("X-Unread"), r.Body)
	}
	r = tc.uiGet(t, "/mail?fragment=unread")
	if r.Body != "2" {
		t.Errorf("fragment=unread = %q; want 2", r.Body)
	}
	// Older pages are not refreshed under the reader.
	if body := tc.uiPage(t, "/mail?page=2"); !strings.Contains(body, `data-refresh=""`) {
		t.Errorf("page 2 names a fragment to refresh")
	}
}

func TestUIFiles(t *testing.T) {
	tc := newTestConsole(t, nil)
	if err := writeFile(tc, ".secret", "s"); err != nil {
		t.Fatal(err)
	}
	if err := tc.Files.Mkdir("dir"); err != nil {
		t.Fatal(err)
	}
	r := tc.uiPostFiles(t, "/files/dir?op=upload", map[string]string{"a.txt": "alpha", "b b.bin": strings.Repeat("b", 100000)})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/files/dir?done=uploaded&n=2" {
		t.Fatalf("upload = %d, Location %q, %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	for name, want := range map[string]int{"dir/a.txt": 5, "dir/b b.bin": 100000} {
		b, err := fs.ReadFile(tc.Files, name)
		if err != nil || len(b) != want {
			t.Errorf("ReadFile(%s) = %d bytes, %v; want %d", name, len(b), err, want)
		}
	}
	body := tc.uiPage(t, "/files/dir?done=uploaded&n=2")
	for _, w := range []string{"Uploaded 2 files.", `href="/files/dir/a.txt"`, `href="/files/dir/b%20b.bin"`, "98 KB", "5 B"} {
		if !strings.Contains(body, w) {
			t.Errorf("the listing lacks %q", w)
		}
	}
	r = tc.uiGet(t, "/files/dir/a.txt")
	if r.Body != "alpha" || r.Header.Get("Content-Disposition") != "attachment; filename=a.txt" ||
		r.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" {
		t.Errorf("download = %q, %q, %q", r.Body, r.Header.Get("Content-Disposition"), r.Header.Get("Content-Security-Policy"))
	}

	// Dotfiles are hidden, and cannot be uploaded.
	if body := tc.uiPage(t, "/files"); strings.Contains(body, "secret") {
		t.Errorf("the listing shows a dotfile")
	}
	if r := tc.uiGet(t, "/files/.secret"); r.Status != http.StatusNotFound {
		t.Errorf("GET a dotfile = %d; want 404", r.Status)
	}
	for _, name := range []string{".htaccess", ".inetkit-upload-x"} {
		if r := tc.uiPostFiles(t, "/files?op=upload", map[string]string{name: "x"}); r.Status != http.StatusBadRequest {
			t.Errorf("upload of %s = %d; want 400", name, r.Status)
		}
	}
	// A browser's path is cut to the name.
	if r := tc.uiPostFiles(t, "/files?op=upload", map[string]string{`C:\Users\x\..\c.txt`: "c"}); r.Status != http.StatusSeeOther {
		t.Errorf("upload of a Windows path = %d", r.Status)
	} else if b, err := fs.ReadFile(tc.Files, "c.txt"); err != nil || string(b) != "c" {
		t.Errorf("c.txt = %q, %v", b, err)
	}
	// An upload into a directory that does not exist stores nothing.
	if r := tc.uiPostFiles(t, "/files/nodir?op=upload", map[string]string{"x": "x"}); r.Status != http.StatusNotFound {
		t.Errorf("upload into a missing directory = %d; want 404", r.Status)
	}

	r = tc.uiPostForm(t, "/files?op=mkdir", url.Values{"name": {"new"}})
	if r.Status != http.StatusSeeOther {
		t.Errorf("mkdir = %d", r.Status)
	}
	if fi, err := tc.Files.Stat("new"); err != nil || !fi.IsDir() {
		t.Errorf("after mkdir: %v", err)
	}
	if r := tc.uiPostForm(t, "/files?op=mkdir", url.Values{"name": {"../x"}}); r.Status != http.StatusBadRequest {
		t.Errorf("mkdir ../x = %d; want 400", r.Status)
	}

	if r := tc.uiPostForm(t, "/files/dir?op=delete", nil); r.Status != http.StatusConflict {
		t.Errorf("delete of a directory that is not empty = %d; want 409", r.Status)
	}
	r = tc.uiPostForm(t, "/files/dir/a.txt?op=delete", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/files/dir?done=fdeleted" {
		t.Errorf("delete = %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	if _, err := tc.Files.Stat("dir/a.txt"); err == nil {
		t.Errorf("a.txt is still there")
	}
	if r := tc.uiPostForm(t, "/files/.secret?op=delete", nil); r.Status != http.StatusNotFound {
		t.Errorf("delete of a dotfile = %d; want 404", r.Status)
	}
	if _, err := tc.Files.Stat(".secret"); err != nil {
		t.Errorf(".secret: %v", err)
	}

	// Without a file root the page does not exist.
	tc2 := newTestConsole(t, func(c *Config) { c.Files = nil })
	if r := tc2.uiGet(t, "/files"); r.Status != http.StatusNotFound {
		t.Errorf("GET /files without a file root = %d; want 404", r.Status)
	}
	if body := tc2.uiPage(t, "/server"); strings.Contains(body, `href="/files"`) {
		t.Errorf("the nav links to Files without a file root")
	}
}

// TestUIUserSeesOwnMail checks a logged-in user's view: only their own
// address, and no other user's message by id.
func TestUIUserSeesOwnMail(t *testing.T) {
	tc := newTestConsole(t, nil)
	tc.deliver(t, "Subject: for alice\n\nx\n", "alice@example.org")
	tc.deliver(t, "Subject: for bob\n\nx\n", "bob@example.org")
	var alices int64
	for _, m := range tc.uiMessages(t) {
		if m.Address == "alice@example.org" {
			alices = m.ID
		}
	}
	as := func(user, method, path string, form url.Values) (int, string) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, "http://console"+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req = req.WithContext(context.WithValue(req.Context(), userKey{}, user))
		rec := &recorder{header: http.Header{}}
		tc.Server.mux.ServeHTTP(rec, req)
		return rec.status, rec.body.String()
	}
	st, body := as("bob@example.org", "GET", "/mail", nil)
	if st != http.StatusOK || !strings.Contains(body, "for bob") || strings.Contains(body, "for alice") || strings.Contains(body, "alice@example.org") {
		t.Errorf("bob's /mail = %d:\n%s", st, body)
	}
	if st, _ := as("bob@example.org", "GET", "/mail?address=alice@example.org", nil); st != http.StatusOK {
		t.Errorf("bob's /mail?address=alice = %d", st)
	} else if _, body := as("bob@example.org", "GET", "/mail?address=alice@example.org", nil); strings.Contains(body, "for alice") {
		t.Errorf("bob sees alice's list")
	}
	for _, p := range []string{"/mail/%d", "/mail/%d/html", "/mail/%d/raw", "/mail/%d/part/1"} {
		if st, _ := as("bob@example.org", "GET", fmt.Sprintf(p, alices), nil); st != http.StatusNotFound {
			t.Errorf("bob's GET %s = %d; want 404", fmt.Sprintf(p, alices), st)
		}
	}
	if st, _ := as("bob@example.org", "POST", fmt.Sprintf("/mail/%d/delete", alices), url.Values{}); st != http.StatusNotFound {
		t.Errorf("bob's delete of alice's message = %d; want 404", st)
	}
	as("bob@example.org", "POST", "/mail/delete", url.Values{"confirm": {"yes"}})
	if ms := tc.uiMessages(t); len(ms) != 1 || ms[0].ID != alices {
		t.Errorf("bob's delete of everything left %+v; want alice's message alone", ms)
	}
	if st, _ := as("bob@example.org", "POST", "/news/x/1/delete", url.Values{}); st != http.StatusForbidden {
		t.Errorf("bob's delete of an article = %d; want 403", st)
	}
}

// recorder is a minimal http.ResponseWriter for handler calls that bypass
// the HTTP server.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func TestUIThreads(t *testing.T) {
	a := func(id int64, mid string, refs ...string) store.ArticleSummary {
		return store.ArticleSummary{ID: id, MessageID: mid, References: refs}
	}
	type item struct {
		ID    int64
		Depth int
	}
	for _, tt := range []struct {
		name string
		arts []store.ArticleSummary // newest first, as a page is
		want []item
	}{
		{"flat", []store.ArticleSummary{a(3, "<c>"), a(2, "<b>"), a(1, "<a>")}, []item{{3, 0}, {2, 0}, {1, 0}}},
		{"a thread", []store.ArticleSummary{a(4, "<d>", "<a>", "<b>"), a(3, "<c>", "<a>"), a(2, "<b>", "<a>"), a(1, "<a>")},
			[]item{{1, 0}, {2, 1}, {4, 2}, {3, 1}}},
		{"threads by latest activity", []store.ArticleSummary{a(4, "<d>", "<a>"), a(3, "<c>"), a(2, "<b>"), a(1, "<a>")},
			[]item{{1, 0}, {4, 1}, {3, 0}, {2, 0}}},
		{"a missing parent: the nearest reference on the page", []store.ArticleSummary{a(3, "<c>", "<a>", "<gone>"), a(1, "<a>")},
			[]item{{1, 0}, {3, 1}}},
		{"parent not on the page", []store.ArticleSummary{a(3, "<c>", "<old>")}, []item{{3, 0}}},
		{"a cycle", []store.ArticleSummary{a(2, "<b>", "<a>"), a(1, "<a>", "<b>")}, []item{{2, 0}, {1, 0}}},
		{"self reference", []store.ArticleSummary{a(1, "<a>", "<a>")}, []item{{1, 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []item
			for _, it := range threads(tt.arts) {
				got = append(got, item{it.ID, it.Depth})
			}
			if len(got) != len(tt.arts) {
				t.Errorf("threads lost or duplicated articles: %v", got)
			}
			if tt.name == "a cycle" {
				return // any order, as long as nothing is lost
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("threads (-want +got):\n%s", diff)
			}
		})
	}
	// Depth is capped for the page's indentation classes.
	var deep []store.ArticleSummary
	refs := []string{}
	for i := range 20 {
		mid := fmt.Sprintf("<%d>", i)
		deep = append([]store.ArticleSummary{a(int64(i+1), mid, append([]string(nil), refs...)...)}, deep...)
		refs = append(refs, mid)
	}
	for _, it := range threads(deep) {
		if it.Depth > maxDepth {
			t.Fatalf("depth %d > %d", it.Depth, maxDepth)
		}
	}
}

func TestUINewsThreadsPage(t *testing.T) {
	tc := newTestConsole(t, nil)
	tc.uiPostArticle(t, "<root@x>", "Plans", "a@example.org", "", "first\r\n")
	tc.uiPostArticle(t, "<other@x>", "Other topic", "b@example.org", "", "x\r\n")
	tc.uiPostArticle(t, "<re1@x>", "Re: Plans", "c@example.org", "<root@x>", "reply\r\n")
	body := tc.uiPage(t, "/news/"+url.PathEscape(store.DefaultNewsGroup))
	iPlans, iRe, iOther := strings.Index(body, ">Plans<"), strings.Index(body, ">Re: Plans<"), strings.Index(body, ">Other topic<")
	if iPlans < 0 || iRe < 0 || iOther < 0 || !(iPlans < iRe && iRe < iOther) {
		t.Errorf("the thread is not together, newest activity first: Plans %d, Re %d, Other %d", iPlans, iRe, iOther)
	}
	if !strings.Contains(body, `class="art d1 reply"`) || !strings.Contains(body, `<span class="sr">Reply: </span>`) {
		t.Errorf("the reply is not marked as one")
	}
	// Deleting an article (no login: allowed).
	p, _ := tc.Store.ListArticles(context.Background(), &store.ArticleQuery{Group: store.DefaultNewsGroup})
	id := p.Articles[0].ID
	r := tc.uiPostForm(t, fmt.Sprintf("/news/%s/%d/delete", url.PathEscape(store.DefaultNewsGroup), id), nil)
	if r.Status != http.StatusSeeOther {
		t.Errorf("delete article = %d", r.Status)
	}
	if _, err := tc.Store.ArticleByID(context.Background(), id); err == nil {
		t.Errorf("the article is still there")
	}
}

// TestUIThroughProtect checks the pages behind the console's guards: a
// logged-in user (Basic auth) sees only their own mail, and every form's
// route refuses a request from another site (CSRF).
func TestUIThroughProtect(t *testing.T) {
	tc := newTestConsole(t, func(c *Config) {
		c.Login = func(ctx context.Context, user, pass string) error {
			if pass != "pw" {
				return store.ErrAuthFailed
			}
			return nil
		}
	})
	tc.deliver(t, "Subject: for alice\n\nx\n", "alice@example.org")
	tc.deliver(t, "Subject: for bob\n\nx\n", "bob@example.org")
	get := func(user, path string) uiReply {
		req, _ := http.NewRequest(http.MethodGet, tc.HTTP.URL+path, nil)
		req.SetBasicAuth(user, "pw")
		return tc.uiDo(t, req)
	}
	r := get("bob@example.org", "/mail")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "for bob") || strings.Contains(r.Body, "for alice") || strings.Contains(r.Body, "alice@") {
		t.Errorf("bob's /mail = %d:\n%s", r.Status, r.Body)
	}
	if !strings.Contains(r.Body, "Logged in as </span><span class=\"who-name\">bob@example.org") {
		t.Errorf("the header does not name the user")
	}
	if got := r.Header.Get("Content-Security-Policy"); got != pageCSP {
		t.Errorf("behind protect, a page's CSP = %q", got)
	}
	if r := get("bob@example.org", "/news"); strings.Contains(r.Body, "/delete") {
		t.Errorf("a user is offered to delete articles")
	}

	var id int64
	for _, m := range tc.uiMessages(t) {
		if m.Address == "bob@example.org" {
			id = m.ID
		}
	}
	for _, p := range []string{fmt.Sprintf("/mail/%d/delete", id), fmt.Sprintf("/mail/%d/seen", id), "/mail/delete",
		"/news/x/1/delete", "/files?op=mkdir", "/files/a?op=delete", "/files?op=upload"} {
		req, _ := http.NewRequest(http.MethodPost, tc.HTTP.URL+p, strings.NewReader("confirm=yes&name=x&seen=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "http://evil.example")
		req.SetBasicAuth("bob@example.org", "pw")
		resp, err := uiClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d; want 403", p, resp.StatusCode)
		}
	}
	if n := len(tc.uiMessages(t)); n != 2 {
		t.Errorf("%d messages after the refused requests; want 2", n)
	}
	if _, err := tc.Files.Stat("x"); err == nil {
		t.Errorf("a refused mkdir made a folder")
	}
}

// TestUIUploadTooLarge checks that an upload cut by the console's cap on
// uploads, in the middle of its body, leaves nothing in the file root.
func TestUIUploadTooLarge(t *testing.T) {
	tc := newTestConsole(t, func(c *Config) { c.MaxUploadBytes = 4000 })
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "small.txt")
	io.WriteString(w, "fits")
	w, _ = mw.CreateFormFile("file", "big.bin")
	w.Write(bytes.Repeat([]byte("x"), 10000))
	mw.Close()
	// No Content-Length (a reader of unknown size): the cap cuts the body
	// while the handler streams it.
	req, err := http.NewRequest(http.MethodPost, tc.HTTP.URL+"/files?op=upload", io.MultiReader(&body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r := tc.uiDo(t, req)
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("upload over the cap = %d; want 413", r.Status)
	}
	if _, err := tc.Files.Stat("big.bin"); err == nil {
		t.Errorf("the cut upload is in the file root")
	}
	ents, err := tc.Files.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "small.txt" {
			t.Errorf("the file root holds %q after a cut upload", e.Name())
		}
	}
}
