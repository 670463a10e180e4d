package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"golang.org/x/net/http/httpguts"
)

// fastTree writes the files of the fast-path tests to a new directory: the
// small-file tests' files, a folder, a dotfile, names with reserved
// characters, symbolic links inside, outside and nowhere.
func fastTree(t testing.TB) (dir string, mt time.Time) {
	t.Helper()
	dir = t.TempDir()
	outside := t.TempDir()
	files := map[string][]byte{
		"a.bin":         make([]byte, 4096),
		"noext":         []byte("<html><body>hello</body></html>"),
		"plain":         bytes.Repeat([]byte("text "), 400),
		"t.txt":         bytes.Repeat([]byte("line\n"), 500),
		"short.txt":     []byte("short"),
		"empty.bin":     {},
		"max.bin":       make([]byte, smallFileMax),
		"big.bin":       make([]byte, smallFileMax+1),
		"epoch.bin":     []byte("epoch"),
		"page.html":     bytes.Repeat([]byte("<p>hi</p>\n"), 200),
		"sub/f.bin":     []byte("in a folder"),
		".hidden":       []byte("hidden"),
		"a:b@c;d=e.bin": []byte("reserved characters"),
		"sp ace.bin":    []byte("a space"),
		"é.bin":         []byte("not ascii"),
	}
	mt = time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	for name, b := range files {
		if strings.HasSuffix(name, ".bin") {
			rand.Read(b)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mt, mt)
	}
	os.Chtimes(filepath.Join(dir, "epoch.bin"), time.Unix(0, 0), time.Unix(0, 0))
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	for link, target := range map[string]string{
		"link": "a.bin", "escape": filepath.Join(outside, "secret"), "dangling": "nowhere", "sublink": "sub",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, mt
}

// serveFor starts s on a loopback port and returns its address; the test's
// cleanup closes it.
func serveFor(t *testing.T, s *Server) string {
	t.Helper()
	if s.Logger == nil {
		s.Logger = quietTestLogger()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

var dateField = regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)

// readRaw reads one response from br as it was sent, its Date replaced,
// for a request of method; "" and the error if there is none.
func readRaw(br *bufio.Reader, method string) (string, error) {
	var head strings.Builder
	status, length, chunked := 0, int64(-1), false
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			return head.String(), err
		}
		if status == 0 {
			if f := strings.Fields(line); len(f) >= 2 {
				status, _ = strconv.Atoi(f[1])
			}
			continue
		}
		if line == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		switch v = strings.TrimSpace(v); strings.ToLower(k) {
		case "content-length":
			length, _ = strconv.ParseInt(v, 10, 64)
		case "transfer-encoding":
			chunked = v == "chunked"
		}
	}
	raw := head.String()
	switch {
	case method == "HEAD" || status < 200 || status == 204 || status == 304:
	case chunked:
		for {
			line, err := br.ReadString('\n')
			raw += line
			if err != nil {
				return raw, err
			}
			n, err := strconv.ParseInt(strings.TrimRight(line, "\r\n"), 16, 64)
			if err != nil {
				return raw, err
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				return raw, err
			}
			raw += string(chunk)
			if n == 0 {
				break
			}
		}
	case length >= 0:
		b := make([]byte, length)
		_, err := io.ReadFull(br, b)
		raw += string(b)
		if err != nil {
			return raw, err
		}
	default:
		b, err := io.ReadAll(br)
		raw += string(b)
		if err == nil {
			err = io.EOF // the end of the body is the end of the connection
		}
		return dateField.ReplaceAllString(raw, "Date: (now)\r"), err
	}
	return dateField.ReplaceAllString(raw, "Date: (now)\r"), nil
}

// fastCase is a differential case: requests written at once on one
// connection, then, once their replies are read, a plain GET of short.txt.
type fastCase struct {
	name    string
	methods []string // the method of each request, for reading its reply
	raw     string
}

// readErr names the outcome of a failed read the same for both servers.
func readErr(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "<no reply>"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "<closed>"
	}
	return "<" + err.Error() + ">"
}

// transcript plays fc against addr: every reply, then the probe's reply or
// how the connection ended. A connection closed before or after the probe
// was written is the same: net/http resets a connection it closes with
// bytes unread (as it does after HTTP/2's preface check), the fast path
// has read them and closes it.
func transcript(t *testing.T, addr string, fc fastCase) string {
	return strings.ReplaceAll(playCase(t, addr, fc), "<probe><closed>", "<closed>")
}

func playCase(t *testing.T, addr string, fc fastCase) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var out strings.Builder
	if _, err := io.WriteString(c, fc.raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, m := range fc.methods {
		for {
			r, err := readRaw(br, m)
			out.WriteString(r)
			if err != nil {
				out.WriteString(readErr(err))
				return out.String()
			}
			if !strings.HasPrefix(r, "HTTP/1.1 100 ") {
				break
			}
		}
	}
	out.WriteString("<probe>")
	if _, err := io.WriteString(c, "GET /short.txt HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		out.WriteString(readErr(err))
		return out.String()
	}
	r, err := readRaw(br, "GET")
	out.WriteString(r)
	if err != nil {
		out.WriteString(readErr(err))
	}
	return out.String()
}

