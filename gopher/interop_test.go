//go:build unix

package gopher_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/internal/peers"
)

// TestInterop_curl fetches menus, files and a search from our server with
// curl, which must see exactly what the server sends.
func TestInterop_curl(t *testing.T) {
	curl := peers.Need(t, "curl")
	s := newServer(t, gopher.FileServer(newTree(t), &gopher.FileServerOptions{
		Search: func(_ context.Context, q string) (string, error) {
			return strings.ReplaceAll(strings.ToUpper(q), "ß", "SS"), nil
		},
	}))
	for _, tc := range []struct{ path, request string }{
		{"/", "\r\n"},
		{"/1/", "/\r\n"},
		{"/1/docs", "/docs\r\n"},
		{"/1/mapped", "/mapped\r\n"},
		{"/0/hello.txt", "/hello.txt\r\n"},
		{"/9/docs/data", "/docs/data\r\n"},
		{"/0/caps.txt", "caps.txt\r\n"},
		{"/7/search%09stra%C3%9Fe", "/search\tstraße\r\n"},
		{"/0/..%2F..%2Fetc%2Fpasswd", "/../../etc/passwd\r\n"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, curl, "-sS", "--max-time", "10", "gopher://"+s.Addr+tc.path).Output()
		cancel()
		if err != nil {
			t.Errorf("curl %s: %v", tc.path, err)
			continue
		}
		if want := exchange(t, s.Addr, tc.request); string(out) != want {
			t.Errorf("curl %s:\n%q\nwant (as sent for %q):\n%q", tc.path, out, tc.request, want)
		}
		if tc.path == "/7/search%09stra%C3%9Fe" && !strings.HasPrefix(string(out), "iSTRASSE\t") {
			t.Errorf("search through curl: %q", out)
		}
	}
}

// startGophernicus runs gophernicus on a loopback port, inetd-style under
// socat, serving a copy of files, and returns its address. As root it runs
// as nobody: gophernicus refuses to run as root.
func startGophernicus(t *testing.T, files map[string]string) string {
	t.Helper()
	progs := peers.NeedAll(t, "gophernicus", "socat")
	dir, err := os.MkdirTemp("", "gophernicus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	listen := fmt.Sprintf("TCP-LISTEN:%s,bind=127.0.0.1,fork,reuseaddr", port)
	if os.Geteuid() == 0 {
		listen += ",su=nobody"
	}
	cmd := exec.Command(progs[1], listen,
		// gophernicus exits 1 after an error item; socat, seeing a child
		// fail, may then drop the reply still in the pipe, so the shell
		// exits 0. -nm: no throttle state shared between runs.
		fmt.Sprintf("SYSTEM:%s -h 127.0.0.1 -p %s -r %s -nf -nm; exit 0", progs[0], port, dir))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("gophernicus did not start on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInterop_gophernicus runs our client against gophernicus: its menus
// (with a gophermap, info lines and a URL: link), a text file, a folder
// listing and caps.txt.
func TestInterop_gophernicus(t *testing.T) {
	addr := startGophernicus(t, map[string]string{
		"hello.txt":  "hello from gophernicus\n",
		"docs/a.txt": "a\n",
		"gophermap":  "iWelcome\thi\nhWeb\tURL:https://example.org/\n1Docs\t/docs\n*\n",
	})
	c := &gopher.Client{Timeout: 10 * time.Second}
	ctx := context.Background()

	resp, err := c.Get(ctx, "gopher://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	items, err := resp.Menu()
	if err != nil {
		t.Fatal(err)
	}
	byDisplay := map[string]gopher.Item{}
	for _, it := range items {
		byDisplay[strings.Fields(it.Display + " x")[0]] = it
	}
	if it := byDisplay["Welcome"]; it.Type != gopher.TypeInfo {
		t.Errorf("info line: %+v", it)
	}
	if u, ok := byDisplay["Web"].WebURL(); !ok || u != "https://example.org/" || byDisplay["Web"].URL() != u {
		t.Errorf("web link: %+v", byDisplay["Web"])
	}
	docs := byDisplay["Docs"]
	if docs.Type != gopher.TypeMenu || docs.Selector != "/docs" || docs.Host != "127.0.0.1" {
		t.Errorf("Docs item: %+v", docs)
	}
	hello, ok := byDisplay["hello.txt"]
	if !ok || hello.Type != gopher.TypeText {
		t.Fatalf("hello.txt not listed as text: %+v", items)
	}

	// Follow the listed file: gophernicus sends text with CRLF line ends
	// and, like us, no "." line.
	resp, err = c.Get(ctx, hello.URL())
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.Text()); strings.ReplaceAll(got, "\r\n", "\n") != "hello from gophernicus\n" {
		t.Errorf("hello.txt: %q", resp.Body)
	}

	// A folder listing, followed from the map's item.
	resp, err = c.Get(ctx, docs.URL())
	if err != nil {
		t.Fatal(err)
	}
	items, _ = resp.Menu()
	found := false
	for _, it := range items {
		if it.Type == gopher.TypeText && it.Selector == "/docs/a.txt" {
			found = true
		}
	}
	if !found {
		t.Errorf("/docs listing lacks a.txt: %+v", items)
	}

	resp, err = c.Get(ctx, "gopher://"+addr+"/0caps.txt")
	if err != nil || !strings.HasPrefix(string(resp.Body), "CAPS") {
		t.Errorf("caps.txt: %q, %v", resp.Body, err)
	}
}
