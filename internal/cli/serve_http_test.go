package cli

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/store"
	"github.com/inetkit/inetkit/web"
)

// webServe runs `inetkit serve ftp http gopher` in process on free
// loopback ports over a temporary data directory.
func webServe(t *testing.T, extra ...string) (*mainServer, string) {
	t.Helper()
	data := t.TempDir()
	args := append([]string{"serve", "ftp", "http", "gopher", "--data", data,
		"--ftp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--gopher-addr", "127.0.0.1:0"}, extra...)
	return startMain(t, []string{"ftp", "http", "gopher"}, args...), data
}

// The path: a file put over FTP is fetched over HTTP with a Range
// (Python's urllib) and over Gopher (curl), and its folder is listed alike
// over all three; XML-RPC's upper answers Python's ServerProxy.
func TestServeHTTPGopher_oneFileTree(t *testing.T) {
	srv, data := webServe(t)
	content := strings.Repeat("0123456789abcdef", 4096) + "end\n"
	src := writeTemp(t, content)
	os.MkdirAll(filepath.Join(data, "files", "docs"), 0o750)
	if code, _, stderr := runMain(t, "", "put", "--data", data, "ftp://alice%40example.org:pw@"+srv.addrs["ftp"]+"/docs/file.txt", src); code != exitOK {
		t.Fatalf("put ftp:// = %d, %q", code, stderr)
	}

	script := `import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Range": "bytes=65530-"})
with urllib.request.urlopen(req) as r:
    sys.stdout.write("%d %s %s" % (r.status, r.headers["Content-Range"], r.read().decode()))
`
	stdout, stderr, code := runPython(t, 30*time.Second, "-c", script, "http://"+srv.addrs["http"]+"/docs/file.txt")
	if want := "206 bytes 65530-65539/65540 abcdefend\n"; code != 0 || stdout != want {
		t.Errorf("urllib Range = %d, %q, %q; want %q", code, stdout, stderr, want)
	}

	out, errOut, code := curl(t, "gopher://"+srv.addrs["gopher"]+"/0/docs/file.txt")
	if code != 0 || out != content {
		t.Errorf("curl gopher:// = %d, %d bytes, %q; want the file", code, len(out), errOut)
	}

	// The folder, listed over FTP, HTTP and Gopher.
	os.WriteFile(filepath.Join(data, "files", "docs", "b.txt"), []byte("b\n"), 0o640)
	os.Mkdir(filepath.Join(data, "files", "docs", "sub"), 0o750)
	names := func(args ...string) []string {
		t.Helper()
		code, stdout, stderr := runMain(t, "", append([]string{"get", "--data", data, "--json"}, args...)...)
		if code != exitOK {
			t.Fatalf("get %q = %d, %q", args, code, stderr)
		}
		var doc struct {
			Entries []struct{ Name, Type string }
			Items   []struct{ Name, Type string }
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("get %q: %v in %q", args, err, stdout)
		}
		var out []string
		for _, e := range doc.Entries {
			out = append(out, e.Type+" "+e.Name)
		}
		for _, it := range doc.Items {
			out = append(out, strings.NewReplacer("menu", "dir", "text", "file").Replace(it.Type)+" "+it.Name)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"dir sub", "file b.txt", "file file.txt"}
	for _, u := range []string{"ftp://" + srv.addrs["ftp"] + "/docs/", "http://" + srv.addrs["http"] + "/docs/", "gopher://" + srv.addrs["gopher"] + "/1/docs"} {
		if diff := cmp.Diff(want, names(u)); diff != "" {
			t.Errorf("listing of %s (-want +got):\n%s", u, diff)
		}
	}
	// The Gopher menu as a table.
	code, stdout, stderr = runMain(t, "", "get", "gopher://"+srv.addrs["gopher"]+"/1/docs")
	if code != exitOK || !regexp.MustCompile(`(?m)^TYPE +NAME +SELECTOR\nmenu +sub +/docs/sub\ntext +b\.txt +/docs/b\.txt\ntext +file\.txt +/docs/file\.txt\n$`).MatchString(stdout) {
		t.Errorf("gopher menu table = %d, %q, %q", code, stdout, stderr)
	}

	stdout, stderr, code = runPython(t, 30*time.Second, "-c",
		`import sys, xmlrpc.client; print(xmlrpc.client.ServerProxy(sys.argv[1]).upper("straße"))`, "http://"+srv.addrs["http"]+"/RPC2")
	if code != 0 || stdout != "STRASSE\n" {
		t.Errorf("ServerProxy.upper('straße') = %d, %q, %q; want STRASSE", code, stdout, stderr)
	}
}

// put http then get http: to stdout, -o, -O, -I, --json, --continue
// (206 from the offset, 416 when complete), into a folder URL, from stdin;
// the type-7 search of gopher; the failures are exit 1 and one line.
func TestHTTPPutGet(t *testing.T) {
	srv, data := webServe(t)
	base := "http://" + srv.addrs["http"]
	content := strings.Repeat("line of text\n", 5000)
	src := writeTemp(t, content)
	if code, stdout, stderr := runMain(t, "", "put", "-u", "bob:pw", base+"/a/b.txt", src); code != exitOK || stdout != "" || stderr != "" {
		t.Fatalf("put http:// = %d, %q, %q; want 0 and no output", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "files", "a", "b.txt")); string(b) != content {
		t.Fatalf("the file put has %d bytes; want %d", len(b), len(content))
	}
	if code, _, stderr := runMain(t, "", "put", "-u", "bob:", base+"/a/", src); code != exitOK {
		t.Fatalf("put into a folder URL = %d, %q", code, stderr)
	}
	if code, _, stderr := runMain(t, "piped", "put", "http://u:p@"+srv.addrs["http"]+"/a/stdin.txt", "-"); code != exitOK {
		t.Fatalf("put - = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "files", "a", "stdin.txt")); string(b) != "piped" {
		t.Errorf("put - stored %q", b)
	}
	if code, stdout, stderr := runMain(t, "", "get", base+"/a/b.txt"); code != exitOK || stdout != content {
		t.Errorf("get = %d, %d bytes, %q", code, len(stdout), stderr)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	if code, stdout, stderr := runMain(t, "", "get", "-O", base+"/a/src"); code != exitOK || stdout != "" {
		t.Errorf("get -O = %d, %q, %q", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "src")); string(b) != content {
		t.Errorf("get -O wrote %d bytes; want %d", len(b), len(content))
	}

	// --continue: from the size of the -o file.
	out := filepath.Join(dir, "part")
	os.WriteFile(out, []byte(content[:1000]), 0o644)
	if code, _, stderr := runMain(t, "", "get", "-o", out, "--continue", base+"/a/b.txt"); code != exitOK || stderr != "" {
		t.Errorf("get --continue = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != content {
		t.Errorf("get --continue left %d bytes; want %d", len(b), len(content))
	}
	if code, _, stderr := runMain(t, "", "get", "-o", out, "--continue", base+"/a/b.txt"); code != exitOK || !strings.Contains(stderr, "is complete") {
		t.Errorf("get --continue of a complete file = %d, %q", code, stderr)
	}
	os.WriteFile(out, []byte(content+"more"), 0o644)
	if code, _, stderr := runMain(t, "", "get", "-o", out, "--continue", base+"/a/b.txt"); code != exitError || !strings.Contains(stderr, "not a part of it") {
		t.Errorf("get --continue of a longer file = %d, %q", code, stderr)
	}

	code, stdout, stderr := runMain(t, "", "get", "-I", base+"/a/b.txt")
	if code != exitOK || !strings.HasPrefix(stdout, "HTTP/1.1 200 OK\n") || !strings.Contains(stdout, "\nContent-Length: 65000\n") || !strings.Contains(stdout, "\nAccept-Ranges: bytes\n") {
		t.Errorf("get -I = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "", "get", "--json", base+"/a/")
	var listing struct {
		Path    string
		Entries []struct{ Name, Type, URL string }
	}
	if err := json.Unmarshal([]byte(stdout), &listing); code != exitOK || err != nil || listing.Path != "/a/" || len(listing.Entries) != 3 || listing.Entries[0].URL != "/a/b.txt" {
		t.Errorf("get --json = %d, %q, %q (%v)", code, stdout, stderr, err)
	}

	code, stdout, stderr = runMain(t, "", "get", "gopher://"+srv.addrs["gopher"]+"/7/search?straße")
	if code != exitOK || !regexp.MustCompile(`(?m)^info +STRASSE *$`).MatchString(stdout) {
		t.Errorf("gopher search ?straße = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, _ = runMain(t, "", "get", "gopher://"+srv.addrs["gopher"]+"/7/search%09abc")
	if code != exitOK || !strings.Contains(stdout, "ABC") {
		t.Errorf("gopher search %%09abc = %d, %q", code, stdout)
	}
	if code, stdout, _ := runMain(t, "", "get", "gopher://"+srv.addrs["gopher"]+"/0/a/stdin.txt"); code != exitOK || stdout != "piped" {
		t.Errorf("gopher file = %d, %q", code, stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"404", []string{"get", base + "/nope"}, "HTTP/1.1 404 Not Found"},
		{"404 with -I", []string{"get", "-I", base + "/nope"}, "HTTP/1.1 404 Not Found"},
		{"no credentials", []string{"put", base + "/x", src}, "401 Unauthorized (give -u USER:PASS)"},
		{"json of a file", []string{"get", "--json", base + "/a/b.txt"}, "--json: the server sent text/plain"},
		{"refused", []string{"get", "http://127.0.0.1:1/"}, "connection refused: nothing listens on 127.0.0.1:1"},
		{"gopher not found", []string{"get", "gopher://" + srv.addrs["gopher"] + "/0/nope"}, "the server says: Not found"},
		{"gopher refused", []string{"get", "gopher://127.0.0.1:1/"}, "connection refused: nothing listens on 127.0.0.1:1"},
	} {
		code, _, stderr := runMain(t, "", tc.args...)
		if code != exitError || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "inetkit: ") || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: %q = %d, %q; want exit 1 and one line with %q", tc.name, tc.args, code, stderr, tc.want)
		}
	}
}

// Under --auth accounts a wrong password gets 401 and is never shown; the
// right one writes.
func TestHTTPWrongPassword(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := runMain(t, "s3cret\n", "user", "add", "--data", data, "alice@example.org"); code != exitOK {
		t.Fatalf("user add = %d, %q", code, stderr)
	}
	srv := startMain(t, []string{"http"}, "serve", "http", "--http-addr", "127.0.0.1:0", "--data", data, "--auth", "accounts")
	src := writeTemp(t, "x")
	for _, args := range [][]string{
		{"put", "http://alice%40example.org:hunter2@" + srv.addrs["http"] + "/x", src},
		{"put", "-u", "alice@example.org:hunter2", "http://" + srv.addrs["http"] + "/x", src},
		{"get", "-u", "alice@example.org:hunter2", "http://" + srv.addrs["http"] + "/"},
	} {
		code, stdout, stderr := runMain(t, "", args...)
		if args[0] == "get" {
			// GET needs no login: the credentials are not checked.
			if code != exitOK {
				t.Errorf("%q = %d, %q", args, code, stderr)
			}
			continue
		}
		if code != exitError || strings.Contains(stderr+stdout, "hunter2") || !strings.Contains(stderr, "401 Unauthorized (wrong user or password)") {
			t.Errorf("%q = %d, %q; want exit 1, a 401 and no password", args, code, stderr)
		}
	}
	if code, _, stderr := runMain(t, "", "put", "-u", "alice@example.org:s3cret", "http://"+srv.addrs["http"]+"/x", src); code != exitOK {
		t.Errorf("put with the account's password = %d, %q", code, stderr)
	}
}

// Off loopback http needs accounts, as ftp does, and takes them over HTTPS
// only: a PUT over plain HTTP gets 403 with the reason.
func TestServeHTTP_offLoopback(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runMain(t, "", "serve", "http", "--http-addr", "0.0.0.0:0", "--data", dir)
	if code != exitError || !strings.Contains(stderr, "http listeners on a non-loopback address need accounts") {
		t.Errorf("serve http on 0.0.0.0 without accounts = %d, %q", code, stderr)
	}
	if code, _, stderr := runMain(t, "s3cret\n", "user", "add", "--data", dir, "alice@example.org"); code != exitOK {
		t.Fatalf("user add: %s", stderr)
	}
	srv := startMain(t, []string{"http"}, "serve", "http", "--http-addr", "0.0.0.0:0", "--https-addr", "0.0.0.0:0", "--data", dir)
	plain := listenerAddr(t, srv, "http", "none")
	secure := listenerAddr(t, srv, "http", "implicit")
	src := writeTemp(t, "hello")
	code, _, stderr = runMain(t, "", "put", "-u", "alice@example.org:s3cret", "http://"+loopbackOf(plain)+"/x", src)
	if code != exitError || !strings.Contains(stderr, "403 Forbidden: off loopback, logins, PUT and DELETE need HTTPS") {
		t.Errorf("put over plain HTTP off loopback = %d, %q; want 403 and the reason", code, stderr)
	}
	if code, _, stderr := runMain(t, "", "put", "--data", dir, "-u", "alice@example.org:s3cret", "https://"+loopbackOf(secure)+"/x", src); code != exitOK {
		t.Errorf("put over HTTPS off loopback = %d, %q; log:\n%s", code, stderr, srv.stderr)
	}
	// HTTPS speaks HTTP/2 (ALPN), whichever listener net/http set up first.
	if code, stdout, stderr := runMain(t, "", "get", "--data", dir, "-I", "https://"+loopbackOf(secure)+"/x"); code != exitOK || !strings.HasPrefix(stdout, "HTTP/2.0 200 OK\n") {
		t.Errorf("get -I over HTTPS = %d, %q, %q; want HTTP/2.0 200 OK", code, stdout, stderr)
	}
	if code, stdout, stderr := runMain(t, "", "get", "http://"+loopbackOf(plain)+"/x"); code != exitOK || stdout != "hello" {
		t.Errorf("get over plain HTTP off loopback = %d, %q, %q", code, stdout, stderr)
	}
}

// loopbackOf returns 127.0.0.1 and the port of addr, a listener on every
// interface.
func loopbackOf(addr string) string {
	return "127.0.0.1:" + addr[strings.LastIndexByte(addr, ':')+1:]
}

// Usage errors of get, put and send for http, gopher and xmlrpc URLs:
// exit 2.
func TestWebUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "http:///x"}, "has no host"},
		{[]string{"get", "http://h/x", "--continue"}, "give it with -o FILE or -O"},
		{[]string{"get", "http://h/", "-O"}, "names no file at the end of its path"},
		{[]string{"get", "http://h/a/..", "-O"}, "names no file"},
		{[]string{"get", "http://h/x", "-O", "-o", "f"}, "-o and -O go apart"},
		{[]string{"get", "http://h/x", "-I", "--json"}, "-I prints the headers"},
		{[]string{"get", "http://h/x", "--active"}, "--active is for ftp"},
		{[]string{"get", "http://h/x", "--delete"}, "are for mail URLs"},
		{[]string{"get", "gopher://h/0/x", "--continue", "-o", "f"}, "Gopher cannot resume"},
		{[]string{"get", "gopher://h/0/x", "--json"}, "--json is for menus"},
		{[]string{"get", "gopher://h/", "-u", "a:b"}, "Gopher has no logins"},
		{[]string{"get", "gopher://h/0/x%0d"}, "gopher"},
		{[]string{"get", "pop3://u:p@h/", "-O"}, "-u, -O and -I are for ftp, http and gopher URLs"},
		{[]string{"put", "http://h/x", "f", "--continue"}, "--continue is for ftp"},
		{[]string{"put", "http://h/dir/", "-"}, "names a folder"},
		{[]string{"send", "xmlrpc://h/RPC2"}, "send xmlrpc:// takes a URL, a METHOD"},
		{[]string{"send", "xmlrpc://h/RPC2", ""}, "the METHOD is empty"},
	} {
		code, _, stderr := runMain(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q = %d, %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// send xmlrpc:// against serve http: the result printed as Python's print()
// shows it, or as JSON; a fault is exit 1 and "fault CODE: STRING".
func TestSendXMLRPC_serve(t *testing.T) {
	srv := startMain(t, []string{"http"}, "serve", "http", "--http-addr", "127.0.0.1:0", "--data", t.TempDir())
	base := "xmlrpc://" + srv.addrs["http"]
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{base + "/RPC2", "upper", "straße"}, "STRASSE\n"},
		{[]string{base, "upper", `"42"`}, "42\n"},
		{[]string{base, "system.listMethods"}, "['system.listMethods', 'system.methodHelp', 'system.methodSignature', 'system.multicall', 'upper']\n"},
		{[]string{"--json", base, "system.listMethods"}, `["system.listMethods","system.methodHelp","system.methodSignature","system.multicall","upper"]` + "\n"},
		{[]string{"--json", base, "upper", "straße"}, `"STRASSE"` + "\n"},
		{[]string{base, "system.multicall", `[{"methodName":"upper","params":["a"]},{"methodName":"nope","params":[]}]`},
			`[['A'], {'faultCode': -32601, 'faultString': 'method "nope" not found'}]` + "\n"},
	} {
		code, stdout, stderr := runMain(t, "", append([]string{"send"}, tc.args...)...)
		if code != exitOK || stdout != tc.want {
			t.Errorf("send %q = %d, %q, %q; want %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	code, _, stderr := runMain(t, "", "send", base, "upper", "42")
	if code != exitError || !strings.HasPrefix(stderr, "inetkit: send "+base+": fault -32602: ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("send upper 42 (an int) = %d, %q; want exit 1 and a fault -32602", code, stderr)
	}
	code, _, stderr = runMain(t, "", "send", "xmlrpc://u:secret@"+srv.addrs["http"]+"/nope", "upper", "x")
	if code != exitError || strings.Contains(stderr, "secret") || !strings.Contains(stderr, "405 Method Not Allowed") {
		t.Errorf("send to a path that is no XML-RPC server = %d, %q", code, stderr)
	}
}

func TestXMLRPCArg(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"42", int64(42)}, {"-1.5", -1.5}, {"1e3", 1000.0}, {"true", true}, {"null", nil},
		{`"42"`, "42"}, {"straße", "straße"}, {"hello world", "hello world"}, {"42abc", "42abc"},
		{"[1,\"a\"]", []any{int64(1), "a"}}, {`{"a":1}`, map[string]any{"a": int64(1)}},
		{"123456789012345678901234567890", big1}, {"1 2", "1 2"}, {"", ""},
	} {
		if got := xmlrpcArg(tc.in); !cmp.Equal(got, tc.want, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })) {
			t.Errorf("xmlrpcArg(%q) = %#v; want %#v", tc.in, got, tc.want)
		}
	}
}

func TestPyStr(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"text", "text"}, {nil, "None"}, {true, "True"}, {false, "False"}, {42, "42"}, {int64(-7), "-7"},
		{1.0, "1.0"}, {1.5, "1.5"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {0.0001, "0.0001"}, {1.5e-05, "1.5e-05"},
		{[]any{"a'b", `a"b`, "a'\"b", "x\ny\x01", "straße"}, `["a'b", 'a"b', 'a\'"b', 'x\ny\x01', 'straße']`},
		{map[string]any{"b": 1, "a": []any{}}, "{'a': [], 'b': 1}"},
		{[]byte("a\x00'"), `b'a\x00\''`},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "<DateTime '20260102T03:04:05'>"},
	} {
		if got := pyStr(tc.in); got != tc.want {
			t.Errorf("pyStr(%#v) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseGopherURL(t *testing.T) {
	for _, tc := range []struct{ raw, selector, search string }{
		{"gopher://h/7/search?stra%C3%9Fe", "/search", "straße"},
		{"gopher://h/7/search%09abc", "/search", "abc"},
		{"gopher://h/0/a?b", "/a?b", ""},
		{"gopher://h/", "", ""},
	} {
		u, err := parseGopherURL(tc.raw)
		if err != nil || u.Selector != tc.selector || u.Search != tc.search {
			t.Errorf("parseGopherURL(%q) = %+v, %v; want selector %q, search %q", tc.raw, u, err, tc.selector, tc.search)
		}
	}
}

// HTTP's Basic-auth failures count in the AuthLimiter the store's services
// share, and a success forgives them.
func TestHTTPAuth_sharedLimiter(t *testing.T) {
	st, err := store.Open(t.TempDir(), &store.Options{PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.AddUser(ctx, "alice@example.org", "right"); err != nil {
		t.Fatal(err)
	}
	limiter := lineproto.NewAuthLimiter(time.Millisecond)
	a := &httpAuth{store: st, limiter: limiter}
	for range lineproto.DefaultAuthFreeFailures + 1 {
		if ok, err := a.login(ctx, "alice@example.org", "wrong"); ok || !errors.Is(err, web.ErrAuthFailed) {
			t.Fatalf("login with a wrong password = %v, %v", ok, err)
		}
	}
	if d := limiter.Delay(nil, "alice@example.org"); d <= 0 {
		t.Errorf("after %d failures over HTTP the shared limiter's delay is %v; want a penalty", lineproto.DefaultAuthFreeFailures+1, d)
	}
	if ok, err := a.login(ctx, "alice@example.org", "right"); !ok || err != nil {
		t.Fatalf("login with the right password = %v, %v", ok, err)
	}
	if d := limiter.Delay(nil, "alice@example.org"); d != 0 {
		t.Errorf("after a success the delay is %v; want none", d)
	}
}
