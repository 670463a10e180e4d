package ftp_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/internal/testserver"
)

// srvCAFile writes the CA of the test certificate to a PEM file.
func srvCAFile(t *testing.T) string {
	t.Helper()
	_, _, ca, err := testcert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// srvTLSInterop starts a server that requires TLS for non-anonymous logins.
func srvTLSInterop(t *testing.T) *srvEnv {
	e := srvStart(t, func(s *ftp.Server) {
		s.InsecureAuth = false
		s.TLSConfig = testserver.ServerTLSConfig()
	})
	e.write(t, "hello.txt", "hello, world\n")
	return e
}

const ftplibScript = `
import ftplib, io, json, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
payload = bytes(range(256)) * 4000
out = {}
f = ftplib.FTP()
f.connect(host, port, timeout=10)
out["welcome"] = f.getwelcome()
try:
    f.login("alice", "secret")
except ftplib.error_perm as e:
    out["plain_login"] = str(e)
f.login()
out["anon_nlst"] = f.nlst()
buf = io.BytesIO()
f.retrbinary("RETR hello.txt", buf.write)
out["anon_retr"] = buf.getvalue().decode()
f.quit()

f = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=cafile))
f.connect(host, port, timeout=10)
f.auth()
f.login("alice", "secret")
f.prot_p()
f.storbinary("STOR up.bin", io.BytesIO(payload))
out["size"] = f.size("up.bin")
buf = io.BytesIO()
f.retrbinary("RETR up.bin", buf.write, rest=5)
out["rest"] = buf.getvalue() == payload[5:]
out["mkd"] = f.mkd('d"q')
f.cwd('d"q')
out["pwd"] = f.pwd()
f.cwd("/")
out["mlsd"] = sorted([n, facts["type"]] for n, facts in f.mlsd())
lines = []
f.retrlines("LIST", lines.append)
out["list"] = len(lines)
lines = []
f.retrlines("RETR hello.txt", lines.append)
out["retrlines"] = lines
f.set_pasv(False)
buf = io.BytesIO()
f.retrbinary("RETR up.bin", buf.write)
out["active"] = buf.getvalue() == payload
f.storbinary("STOR act.bin", io.BytesIO(b"active"))
f.set_pasv(True)
f.rename("act.bin", "act2.bin")
f.delete("act2.bin")
f.rmd('d"q')
out["nlst"] = sorted(f.nlst())
out["quit"] = f.quit()
json.dump(out, sys.stdout)
`

// TestInterop_ftplib runs Python's ftplib against the server: anonymous
// plain FTP, then FTP_TLS with PROT P (passive and active), STOR, SIZE,
// RETR with REST, MKD with a quote, MLSD, LIST, RETR in TYPE A, RNFR/RNTO,
// DELE, RMD, NLST.
func TestInterop_ftplib(t *testing.T) {
	python := peers.Need(t, "python3")
	e := srvTLSInterop(t)
	host, port, _ := strings.Cut(e.addr, ":")
	cmd := exec.Command(python, "-c", ftplibScript, host, port, srvCAFile(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ftplib: %v\n%s", err, stderr.Bytes())
	}
	var got struct {
		Welcome, Mkd, Pwd, Quit string
		PlainLogin              string   `json:"plain_login"`
		AnonRetr                string   `json:"anon_retr"`
		AnonNlst                []string `json:"anon_nlst"`
		Nlst, Retrlines         []string
		Size, List              int
		Rest, Active            bool
		Mlsd                    [][2]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s wrong: %s", name, out)
		}
	}
	check("welcome", got.Welcome == "220 inetkit FTP server ready.")
	check("plain login", strings.HasPrefix(got.PlainLogin, "530 Non-anonymous"))
	check("anonymous NLST", slices.Equal(got.AnonNlst, []string{"hello.txt"}))
	check("anonymous RETR", got.AnonRetr == "hello, world\n")
	check("SIZE", got.Size == 1024000)
	check("REST", got.Rest)
	check("MKD", got.Mkd == `/d"q`)
	check("PWD", got.Pwd == `/d"q`)
	check("MLSD", slices.Equal(got.Mlsd, [][2]string{{".", "cdir"}, {`d"q`, "dir"}, {"hello.txt", "file"}, {"up.bin", "file"}}))
	check("LIST", got.List == 3)
	check("retrlines", slices.Equal(got.Retrlines, []string{"hello, world"}))
	check("active", got.Active)
	check("NLST", slices.Equal(got.Nlst, []string{"hello.txt", "up.bin"}))
	check("QUIT", strings.HasPrefix(got.Quit, "221"))
}

// TestInterop_curl runs curl against the server: upload with
// --ftp-create-dirs over AUTH TLS, download passive and active
// (--ftp-port), resumed download (-C -), resumed upload (APPE), and a
// directory listing.
func TestInterop_curl(t *testing.T) {
	curl := peers.Need(t, "curl")
	e := srvTLSInterop(t)
	ca := srvCAFile(t)
	tmp := t.TempDir()
	base := "ftp://" + e.addr + "/"
	run := func(args ...string) string {
		t.Helper()
		all := append([]string{"-sS", "--max-time", "20", "--user", "alice:secret", "--ssl-reqd", "--cacert", ca}, args...)
		cmd := exec.Command(curl, all...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %q: %v\n%s", args, err, stderr.Bytes())
		}
		return string(out)
	}
	data := srvBigData(300000)
	local := filepath.Join(tmp, "local.txt")
	os.WriteFile(local, []byte(data), 0o644)

	run("--ftp-pasv", "--ftp-create-dirs", "-T", local, base+"a/b/up.txt")
	if got, _ := e.read(t, "a/b/up.txt"); got != data {
		t.Fatalf("curl upload stored %d octets; want %d", len(got), len(data))
	}
	if got := run("--ftp-pasv", base+"a/b/up.txt"); got != data {
		t.Errorf("curl passive download: %d octets", len(got))
	}
	// Active mode without TLS, anonymously: curl 7.88.1 never starts TLS
	// on an active data connection it accepted (the active PROT P
	// transfers of TestInterop_ftplib work).
	cmd := exec.Command(curl, "-sS", "--max-time", "20", "--ftp-port", "127.0.0.1", base+"hello.txt")
	if got, err := cmd.Output(); err != nil || string(got) != "hello, world\n" {
		t.Errorf("curl active download: %q, %v", got, err)
	}
	partial := filepath.Join(tmp, "partial.txt")
	os.WriteFile(partial, []byte(data[:1000]), 0o644)
	run("-C", "-", "-o", partial, base+"a/b/up.txt")
	if got, _ := os.ReadFile(partial); string(got) != data {
		t.Errorf("curl -C - download: %d octets", len(got))
	}
	e.write(t, "a/b/half.txt", data[:5000])
	run("-C", "-", "-T", local, base+"a/b/half.txt")
	if got, _ := e.read(t, "a/b/half.txt"); got != data {
		t.Errorf("curl -C - upload: %d octets", len(got))
	}
	if got := run("--list-only", base+"a/b/"); got != "half.txt\r\nup.txt\r\n" && got != "half.txt\nup.txt\n" {
		t.Errorf("curl --list-only = %q", got)
	}
	if got := run(base); !strings.Contains(got, "hello.txt") || !strings.HasPrefix(got, "d") {
		t.Errorf("curl listing = %q", got)
	}
}
