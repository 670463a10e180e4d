//go:build unix

package cli

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
)

// writeTree writes files (slash-separated names) under a new directory
// that every user may read, for servers that drop privileges, and returns
// it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "inetkit-peer-")
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
	return dir
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, what, addr string, p *proc) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) || (p != nil && p.exited()) {
			if p != nil {
				t.Fatalf("%s did not start on %s: %v; stderr:\n%s", what, addr, err, p.stderr)
			}
			t.Fatalf("%s did not start on %s: %v", what, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNginx runs nginx in the foreground on a loopback port, serving
// root with autoindex, with every path of its own in a temporary
// directory; as root its workers stay root, to read root.
func startNginx(t *testing.T, root string) string {
	t.Helper()
	nginx := peers.Need(t, "/usr/sbin/nginx")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	// The temporary paths of the modules this nginx has: a directive for
	// one it was built without is an error.
	v, _ := exec.Command(nginx, "-V").CombinedOutput()
	var temps strings.Builder
	for _, m := range regexp.MustCompile(`--http-(\w+)-temp-path=`).FindAllStringSubmatch(string(v), -1) {
		name := strings.ReplaceAll(m[1], "-", "_")
		if name == "client_body" {
			fmt.Fprintf(&temps, "  client_body_temp_path %s;\n", filepath.Join(dir, "body"))
		} else {
			fmt.Fprintf(&temps, "  %s_temp_path %s;\n", name, filepath.Join(dir, name))
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	conf := fmt.Sprintf(`%sdaemon off;
master_process off;
pid %s;
error_log %s warn;
events { worker_connections 64; }
http {
  access_log off;
%s  server {
    listen %s;
    root %s;
    autoindex on;
  }
}
`, user, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"), temps.String(), addr, root)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, os.Environ(), nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confFile)
	waitListening(t, "nginx", addr, p)
	return addr
}

// get against nginx: a file, -O, -I, a folder's redirect and listing,
// --continue with Range (206, then 416 once complete), 404, and --json,
// which nginx cannot answer.
func TestGetHTTP_nginx(t *testing.T) {
	big := strings.Repeat("nginx range data ", 20000)
	root := writeTree(t, map[string]string{"hello.txt": "hello from nginx\n", "dir/big.bin": big})
	addr := startNginx(t, root)
	base := "http://" + addr

	if code, stdout, stderr := runMain(t, "", "get", base+"/hello.txt"); code != exitOK || stdout != "hello from nginx\n" {
		t.Errorf("get = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr := runMain(t, "", "get", "-I", base+"/hello.txt")
	if code != exitOK || !strings.HasPrefix(stdout, "HTTP/1.1 200 OK\n") || !regexp.MustCompile(`(?m)^Server: nginx`).MatchString(stdout) || !strings.Contains(stdout, "\nContent-Length: 17\n") {
		t.Errorf("get -I = %d, %q, %q", code, stdout, stderr)
	}
	// /dir redirects to /dir/, whose listing names big.bin.
	if code, stdout, stderr := runMain(t, "", "get", base+"/dir"); code != exitOK || !strings.Contains(stdout, `href="big.bin"`) {
		t.Errorf("get of a folder without its slash = %d, %q, %q; want the redirect followed to the listing", code, stdout, stderr)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "big.bin")
	os.WriteFile(out, []byte(big[:12345]), 0o644)
	if code, _, stderr := runMain(t, "", "get", "-o", out, "--continue", base+"/dir/big.bin"); code != exitOK || stderr != "" {
		t.Errorf("get --continue = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != big {
		t.Errorf("get --continue left %d bytes; want %d", len(b), len(big))
	}
	if code, _, stderr := runMain(t, "", "get", "-o", out, "--continue", base+"/dir/big.bin"); code != exitOK || !strings.Contains(stderr, "is complete") {
		t.Errorf("get --continue of a complete file (416) = %d, %q", code, stderr)
	}
	t.Chdir(dir)
	os.Remove(out)
	if code, _, stderr := runMain(t, "", "get", "-O", base+"/dir/big.bin"); code != exitOK {
		t.Errorf("get -O = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != big {
		t.Errorf("get -O wrote %d bytes; want %d", len(b), len(big))
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", base + "/nope"}, "get " + base + "/nope: HTTP/1.1 404 Not Found"},
		{[]string{"get", "--json", base + "/dir/"}, "--json: the server sent text/html, not a JSON listing"},
		{[]string{"put", "-u", "a:b", base + "/x", out}, "HTTP/1.1 405 Not Allowed"},
	} {
		code, _, stderr := runMain(t, "", tc.args...)
		if code != exitError || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q = %d, %q; want exit 1 and one line with %q", tc.args, code, stderr, tc.want)
		}
	}
}

// startGophernicusPeer runs gophernicus on a loopback port, inetd-style
// under socat, serving root, as the gopher package's tests do; as root it
// runs as nobody, since gophernicus refuses to run as root.
func startGophernicusPeer(t *testing.T, root string) string {
	t.Helper()
	progs := peers.NeedAll(t, "gophernicus", "socat")
	port := freePort(t, "tcp")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	listen := fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr", port)
	if os.Geteuid() == 0 {
		listen += ",su=nobody"
	}
	// gophernicus exits 1 after an error item; socat, seeing a child fail,
	// may then drop the reply still in the pipe, so the shell exits 0.
	// -nm: no throttle state shared between runs (a SysV segment).
	cmd := exec.Command(progs[1], listen, fmt.Sprintf("SYSTEM:%s -h 127.0.0.1 -p %d -r %s -nf -nm; exit 0", progs[0], port, root))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	waitListening(t, "gophernicus", addr, nil)
	return addr
}

// get against gophernicus: its menu as a table and as JSON, a text file
// (which it sends with CRLF), a binary file to -o, and an error item.
func TestGetGopher_gophernicus(t *testing.T) {
	root := writeTree(t, map[string]string{"hello.txt": "hello from gophernicus\nline two\n", "docs/data.bin": "\x00\x01\x02binary"})
	addr := startGophernicusPeer(t, root)
	base := "gopher://" + addr

	code, stdout, stderr := runMain(t, "", "get", base+"/")
	if code != exitOK || !strings.HasPrefix(stdout, "TYPE") || !regexp.MustCompile(`(?m)^menu +docs .* /docs/$`).MatchString(stdout) ||
		!regexp.MustCompile(`(?m)^text +hello\.txt .* /hello\.txt$`).MatchString(stdout) {
		t.Errorf("get of the menu = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "", "get", "--json", base+"/1/docs/")
	if code != exitOK || !strings.Contains(stdout, `"selector":"/docs/data.bin"`) || !strings.Contains(stdout, `"url":"gopher://`+addr+`/9/docs/data.bin"`) {
		t.Errorf("get --json of a menu = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "", "get", base+"/0/hello.txt")
	if code != exitOK || strings.ReplaceAll(stdout, "\r\n", "\n") != "hello from gophernicus\nline two\n" {
		t.Errorf("get of a text file = %d, %q, %q", code, stdout, stderr)
	}
	out := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := runMain(t, "", "get", "-o", out, base+"/9/docs/data.bin"); code != exitOK {
		t.Errorf("get -o of a binary file = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "\x00\x01\x02binary" {
		t.Errorf("get -o wrote %q", b)
	}
	// gophernicus answers a missing menu with a line of text, not a menu.
	code, stdout, stderr = runMain(t, "", "get", base+"/1/nope/")
	if code != exitError || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "Error: File or directory not found!") {
		t.Errorf("get of a missing menu = %d, stdout %q, stderr %q; want exit 1 and the server's text", code, stdout, stderr)
	}
}

// send xmlrpc:// against Python's SimpleXMLRPCServer: typed arguments come
// back as Python sees them, printed as Python's print() shows them; a Fault
// is exit 1 and "fault CODE: STRING"; multicall and introspection work.
func TestSendXMLRPC_python(t *testing.T) {
	script := `import sys
from xmlrpc.server import SimpleXMLRPCServer
from xmlrpc.client import Fault
s = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
s.register_function(lambda t: t.upper(), "upper")
s.register_function(lambda *a: list(a), "echo")
s.register_function(lambda *a: [type(x).__name__ for x in a], "types")
def fail(): raise Fault(4, "x")
s.register_function(fail, "fail")
s.register_introspection_functions()
s.register_multicall_functions()
print(s.server_address[1], flush=True)
s.serve_forever()
`
	p := startProc(t, pythonEnv(), python3(t), "-c", script)
	line := p.stdout.waitFor(t, p.done, 20*time.Second, "the server's port", func(s string) bool { return strings.Contains(s, "\n") })
	port, _, _ := strings.Cut(line, "\n")
	base := "xmlrpc://127.0.0.1:" + port
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{base, "upper", "straße"}, "STRASSE\n"},
		{[]string{base + "/RPC2", "types", "42", "1.5", "true", `"42"`, "word", "[1,2]", `{"a":1}`, "null", "9000000000"},
			"['int', 'float', 'bool', 'str', 'str', 'list', 'dict', 'NoneType', 'int']\n"},
		{[]string{base, "echo", "42", "1.5", "true", `"s"`, "[1,2]", `{"a":"b"}`, "null"}, "[42, 1.5, True, 's', [1, 2], {'a': 'b'}, None]\n"},
		{[]string{"--json", base, "echo", "42", "1.5", "true", `"s"`, "null"}, `[42,1.5,true,"s",null]` + "\n"},
		{[]string{base, "system.methodHelp", "upper"}, "\n"},
		{[]string{base, "system.multicall", `[{"methodName":"upper","params":["a"]},{"methodName":"fail","params":[]}]`},
			"[['A'], {'faultCode': 4, 'faultString': 'x'}]\n"},
	} {
		code, stdout, stderr := runMain(t, "", append([]string{"send"}, tc.args...)...)
		if code != exitOK || stdout != tc.want {
			t.Errorf("send %q = %d, %q, %q; want %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	code, stdout, stderr := runMain(t, "", "send", base, "fail")
	if want := "inetkit: send " + base + ": fault 4: x\n"; code != exitError || stdout != "" || stderr != want {
		t.Errorf("send fail = %d, %q, %q; want exit 1 and %q", code, stdout, stderr, want)
	}
	code, _, stderr = runMain(t, "", "send", base, "nope")
	if code != exitError || !strings.Contains(stderr, `fault 1: <class 'Exception'>:method "nope" is not supported`) {
		t.Errorf("send nope = %d, %q", code, stderr)
	}
}
