package ftp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
)

// pyftpdOptions configures a pyftpdlib server for a client test.
type pyftpdOptions struct {
	TLS        bool     // TLS_FTPHandler, with TLS required on control and data connections
	Drop       []string // commands the server answers "500 not understood" (and leaves out of FEAT)
	Masquerade string   // the address 227 announces
}

// pyftpdScript runs pyftpdlib with user alice/secret, who may do anything
// in the directory given, and prints the port it listens on.
const pyftpdScript = `
import json, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer
cfg = json.loads(sys.argv[1])
auth = DummyAuthorizer()
auth.add_user("alice", "secret", cfg["dir"], perm="elradfmwMT")
base = TLS_FTPHandler if cfg.get("cert") else FTPHandler
class H(base):
    pass
H.authorizer = auth
H.banner = "pyftpdlib ready"
H.timeout = 30
if cfg.get("cert"):
    H.certfile = cfg["cert"]
    H.keyfile = cfg["key"]
    H.tls_control_required = True
    H.tls_data_required = True
H.proto_cmds = dict(base.proto_cmds)
for c in cfg.get("drop") or []:
    del H.proto_cmds[c]
if cfg.get("masquerade"):
    H.masquerade_address = cfg["masquerade"]
srv = FTPServer(("127.0.0.1", 0), H)
print(srv.address[1], flush=True)
srv.serve_forever()
`

// startPyftpd starts pyftpdlib (Debian's python3, which has it and
// PyOpenSSL) on a loopback port, serving a new directory, and returns its
// address and the directory. It is killed when the test ends.
func startPyftpd(t *testing.T, o pyftpdOptions) (addr, dir string) {
	t.Helper()
	python := peers.Need(t, "/usr/bin/python3")
	if err := exec.Command(python, "-c", "import pyftpdlib, OpenSSL").Run(); err != nil {
		msg := fmt.Sprintf("%s cannot import pyftpdlib and OpenSSL (Debian packages: python3-pyftpdlib python3-openssl): %v", python, err)
		if os.Getenv(peers.RequirePeersEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	base := t.TempDir()
	dir = filepath.Join(base, "root")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"dir": dir, "drop": o.Drop, "masquerade": o.Masquerade}
	if o.TLS {
		cert, key, _, err := testcert.WriteFiles(base)
		if err != nil {
			t.Fatal(err)
		}
		cfg["cert"], cfg["key"] = cert, key
	}
	js, _ := json.Marshal(cfg)
	cmd := exec.Command(python, "-c", pyftpdScript, string(js))
	var stderr prototest.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startPeerProcess(t, cmd)
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		port, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			t.Fatalf("pyftpdlib did not start: %q; stderr:\n%s", l, stderr.String())
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("pyftpdlib's log:\n%s", stderr.String())
			}
		})
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir
	case <-time.After(20 * time.Second):
		t.Fatalf("pyftpdlib did not start in 20 s; stderr:\n%s", stderr.String())
	}
	return "", ""
}

// startPeerProcess runs cmd in a process group of its own, killed with all its
// children when the test ends.
func startPeerProcess(t *testing.T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return exited
}

