package web_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/web"
)

// dialSmall connects to addr with a small receive buffer, so that a client
// that stops reading stalls the server quickly.
func dialSmall(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		return nil
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func hostPort(base string) string {
	return strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
}

// servedBy checks that base still serves /a.txt with "a".
func servedBy(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(base + "/a.txt")
	if err != nil {
		t.Fatalf("another client: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "a" {
		t.Fatalf("another client: %d %q", resp.StatusCode, b)
	}
}

// waitClosed reads from c until it is closed by the server, for at most
// limit, and returns how long that took.
func waitClosed(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

// TestServer_slowHeaders is HARDENING H4.
func TestServer_slowHeaders(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "a.txt", "a")
	srv := &web.Server{Limits: web.Limits{ReadHeaderTimeout: 300 * time.Millisecond}}
	_, base := startServer(t, srv, newFileServer(root))
	c, err := net.Dial("tcp", hostPort(base))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range []byte("GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	servedBy(t, base)
	io.Copy(io.Discard, c)
	if d := time.Since(start); d > 300*time.Millisecond+time.Second {
		t.Errorf("slow headers closed after %v; want about 300ms", d)
	}
	<-done
}

// TestServer_slowBody is HARDENING H5: a PUT body that stalls, one that
// trickles below the minimum rate, and a stalled body to a handler with no
// deadline of its own (bounded by ReadTimeout).
func TestServer_slowBody(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "a.txt", "a")
	fsrv := newFileServer(root)
	fsrv.UploadIdleTimeout = 300 * time.Millisecond
	fsrv.MinUploadRate = 2000
	var rpcErr atomic.Value
	mux := http.NewServeMux()
	mux.Handle("/", fsrv)
	mux.HandleFunc("/RPC2", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		rpcErr.Store(fmt.Sprint(err))
	})
	srv := &web.Server{Limits: web.Limits{ReadTimeout: 500 * time.Millisecond}}
	_, base := startServer(t, srv, mux)

	for _, tc := range []struct {
		name, target string
		every        time.Duration // one byte per
		want         time.Duration
	}{
		{"stalled PUT", "/stalled.bin", time.Hour, 300 * time.Millisecond},
		{"trickled PUT", "/trickled.bin", 100 * time.Millisecond, 300 * time.Millisecond},
		{"stalled POST to another handler", "/RPC2", time.Hour, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", hostPort(base))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			method := "PUT"
			if tc.target == "/RPC2" {
				method = "POST"
			}
			start := time.Now()
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: 100000\r\n\r\nxxxx", method, tc.target, alice["Authorization"])
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(tc.every)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := c.Write([]byte("x")); err != nil {
							return
						}
					}
				}
			}()
			servedBy(t, base)
			waitClosed(t, c, 5*time.Second)
			if d := time.Since(start); d > tc.want+time.Second {
				t.Errorf("closed after %v; want about %v", d, tc.want)
			}
		})
	}
	if got := listDisk(t, dir); strings.Join(got, ",") != "a.txt" {
		t.Errorf("on disk: %v; want only a.txt", got)
	}
	if e, _ := rpcErr.Load().(string); !strings.Contains(e, "timeout") {
		t.Errorf("the other handler's read ended with %q; want a timeout", e)
	}
}

