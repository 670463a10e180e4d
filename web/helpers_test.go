package web_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/web"
)

// marker is planted outside the root; no response may contain it.
const marker = "OUTSIDE-THE-ROOT-7f3a"

// newRoot returns a fileroot over t.TempDir()/root, with files planted
// outside it (outside.txt and etc/passwd beside the root, both holding
// marker), and the root's directory on disk.
func newRoot(t testing.TB) (*fileroot.Root, string) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "root")
	for _, d := range []string{dir, filepath.Join(base, "etc")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(base, "outside.txt"), filepath.Join(base, "etc", "passwd")} {
		if err := os.WriteFile(f, []byte(marker+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := fileroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, dir
}

// writeFile writes data to the file name under dir on disk.
func writeFile(t testing.TB, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// quietLogger discards everything.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// alice may write, bob may only read, any other login fails.
func testAuth(_ context.Context, user, pass string) (bool, error) {
	switch {
	case user == "alice" && pass == "secret":
		return true, nil
	case user == "bob" && pass == "secret":
		return false, nil
	}
	return false, web.ErrAuthFailed
}

// startServer serves h with srv (a new Server if nil) on a loopback port
// and returns the base URL. The server is closed by the test's cleanup.
func startServer(t testing.TB, srv *web.Server, h http.Handler) (*web.Server, string) {
	t.Helper()
	if srv == nil {
		srv = &web.Server{}
	}
	srv.Handler = h
	if srv.Logger == nil {
		srv.Logger = quietLogger()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			done <- srv.ServeTLS(l)
		} else {
			done <- srv.Serve(l)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, web.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
	})
	scheme := "http://"
	if srv.TLSConfig != nil {
		scheme = "https://"
	}
	return srv, scheme + l.Addr().String()
}

// newFileServer returns a FileServer over root for tests.
func newFileServer(fsys fileroot.FS) *web.FileServer {
	return &web.FileServer{FS: fsys, Auth: testAuth, AuthFailureDelay: -1, Logger: quietLogger()}
}

// rawRequest sends req as it is on a new connection to addr (host:port)
// and returns the status code and the whole response.
func rawRequest(t testing.TB, addr, req string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", req, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var b strings.Builder
	resp.Header.Write(&b)
	if resp.Close { // ReadResponse takes the header out
		b.WriteString("Connection: close\r\n")
	}
	return resp.StatusCode, b.String() + "\n" + string(body)
}

// get does a request and returns the response with its body read.
func do(t testing.TB, c *http.Client, method, url string, hdr map[string]string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}
