package web

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
)

// smallFiles writes files for the small-file tests to a new fileroot.
func smallFiles(t *testing.T) (*fileroot.Root, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"a.bin":     make([]byte, 4096),
		"noext":     []byte("<html><body>hello</body></html>"),
		"plain":     bytes.Repeat([]byte("text "), 400), // sniffed text, gzippable
		"t.txt":     bytes.Repeat([]byte("line\n"), 500),
		"short.txt": []byte("short"),
		"empty.bin": {},
		"max.bin":   make([]byte, smallFileMax),
		"big.bin":   make([]byte, smallFileMax+1),
		"epoch.bin": []byte("epoch"),
	}
	for name, b := range files {
		if name != "noext" && name != "plain" && !strings.HasSuffix(name, ".txt") {
			rand.Read(b)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mt := time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	for name := range files {
		os.Chtimes(filepath.Join(dir, name), mt, mt)
	}
	os.Chtimes(filepath.Join(dir, "epoch.bin"), time.Unix(0, 0), time.Unix(0, 0))
	root, err := fileroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, files
}

// TestSmallLikeServeContent checks that the small-file path answers every
// request with the status, headers and body of http.ServeContent's path.
func TestSmallLikeServeContent(t *testing.T) {
	root, files := smallFiles(t)
	h := &FileServer{FS: root}
	mt := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	headers := []map[string]string{
		{},
		{"Accept-Encoding": "gzip"},
		{"If-Modified-Since": mt.Format(http.TimeFormat)},
		{"If-Modified-Since": mt.Add(-time.Second).Format(http.TimeFormat)},
		{"If-Modified-Since": mt.Add(time.Hour).Format(http.TimeFormat)},
		{"If-Modified-Since": "garbage"},
		{"If-None-Match": "*"},
		{"If-None-Match": `"nope"`},
		{"If-None-Match": `"nope", TAG`},
		{"If-None-Match": `W/TAG`},
		{"If-None-Match": `garbage, TAG`},
		{"If-None-Match": `"x" TAG`},
		{"If-None-Match": `"nope"`, "If-Modified-Since": mt.Format(http.TimeFormat)},
		{"If-None-Match": `TAG`, "If-Modified-Since": mt.Add(-time.Hour).Format(http.TimeFormat)},
		{"Range": "bytes=0-9"},
		{"If-Match": `"nope"`},
		{"If-Unmodified-Since": mt.Add(-time.Hour).Format(http.TimeFormat)},
		{"If-Range": `"nope"`, "Range": "bytes=1-2"},
	}
	get := func(method, name string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/"+name, nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	defer func(max int64) { smallFileMax = max }(smallFileMax)
	for name := range files {
		tag := get("HEAD", name, nil).Header().Get("ETag")
		for _, method := range []string{"GET", "HEAD"} {
			for _, hdr := range headers {
				req := map[string]string{}
				for k, v := range hdr {
					req[k] = strings.ReplaceAll(v, "TAG", tag)
				}
				smallFileMax = 64 << 10
				fast := get(method, name, req)
				smallFileMax = -1
				slow := get(method, name, req)
				what := fmt.Sprintf("%s %s %v", method, name, req)
				if fast.Code != slow.Code {
					t.Errorf("%s: status %d, ServeContent %d", what, fast.Code, slow.Code)
				}
				if !reflect.DeepEqual(fast.Header(), slow.Header()) {
					t.Errorf("%s: header\n%v\nServeContent\n%v", what, fast.Header(), slow.Header())
				}
				if !bytes.Equal(fast.Body.Bytes(), slow.Body.Bytes()) {
					t.Errorf("%s: body of %d bytes, ServeContent %d", what, fast.Body.Len(), slow.Body.Len())
				}
				if method == "GET" && fast.Code == 200 && fast.Header().Get("Content-Encoding") == "" && !bytes.Equal(fast.Body.Bytes(), files[name]) {
					t.Errorf("%s: wrong body", what)
				}
			}
		}
	}
}

// TestSmallGathered checks replies through a Server on one keep-alive
// connection, small files (gathered into one write) between large ones
// (sendfile) and HEADs, pipelined.
func TestSmallGathered(t *testing.T) {
	root, files := smallFiles(t)
	s := &Server{Handler: &FileServer{FS: root}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type req struct{ method, name string }
	var reqs []req
	for range 3 {
		for _, name := range []string{"a.bin", "big.bin", "max.bin", "empty.bin", "short.txt", "noext", "t.txt"} {
			reqs = append(reqs, req{"GET", name}, req{"HEAD", name})
		}
	}
	go func() {
		for _, q := range reqs {
			fmt.Fprintf(c, "%s /%s HTTP/1.1\r\nHost: x\r\n\r\n", q.method, q.name)
		}
	}()
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for _, q := range reqs {
		resp, err := http.ReadResponse(br, &http.Request{Method: q.method})
		if err != nil {
			t.Fatalf("%s %s: %v", q.method, q.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %v", q.method, q.name, resp.StatusCode, err)
		}
		want := files[q.name]
		if q.method == "HEAD" {
			want = nil
		}
		if !bytes.Equal(body, want) || resp.ContentLength != int64(len(files[q.name])) {
			t.Errorf("%s %s: %d bytes, Content-Length %d; want %d", q.method, q.name, len(body), resp.ContentLength, len(files[q.name]))
		}
	}
}

func TestEtagLikeSprintf(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, make([]byte, 12345), 0o644)
	for _, mt := range []time.Time{time.Unix(0, 0), time.Unix(-5, 3), time.Unix(1<<40, 999), time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)} {
		os.Chtimes(p, mt, mt)
		fi, _ := os.Stat(p)
		if got, want := etag(fi), fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size()); got != want {
			t.Errorf("etag %s, want %s", got, want)
		}
	}
}

func TestPlainMediaType(t *testing.T) {
	for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "Text/HTML", "text/", "/x", "text", "",
		"application/octet-stream", "image/svg+xml", "application/vnd.ms-excel", "a/b/c", "text/plain ", "x/y\x00"} {
		mt, _, _ := mime.ParseMediaType(ct)
		if plainMediaType(ct) && mt != ct {
			t.Errorf("plainMediaType(%q) but ParseMediaType gives %q", ct, mt)
		}
		if compressible(ct) != oldCompressible(ct) {
			t.Errorf("compressible(%q) = %v", ct, compressible(ct))
		}
	}
}

func oldCompressible(ctype string) bool {
	mt, _, _ := mime.ParseMediaType(ctype)
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/javascript",
		mt == "application/xml", mt == "image/svg+xml",
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}