// TestServer_stalledReader is HARDENING H6: a client that stops reading a
// large download is cut after WriteTimeout, on the sendfile path (a file
// on disk) and on the plain one (a file in memory), while a client that
// reads slowly gets the whole file and others are served meanwhile.
func TestServer_stalledReader(t *testing.T) {
	root, dir := newRoot(t)
	big := strings.Repeat("0123456789abcdef", 1<<20) // 16 MiB
	writeFile(t, dir, "a.txt", "a")
	writeFile(t, dir, "big.bin", big)
	mem := fileroot.NewMemFS()
	for name, data := range map[string]string{"a.txt": "a", "big.bin": big} {
		u, _ := mem.Create(name)
		io.WriteString(u, data)
		u.Close()
	}
	const writeTimeout = time.Second
	for _, tc := range []struct {
		name string
		fsys fileroot.FS
	}{{"disk", root}, {"memory", mem}} {
		t.Run(tc.name, func(t *testing.T) {
			returned := make(chan time.Time, 4)
			fsrv := newFileServer(tc.fsys)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fsrv.ServeHTTP(w, r)
				if r.URL.Path == "/big.bin" {
					returned <- time.Now()
				}
			})
			// Read and idle timeouts shorter than the slow download: they must
			// not cut it.
			srv := &web.Server{Limits: web.Limits{WriteTimeout: writeTimeout, ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}}
			srv, base := startServer(t, srv, h)

			c := dialSmall(t, hostPort(base))
			start := time.Now()
			fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReaderSize(c, 1024)
			if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
				t.Fatalf("status line %q, %v", line, err)
			}
			servedBy(t, base)
			select {
			case at := <-returned:
				if d := at.Sub(start); d > writeTimeout+time.Second {
					t.Errorf("stalled download ended after %v; want within WriteTimeout %v + 1s", d, writeTimeout)
				}
			case <-time.After(writeTimeout + 5*time.Second):
				t.Fatalf("stalled download still running after %v", time.Since(start))
			}
			n, _ := io.Copy(io.Discard, br)
			if n >= int64(len(big)) {
				t.Errorf("stalled client got all %d bytes", n)
			}

			// A slow reader, taking several WriteTimeouts, gets everything.
			c2 := dialSmall(t, hostPort(base))
			fmt.Fprintf(c2, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got int64
			buf := make([]byte, 1<<20) // 16 reads, 150 ms apart: over 2 WriteTimeouts
			slowStart := time.Now()
			for {
				time.Sleep(150 * time.Millisecond)
				m, err := io.ReadFull(resp.Body, buf)
				got += int64(m)
				if err != nil {
					break
				}
			}
			if got != int64(len(big)) {
				t.Errorf("slow reader got %d bytes in %v; want %d", got, time.Since(slowStart), len(big))
			}
			<-returned
			if tc.name == "disk" && web.SendfileBytes(srv) == 0 {
				t.Error("no byte went by sendfile")
			}
		})
	}
}

// TestServer_hugeHeaders is HARDENING H7.
func TestServer_hugeHeaders(t *testing.T) {
	root, _ := newRoot(t)
	_, base := startServer(t, nil, newFileServer(root))
	hdr := "X-A: " + strings.Repeat("a", 2<<20) + "\r\n"
	code, _ := rawRequest(t, hostPort(base), "GET / HTTP/1.1\r\nHost: x\r\n"+hdr+"\r\n")
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("2 MB header = %d; want 431", code)
	}
}

// TestServer_bodyCap is HARDENING H8: a 16 MB POST to every route gets
// 413, with Content-Length and chunked.
func TestServer_bodyCap(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "a.txt", "a")
	mux := http.NewServeMux()
	mux.Handle("/", newFileServer(root))
	mux.HandleFunc("/RPC2", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write([]byte("ok"))
	})
	_, base := startServer(t, nil, mux)
	body := strings.Repeat("[1,", 16<<20/3)
	for _, route := range []string{"/", "/a.txt", "/RPC2", "/missing", "/.git/config"} {
		for _, chunked := range []bool{false, true} {
			if code := postRaw(t, hostPort(base), route, body, chunked); code != 413 {
				t.Errorf("POST 16 MB to %s (chunked %v) = %d; want 413", route, chunked, code)
			}
		}
	}
	// A small body is still allowed where a handler takes one.
	resp, got := do(t, nil, "POST", base+"/RPC2", nil, strings.NewReader("<methodCall/>"))
	if resp.StatusCode != 200 || got != "ok" {
		t.Errorf("small POST to /RPC2 = %d %q", resp.StatusCode, got)
	}
	// PUT raises the cap for itself: 2 MB is above the 1 MiB default.
	resp, _ = do(t, nil, "PUT", base+"/two.bin", alice, strings.NewReader(strings.Repeat("x", 2<<20)))
	if resp.StatusCode != 201 {
		t.Errorf("PUT of 2 MB = %d; want 201", resp.StatusCode)
	}
}

// postRaw POSTs body to target on a new connection, writing it while it
// reads the response (a server that refuses a body replies before the end
// of it, and a client like Go's may then fail with the write error), and
// returns the status code.
func postRaw(t *testing.T, addr, target, body string, chunked bool) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	framing := fmt.Sprintf("Content-Length: %d", len(body))
	if chunked {
		framing = "Transfer-Encoding: chunked"
		body = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	}
	go fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n\r\n%s", target, framing, body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServer_maxConnsPerIP(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "a.txt", "a")
	srv := &web.Server{Limits: web.Limits{MaxConnsPerIP: 2}}
	srv, base := startServer(t, srv, newFileServer(root))
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", hostPort(base))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	waitFor(t, func() bool { return srv.Stats().Active == 2 })
	code, _ := rawRequest(t, hostPort(base), "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	if code != 503 {
		t.Errorf("third connection = %d; want 503", code)
	}
	if st := srv.Stats(); st.Rejected != 1 {
		t.Errorf("Stats().Rejected = %d; want 1", st.Rejected)
	}
	held[0].Close()
	waitFor(t, func() bool { return srv.Stats().Active == 1 })
	servedBy(t, base)
}

