package gopher_test

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/gopher/gophertest"
)

// marker is the content of a file outside the served root: no answer may
// ever hold it.
const marker = "MARKER-outside-the-root"

// helloText is a text file with a line holding only "." in it: it is sent
// as it is.
const helloText = "Hello, gopher.\r\n.\r\nlast line\n"

// newTree makes a file tree in a temporary directory, with a file outside
// it that a symbolic link inside points to, and returns the tree opened as a
// fileroot.Root.
func newTree(t testing.TB) *fileroot.Root {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "root")
	files := map[string]string{
		"hello.txt":                 helloText,
		"docs/a.txt":                "a\n",
		"docs/pic.gif":              "GIF89a\x01\x00",
		"docs/photo.jpg":            "\xff\xd8\xff\xe0",
		"docs/page.html":            "<html></html>",
		"docs/arch.tar.gz":          "\x1f\x8b",
		"docs/mac.hqx":              "(This file must be converted with BinHex 4.0)",
		"docs/tune.mp3":             "ID3",
		"docs/data":                 "\x00\x01\x02",
		"docs/notes":                "plain words, no extension\n",
		"docs/sniffed":              "GIF89a",
		"docs/.secret":              "hidden",
		"docs/sub/deep.txt":         "deep\n",
		".hidden":                   "hidden",
		"mapped/gophermap":          "",
		"mapped/one.txt":            "one\n",
		"mapped/two.txt":            "two\n",
		"mapped/hidden.txt":         "hidden by the map\n",
		"evil\tX\tevil.example\t70": "evil",
		"a\r\nievil\t\t\t":          "evil",
		"ctl\x1b[31m":               "evil",
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
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(dir, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, filepath.Join(dir, "escapedir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("docs/a.txt", filepath.Join(dir, "inside.txt")); err != nil {
		t.Fatal(err)
	}
	root, err := fileroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

// writeFile replaces a file of the tree.
func writeFile(t testing.TB, root *fileroot.Root, name, data string) {
	t.Helper()
	u, err := root.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(u, data); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
}

// newServer starts a gophertest server for h with a request timeout of 2
// s, changed by configure, and closes it at the end of the test.
func newServer(t testing.TB, h gopher.Handler, configure ...func(*gopher.Server)) *gophertest.Server {
	t.Helper()
	s := gophertest.NewUnstartedServer(h)
	s.Config.IdleTimeout = 2 * time.Second
	for _, f := range configure {
		f(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// dial connects to addr and closes the connection at the end of the test.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends raw to the server at addr and returns everything it
// answers until it closes the connection (at most 10 s).
func exchange(t testing.TB, addr, raw string) string {
	t.Helper()
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v (after %q)", raw, err, b)
	}
	return string(b)
}

// port returns the port of a host:port.
func port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// menuLines returns the lines of a menu, checking that it ends with the
// "." line and that every line ends in CRLF.
func menuLines(t testing.TB, menu string) []string {
	t.Helper()
	if menu == ".\r\n" {
		return nil
	}
	if !strings.HasSuffix(menu, "\r\n.\r\n") {
		t.Fatalf("menu does not end with the . line: %q", menu)
	}
	lines := strings.Split(strings.TrimSuffix(menu, "\r\n.\r\n"), "\r\n")
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("bare CR or LF in menu line %q", l)
		}
	}
	return lines
}

// isErrorItem reports whether answer is a menu of one error item.
func isErrorItem(answer string) bool {
	return strings.HasPrefix(answer, "3") && strings.HasSuffix(answer, "\terror.host\t1\r\n.\r\n") &&
		strings.Count(answer, "\r\n") == 2
}

// slogTo returns a logger writing text to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
