package console

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/store"
)

// The browser test drives a headless Chromium through the console as a
// user would: new mail appearing without a reload, the message view and
// its tabs, a download, remote content blocked until asked for, and mail
// whose markup tries to run script running nothing (H9). It saves
// screenshots of the main pages at phone and desktop widths.
//
// To keep the screenshots, name a directory:
//
//	INETKIT_SCREENSHOTS=/tmp/shots go test ./internal/console -run TestBrowser
//
// Without it they go to a temporary directory that the test removes.
//
// On Linux (where CI runs) the test fails if Chromium is missing; on other
// systems it is skipped. INETKIT_CHROMIUM names the browser's executable.

// chromiumPath returns the Chromium (or Chrome) to drive.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("INETKIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if runtime.GOOS == "linux" {
		t.Fatal("no Chromium found (install Debian's chromium, or set INETKIT_CHROMIUM)")
	}
	t.Skip("no Chromium found")
	return ""
}

// hitRecorder is an HTTP server of another origin that counts the requests
// a message's content makes: scripts that must not run, remote images that
// must not load until asked for. At /control it serves its control page.
type hitRecorder struct {
	*httptest.Server
	mu      sync.Mutex
	hits    []string
	control string
}

func newHitRecorder(t *testing.T) *hitRecorder {
	t.Helper()
	h := &hitRecorder{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.URL.Path == "/control" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, h.control)
			return
		}
		h.hits = append(h.hits, r.URL.Path)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if strings.HasSuffix(r.URL.Path, ".png") {
			w.Header().Set("Content-Type", "image/png")
			w.Write(tinyPNG)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// count returns how many requests had a path starting with prefix.
func (h *hitRecorder) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, p := range h.hits {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

// requestLog records the paths (and statuses) of the console's requests.
type requestLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		l.seen[r.URL.Path] = sw.status
		l.mu.Unlock()
	})
}

