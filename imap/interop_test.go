package imap_test

import (
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
)

const pythonClient = `
import imaplib, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
M = imaplib.IMAP4(host, port)
assert "STARTTLS" in M.capabilities, M.capabilities
assert "LOGINDISABLED" in M.capabilities, M.capabilities
M.starttls(ssl_context=ssl.create_default_context(cafile=cafile))
assert "AUTH=PLAIN" in M.capabilities, M.capabilities
M.login("alice", "secret")
typ, caps = M.capability()
assert b"IDLE" in caps[0] and b"UIDPLUS" in caps[0], caps
typ, data = M.select("INBOX")
assert typ == "OK" and data == [b"1"], (typ, data)
typ, data = M.search(None, "ALL")
assert data == [b"1"], data
typ, data = M.fetch("1", "(RFC822)")
assert data[0][1] == b"From: Bob <bob@example.org>\r\nSubject: Hello\r\n\r\nHi Alice\r\n", data
typ, data = M.store("1", "+FLAGS", "(\\Flagged)")
assert typ == "OK" and b"\\flagged" in data[0].lower(), data
typ, data = M.append("INBOX", "(\\Seen)", None, b"Subject: appended\r\n\r\nbody\r\n")
assert typ == "OK" and b"APPENDUID" in data[0], data
typ, data = M.create("Archive")
assert typ == "OK", data
typ, data = M.copy("1:2", "Archive")
assert typ == "OK", data
typ, data = M.store("1", "+FLAGS", "(\\Deleted)")
typ, data = M.expunge()
assert data == [b"1"], data
typ, data = M.status("Archive", "(MESSAGES)")
assert b"MESSAGES 2" in data[0], data
typ, data = M.search(None, "SUBJECT", "appended")
assert data == [b"1"], data
M.logout()
print("ok")
`

// Python's imaplib: STARTTLS, login, select, search, fetch, store, append,
// copy, expunge.
func TestInterop_python(t *testing.T) {
	python := peers.Need(t, "python3")
	s, _ := newRegressServer(t, func(s *imap.Server) { s.InsecureAuth = false })
	dir := t.TempDir()
	cafile := filepath.Join(dir, "ca.pem")
	var pemData []byte
	for _, c := range testcert.ServerConfig().Certificates[0].Certificate[1:] {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	if len(pemData) == 0 {
		t.Fatal("test certificate chain has no CA")
	}
	if err := os.WriteFile(cafile, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(s.Addr)
	out, err := exec.Command(python, "-c", pythonClient, host, port, cafile).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python imaplib: %v\n%s", err, out)
	}
}

// curl lists mailboxes and fetches a message by UID.
func TestInterop_curl(t *testing.T) {
	curl := peers.Need(t, "curl")
	s, _ := newRegressServer(t, nil)
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "imap://"+s.Addr+"/", "-u", "alice:secret").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "INBOX") {
		t.Errorf("curl LIST: %v\n%s", err, out)
	}
	out, err = exec.Command(curl, "-sS", "--max-time", "10", "imap://"+s.Addr+"/INBOX;UID=1", "-u", "alice:secret").CombinedOutput()
	if err != nil || string(out) != testMsg {
		t.Errorf("curl fetch UID 1 = %q, %v; want %q", out, err, testMsg)
	}
}
