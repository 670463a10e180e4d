package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/web"
)

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func newTestServer(t *testing.T) (string, string) {
	t.Helper()
	root, dir := newRoot(t)
	ts := httptest.NewServer(newFileServer(root))
	t.Cleanup(ts.Close)
	return ts.URL, dir
}

func TestFileServer_get(t *testing.T) {
	base, dir := newTestServer(t)
	writeFile(t, dir, "a.txt", "hello\n")
	writeFile(t, dir, "noext", "\x89PNG\r\n\x1a\n0000")
	writeFile(t, dir, "sub/b.json", `{"b":1}`)
	tests := []struct {
		path, ctype, body string
	}{
		{"/a.txt", "text/plain; charset=utf-8", "hello\n"},
		{"/noext", "image/png", "\x89PNG\r\n\x1a\n0000"},
		{"/sub/b.json", "application/json", `{"b":1}`},
	}
	for _, tc := range tests {
		resp, body := do(t, nil, "GET", base+tc.path, nil, nil)
		if resp.StatusCode != 200 || body != tc.body || resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s = %d %q %q; want 200 %q %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.ctype, tc.body)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" {
			t.Errorf("GET %s: no ETag or Last-Modified: %v", tc.path, resp.Header)
		}
		resp, body = do(t, nil, "HEAD", base+tc.path, nil, nil)
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(tc.body)) {
			t.Errorf("HEAD %s = %d, length %d, %q; want 200, %d, empty", tc.path, resp.StatusCode, resp.ContentLength, body, len(tc.body))
		}
	}
	resp, _ := do(t, nil, "GET", base+"/missing", nil, nil)
	if resp.StatusCode != 404 {
		t.Errorf("GET /missing = %d; want 404", resp.StatusCode)
	}
	resp, _ = do(t, nil, "GET", base+"/a.txt/", nil, nil)
	if resp.StatusCode != 404 {
		t.Errorf("GET /a.txt/ = %d; want 404", resp.StatusCode)
	}
}

func TestFileServer_range(t *testing.T) {
	base, dir := newTestServer(t)
	writeFile(t, dir, "d.bin", "0123456789")
	resp, body := do(t, nil, "GET", base+"/d.bin", map[string]string{"Range": "bytes=2-5"}, nil)
	if resp.StatusCode != 206 || body != "2345" || resp.Header.Get("Content-Range") != "bytes 2-5/10" {
		t.Errorf("Range 2-5 = %d %q %q; want 206 %q %q", resp.StatusCode, resp.Header.Get("Content-Range"), body, "bytes 2-5/10", "2345")
	}
	resp, body = do(t, nil, "GET", base+"/d.bin", map[string]string{"Range": "bytes=-3"}, nil)
	if resp.StatusCode != 206 || body != "789" {
		t.Errorf("Range -3 = %d %q; want 206 %q", resp.StatusCode, body, "789")
	}
	resp, _ = do(t, nil, "GET", base+"/d.bin", map[string]string{"Range": "bytes=20-30"}, nil)
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("Range 20-30 = %d; want 416", resp.StatusCode)
	}

	resp, body = do(t, nil, "GET", base+"/d.bin", map[string]string{"Range": "bytes=0-1,8-9"}, nil)
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multi-range = %d %q; want 206 multipart/byteranges", resp.StatusCode, mt)
	}
	mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Range")+"="+string(b))
	}
	if want := "bytes 0-1/10=01,bytes 8-9/10=89"; strings.Join(parts, ",") != want {
		t.Errorf("multi-range parts = %q; want %q", parts, want)
	}
}