func (l *requestLog) status(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[path]
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }
func (w *statusWriter) Flush()            { http.NewResponseController(w.ResponseWriter).Flush() }
func (w *statusWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

var tinyPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBrowser(t *testing.T) {
	exe := chromiumPath(t)
	shots := os.Getenv("INETKIT_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The hostile message's HTML: every way of running script that a mail
	// might try, each setting a marker and calling the hit recorder.
	hits := newHitRecorder(t)
	payload := `<html><head><script>window.top.pwned="script";parent.pwned="script";document.title="pwned";fetch("` + hits.URL + `/xss/script")</script></head><body>` +
		`<p>Nothing here runs.</p>` +
		`<img src=x onerror="window.top.pwned='img';fetch('` + hits.URL + `/xss/img')">` +
		`<svg onload="window.top.pwned='svg';fetch('` + hits.URL + `/xss/svg')"></svg>` +
		`</body></html>`
	// The control: the same markup without the console's defences.
	hits.control = payload

	tc := newTestConsole(t, func(c *Config) {
		c.CACert = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
		c.Services = func() []Service {
			st := func(a, b int64) func() sockserver.Stats {
				return func() sockserver.Stats {
					return sockserver.Stats{Accepted: a, Active: b, BytesRead: a * 4100, BytesWritten: a * 91000, Errors: a / 40}
				}
			}
			return []Service{
				{Name: "smtp", Addr: "127.0.0.1:2525", TLS: "starttls", Stats: st(812, 3)},
				{Name: "imap", Addr: "127.0.0.1:1143", TLS: "starttls", Stats: st(97, 2)},
				{Name: "pop3", Addr: "127.0.0.1:1110", TLS: "starttls", Stats: st(12, 0)},
				{Name: "http", Addr: "127.0.0.1:8080", Stats: st(4210, 7)},
				{Name: "ftp", Addr: "127.0.0.1:2121", TLS: "starttls", Stats: st(33, 1)},
				{Name: "nntp", Addr: "127.0.0.1:1119", Stats: st(5, 0)},
			}
		}
	})
	reqs := &requestLog{seen: make(map[string]int)}
	srv := httptest.NewServer(reqs.wrap(tc.Server))
	t.Cleanup(srv.Close)
	base := srv.URL

	// Some content for the screenshots.
	seed := []struct{ from, to, subject, body string }{
		{"GitHub <noreply@github.com>", "dev@example.org", "[inetkit] Pull request #42: console pages", "A new pull request was opened."},
		{"Build Bot <ci@example.org>", "dev@example.org", "Build 1187 passed", "All 412 tests passed in 38 s."},
		{"Alice Martin <alice@example.org>", "bob@example.org", "Lunch on Friday?", "Shall we try the new place on Main Street?"},
	}
	for _, m := range seed {
		tc.deliver(t, fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nDate: %s\n\n%s\n", m.from, m.to, m.subject,
			time.Now().Add(-2*time.Hour).Format(time.RFC1123Z), m.body), m.to)
	}
	plan := tc.uiPostArticle(t, "<plan@example.org>", "Release plan for 1.4", "Carol <carol@example.org>", "",
		"Hello all,\r\n\r\nthe 1.4 branch freezes on the 10th; the release follows a week later.\r\n\r\n-- \r\nCarol\r\n")
	tc.uiPostArticle(t, "<q@example.org>", "How do I enable IMAP IDLE?", "Dan <dan@example.org>", "", "Is it on by default?\r\n")
	tc.uiPostArticle(t, "<re1@example.org>", "Re: Release plan for 1.4", "Erin <erin@example.org>", "<plan@example.org>", "Works for me.\r\n")
	tc.uiPostArticle(t, "<re2@example.org>", "Re: Release plan for 1.4", "Carol <carol@example.org>", "<plan@example.org> <re1@example.org>", "Thanks.\r\n")
	if err := tc.Files.Mkdir("releases"); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"README.txt": "hello\n", "releases/inetkit-1.3.tar.gz": strings.Repeat("x", 3<<20), "notes.md": "# notes\n"} {
		if err := writeFile(tc, name, content); err != nil {
			t.Fatal(err)
		}
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1280, 800))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 2*time.Second {
				t.Logf("%s took %v", what, d)
			}
		}()
		if err := chromedp.Do(ctx, steps...); err != nil {
			dctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			defer cancel()
			page, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 2000)`))
			t.Fatalf("%s: %v; the page:\n%s", what, err, page)
		}
	}
	eval := func(expr string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		return v
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("waiting for %s (%s): %v", what, expr, err)
		}
	}
	viewport := func(phone bool) chromedp.Action[chromedp.Void] {
		if phone {
			return chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))
		}
		return chromedp.EmulateViewport(1280, 800)
	}
	shot := func(name string) {
		t.Helper()
		for _, phone := range []bool{false, true} {
			suffix := "desktop"
			if phone {
				suffix = "phone"
			}
			run("viewport", viewport(phone), chromedp.Sleep(150*time.Millisecond))
			if phone && !eval(`document.documentElement.scrollWidth <= window.innerWidth`) {
				t.Errorf("%s is wider than a phone's screen", name)
			}
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shots, name+"-"+suffix+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run("viewport", viewport(false))
	}

	// New mail appears without a reload, with the count in the title.
	run("open the mail page", chromedp.Navigate(base+"/mail"), chromedp.WaitVisible(chromedp.CSS("#list")))
	poll("the title's unread count", `document.title === "(3) Mail · inetkit"`)
	eval(`window.noReload = true`)
	rich := strings.ReplaceAll(uiRichMessage, "https://tracker.example/pixel.gif", hits.URL+"/remote.png")
	tc.deliver(t, rich, "bob@example.org")
	id := tc.uiMessages(t)[0].ID
	poll("the new message in the list", fmt.Sprintf(`!!document.querySelector('#list li.msg.unread[data-id="%d"]')`, id))
	poll("the title's new unread count", `document.title === "(4) Mail · inetkit"`)
	if !eval(`window.noReload === true`) {
		t.Fatal("the page reloaded to show the new message")
	}
	shot("mail")
	run("dark mode", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	shot("mail-dark")
	run("light mode", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
		return err
	}))

	// Open it: the HTML tab, its inline image loaded from the part route
	// (the frame's CSP allows it), the remote image not.
	run("open the message", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#list li.msg[data-id="%d"] a`, id))),
		chromedp.WaitVisible(chromedp.CSS("#html-frame")))
	cidPath := fmt.Sprintf("/mail/%d/part/cid:logo@example.org", id)
	waitFor(t, "the inline image", 10*time.Second, func() bool { return reqs.status(cidPath) == http.StatusOK })
	if n := hits.count("/remote.png"); n != 0 {
		t.Errorf("the remote image was loaded %d times before it was asked for", n)
	}
	poll("the message read", `document.title === "(3) Quarterly report · inetkit"`)
	shot("message")

	// Tabs switch in place, by mouse and by keyboard.
	eval(`window.noReload = true`)
	for _, tab := range []struct{ id, want string }{
		{"text", "the report is attached"}, {"headers", "Message-ID"}, {"mime", "multipart/related"}, {"raw", "Content-Transfer-Encoding: base64"},
	} {
		run("tab "+tab.id, chromedp.Click(chromedp.CSS("#tab-"+tab.id)))
		expr := fmt.Sprintf(`!document.getElementById("panel-%[1]s").hidden && document.getElementById("panel-html").hidden && `+
			`document.getElementById("tab-%[1]s").getAttribute("aria-selected") === "true" && `+
			`document.getElementById("panel-%[1]s").textContent.includes(%[2]q) && location.search === "?tab=%[1]s"`, tab.id, tab.want)
		poll("the "+tab.id+" tab", expr)
		if tab.id == "mime" {
			shot("message-mime")
		}
	}
	run("arrow keys", chromedp.Focus(chromedp.CSS("#tab-raw")), chromedp.KeyEvent(kb.ArrowLeft))
	poll("the MIME tab by keyboard", `document.activeElement.id === "tab-mime" && !document.getElementById("panel-mime").hidden`)
	if !eval(`window.noReload === true`) {
		t.Error("switching tabs reloaded the page")
	}

	// Remote content loads when asked for.
	run("html tab", chromedp.Click(chromedp.CSS("#tab-html")), chromedp.Click(chromedp.CSS("#load-remote")))
	waitFor(t, "the remote image after Load remote content", 10*time.Second, func() bool { return hits.count("/remote.png") > 0 })

	// Through an IPv6 literal, which a CSP source cannot name, the frame
	// (here opened on its own, sandboxed by its CSP) loads its parts by
	// 'self'.
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		v6 := &httptest.Server{Listener: ln, Config: &http.Server{Handler: reqs.wrap(tc.Server)}}
		v6.Start()
		defer v6.Close()
		reqs.mu.Lock()
		delete(reqs.seen, cidPath)
		reqs.mu.Unlock()
		run("the frame over IPv6", chromedp.Navigate(fmt.Sprintf("%s/mail/%d/html", v6.URL, id)))
		waitFor(t, "the inline image over IPv6", 10*time.Second, func() bool { return reqs.status(cidPath) == http.StatusOK })
		run("back", chromedp.Navigate(fmt.Sprintf("%s/mail/%d", base, id)), chromedp.WaitVisible(chromedp.CSS("#html-frame")))
	}

	// Download the attachment.
	dl, yes := t.TempDir(), true
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	run("download", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: &yes})
		return err
	}), chromedp.Click(chromedp.CSS(`.chips a.chip`)))
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the download was cancelled")
		}
		if ev.State != browser.DownloadProgressStateCompleted {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dl, ev.GUID))
		if err != nil {
			t.Fatal(err)
		}
		if want := "%PDF-1.4\n%\xc4\xe5\xf2\xe5\xeb\n"; string(b) != want {
			t.Errorf("downloaded %q; want %q", b, want)
		}
		break
	}

	// A message whose markup tries to run script, in its subject, its
	// sender and its HTML, runs nothing: not in the list, not in the
	// message view, not in its frame, not when the frame's URL is opened
	// on its own.
	hostileMsg := "From: \"<img src=x onerror=window.top.pwned='from'>\" <evil@example.org>\r\n" +
		"To: bob@example.org\r\nSubject: <svg onload=window.top.pwned='subject'></svg><script>window.top.pwned='subject'</script>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n" + strings.Replace(payload, "</body>", `<img src="cid:dot@x" alt="inline"></body>`, 1) + "\r\n" +
		"--b\r\nContent-Type: image/png\r\nContent-ID: <dot@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(tinyPNG) + "\r\n--b--\r\n"
	run("back to the list", chromedp.Navigate(base+"/mail"), chromedp.WaitVisible(chromedp.CSS("#list")))
	tc.deliver(t, hostileMsg, "bob@example.org")
	evil := tc.uiMessages(t)[0].ID
	poll("the hostile message in the list", fmt.Sprintf(`!!document.querySelector('#list li.msg[data-id="%d"]')`, evil))
	run("open the hostile message", chromedp.Navigate(fmt.Sprintf("%s/mail/%d", base, evil)), chromedp.WaitVisible(chromedp.CSS("#html-frame")))
	evilCID := fmt.Sprintf("/mail/%d/part/cid:dot@x", evil)
	waitFor(t, "the hostile message's frame", 10*time.Second, func() bool { return reqs.status(evilCID) == http.StatusOK })
	run("settle", chromedp.Sleep(500*time.Millisecond))
	if !eval(`window.pwned === undefined && document.title !== "pwned"`) {
		v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.pwned) + " " + document.title`))
		t.Errorf("script in a message ran in the console's page: pwned, title = %s", v)
	}
	shot("message-hostile")
	run("the frame on its own", chromedp.Navigate(fmt.Sprintf("%s/mail/%d/html", base, evil)), chromedp.Sleep(500*time.Millisecond))
	if !eval(`window.pwned === undefined && document.title !== "pwned"`) {
		t.Errorf("script in a message ran when its frame was opened on its own")
	}
	if n := hits.count("/xss/"); n != 0 {
		t.Errorf("the hostile message's scripts made %d requests", n)
	}
	// The control: the same markup served without the console's defences
	// does run, so the checks above can see it.
	run("the control", chromedp.Navigate(hits.URL+"/control"))
	poll("the control's script", `window.pwned !== undefined`)

	// The other pages.
	g := url.PathEscape(store.DefaultNewsGroup)
	for _, p := range []struct{ name, path, sel string }{
		{"news", "/news", ".groups"},
		{"group", "/news/" + g, ".threads"},
		{"article", fmt.Sprintf("/news/%s/%d", g, plan), ".msg-head"},
		{"files", "/files", "table.files"},
		{"server", "/server", ".svc-grid"},
		{"search-error", "/mail?q=colour:red", "#search-error"},
		{"confirm", "/mail/delete?address=bob@example.org", ".confirm"},
	} {
		run(p.name, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		shot(p.name)
	}
	t.Logf("screenshots in %s", shots)
}
