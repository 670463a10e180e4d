package pop3_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
)

// caFile writes the CA of the test certificate to a PEM file.
func caFile(t *testing.T) string {
	t.Helper()
	chain := testcert.ServerConfig().Certificates[0].Certificate
	ca := chain[len(chain)-1]
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const msgDots = "Subject: dots\r\n\r\n.\r\n.x\r\n..\r\nlast\r\n"

const poplibScript = `
import base64, json, poplib, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
p = poplib.POP3(host, port, timeout=10)
out["welcome"] = p.getwelcome().decode()
out["capa"] = sorted(p.capa().keys())
p.stls(context=ssl.create_default_context(cafile=cafile))
out["capa_tls"] = sorted(p.capa().keys())
p.user("alice")
p.pass_("secret")
out["stat"] = list(p.stat())
out["list"] = [l.decode() for l in p.list()[1]]
out["uidl"] = [l.decode() for l in p.uidl()[1]]
resp, lines, octets = p.retr(2)
out["retr"] = base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode()
out["retr_octets"] = octets
resp, lines, octets = p.top(2, 1)
out["top"] = base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode()
out["dele"] = p.dele(1).decode()
out["quit"] = p.quit().decode()
p = poplib.POP3(host, port, timeout=10)
p.stls(context=ssl.create_default_context(cafile=cafile))
p.apop("alice", "secret")
out["apop_stat"] = list(p.stat())
p.quit()
json.dump(out, sys.stdout)
`

// TestInterop_poplib runs Python's poplib against the server: STLS with the
// test CA, USER/PASS, STAT, LIST, UIDL, RETR and TOP of a message with
// dot-stuffed lines (HARDENING P1), DELE, QUIT, then APOP.
func TestInterop_poplib(t *testing.T) {
	python := peers.Need(t, "python3")
	md := pop3test.NewMaildrop("alice", "secret", msg1, msgDots)
	s := newServer(t, md, func(s *pop3.Server) {
		s.InsecureAuth = false
		s.TLSConfig = testcert.ServerConfig()
	})
	host, port, _ := strings.Cut(s.Addr, ":")
	cmd := exec.Command(python, "-c", poplibScript, host, port, caFile(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("poplib: %v\n%s", err, stderr.Bytes())
	}
	var got struct {
		Welcome    string
		Capa       []string
		CapaTLS    []string `json:"capa_tls"`
		Stat       []int
		List, UIDL []string
		Retr       []byte
		RetrOctets int `json:"retr_octets"`
		Top        []byte
		Dele, Quit string
		APOPStat   []int `json:"apop_stat"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("poplib output %q: %v", out, err)
	}
	if !strings.HasPrefix(got.Welcome, "+OK inetkit POP3 server ready <") {
		t.Errorf("welcome = %q", got.Welcome)
	}
	if slices.Contains(got.Capa, "USER") || !slices.Contains(got.Capa, "STLS") {
		t.Errorf("capabilities before STLS = %v; want STLS and no USER", got.Capa)
	}
	if !slices.Contains(got.CapaTLS, "USER") || slices.Contains(got.CapaTLS, "STLS") {
		t.Errorf("capabilities after STLS = %v; want USER and no STLS", got.CapaTLS)
	}
	if want := []int{2, len(msg1) + len(msgDots)}; !slices.Equal(got.Stat, want) {
		t.Errorf("stat = %v; want %v", got.Stat, want)
	}
	if want := []string{"1 23", "2 34"}; !slices.Equal(got.List, want) {
		t.Errorf("list = %v; want %v", got.List, want)
	}
	if want := []string{"1 uid-1", "2 uid-2"}; !slices.Equal(got.UIDL, want) {
		t.Errorf("uidl = %v; want %v", got.UIDL, want)
	}
	if string(got.Retr) != msgDots {
		t.Errorf("retr = %q; want %q", got.Retr, msgDots)
	}
	if want := "Subject: dots\r\n\r\n.\r\n"; string(got.Top) != want {
		t.Errorf("top 2 1 = %q; want %q", got.Top, want)
	}
	if !strings.HasPrefix(got.Dele, "+OK") || !strings.HasPrefix(got.Quit, "+OK") {
		t.Errorf("dele = %q, quit = %q", got.Dele, got.Quit)
	}
	if want := []int{1, len(msgDots)}; !slices.Equal(got.APOPStat, want) {
		t.Errorf("stat after APOP = %v; want %v", got.APOPStat, want)
	}
	if got := md.Messages(); !slices.Equal(got, []string{msgDots}) {
		t.Errorf("the maildrop holds %q; want message 2 only", got)
	}
}

// TestInterop_curl lists and retrieves messages with curl, in plain text
// (AUTH PLAIN with InsecureAuth, as on loopback) and with STLS.
func TestInterop_curl(t *testing.T) {
	curl := peers.Need(t, "curl")
	md := pop3test.NewMaildrop("alice", "secret", msg1, msgDots)
	s := newServer(t, md, func(s *pop3.Server) { s.TLSConfig = testcert.ServerConfig() })
	ca := caFile(t)
	_, port, _ := strings.Cut(s.Addr, ":")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(curl, append([]string{"-sS", "--max-time", "10", "-u", "alice:secret"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, stderr.Bytes())
		}
		return string(out)
	}
	if got, want := run("pop3://"+s.Addr+"/"), "1 23\r\n2 34\r\n"; got != want {
		t.Errorf("curl LIST = %q; want %q", got, want)
	}
	if got := run("pop3://" + s.Addr + "/2"); got != msgDots {
		t.Errorf("curl RETR 2 = %q; want %q", got, msgDots)
	}
	if got := run("--ssl-reqd", "--cacert", ca, "pop3://127.0.0.1:"+port+"/1"); got != msg1 {
		t.Errorf("curl RETR 1 over STLS = %q; want %q", got, msg1)
	}
	if got := md.Messages(); len(got) != 2 {
		t.Errorf("curl deleted messages: %d left", len(got))
	}
}
