package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/web"
)

// run runs a peer program and returns its standard output, failing t if
// it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func TestInterop_python(t *testing.T) {
	python := peers.Need(t, "python3")
	root, dir := newRoot(t)
	writeFile(t, dir, "d.bin", "0123456789")
	_, base := startServer(t, nil, newFileServer(root))
	script := `
import base64, http.client, sys, urllib.request
base, hostport = sys.argv[1], sys.argv[2]
req = urllib.request.Request(base + "/d.bin", headers={"Range": "bytes=4-6"})
with urllib.request.urlopen(req) as r:
    print(r.status, r.headers["Content-Range"], r.read().decode())
c = http.client.HTTPConnection(hostport)
auth = "Basic " + base64.b64encode(b"alice:secret").decode()
c.request("PUT", "/py/up.txt", body=b"from python", headers={"Authorization": auth})
r = c.getresponse(); r.read()
print(r.status)
c.request("PUT", "/py/up.txt", body=b"again", headers={"Authorization": auth})
r = c.getresponse(); r.read()
print(r.status)
c.request("PUT", "/py/x.txt", body=b"no")
r = c.getresponse(); r.read()
print(r.status, r.headers["WWW-Authenticate"])
`
	got := run(t, python, "-c", script, base, hostPort(base))
	want := "206 bytes 4-6/10 456\n201\n204\n401 Basic realm=\"inetkit\", charset=\"UTF-8\"\n"
	if got != want {
		t.Errorf("python printed %q; want %q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "py", "up.txt")); string(b) != "again" {
		t.Errorf("py/up.txt = %q", b)
	}
}

func TestInterop_curl(t *testing.T) {
	curl := peers.Need(t, "curl")
	root, dir := newRoot(t)
	big := strings.Repeat("curl resumes this file. ", 10000)
	writeFile(t, dir, "big.txt", big)
	tmp := t.TempDir()

	t.Run("resume", func(t *testing.T) {
		_, base := startServer(t, nil, newFileServer(root))
		out := filepath.Join(tmp, "partial.txt")
		os.WriteFile(out, []byte(big[:1000]), 0o644)
		run(t, curl, "-sS", "--fail", "-C", "-", "-o", out, base+"/big.txt")
		if b, _ := os.ReadFile(out); string(b) != big {
			t.Errorf("resumed file has %d bytes; want %d", len(b), len(big))
		}
	})
	t.Run("upload", func(t *testing.T) {
		_, base := startServer(t, nil, newFileServer(root))
		src := filepath.Join(tmp, "up.txt")
		os.WriteFile(src, []byte("uploaded by curl"), 0o644)
		code := run(t, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", src, "-u", "alice:secret", base+"/curl/")
		if code != "201" {
			t.Errorf("curl -T = %s; want 201", code)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "curl", "up.txt")); string(b) != "uploaded by curl" {
			t.Errorf("curl/up.txt = %q", b)
		}
		code = run(t, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", src, base+"/curl/x.txt")
		if code != "401" {
			t.Errorf("curl -T without -u = %s; want 401", code)
		}
	})
	t.Run("http2 TLS", func(t *testing.T) {
		_, _, caFile, err := testcert.WriteFiles(tmp)
		if err != nil {
			t.Fatal(err)
		}
		srv := &web.Server{TLSConfig: testserver.ServerTLSConfig()}
		_, base := startServer(t, srv, newFileServer(root))
		out := run(t, curl, "-sS", "--fail", "--http2", "--cacert", caFile, "-o", "/dev/null", "-w", "%{http_version} %{size_download}", strings.Replace(base, "127.0.0.1", "localhost", 1)+"/big.txt")
		if want := "2 " + strconv.Itoa(len(big)); out != want {
			t.Errorf("curl --http2 printed %q; want %q", out, want)
		}
	})
	t.Run("h2c", func(t *testing.T) {
		_, base := startServer(t, &web.Server{H2C: true}, newFileServer(root))
		out := run(t, curl, "-sS", "--fail", "--http2-prior-knowledge", "-r", "0-3", "-w", " %{http_version} %{http_code}", base+"/big.txt")
		if out != "curl 2 206" {
			t.Errorf("curl --http2-prior-knowledge printed %q; want %q", out, "curl 2 206")
		}
	})
}

// TestInterop_chromium loads the listing in a headless browser: the name
// that is markup stays text.
func TestInterop_chromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium := peers.Need(t, "chromium")
	root, dir := newRoot(t)
	writeFile(t, dir, "<img src=x onerror=alert(1)>.txt", "x")
	writeFile(t, dir, "sub/ok.txt", "x")
	_, base := startServer(t, nil, newFileServer(root))
	dom := run(t, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--dump-dom", base+"/")
	if strings.Contains(dom, "<img") {
		t.Errorf("the browser built an <img> element:\n%s", dom)
	}
	for _, want := range []string{"&lt;img src=x onerror=alert(1)&gt;.txt", `href="./sub/"`, "Index of /"} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %q:\n%s", want, dom)
		}
	}
}