func TestServer_http2TLS(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "a.txt", "a")
	writeFile(t, dir, "d.bin", "0123456789")
	srv := &web.Server{TLSConfig: testserver.ServerTLSConfig()}
	_, base := startServer(t, srv, newFileServer(root))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: testserver.ClientTLSConfig(), ForceAttemptHTTP2: true}}
	resp, body := do(t, c, "GET", base+"/d.bin", map[string]string{"Range": "bytes=3-4"}, nil)
	if resp.ProtoMajor != 2 || resp.StatusCode != 206 || body != "34" {
		t.Errorf("GET over TLS = %s %d %q; want HTTP/2.0 206 %q", resp.Proto, resp.StatusCode, body, "34")
	}
	resp, _ = do(t, c, "PUT", base+"/up.txt", alice, strings.NewReader("over h2"))
	if resp.StatusCode != 201 {
		t.Errorf("PUT over h2 = %d; want 201", resp.StatusCode)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "up.txt")); string(b) != "over h2" {
		t.Errorf("up.txt = %q", b)
	}
	resp, _ = do(t, c, "POST", base+"/", nil, strings.NewReader(strings.Repeat("x", 2<<20)))
	if resp.StatusCode != 413 {
		t.Errorf("2 MB POST over h2 = %d; want 413", resp.StatusCode)
	}
}

func TestServer_h2c(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "a.txt", "a")
	srv := &web.Server{H2C: true}
	_, base := startServer(t, srv, newFileServer(root))
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	resp, body := do(t, c, "GET", base+"/a.txt", nil, nil)
	if resp.ProtoMajor != 2 || body != "a" {
		t.Errorf("h2c GET = %s %q; want HTTP/2.0 %q", resp.Proto, body, "a")
	}
	// Without H2C, prior knowledge fails and HTTP/1.1 works.
	_, base1 := startServer(t, nil, newFileServer(root))
	if _, err := c.Get(base1 + "/a.txt"); err == nil {
		t.Error("h2c accepted by a server without H2C")
	}
	servedBy(t, base1)
}

func TestServer_shutdown(t *testing.T) {
	root, dir := newRoot(t)
	writeFile(t, dir, "a.txt", "a")
	started := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", newFileServer(root))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.Write([]byte("finished"))
	})
	srv := &web.Server{Handler: mux, Logger: quietLogger()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	base := "http://" + l.Addr().String()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", l.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	if s := <-got; s != "finished" {
		t.Errorf("in-flight request got %q; want finished", s)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
	if err := <-served; !errors.Is(err, web.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
	if st := srv.Stats(); st.Active != 0 {
		t.Errorf("Stats().Active = %d after Shutdown", st.Active)
	}
	var _ = tls.VersionTLS13
}

// TestServer_expectContinue checks that a PUT refused before its body is
// read gets its reply at once, without 100 Continue, and the connection
// closes rather than wait for the body.
func TestServer_expectContinue(t *testing.T) {
	root, _ := newRoot(t)
	_, base := startServer(t, nil, newFileServer(root))
	start := time.Now()
	code, resp := rawRequest(t, hostPort(base), "PUT /x.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if code != 401 || !strings.Contains(resp, "Connection: close") {
		t.Errorf("PUT with Expect and no credentials = %d\n%s; want 401 and Connection: close", code, resp)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("reply took %v", d)
	}
}

// A Server with a plain listener and a TLS one speaks HTTP/2 over TLS
// whichever starts first, and leaves the caller's TLS configuration as it
// was.
func TestServer_h2WithPlainListener(t *testing.T) {
	cfg := testserver.ServerTLSConfig()
	before := slices.Clone(cfg.NextProtos)
	s := &web.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), TLSConfig: cfg}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(plain)
	time.Sleep(50 * time.Millisecond) // let Serve set the server up first
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeTLS(tl)
	defer s.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: testserver.ClientTLSConfig(), ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + tl.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "HTTP/2.0" {
		t.Errorf("protocol over TLS = %q; want HTTP/2.0", body)
	}
	if !slices.Equal(cfg.NextProtos, before) {
		t.Errorf("the caller's NextProtos changed from %q to %q", before, cfg.NextProtos)
	}
}
