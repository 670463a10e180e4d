package cli

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A GET of /RPC2 reaches the XML-RPC server even with a file of that name
// in the tree (its answer, 405, not the file), and a GET of a small file is
// the same whether the server reads it itself (a plain connection) or
// net/http does (a Range of the whole file).
func TestServeHTTP_filesRoute(t *testing.T) {
	srv, data := webServe(t)
	os.WriteFile(filepath.Join(data, "files", "RPC2"), []byte("not xml-rpc"), 0o640)
	os.WriteFile(filepath.Join(data, "files", "small.txt"), []byte("small\n"), 0o640)
	base := "http://" + srv.addrs["http"]
	get := func(path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get("/RPC2", nil); resp.StatusCode != http.StatusMethodNotAllowed || strings.Contains(body, "not xml-rpc") {
		t.Errorf("GET /RPC2 = %d %q; want 405 from XML-RPC", resp.StatusCode, body)
	}
	resp, body := get("/small.txt", nil)
	if resp.StatusCode != 200 || body != "small\n" || resp.Header.Get("Content-Security-Policy") != "sandbox" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Etag") == "" {
		t.Errorf("GET /small.txt = %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := get("/small.txt", map[string]string{"If-None-Match": resp.Header.Get("Etag")}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET /small.txt If-None-Match = %d; want 304", resp.StatusCode)
	}
	if resp, body := get("/small.txt", map[string]string{"Range": "bytes=0-"}); resp.StatusCode != 206 || body != "small\n" {
		t.Errorf("GET /small.txt with a Range = %d %q", resp.StatusCode, body)
	}
}