func TestFileServer_conditional(t *testing.T) {
	base, dir := newTestServer(t)
	writeFile(t, dir, "c.bin", "0123456789")
	resp, _ := do(t, nil, "GET", base+"/c.bin", nil, nil)
	tag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if !strings.HasPrefix(tag, `"`) {
		t.Fatalf("ETag = %q; want a strong tag", tag)
	}
	tests := []struct {
		name string
		hdr  map[string]string
		code int
		body string
	}{
		{"If-None-Match match", map[string]string{"If-None-Match": tag}, 304, ""},
		{"If-None-Match other", map[string]string{"If-None-Match": `"x"`}, 200, "0123456789"},
		{"If-None-Match star", map[string]string{"If-None-Match": "*"}, 304, ""},
		{"If-Modified-Since", map[string]string{"If-Modified-Since": lm}, 304, ""},
		{"If-Modified-Since old", map[string]string{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 200, "0123456789"},
		{"If-Match other", map[string]string{"If-Match": `"x"`}, 412, ""},
		{"If-Range match", map[string]string{"Range": "bytes=0-1", "If-Range": tag}, 206, "01"},
		{"If-Range stale", map[string]string{"Range": "bytes=0-1", "If-Range": `"old"`}, 200, "0123456789"},
	}
	for _, tc := range tests {
		resp, body := do(t, nil, "GET", base+"/c.bin", tc.hdr, nil)
		if resp.StatusCode != tc.code || (tc.code != 412 && body != tc.body) {
			t.Errorf("%s: GET = %d %q; want %d %q", tc.name, resp.StatusCode, body, tc.code, tc.body)
		}
	}
}

func TestFileServer_gzip(t *testing.T) {
	base, dir := newTestServer(t)
	text := strings.Repeat("all work and no play\n", 200)
	writeFile(t, dir, "t.txt", text)
	writeFile(t, dir, "b.bin", text)
	gz := map[string]string{"Accept-Encoding": "gzip"}
	resp, body := do(t, nil, "GET", base+"/t.txt", gz, nil)
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("GET t.txt with gzip: headers %v; want Content-Encoding gzip and Vary", resp.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != text {
		t.Errorf("gunzipped body differs (%d bytes; want %d)", len(b), len(text))
	}
	if len(body) >= len(text)/4 {
		t.Errorf("compressed size %d of %d; want much smaller", len(body), len(text))
	}
	gzTag := resp.Header.Get("ETag")

	resp, _ = do(t, nil, "GET", base+"/t.txt", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzTag}, nil)
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match of the gzip tag = %d; want 304", resp.StatusCode)
	}
	resp, body = do(t, nil, "GET", base+"/t.txt", map[string]string{"Accept-Encoding": "gzip, deflate", "Range": "bytes=0-2"}, nil)
	if resp.StatusCode != 206 || resp.Header.Get("Content-Encoding") != "" || body != "all" {
		t.Errorf("Range with gzip = %d %q %q; want 206 identity %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), body, "all")
	}
	resp, body = do(t, nil, "GET", base+"/t.txt", map[string]string{"Accept-Encoding": "gzip;q=0, identity"}, nil)
	if resp.Header.Get("Content-Encoding") != "" || body != text {
		t.Errorf("gzip;q=0: Content-Encoding %q; want identity", resp.Header.Get("Content-Encoding"))
	}
	if resp.Header.Get("ETag") == gzTag {
		t.Errorf("identity and gzip share the ETag %s", gzTag)
	}
	resp, _ = do(t, nil, "GET", base+"/b.bin", gz, nil)
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("binary file gzipped: %v", resp.Header)
	}
	resp, body = do(t, nil, "HEAD", base+"/t.txt", gz, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || body != "" {
		t.Errorf("HEAD with gzip = %d %v %q", resp.StatusCode, resp.Header, body)
	}
}

// TestFileServer_listingEscaping is HARDENING H12.
func TestFileServer_listingEscaping(t *testing.T) {
	base, dir := newTestServer(t)
	evil := "<img src=x onerror=alert(1)>.txt"
	writeFile(t, dir, evil, "x")
	writeFile(t, dir, "a b&c.txt", "12345")
	writeFile(t, dir, "javascript:alert(1)", "x")
	writeFile(t, dir, "zdir/inner.txt", "x")
	writeFile(t, dir, ".hidden", "x")
	resp, body := do(t, nil, "GET", base+"/", map[string]string{"Accept": "text/html"}, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q; want default-src 'none' and nothing unsafe", csp)
	}
	for _, bad := range []string{"<img", ".hidden", `href="javascript:`} {
		if strings.Contains(body, bad) {
			t.Errorf("listing contains %q:\n%s", bad, body)
		}
	}
	for _, want := range []string{
		"&lt;img src=x onerror=alert(1)&gt;.txt",
		`href="./%3Cimg%20src=x%20onerror=alert%281%29%3E.txt"`,
		`href="./a%20b&amp;c.txt"`,
		`href="./javascript:alert%281%29"`,
		`href="./zdir/"`,
		"5 B",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %q:\n%s", want, body)
		}
	}
	if strings.Index(body, "zdir/") > strings.Index(body, "a b&amp;c.txt") {
		t.Errorf("folders are not listed first:\n%s", body)
	}
	// The link works.
	resp, got := do(t, nil, "GET", base+"/"+url.PathEscape(evil), nil, nil)
	if resp.StatusCode != 200 || got != "x" {
		t.Errorf("GET the escaped link = %d %q", resp.StatusCode, got)
	}
}

