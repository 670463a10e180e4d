//go:build unix

package peers

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/testcert"
)

// ftpIP is the address the FTP servers listen on. Unlike the mail
// servers' random 127.x.y.z, it is one the internal/testcert certificate
// names, so that a client that verifies the URL's host, as inetkit's
// get and put do, accepts it.
const ftpIP = "127.0.0.1"

// logOnFailure logs the files of a server (its output, its log) when the
// test fails.
func logOnFailure(t testing.TB, name string, files ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, f := range files {
			if b, _ := os.ReadFile(f); len(b) > 0 {
				t.Logf("%s, %s:\n%s", name, filepath.Base(f), b)
			}
		}
	})
}

// runLogged starts cmd with its stdout and stderr in the file out, and
// waits until it listens on addr (see start and waitListening).
func runLogged(t testing.TB, cmd *exec.Cmd, out, addr string) error {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd.Stdout, cmd.Stderr = f, f
	return waitListening(start(t, cmd), out, addr)
}

// Vsftpd is a running vsftpd that takes anonymous logins only (USER
// anonymous or ftp, any password), on Addr, 127.0.0.1 and a free port,
// in passive (EPSV, PASV) and active (EPRT, PORT) mode. It has no MLST or
// MLSD: clients list with LIST, whose lines are ls -l's, times in UTC.
type Vsftpd struct {
	Addr string
	// Root is the anonymous sessions' root, "/". They may not write to
	// it (vsftpd refuses a writable root); they may write, make folders,
	// rename and delete in its folder Writable.
	Root     string
	Writable string // a name in Root: VsftpdOptions.Writable, or "pub"
	TLS      bool   // explicit TLS (AUTH TLS) is required
	Dir      string // holds Root, the configuration and the logs
}

// VsftpdOptions configures a vsftpd started by StartVsftpd. A nil
// *VsftpdOptions is equivalent to the zero value.
type VsftpdOptions struct {
	// TLS requires explicit TLS (RFC 4217) on the control connection
	// before the login and on every data connection, with the
	// internal/testcert certificate; data connections must resume the
	// control connection's TLS session (require_ssl_reuse).
	TLS bool
	// Writable is the name of the folder of Root that anonymous sessions
	// may write to; "pub" if empty.
	Writable string
}

// StartVsftpd runs vsftpd until the test ends. As root, the anonymous
// sessions run as the user "ftp" in a chroot of Root, and the files they
// upload are that user's, mode 0644; otherwise as the user running the
// test, without a chroot. It skips t, or fails it when
// INETKIT_REQUIRE_PEERS=1, when vsftpd is not installed.
func StartVsftpd(t testing.TB, opts *VsftpdOptions) *Vsftpd {
	t.Helper()
	bin := Need(t, "vsftpd")
	if opts == nil {
		opts = &VsftpdOptions{}
	}
	return retry(t, "vsftpd", func() (*Vsftpd, error) { return startVsftpd(t, bin, opts) })
}

