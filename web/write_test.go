package web_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/web"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

var alice = map[string]string{"Authorization": basic("alice", "secret")}

// listDisk returns every name under dir, temporary files included.
func listDisk(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	return names
}

func TestFileServer_put(t *testing.T) {
	base, dir := newTestServer(t)
	resp, _ := do(t, nil, "PUT", base+"/new.txt", alice, strings.NewReader("v1"))
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/new.txt" {
		t.Errorf("PUT new = %d %q; want 201 /new.txt", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = do(t, nil, "PUT", base+"/new.txt", alice, strings.NewReader("version 2"))
	if resp.StatusCode != 204 {
		t.Errorf("PUT replace = %d; want 204", resp.StatusCode)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "new.txt")); string(b) != "version 2" {
		t.Errorf("file = %q; want %q", b, "version 2")
	}
	// MKCOL-free: PUT creates parent folders.
	resp, _ = do(t, nil, "PUT", base+"/a/b%20c/d.txt", alice, strings.NewReader("deep"))
	if resp.StatusCode != 201 {
		t.Errorf("PUT a/b c/d.txt = %d; want 201", resp.StatusCode)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a", "b c", "d.txt")); string(b) != "deep" {
		t.Errorf("a/b c/d.txt = %q", b)
	}
	// A trailing slash makes a folder.
	resp, _ = do(t, nil, "PUT", base+"/e/f/", alice, nil)
	if fi, err := os.Stat(filepath.Join(dir, "e", "f")); resp.StatusCode != 201 || err != nil || !fi.IsDir() {
		t.Errorf("PUT /e/f/ = %d, %v; want 201 and a folder", resp.StatusCode, err)
	}
	// Chunked body.
	req, _ := http.NewRequest("PUT", base+"/chunked.bin", io.MultiReader(strings.NewReader("chun"), strings.NewReader("ked")))
	req.Header.Set("Authorization", alice["Authorization"])
	req.ContentLength = -1
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 || len(resp.TransferEncoding) != 0 && false {
		t.Errorf("chunked PUT = %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "chunked.bin")); string(b) != "chunked" {
		t.Errorf("chunked.bin = %q", b)
	}

	for _, tc := range []struct {
		name, path string
		hdr        map[string]string
		code       int
	}{
		{"over a folder", "/a", alice, 409},
		{"under a file", "/new.txt/x", alice, 409},
		{"dotfile", "/.htaccess", alice, 403},
		{"root", "/", alice, 405},
		{"If-None-Match star on existing", "/new.txt", map[string]string{"Authorization": alice["Authorization"], "If-None-Match": "*"}, 412},
		{"If-Match stale", "/new.txt", map[string]string{"Authorization": alice["Authorization"], "If-Match": `"old"`}, 412},
		{"Content-Range", "/new.txt", map[string]string{"Authorization": alice["Authorization"], "Content-Range": "bytes 0-1/2"}, 400},
		{"no credentials", "/x.txt", nil, 401},
		{"wrong password", "/x.txt", map[string]string{"Authorization": basic("alice", "wrong")}, 401},
		{"read-only user", "/x.txt", map[string]string{"Authorization": basic("bob", "secret")}, 403},
	} {
		resp, _ := do(t, nil, "PUT", base+tc.path, tc.hdr, strings.NewReader("zz"))
		if resp.StatusCode != tc.code {
			t.Errorf("PUT %s (%s) = %d; want %d", tc.path, tc.name, resp.StatusCode, tc.code)
		}
		if tc.code == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm="inetkit"`) {
			t.Errorf("PUT %s (%s): WWW-Authenticate %q", tc.path, tc.name, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.txt")); err == nil {
		t.Error("x.txt was created without a writer's credentials")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "new.txt")); string(b) != "version 2" {
		t.Errorf("new.txt = %q after refused PUTs", b)
	}
	for _, n := range listDisk(t, dir) {
		if strings.Contains(n, ".inetkit-upload-") {
			t.Errorf("temporary file left: %s", n)
		}
	}
}

func TestFileServer_delete(t *testing.T) {
	base, dir := newTestServer(t)
	writeFile(t, dir, "f.txt", "x")
	writeFile(t, dir, "full/x", "x")
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	for _, tc := range []struct {
		path string
		hdr  map[string]string
		code int
	}{
		{"/f.txt", nil, 401},
		{"/f.txt", map[string]string{"Authorization": basic("bob", "secret")}, 403},
		{"/f.txt", alice, 204},
		{"/f.txt", alice, 404},
		{"/full", alice, 409},
		{"/full/", alice, 409},
		{"/empty/", alice, 204},
		{"/", alice, 405},
		{"/../outside.txt", alice, 404},
	} {
		resp, _ := do(t, nil, "DELETE", base+tc.path, tc.hdr, nil)
		if resp.StatusCode != tc.code {
			t.Errorf("DELETE %s = %d; want %d", tc.path, resp.StatusCode, tc.code)
		}
	}
	if got := strings.Join(listDisk(t, dir), ","); got != "full,full/x" {
		t.Errorf("left on disk: %s; want full,full/x", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "outside.txt")); err != nil {
		t.Errorf("outside.txt: %v", err)
	}
}

func TestFileServer_authFailureDelay(t *testing.T) {
	root, _ := newRoot(t)
	h := newFileServer(root)
	h.AuthFailureDelay = 200 * time.Millisecond
	ts := httptest.NewServer(h)
	defer ts.Close()
	start := time.Now()
	resp, _ := do(t, nil, "PUT", ts.URL+"/x", map[string]string{"Authorization": basic("alice", "bad")}, strings.NewReader("x"))
	if d := time.Since(start); resp.StatusCode != 401 || d < 200*time.Millisecond {
		t.Errorf("wrong password: %d after %v; want 401 after 200ms", resp.StatusCode, d)
	}
}

func TestFileServer_authError(t *testing.T) {
	root, _ := newRoot(t)
	h := newFileServer(root)
	var gotAddr string
	h.Auth = func(ctx context.Context, user, pass string) (bool, error) {
		if ap, ok := web.ClientAddr(ctx); ok {
			gotAddr = ap.Addr().String()
		}
		return false, errors.New("store is down")
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	resp, _ := do(t, nil, "PUT", ts.URL+"/x", alice, strings.NewReader("x"))
	if resp.StatusCode != 503 {
		t.Errorf("PUT with a failing Auth = %d; want 503", resp.StatusCode)
	}
	if gotAddr != "127.0.0.1" {
		t.Errorf("ClientAddr = %q; want 127.0.0.1", gotAddr)
	}
}

func TestFileServer_maxUploadBytes(t *testing.T) {
	root, dir := newRoot(t)
	h := newFileServer(root)
	h.MaxUploadBytes = 1000
	ts := httptest.NewServer(h)
	defer ts.Close()
	resp, _ := do(t, nil, "PUT", ts.URL+"/big", alice, strings.NewReader(strings.Repeat("x", 1001)))
	if resp.StatusCode != 413 {
		t.Errorf("PUT of 1001 bytes, Content-Length = %d; want 413", resp.StatusCode)
	}
	req, _ := http.NewRequest("PUT", ts.URL+"/big", io.MultiReader(strings.NewReader(strings.Repeat("x", 600)), strings.NewReader(strings.Repeat("x", 600))))
	req.ContentLength = -1
	req.Header.Set("Authorization", alice["Authorization"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked PUT of 1200 bytes = %d; want 413", resp.StatusCode)
	}
	resp, _ = do(t, nil, "PUT", ts.URL+"/ok", alice, strings.NewReader(strings.Repeat("x", 1000)))
	if resp.StatusCode != 201 {
		t.Errorf("PUT of 1000 bytes = %d; want 201", resp.StatusCode)
	}
	if got := strings.Join(listDisk(t, dir), ","); got != "ok" {
		t.Errorf("on disk: %s; want ok", got)
	}
}

// fullFS is a MemFS whose uploads fail with ENOSPC after limit bytes.
type fullFS struct {
	*fileroot.MemFS
	limit int
}

func (f fullFS) Create(name string) (fileroot.Upload, error) {
	u, err := f.MemFS.Create(name)
	if err != nil {
		return nil, err
	}
	return &fullUpload{Upload: u, left: f.limit}, nil
}

type fullUpload struct {
	fileroot.Upload
	left int
}

func (u *fullUpload) Write(p []byte) (int, error) {
	if len(p) > u.left {
		u.Abort()
		return 0, &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
	}
	u.left -= len(p)
	return u.Upload.Write(p)
}

func TestFileServer_diskFull(t *testing.T) {
	m := fileroot.NewMemFS()
	ts := httptest.NewServer(newFileServer(fullFS{MemFS: m, limit: 100}))
	defer ts.Close()
	resp, _ := do(t, nil, "PUT", ts.URL+"/f", alice, strings.NewReader(strings.Repeat("x", 64<<10)))
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("PUT on a full disk = %d; want 507", resp.StatusCode)
	}
	if _, err := m.Stat("f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(f) = %v; want not exist", err)
	}
}

// TestFileServer_cutUpload is HARDENING X7 for HTTP: a PUT whose
// connection is closed in the middle of the body leaves nothing behind.
func TestFileServer_cutUpload(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "keep.txt", "old")
	_, base := startServer(t, nil, newFileServer(root))
	for _, tc := range []struct{ name, target, head string }{
		{"new file, Content-Length", "/cut.bin", "Content-Length: 100000\r\n"},
		{"new file, chunked", "/cut2.bin", "Transfer-Encoding: chunked\r\n"},
		{"replacing, Content-Length", "/keep.txt", "Content-Length: 100000\r\n"},
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		body := strings.Repeat("y", 50000)
		if strings.Contains(tc.head, "chunked") {
			body = fmt.Sprintf("%x\r\n%s\r\n", len(body), body)
		}
		fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n%s\r\n%s", tc.target, alice["Authorization"], tc.head, body)
		// Wait until the upload has started, then cut the connection.
		waitFor(t, func() bool {
			for _, n := range listDisk(t, dir) {
				if strings.Contains(n, ".inetkit-upload-") {
					return true
				}
			}
			return false
		})
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		waitFor(t, func() bool { return strings.Join(listDisk(t, dir), ",") == "keep.txt" })
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(b) != "old" {
		t.Errorf("keep.txt = %q after a cut replacement; want old", b)
	}
}

// waitFor polls cond until it holds, for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}