func TestFileServer_listingJSON(t *testing.T) {
	base, dir := newTestServer(t)
	writeFile(t, dir, "sub/f.txt", "12345")
	writeFile(t, dir, "sub/d d/x", "")
	writeFile(t, dir, "sub/.git/config", "secret")
	resp, body := do(t, nil, "GET", base+"/sub/", map[string]string{"Accept": "application/json"}, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /sub/ JSON = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var l web.Listing
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	if l.Path != "/sub/" || len(l.Entries) != 2 {
		t.Fatalf("listing = %+v; want /sub/ with 2 entries", l)
	}
	d, f := l.Entries[0], l.Entries[1]
	if d.Name != "d d" || d.Type != "dir" || d.URL != "/sub/d%20d/" {
		t.Errorf("entry 0 = %+v", d)
	}
	if f.Name != "f.txt" || f.Type != "file" || f.Size != 5 || f.URL != "/sub/f.txt" || f.Modified.IsZero() {
		t.Errorf("entry 1 = %+v", f)
	}
}

func TestFileServer_folderRedirect(t *testing.T) {
	base, dir := newTestServer(t)
	writeFile(t, dir, "my dir/x", "x")
	writeFile(t, dir, "etc/passwd", "inside")
	for _, tc := range []struct{ path, loc string }{
		{"/my%20dir", "/my%20dir/"},
		{"/my%20dir?x=1", "/my%20dir/?x=1"},
		{"//etc/passwd", "/etc/passwd"},
		{"/my%20dir//x", "/my%20dir/x"},
	} {
		resp, _ := do(t, noRedirect, "GET", base+tc.path, nil, nil)
		if resp.StatusCode != 301 || resp.Header.Get("Location") != tc.loc {
			t.Errorf("GET %s = %d %q; want 301 %q", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.loc)
		}
	}
}

// TestFileServer_dotfiles is HARDENING H3.
func TestFileServer_dotfiles(t *testing.T) {
	base, dir := newTestServer(t)
	writeFile(t, dir, ".git/config", "secret")
	writeFile(t, dir, ".htpasswd", "secret")
	writeFile(t, dir, "a/.env", "secret")
	for _, p := range []string{"/.git/config", "/.git/", "/.git", "/.htpasswd", "/a/.env", "/%2egit/config"} {
		resp, body := do(t, nil, "GET", base+p, nil, nil)
		if resp.StatusCode != 404 || strings.Contains(body, "secret") {
			t.Errorf("GET %s = %d %q; want 404", p, resp.StatusCode, body)
		}
	}
}

// TestFileServer_symlinkEscape is HARDENING H2.
func TestFileServer_symlinkEscape(t *testing.T) {
	base, dir := newTestServer(t)
	if err := os.Symlink("../outside.txt", filepath.Join(dir, "link")); err != nil {
		t.Skip("no symbolic links:", err)
	}
	os.Symlink("..", filepath.Join(dir, "updir"))
	writeFile(t, dir, "in.txt", "inside")
	os.Symlink("in.txt", filepath.Join(dir, "inlink"))
	for _, p := range []string{"/link", "/updir/outside.txt", "/updir/", "/updir"} {
		resp, body := do(t, nil, "GET", base+p, nil, nil)
		if resp.StatusCode != 404 || strings.Contains(body, marker) {
			t.Errorf("GET %s = %d %q; want 404", p, resp.StatusCode, body)
		}
	}
	if resp, body := do(t, nil, "GET", base+"/inlink", nil, nil); resp.StatusCode != 200 || body != "inside" {
		t.Errorf("GET /inlink = %d %q; want 200 inside", resp.StatusCode, body)
	}
	_, body := do(t, nil, "GET", base+"/", map[string]string{"Accept": "application/json"}, nil)
	if strings.Contains(body, `"link"`) || strings.Contains(body, "updir") || !strings.Contains(body, "inlink") {
		t.Errorf("listing shows links that leave the root, or hides one that does not: %s", body)
	}
}

// TestFileServer_traversal is HARDENING H1, with raw requests that no
// client cleans first, against a Server and against the handler alone.
func TestFileServer_traversal(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "index.txt", "inside")
	_, base := startServer(t, nil, newFileServer(root))
	addr := strings.TrimPrefix(base, "http://")
	ts := httptest.NewServer(newFileServer(root))
	defer ts.Close()
	targets := []string{
		"/../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/..%2f..%2fetc/passwd",
		"/.%252e/.%252e/etc/passwd",
		"/..\\..\\etc\\passwd",
		"/%5c..%5c..%5cetc%5cpasswd",
		"/\\/etc/passwd",
		"//etc/passwd",
		"/../outside.txt",
		"/%00",
		"/index.txt%00.png",
		"http://x/../../etc/passwd",
		"http://x/%2e%2e/outside.txt",
		"/./../outside.txt",
		"/%2e%2e%5coutside.txt",
		"..%2f..%2fetc%2fpasswd",
		"*",
	}
	for _, a := range []string{addr, strings.TrimPrefix(ts.URL, "http://")} {
		for _, target := range targets {
			code, resp := rawRequest(t, a, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if strings.Contains(resp, marker) {
				t.Errorf("GET %s: response holds content from outside the root:\n%s", target, resp)
			}
			switch code {
			case 400, 403, 404:
			case 301:
				if loc := headerOf(resp, "Location"); !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, "..") {
					t.Errorf("GET %s: redirect to %q", target, loc)
				}
			default:
				t.Errorf("GET %s = %d; want 400, 403, 404 or a redirect inside the root", target, code)
			}
		}
	}
}