// startVsftpd starts vsftpd on a loopback port with anonymous logins
// (USER anonymous), a root it may not write to, as it requires, holding a
// directory "pub" that it may, and, with tlsOn, explicit TLS required on
// control and data connections. It returns the address and the root.
// vsftpd is run as the user the test runs as; as root it drops to the
// user "ftp" for anonymous sessions, after a chroot into the root.
func startVsftpd(t *testing.T, tlsOn bool) (addr, root string) {
	t.Helper()
	vsftpd := peers.Need(t, "vsftpd")
	base := t.TempDir()
	// t.TempDir makes it and its parent 0700; the user "ftp" must enter
	// them.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root = filepath.Join(base, "root")
	empty := filepath.Join(base, "empty")
	for _, d := range []string{root, empty, filepath.Join(root, "pub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "pub"), 0o777); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(base, "vsftpd.log")
	conf := []string{
		"listen=YES", "listen_ipv6=NO", "listen_address=127.0.0.1", "background=NO",
		"anonymous_enable=YES", "anon_root=" + root, "local_enable=NO", "no_anon_password=YES",
		"write_enable=YES", "anon_upload_enable=YES", "anon_mkdir_write_enable=YES",
		"anon_other_write_enable=YES", "anon_umask=022",
		"secure_chroot_dir=" + empty, "seccomp_sandbox=NO", "connect_from_port_20=NO",
		"xferlog_enable=YES", "xferlog_std_format=NO", "log_ftp_protocol=YES", "vsftpd_log_file=" + logFile,
		"max_per_ip=0", "max_clients=0",
	}
	if tlsOn {
		cert, key, _, err := testcert.WriteFiles(base)
		if err != nil {
			t.Fatal(err)
		}
		conf = append(conf, "ssl_enable=YES", "allow_anon_ssl=YES", "force_anon_logins_ssl=YES",
			"force_anon_data_ssl=YES", "rsa_cert_file="+cert, "rsa_private_key_file="+key,
			"ssl_ciphers=HIGH", "require_ssl_reuse=YES")
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logFile)
			t.Logf("vsftpd's log:\n%s", log)
		}
	})
	for try := 1; ; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		confFile := filepath.Join(base, "vsftpd.conf")
		text := strings.Join(append(conf, "listen_port="+strconv.Itoa(port)), "\n") + "\n"
		if err := os.WriteFile(confFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(vsftpd, confFile)
		var out prototest.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		exited := startPeerProcess(t, cmd)
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err = waitPeerListening(exited, addr)
		if err == nil {
			return addr, root
		}
		if try == 3 || !errors.Is(err, errPeerExited) {
			t.Fatalf("vsftpd: %v; output:\n%s", err, out.String())
		}
	}
}

var errPeerExited = errors.New("exited before listening")

// waitPeerListening waits until addr accepts connections.
func waitPeerListening(exited <-chan struct{}, addr string) error {
	deadline := time.Now().Add(20 * time.Second)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			// Read the greeting, so that the server's log has no
			// error from a connection closed at once.
			c.SetDeadline(time.Now().Add(5 * time.Second))
			bufio.NewReader(c).ReadString('\n')
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errPeerExited
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after 20 s", addr)
		}
	}
}

// dialClient connects a client to addr, with a short timeout, StartTLS with
// the test CA if tlsOn, logs in, and quits when the test ends. The control
// traffic is logged if the test fails.
func dialClient(t *testing.T, addr string, opts ftp.ClientOptions, tlsOn bool, user, pass string) *ftp.Client {
	t.Helper()
	var debug prototest.Buffer
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	opts.DebugWriter = &debug
	if tlsOn && opts.TLSConfig == nil {
		opts.TLSConfig = testcert.ClientConfig()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var c *ftp.Client
	var err error
	if tlsOn {
		c, err = ftp.DialStartTLS(ctx, addr, &opts)
	} else {
		c, err = ftp.Dial(ctx, addr, &opts)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control connection:\n%s", debug.String())
		}
	})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("Login(%q) = %v", user, err)
	}
	return c
}

// clientTestData returns n bytes that differ from one offset to the next.
func clientTestData(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// clientRetrieveAll reads the file at path from offset with c.
func clientRetrieveAll(t *testing.T, c *ftp.Client, path string, offset int64) []byte {
	t.Helper()
	r, err := c.Retrieve(path, offset)
	if err != nil {
		t.Fatalf("Retrieve(%q, %d) = %v", path, offset, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Retrieve(%q, %d): read: %v", path, offset, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Retrieve(%q, %d): Close() = %v", path, offset, err)
	}
	return data
}

// clientCheckFile checks that the file name of files holds want.
func clientCheckFile(t *testing.T, files fs.FS, name string, want []byte) {
	t.Helper()
	got, err := fs.ReadFile(files, name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %d bytes; want the %d written", name, len(got), len(want))
	}
}

// clientErrCode returns the code of err if it is a *ftp.Error, or 0.
func clientErrCode(err error) int {
	var e *ftp.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