func startVsftpd(t testing.TB, bin string, opts *VsftpdOptions) (*Vsftpd, error) {
	t.Helper()
	dir := tempDir(t) // the user "ftp" enters it
	v := &Vsftpd{
		Addr:     net.JoinHostPort(ftpIP, strconv.Itoa(freePort(t, ftpIP))),
		Root:     filepath.Join(dir, "root"),
		Writable: opts.Writable,
		TLS:      opts.TLS,
		Dir:      dir,
	}
	if v.Writable == "" {
		v.Writable = "pub"
	}
	empty := filepath.Join(dir, "empty")
	for _, d := range []string{v.Root, empty, filepath.Join(v.Root, v.Writable)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(v.Root, v.Writable), 0o777); err != nil { // whatever the umask
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(v.Addr)
	logFile := filepath.Join(dir, "vsftpd.log")
	conf := []string{
		"listen=YES", "listen_ipv6=NO", "listen_address=" + ftpIP, "listen_port=" + port, "background=NO",
		"anonymous_enable=YES", "anon_root=" + v.Root, "local_enable=NO", "no_anon_password=YES",
		"write_enable=YES", "anon_upload_enable=YES", "anon_mkdir_write_enable=YES",
		"anon_other_write_enable=YES", "anon_umask=022",
		"secure_chroot_dir=" + empty, "seccomp_sandbox=NO", "connect_from_port_20=NO",
		"xferlog_enable=YES", "xferlog_std_format=NO", "log_ftp_protocol=YES", "vsftpd_log_file=" + logFile,
		"max_per_ip=0", "max_clients=0",
	}
	if os.Getuid() != 0 {
		conf = append(conf, "run_as_launching_user=YES")
	}
	if opts.TLS {
		cert, key, _, err := testcert.WriteFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		conf = append(conf, "ssl_enable=YES", "allow_anon_ssl=YES", "force_anon_logins_ssl=YES",
			"force_anon_data_ssl=YES", "rsa_cert_file="+cert, "rsa_private_key_file="+key,
			"ssl_ciphers=HIGH", "require_ssl_reuse=YES")
	}
	confFile := filepath.Join(dir, "vsftpd.conf")
	// vsftpd refuses a configuration file that others may write.
	if err := os.WriteFile(confFile, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "vsftpd.out")
	if err := runLogged(t, exec.Command(bin, confFile), out, v.Addr); err != nil {
		return nil, err
	}
	logOnFailure(t, "vsftpd", out, logFile)
	return v, nil
}

// Pyftpdlib is a running pyftpdlib server (Debian's python3-pyftpdlib) on
// Addr, 127.0.0.1 and a free port. User may do anything in Root (perm
// "elradfmwMT"); anonymous logins may list and read it. It offers MLST and
// MLSD, EPSV and EPRT, REST STREAM and SIZE, and lists times in UTC.
type Pyftpdlib struct {
	Addr       string
	Root       string
	User, Pass string
	TLS        bool   // explicit TLS (AUTH TLS) is required
	Dir        string // holds Root and the log
}

// PyftpdlibOptions configures a pyftpdlib started by StartPyftpdlib. A
// nil *PyftpdlibOptions is equivalent to the zero value.
type PyftpdlibOptions struct {
	// TLS requires explicit TLS (RFC 4217) on the control connection
	// before the login and on every data connection (TLS_FTPHandler),
	// with the internal/testcert certificate.
	TLS bool
	// Drop are commands the server does not know: it answers them "500"
	// and leaves them out of FEAT. EPSV, EPRT, MLST and MLSD make an
	// older server, with PASV, PORT and LIST only.
	Drop []string
	// Masquerade is the address that 227 replies to PASV announce instead
	// of the server's own, as a server behind NAT does; clients must
	// connect to the control connection's address instead.
	Masquerade string
}

// pyftpdlibScript runs pyftpdlib as its JSON argument says.
const pyftpdlibScript = `
import json, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer
cfg = json.loads(sys.argv[1])
auth = DummyAuthorizer()
auth.add_user(cfg["user"], cfg["pass"], cfg["root"], perm="elradfmwMT")
auth.add_anonymous(cfg["root"], perm="elr")
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
FTPServer((cfg["ip"], cfg["port"]), H).serve_forever()
`

// pythonFTP is the Python that runs pyftpdlib: Debian's, which has it (and
// PyOpenSSL for TLS) as packages, whatever python3 comes first in $PATH.
const pythonFTP = "/usr/bin/python3"

// StartPyftpdlib runs pyftpdlib until the test ends. It skips t, or fails
// it when INETKIT_REQUIRE_PEERS=1, when /usr/bin/python3 is not installed
// or cannot import pyftpdlib and OpenSSL.
func StartPyftpdlib(t testing.TB, opts *PyftpdlibOptions) *Pyftpdlib {
	t.Helper()
	python := Need(t, pythonFTP)
	if out, err := exec.Command(python, "-c", "import pyftpdlib, OpenSSL").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import pyftpdlib and OpenSSL (Debian packages: python3-pyftpdlib python3-openssl): %v\n%s", python, err, out)
		if os.Getenv(RequirePeersEnv) == "1" {
			t.Fatalf("%s; %s=1 requires it", msg, RequirePeersEnv)
		}
		t.Skip(msg)
	}
	if opts == nil {
		opts = &PyftpdlibOptions{}
	}
	return retry(t, "pyftpdlib", func() (*Pyftpdlib, error) { return startPyftpdlib(t, python, opts) })
}

func startPyftpdlib(t testing.TB, python string, opts *PyftpdlibOptions) (*Pyftpdlib, error) {
	t.Helper()
	dir := tempDir(t)
	port := freePort(t, ftpIP)
	p := &Pyftpdlib{
		Addr: net.JoinHostPort(ftpIP, strconv.Itoa(port)),
		Root: filepath.Join(dir, "root"),
		User: "alice", Pass: "secret",
		TLS: opts.TLS,
		Dir: dir,
	}
	if err := os.Mkdir(p.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"ip": ftpIP, "port": port, "root": p.Root, "user": p.User, "pass": p.Pass,
		"drop": opts.Drop, "masquerade": opts.Masquerade,
	}
	if opts.TLS {
		cert, key, _, err := testcert.WriteFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg["cert"], cfg["key"] = cert, key
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pyftpdlib.log")
	cmd := exec.Command(python, "-c", pyftpdlibScript, string(js))
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	if err := runLogged(t, cmd, out, p.Addr); err != nil {
		return nil, err
	}
	logOnFailure(t, "pyftpdlib", out)
	return p, nil
}