func headerOf(resp, name string) string {
	for line := range strings.SplitSeq(resp, "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func TestFileServer_memFS(t *testing.T) {
	m := fileroot.NewMemFS()
	h := newFileServer(m)
	ts := httptest.NewServer(h)
	defer ts.Close()
	auth := map[string]string{"Authorization": basic("alice", "secret")}
	resp, _ := do(t, nil, "PUT", ts.URL+"/x/y.txt", auth, strings.NewReader("memory"))
	if resp.StatusCode != 201 {
		t.Fatalf("PUT = %d; want 201", resp.StatusCode)
	}
	resp, body := do(t, nil, "GET", ts.URL+"/x/y.txt", map[string]string{"Range": "bytes=1-"}, nil)
	if resp.StatusCode != 206 || body != "emory" {
		t.Errorf("GET range = %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, nil, "GET", ts.URL+"/x/", map[string]string{"Accept": "application/json"}, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"y.txt"`) {
		t.Errorf("listing = %d %s", resp.StatusCode, body)
	}
}

func TestFileServer_readOnly(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "a.txt", "a")
	h := &web.FileServer{FS: fileroot.ReadOnly(root), Auth: testAuth, Logger: quietLogger()}
	ts := httptest.NewServer(h)
	defer ts.Close()
	auth := map[string]string{"Authorization": basic("alice", "secret")}
	for _, m := range []string{"PUT", "DELETE"} {
		resp, _ := do(t, nil, m, ts.URL+"/a.txt", auth, bytes.NewReader(nil))
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("%s on a read-only tree = %d, Allow %q; want 405", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if resp, body := do(t, nil, "GET", ts.URL+"/a.txt", nil, nil); resp.StatusCode != 200 || body != "a" {
		t.Errorf("GET = %d %q", resp.StatusCode, body)
	}
}