// fastCases returns requests of every kind the fast path answers or hands
// to net/http, for the files of fastTree; tag is a.bin's entity tag.
func fastCases(mt time.Time, tag string) []fastCase {
	var cs []fastCase
	add := func(name string, methods []string, raw string) {
		cs = append(cs, fastCase{name: name, methods: methods, raw: raw})
	}
	one := func(name, method, target, fields string) {
		add(name, []string{method}, method+" "+target+" HTTP/1.1\r\nHost: x\r\n"+fields+"\r\n")
	}
	paths := []string{"/a.bin", "/noext", "/plain", "/t.txt", "/short.txt", "/empty.bin", "/max.bin", "/big.bin",
		"/epoch.bin", "/page.html", "/sub/f.bin", "/sub", "/sub/", "/", "/nope", "/nope/x", "/a.bin/x", "/.hidden",
		"/link", "/escape", "/dangling", "/sublink/f.bin", "/a:b@c;d=e.bin", "/sp%20ace.bin", "/%C3%A9.bin",
		"/a%2Ebin", "/a.bin?x=1", "//a.bin", "/./a.bin", "/sub/../a.bin", "/sub//f.bin", "/a.bin/", "/a.bin#f",
		"/other", "/" + tempPrefixForTests + "x"}
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD"} {
			one(m+" "+p, m, p, "")
		}
	}
	fields := map[string]string{
		"keep-alive":        "Connection: keep-alive\r\n",
		"Keep-Alive":        "connection: Keep-Alive\r\n",
		"gzip":              "Accept-Encoding: gzip\r\n",
		"identity":          "Accept-Encoding: identity\r\n",
		"no encoding":       "Accept-Encoding:\r\n",
		"inm":               "If-None-Match: " + tag + "\r\n",
		"inm weak":          "If-None-Match: W/" + tag + "\r\n",
		"inm star":          "If-None-Match: *\r\n",
		"inm list":          "If-None-Match: \"x\", " + tag + "\r\n",
		"inm other":         "If-None-Match: \"x\"\r\n",
		"inm garbage":       "If-None-Match: garbage, " + tag + "\r\n",
		"inm empty":         "If-None-Match:\r\n",
		"ims":               "If-Modified-Since: " + mt.Format(http.TimeFormat) + "\r\n",
		"ims before":        "If-Modified-Since: " + mt.Add(-time.Second).Format(http.TimeFormat) + "\r\n",
		"ims after":         "If-Modified-Since: " + mt.Add(time.Hour).Format(http.TimeFormat) + "\r\n",
		"ims garbage":       "If-Modified-Since: garbage\r\n",
		"inm and ims":       "If-None-Match: \"x\"\r\nIf-Modified-Since: " + mt.Format(http.TimeFormat) + "\r\n",
		"ims and inm":       "If-Modified-Since: " + mt.Add(-time.Hour).Format(http.TimeFormat) + "\r\nIf-None-Match: " + tag + "\r\n",
		"lower case":        "if-none-match: " + tag + "\r\n",
		"spaces":            "If-None-Match:   " + tag + " \t\r\n",
		"range":             "Range: bytes=0-9\r\n",
		"if-range":          "If-Range: " + tag + "\r\nRange: bytes=1-2\r\n",
		"if-match":          "If-Match: \"x\"\r\n",
		"ius":               "If-Unmodified-Since: " + mt.Add(-time.Hour).Format(http.TimeFormat) + "\r\n",
		"authorization":     "Authorization: Basic YWxpY2U6c2VjcmV0\r\n",
		"upgrade":           "Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n",
		"content-length 0":  "Content-Length: 0\r\n",
		"trailer":           "Trailer: X\r\n",
		"two inm":           "If-None-Match: \"x\"\r\nIf-None-Match: " + tag + "\r\n",
		"two ims":           "If-Modified-Since: garbage\r\nIf-Modified-Since: " + mt.Format(http.TimeFormat) + "\r\n",
		"two connection":    "Connection: keep-alive\r\nConnection: keep-alive\r\n",
		"cookies and more":  "User-Agent: test/1.0\r\nAccept: */*\r\nCookie: a=b; c=d\r\nX-Empty:\r\nX-Obs: caf\xc3\xa9\r\n",
		"accept json":       "Accept: application/json\r\n",
		"cache-control":     "Cache-Control: no-cache\r\nPragma: no-cache\r\n",
		"space before host": "X:y\r\n",
	}
	for name, f := range fields {
		for _, p := range []string{"/a.bin", "/t.txt", "/plain", "/page.html", "/epoch.bin", "/empty.bin", "/sub"} {
			for _, m := range []string{"GET", "HEAD"} {
				one(m+" "+p+" "+name, m, p, f)
			}
		}
	}
	// Connection: close, HTTP/1.0, and malformed requests.
	for _, p := range []string{"/a.bin", "/nope"} {
		for _, m := range []string{"GET", "HEAD"} {
			add(m+" "+p+" close", []string{m}, m+" "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			add(m+" "+p+" keep-alive, close", []string{m}, m+" "+p+" HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n")
			add(m+" "+p+" HTTP/1.0", []string{m}, m+" "+p+" HTTP/1.0\r\nHost: x\r\n\r\n")
			add(m+" "+p+" HTTP/1.0 keep-alive", []string{m}, m+" "+p+" HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
			add(m+" "+p+" HTTP/1.0 no Host", []string{m}, m+" "+p+" HTTP/1.0\r\n\r\n")
		}
	}
	bad := map[string]string{
		"no Host":            "GET /a.bin HTTP/1.1\r\n\r\n",
		"two Hosts":          "GET /a.bin HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
		"bad Host":           "GET /a.bin HTTP/1.1\r\nHost: x y\r\n\r\n",
		"Host with NUL":      "GET /a.bin HTTP/1.1\r\nHost: x\x00\r\n\r\n",
		"empty Host":         "GET /a.bin HTTP/1.1\r\nHost:\r\n\r\n",
		"obs-fold":           "GET /a.bin HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
		"fold first":         "GET /a.bin HTTP/1.1\r\n Host: x\r\n\r\n",
		"bare LF":            "GET /a.bin HTTP/1.1\nHost: x\n\n",
		"bare LF in header":  "GET /a.bin HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
		"space in name":      "GET /a.bin HTTP/1.1\r\nHost: x\r\nX A: y\r\n\r\n",
		"space before colon": "GET /a.bin HTTP/1.1\r\nHost: x\r\nX : y\r\n\r\n",
		"no colon":           "GET /a.bin HTTP/1.1\r\nHost: x\r\nXy\r\n\r\n",
		"empty name":         "GET /a.bin HTTP/1.1\r\nHost: x\r\n: y\r\n\r\n",
		"CTL in value":       "GET /a.bin HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
		"DEL in value":       "GET /a.bin HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n",
		"CR in value":        "GET /a.bin HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
		"lower method":       "get /a.bin HTTP/1.1\r\nHost: x\r\n\r\n",
		"two spaces":         "GET  /a.bin HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.2":           "GET /a.bin HTTP/1.2\r\nHost: x\r\n\r\n",
		"HTTP/2.0":           "GET /a.bin HTTP/2.0\r\nHost: x\r\n\r\n",
		"http/1.1":           "GET /a.bin http/1.1\r\nHost: x\r\n\r\n",
		"absolute form":      "GET http://x/a.bin HTTP/1.1\r\nHost: x\r\n\r\n",
		"absolute escape":    "GET http://x/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"asterisk":           "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"no target":          "GET HTTP/1.1\r\nHost: x\r\n\r\n",
		"leading CRLF":       "\r\nGET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n",
		"NUL in path":        "GET /a\x00.bin HTTP/1.1\r\nHost: x\r\n\r\n",
		"backslash":          "GET /..\\..\\etc\\passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"traversal":          "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"escaped traversal":  "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"PRI":                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	}
	for name, raw := range bad {
		add(name, []string{"GET"}, raw)
	}
	// Bodies and Expect: net/http's.
	add("POST with a body", []string{"POST"}, "POST /a.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	add("GET with a body", []string{"GET"}, "GET /a.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	add("GET chunked", []string{"GET"}, "GET /a.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	add("GET expect", []string{"GET"}, "GET /a.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
	add("GET unknown expect", []string{"GET"}, "GET /a.bin HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n")
	add("PUT", []string{"PUT"}, "PUT /new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	add("DELETE", []string{"DELETE"}, "DELETE /a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	add("OPTIONS", []string{"OPTIONS"}, "OPTIONS /a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	// Pipelined: fast ones, then one for net/http, then fast ones again.
	seq := []string{"GET /a.bin", "HEAD /t.txt", "GET /short.txt", "GET /sub", "GET /a.bin", "HEAD /page.html", "GET /nope", "GET /empty.bin"}
	var raw strings.Builder
	var methods []string
	for _, r := range seq {
		m, target, _ := strings.Cut(r, " ")
		methods = append(methods, m)
		fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", m, target)
	}
	add("pipelined", methods, raw.String())
	add("pipelined, PRI", []string{"GET", "GET"}, "GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	add("pipelined, close", []string{"GET", "GET"}, "GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /t.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	add("pipelined, range", []string{"GET", "GET", "GET"}, "GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=5-6\r\n\r\nGET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	return cs
}

// fastCaseNames are the cases of fastCases that the fast path answers.
var fastCaseNames = func() map[string]bool {
	m := map[string]bool{"empty Host": true}
	for _, method := range []string{"GET", "HEAD"} {
		for _, p := range []string{"/a.bin", "/noext", "/plain", "/t.txt", "/short.txt", "/empty.bin", "/max.bin",
			"/epoch.bin", "/page.html", "/sub/f.bin", "/link", "/sublink/f.bin", "/a:b@c;d=e.bin"} {
			m[method+" "+p] = true
		}
		for _, p := range []string{"/a.bin", "/t.txt", "/plain", "/page.html", "/epoch.bin", "/empty.bin"} {
			for _, f := range []string{"keep-alive", "Keep-Alive", "inm", "inm weak", "inm star", "inm list", "inm other",
				"inm garbage", "inm empty", "ims", "ims before", "ims after", "ims garbage", "inm and ims", "ims and inm",
				"lower case", "spaces", "cookies and more", "accept json", "cache-control", "space before host"} {
				m[method+" "+p+" "+f] = true
			}
			// Accept-Encoding is net/http's for files it may compress.
			if p == "/a.bin" || p == "/epoch.bin" || p == "/empty.bin" {
				for _, f := range []string{"gzip", "identity", "no encoding"} {
					m[method+" "+p+" "+f] = true
				}
			}
		}
	}
	return m
}()

// tempPrefixForTests is fileroot's reserved prefix of temporary uploads.
const tempPrefixForTests = ".inetkit-upload-"

// TestFastLikeNetHTTP checks the fast path against net/http: every request
// of fastCases, on a Server that takes the fast path and on one that
// cannot, gets the same bytes back (but the Date), and the connection ends
// or stays the same way. For a fileroot.Root (read by ReadSmall), a MemFS
// and a read-only view (read through Open), with the FileServer as Handler
// or behind a mux through Server.Files.
func TestFastLikeNetHTTP(t *testing.T) {
	dir, mt := fastTree(t)
	root, err := fileroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	mem := fileroot.NewMemFS()
	fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil || p == ".":
		case d.IsDir():
			mem.Mkdir(p)
		case d.Type().IsRegular():
			u, _ := mem.Create(p)
			b, _ := os.ReadFile(filepath.Join(dir, p))
			u.Write(b)
			u.Close()
		}
		return nil
	})
	fi, _ := os.Stat(filepath.Join(dir, "a.bin"))
	for _, tc := range []struct {
		name string
		fsys fs.FS
		tag  string
	}{
		{"root", root, etag(fi)},
		{"readonly", fileroot.ReadOnly(root), etag(fi)},
		{"mem", mem, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsrv := &FileServer{FS: tc.fsys, Auth: func(context.Context, string, string) (bool, error) { return true, nil }, AuthFailureDelay: -1, Logger: quietTestLogger()}
			tag := tc.tag
			if tag == "" {
				f, fi, err := openInfo(tc.fsys, "a.bin")
				if err != nil {
					t.Fatal(err)
				}
				f.Close()
				tag = etag(fi)
			}
			other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other") })
			mux := http.NewServeMux()
			mux.Handle("/", fsrv)
			mux.Handle("/other", other)
			files := func(p string) *FileServer {
				if p == "/other" {
					return nil
				}
				return fsrv
			}
			pairs := []struct {
				name       string
				fast, slow *Server
			}{
				{"handler", &Server{Handler: fsrv}, &Server{Handler: http.HandlerFunc(fsrv.ServeHTTP)}},
				{"files", &Server{Handler: mux, Files: files}, &Server{Handler: mux}},
				{"h2c", &Server{Handler: fsrv, H2C: true}, &Server{Handler: http.HandlerFunc(fsrv.ServeHTTP), H2C: true}},
			}
			for _, p := range pairs {
				if tc.name != "root" && p.name != "handler" {
					continue // how the files are read matters for the handler alone
				}
				t.Run(p.name, func(t *testing.T) {
					fast, slow := serveFor(t, p.fast), serveFor(t, p.slow)
					for _, fc := range fastCases(mt, tag) {
						if p.name == "handler" && strings.Contains(fc.name, "/other") {
							continue
						}
						before := p.fast.fastN.Load()
						got, want := transcript(t, fast, fc), transcript(t, slow, fc)
						if got != want && os.Getenv("FASTDUMP") != "" {
							os.WriteFile(os.Getenv("FASTDUMP")+".got", []byte(got), 0o644)
							os.WriteFile(os.Getenv("FASTDUMP")+".want", []byte(want), 0o644)
						}
						if got != want {
							t.Errorf("%s:\n%q\nfast path:\n%s\nnet/http:\n%s", fc.name, fc.raw, clip(got), clip(want))
						}
						// The request and the probe if it is a plain one; none if
						// the connection went to net/http.
						n, wantN := p.fast.fastN.Load()-before, int64(0)
						if fastCaseNames[fc.name] && !(tc.name == "mem" && strings.Contains(fc.name, "link")) {
							wantN = 2 // MemFS has no symbolic links
						}
						if n != wantN && !strings.HasPrefix(fc.name, "pipelined") {
							t.Errorf("%s: %d replies by the fast path; want %d", fc.name, n, wantN)
						}
					}
				})
			}
		})
	}
}

// clip shortens a transcript for a failure message.
func clip(s string) string {
	if len(s) > 1500 {
		return fmt.Sprintf("%s... (%d bytes) ...%s", s[:700], len(s), s[len(s)-700:])
	}
	return s
}

// quietTestLogger discards everything.
func quietTestLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestParseFast(t *testing.T) {
	const ok, more, other = parseOK, parseMore, parseOther
	for _, tc := range []struct {
		name      string
		in        string
		res       parseResult
		n         int // for parseOK; 0 means len(in)
		head      bool
		path      string
		inm, ims  string
		acceptEnc bool
	}{
		{name: "get", in: "GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n", res: ok, path: "/a.bin"},
		{name: "head", in: "HEAD /a/b.c HTTP/1.1\r\nHost: x\r\n\r\n", res: ok, head: true, path: "/a/b.c"},
		{name: "pipelined", in: "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n", res: ok, n: 28, path: "/a"},
		{name: "fields", in: "GET /a HTTP/1.1\r\nhost: x\r\nIf-None-Match: \"t\" \r\nIF-MODIFIED-SINCE:\tMon\r\nAccept-Encoding: br\r\nConnection: Keep-Alive\r\nX-Y:\r\n\r\n",
			res: ok, path: "/a", inm: `"t"`, ims: "Mon", acceptEnc: true},
		{name: "reserved characters", in: "GET /a:b@c;d=e$&+,~_-.x HTTP/1.1\r\nHost: x\r\n\r\n", res: ok, path: "/a:b@c;d=e$&+,~_-.x"},
		{name: "empty", in: "", res: more},
		{name: "G", in: "G", res: more},
		{name: "HEA", in: "HEA", res: more},
		{name: "request line", in: "GET /a HTTP/1.1\r\n", res: more},
		{name: "half a field", in: "GET /a HTTP/1.1\r\nHost: x\r\nX-", res: more},
		{name: "no blank line", in: "GET /a HTTP/1.1\r\nHost: x\r\n", res: more},
		{name: "post", in: "POST /a HTTP/1.1\r\n", res: other},
		{name: "P", in: "P", res: other},
		{name: "lower case", in: "get /a HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "GETX", in: "GETX /a HTTP/1.1\r\n", res: other},
		{name: "HTTP/1.0", in: "GET /a HTTP/1.0\r\nHost: x\r\n\r\n", res: other},
		{name: "no proto", in: "GET /a\r\nHost: x\r\n\r\n", res: other},
		{name: "bare LF", in: "GET /a HTTP/1.1\nHost: x\n\n", res: other},
		{name: "no target", in: "GET  HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "root", in: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "folder", in: "GET /a/ HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "empty element", in: "GET /a//b HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "dot element", in: "GET /a/./b HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "dot-dot", in: "GET /a/../b HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "dotfile", in: "GET /.git/config HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "percent", in: "GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "query", in: "GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "fragment", in: "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "bang", in: "GET /a!b HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "not ASCII", in: "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "backslash", in: "GET /a\\b HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "absolute form", in: "GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n", res: other},
		{name: "no Host", in: "GET /a HTTP/1.1\r\n\r\n", res: other},
		{name: "two Hosts", in: "GET /a HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", res: other},
		{name: "bad Host", in: "GET /a HTTP/1.1\r\nHost: a b\r\n\r\n", res: other},
		{name: "empty Host", in: "GET /a HTTP/1.1\r\nHost:\r\n\r\n", res: ok, path: "/a"},
		{name: "fold", in: "GET /a HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", res: other},
		{name: "space before colon", in: "GET /a HTTP/1.1\r\nHost : x\r\n\r\n", res: other},
		{name: "no colon", in: "GET /a HTTP/1.1\r\nHost\r\n\r\n", res: other},
		{name: "control", in: "GET /a HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n", res: other},
		{name: "CR", in: "GET /a HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", res: other},
		{name: "content-length", in: "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", res: other},
		{name: "chunked", in: "GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", res: other},
		{name: "expect", in: "GET /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", res: other},
		{name: "upgrade", in: "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n", res: other},
		{name: "connection close", in: "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", res: other},
		{name: "connection list", in: "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, TE\r\n\r\n", res: other},
		{name: "range", in: "GET /a HTTP/1.1\r\nHost: x\r\nrange: bytes=0-1\r\n\r\n", res: other},
		{name: "if-range", in: "GET /a HTTP/1.1\r\nHost: x\r\nIf-Range: x\r\n\r\n", res: other},
		{name: "if-match", in: "GET /a HTTP/1.1\r\nHost: x\r\nIf-Match: *\r\n\r\n", res: other},
		{name: "if-unmodified-since", in: "GET /a HTTP/1.1\r\nHost: x\r\nIf-Unmodified-Since: x\r\n\r\n", res: other},
		{name: "authorization", in: "GET /a HTTP/1.1\r\nHost: x\r\nAuthorization: Basic x\r\n\r\n", res: other},
		{name: "trailer", in: "GET /a HTTP/1.1\r\nHost: x\r\nTrailer: x\r\n\r\n", res: other},
		{name: "two if-none-match", in: "GET /a HTTP/1.1\r\nHost: x\r\nIf-None-Match: a\r\nIf-None-Match: b\r\n\r\n", res: other},
		{name: "bad field early", in: "GET /a HTTP/1.1\r\nRange: x\r\nHost", res: other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req fastRequest
			n, res := parseFast([]byte(tc.in), &req)
			if res != tc.res {
				t.Fatalf("parseFast(%q) = %d, %v; want %v", tc.in, n, res, tc.res)
			}
			if res != parseOK {
				return
			}
			wantN := tc.n
			if wantN == 0 {
				wantN = len(tc.in)
			}
			got := fmt.Sprintf("%d %v %s %q %q %v", n, req.head, req.path, req.inm, req.ims, req.acceptEncoding)
			want := fmt.Sprintf("%d %v %s %q %q %v", wantN, tc.head, tc.path, tc.inm, tc.ims, tc.acceptEnc)
			if got != want {
				t.Errorf("parseFast(%q) = %s; want %s", tc.in, got, want)
			}
		})
	}
}

// FuzzParseFast checks parseFast against net/http: every request it takes
// is one net/http reads the same (the same length, method, path, and the
// fields the fast path answers by), accepts (valid names, values and
// Host), and hands to the FileServer as a plain GET or HEAD (no body,
// Range, preconditions but If-None-Match and If-Modified-Since, or
// credentials) of the name resolvePath gives without a redirect; and every
// part of it is only the start of a request.
func FuzzParseFast(f *testing.F) {
	for _, s := range []string{
		"GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /a/b.c HTTP/1.1\r\nHost: x:80\r\nIf-None-Match: \"t\"\r\nIf-Modified-Since: Mon, 06 May 2024 07:08:09 GMT\r\n\r\n",
		"GET /a HTTP/1.1\r\nhost: x\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\nUser-Agent: wrk\r\n\r\nGET /b HTTP/1.1\r\n",
		"GET /a:b@c;d HTTP/1.1\r\nHost: [::1]:8080\r\nX-Empty:\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n y\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
		"GET /a HTTP/1.1\nHost: x\n\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req fastRequest
		n, res := parseFast(b, &req)
		if res != parseOK {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("parseFast(%q) took %d bytes", b, n)
		}
		if len(b) <= 1024 {
			for k := range n {
				var r fastRequest
				if _, res := parseFast(b[:k], &r); res != parseMore {
					t.Fatalf("parseFast(%q) = %v, of the start of the request %q", b[:k], res, b[:n])
				}
			}
		}
		path, head, inm, ims, ae := string(req.path), req.head, string(req.inm), string(req.ims), req.acceptEncoding
		br := bufio.NewReaderSize(bytes.NewReader(b), len(b)+16)
		r, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("parseFast took %q; net/http: %v", b, err)
		}
		if used := len(b) - br.Buffered(); used != n {
			t.Fatalf("parseFast took %d bytes of %q; net/http %d", n, b, used)
		}
		wantMethod := "GET"
		if head {
			wantMethod = "HEAD"
		}
		if r.Method != wantMethod || r.Proto != "HTTP/1.1" || r.RequestURI != path || r.URL.Path != path ||
			r.URL.RawPath != "" || r.URL.RawQuery != "" || r.URL.Host != "" || r.Close {
			t.Fatalf("parseFast took %q as %s %s; net/http: %s %q %s path %q raw %q query %q close %v",
				b, wantMethod, path, r.Method, r.RequestURI, r.Proto, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Close)
		}
		if r.ContentLength != 0 || r.Body != http.NoBody || len(r.TransferEncoding) != 0 {
			t.Fatalf("parseFast took %q; net/http sees a body", b)
		}
		// ReadRequest drops the Host field, which net/http's server counts.
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
		tp.ReadLine()
		mh, err := tp.ReadMIMEHeader()
		if hosts := mh["Host"]; err != nil || len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) || hosts[0] != r.Host {
			t.Fatalf("parseFast took %q; net/http refuses its Host %q (%v)", b, hosts, err)
		}
		for k, vv := range r.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("parseFast took %q; net/http refuses the name %q", b, k)
			}
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("parseFast took %q; net/http refuses the value %q", b, v)
				}
			}
		}
		h := r.Header
		if h.Get("If-None-Match") != inm || h.Get("If-Modified-Since") != ims || (len(h["Accept-Encoding"]) > 0) != ae ||
			len(h["If-None-Match"]) > 1 || len(h["If-Modified-Since"]) > 1 {
			t.Fatalf("parseFast took %q with If-None-Match %q, If-Modified-Since %q, Accept-Encoding %v; net/http: %q",
				b, inm, ims, ae, h)
		}
		for _, k := range []string{"Range", "If-Range", "If-Match", "If-Unmodified-Since", "Authorization",
			"Expect", "Upgrade", "Content-Length", "Transfer-Encoding", "Trailer"} {
			if _, ok := h[k]; ok {
				t.Fatalf("parseFast took %q, with %s", b, k)
			}
		}
		if c := h["Connection"]; len(c) > 1 || len(c) == 1 && !strings.EqualFold(c[0], "keep-alive") {
			t.Fatalf("parseFast took %q, with Connection %q", b, c)
		}
		if name, slash, st := resolvePath(r.URL.Path); st != pathOK || slash || name != path[1:] {
			t.Fatalf("parseFast took %q; resolvePath(%q) = %q, %v, %v", b, r.URL.Path, name, slash, st)
		}
	})
}

