package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzPath sends any URL path to a FileServer over a root with a marker
// planted beside it: no path reaches outside the root, none makes the
// handler panic or fail with 500, and every redirect stays on the server.
func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"/", "/a.txt", "/sub/", "/sub", "/../outside.txt", "/%2e%2e/outside.txt",
		"/..%2foutside.txt", "/.%252e/outside.txt", "/..\\outside.txt", "//outside.txt",
		"/%00", "/sub/../../outside.txt", "/./a.txt", "/sub//b.txt", "/link", "/.hidden",
		"/%2e/", "/sub/%2e%2e/%2e%2e/etc/passwd", "/\u00e9", "/a\xffb",
	} {
		f.Add(s)
	}
	root, dir := newRoot(f)
	writeFile(f, dir, "a.txt", "a")
	writeFile(f, dir, "sub/b.txt", "b")
	writeFile(f, dir, ".hidden", "h")
	h := newFileServer(root)
	f.Fuzz(func(t *testing.T, p string) {
		u := &url.URL{Path: p}
		req := httptest.NewRequest("GET", "http://x/", nil)
		req.URL = u
		req.RequestURI = u.RequestURI()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if strings.Contains(body, marker) {
			t.Fatalf("GET %q served content from outside the root", p)
		}
		if body == "h" {
			t.Fatalf("GET %q served a dotfile", p)
		}
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		case http.StatusMovedPermanently:
			loc := rec.Header().Get("Location")
			lu, err := url.Parse(loc)
			if err != nil || lu.Host != "" || lu.Scheme != "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
				t.Fatalf("GET %q redirects to %q", p, loc)
			}
			if strings.Contains(lu.Path, "/..") || strings.Contains(lu.Path, "//") {
				t.Fatalf("GET %q redirects to the unclean %q", p, loc)
			}
		default:
			t.Fatalf("GET %q = %d", p, rec.Code)
		}
	})
}