// closedAfter reads c until the server closes it, for at most limit, and
// returns how long after start that was and what was read.
func closedAfter(t *testing.T, c net.Conn, start time.Time, limit time.Duration) (time.Duration, string) {
	t.Helper()
	c.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v (read %q)", limit, b)
	}
	return time.Since(start), string(b)
}

// TestFastTimeouts checks the fast path's timeouts against net/http's, on
// a Server with the fast path and one without: a connection's first
// request header is due ReadHeaderTimeout after the accept, a later one's
// ReadHeaderTimeout after its first 4 bytes, however slowly they keep
// coming, and also when the request turns out to be net/http's half way;
// a connection waits IdleTimeout for a request. Both close at the same
// time, after the same reply.
func TestFastTimeouts(t *testing.T) {
	dir, _ := fastTree(t)
	root, err := fileroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	const rht, idle = 500 * time.Millisecond, 1500 * time.Millisecond
	fsrv := &FileServer{FS: root}
	limits := Limits{ReadHeaderTimeout: rht, IdleTimeout: idle}
	fast := &Server{Handler: fsrv, Limits: limits}
	addrs := map[string]string{
		"fast":     serveFor(t, fast),
		"net/http": serveFor(t, &Server{Handler: http.HandlerFunc(fsrv.ServeHTTP), Limits: limits}),
	}
	// get sends a plain GET on c and reads its reply.
	get := func(t *testing.T, c net.Conn, br *bufio.Reader) {
		t.Helper()
		io.WriteString(c, "GET /short.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if r, err := readRaw(br, "GET"); err != nil || !strings.HasSuffix(r, "short") {
			t.Fatalf("GET: %q, %v", r, err)
		}
	}
	// trickle writes b a byte at a time from after.
	trickle := func(t *testing.T, c net.Conn, after time.Duration, b string) {
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop) })
		go func() {
			select {
			case <-stop:
				return
			case <-time.After(after):
			}
			for i := range len(b) {
				if _, err := c.Write([]byte{b[i]}); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	t.Run("in two parts", func(t *testing.T) {
		c, err := net.Dial("tcp", addrs["fast"])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		get(t, c, br)
		n := fast.fastN.Load()
		io.WriteString(c, "GET /short.txt HTTP/1.1\r\n")
		time.Sleep(rht / 2)
		io.WriteString(c, "Host: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if r, err := readRaw(br, "GET"); err != nil || !strings.HasSuffix(r, "short") {
			t.Fatalf("GET in two parts: %q, %v", r, err)
		}
		if fast.fastN.Load() != n+1 {
			t.Error("a request in two parts was not answered by the fast path")
		}
		// The header timeout is over: idle again.
		time.Sleep(rht)
		get(t, c, br)
	})
	for _, tc := range []struct {
		name   string
		lo, hi time.Duration // when the connection closes, after start
		play   func(t *testing.T, c net.Conn, br *bufio.Reader) (start time.Time)
	}{
		{"silent", rht, rht + 300*time.Millisecond, func(t *testing.T, c net.Conn, br *bufio.Reader) time.Time {
			return time.Now()
		}},
		{"first header", rht, rht + 300*time.Millisecond, func(t *testing.T, c net.Conn, br *bufio.Reader) time.Time {
			io.WriteString(c, "GET /a.bin HTTP/1.1\r\n")
			return time.Now()
		}},
		{"idle", idle, idle + 300*time.Millisecond, func(t *testing.T, c net.Conn, br *bufio.Reader) time.Time {
			get(t, c, br)
			return time.Now()
		}},
		{"three bytes", idle, idle + 300*time.Millisecond, func(t *testing.T, c net.Conn, br *bufio.Reader) time.Time {
			get(t, c, br)
			start := time.Now()
			io.WriteString(c, "GET")
			return start
		}},
		{"trickle", 200*time.Millisecond + rht, 200*time.Millisecond + rht + 300*time.Millisecond, func(t *testing.T, c net.Conn, br *bufio.Reader) time.Time {
			get(t, c, br)
			start := time.Now()
			trickle(t, c, 0, "GET /a.bin HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
			return start
		}},
		{"trickle after idle", rht + 200*time.Millisecond + rht, rht + 200*time.Millisecond + rht + 300*time.Millisecond, func(t *testing.T, c net.Conn, br *bufio.Reader) time.Time {
			get(t, c, br)
			start := time.Now()
			trickle(t, c, rht, "GET /a.bin HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
			return start
		}},
		{"handed over half way", rht, rht + 300*time.Millisecond, func(t *testing.T, c net.Conn, br *bufio.Reader) time.Time {
			get(t, c, br)
			start := time.Now()
			io.WriteString(c, "GET /a.bin HTTP/1.1\r\nHost: x\r\n")
			time.Sleep(rht * 3 / 5)
			io.WriteString(c, "Range: bytes=0-1\r\n") // net/http's from here on
			return start
		}},
		{"POST half way", rht, rht + 300*time.Millisecond, func(t *testing.T, c net.Conn, br *bufio.Reader) time.Time {
			get(t, c, br)
			start := time.Now()
			io.WriteString(c, "POST /a.bin HTTP/1.1\r\n")
			return start
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, name := range []string{"fast", "net/http"} {
				c, err := net.Dial("tcp", addrs[name])
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				start := tc.play(t, c, bufio.NewReader(c))
				d, b := closedAfter(t, c, start, 5*time.Second)
				if d < tc.lo-50*time.Millisecond || d > tc.hi+time.Second {
					t.Errorf("%s: closed after %v; want %v to %v", name, d, tc.lo, tc.hi)
				}
				got = append(got, b)
			}
			if got[0] != got[1] {
				t.Errorf("fast path: closed after %q; net/http after %q", got[0], got[1])
			}
		})
	}
}

// TestFastShutdown checks Shutdown with fast connections: those waiting for
// a request are closed at once, one in the middle of a request header gets
// no reply once it is whole (as net/http does), one handed to net/http is
// net/http's to close; Shutdown returns, Serve returns ErrServerClosed and
// no connection is left.
func TestFastShutdown(t *testing.T) {
	dir, _ := fastTree(t)
	root, err := fileroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	s := &Server{Handler: &FileServer{FS: root}, Logger: quietTestLogger()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	exchange := func(c net.Conn, br *bufio.Reader, req string) {
		t.Helper()
		io.WriteString(c, req)
		if _, err := readRaw(br, "GET"); err != nil {
			t.Fatal(err)
		}
	}
	idle, idleBR := dial()
	exchange(idle, idleBR, "GET /short.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	silent, _ := dial()
	handed, handedBR := dial()
	exchange(handed, handedBR, "GET /short.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n")
	half, halfBR := dial()
	exchange(half, halfBR, "GET /short.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	io.WriteString(half, "GET /short.txt HTTP/1.1\r\n")
	waitFor := func(cond func() bool) {
		t.Helper()
		for range 500 {
			if cond() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("condition not met")
	}
	waitFor(func() bool {
		s.fastMu.Lock()
		defer s.fastMu.Unlock()
		busy := 0
		for fc := range s.fastConns {
			if fc.state.Load() == fastBusy {
				busy++
			}
		}
		return s.Stats().Active == 4 && busy == 1
	})
	start := time.Now()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	for name, c := range map[string]net.Conn{"idle": idle, "silent": silent, "handed over": handed} {
		if d, b := closedAfter(t, c, start, 5*time.Second); d > 2*time.Second || b != "" {
			t.Errorf("%s connection: closed after %v, read %q", name, d, b)
		}
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown() = %v with a request half read", err)
	case <-time.After(200 * time.Millisecond):
	}
	io.WriteString(half, "Host: x\r\n\r\n")
	if _, b := closedAfter(t, half, start, 5*time.Second); b != "" {
		t.Errorf("a request read while shutting down got %q", b)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
	if st := s.Stats(); st.Active != 0 {
		t.Errorf("Stats().Active = %d after Shutdown", st.Active)
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts")
	}
}

// FuzzFastLikeNetHTTP sends a GET or HEAD of one of fastTree's paths with
// any values of the fields the fast path reads (and one it does not) to a
// Server with the fast path and to one without, and compares their
// transcripts, as TestFastLikeNetHTTP does.
func FuzzFastLikeNetHTTP(f *testing.F) {
	f.Add(false, uint8(0), "", "", "", "", "")
	f.Add(true, uint8(2), `"x", W/"y"`, "Mon, 06 May 2024 07:08:09 GMT", "gzip;q=0", "keep-alive", "a")
	f.Add(false, uint8(3), "*", "garbage", "", "Keep-Alive", "\x01")
	f.Add(false, uint8(1), "", "Mon, 06 May 2024 07:08:10 GMT", "", "", "caf\xc3\xa9")
	dir, _ := fastTree(f)
	root, err := fileroot.Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	fsrv := &FileServer{FS: root}
	start := func(s *Server) string {
		s.Logger = quietTestLogger()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.Fatal(err)
		}
		go s.Serve(l)
		f.Cleanup(func() { s.Close() })
		return l.Addr().String()
	}
	fast := start(&Server{Handler: fsrv})
	slow := start(&Server{Handler: http.HandlerFunc(fsrv.ServeHTTP)})
	paths := []string{"/a.bin", "/t.txt", "/plain", "/page.html", "/epoch.bin", "/empty.bin", "/noext", "/big.bin", "/sub", "/nope"}
	f.Fuzz(func(t *testing.T, head bool, path uint8, inm, ims, ae, conn, other string) {
		var b strings.Builder
		method := "GET"
		if head {
			method = "HEAD"
		}
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: x\r\n", method, paths[int(path)%len(paths)])
		for _, kv := range [][2]string{{"If-None-Match", inm}, {"If-Modified-Since", ims}, {"Accept-Encoding", ae},
			{"Connection", conn}, {"X-Other", other}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "%s: %s\r\n", kv[0], strings.NewReplacer("\r", "", "\n", "").Replace(kv[1]))
			}
		}
		b.WriteString("\r\n")
		fc := fastCase{name: "fuzz", methods: []string{method}, raw: b.String()}
		if got, want := transcript(t, fast, fc), transcript(t, slow, fc); got != want {
			t.Fatalf("%q:\nfast path:\n%s\nnet/http:\n%s", fc.raw, clip(got), clip(want))
		}
	})
}
