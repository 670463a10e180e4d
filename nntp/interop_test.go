package nntp_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/nntp"
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

// python311 is Debian's Python, which still has nntplib (removed from the
// standard library in 3.13).
const python311 = "/usr/bin/python3"

const nntplibScript = `
import base64, datetime, json, nntplib, ssl, sys, warnings
warnings.simplefilter("ignore")
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
s = nntplib.NNTP(host, port, timeout=10)
out["welcome"] = s.getwelcome()
out["caps"] = sorted(s.getcapabilities().keys())
s.starttls(ssl.create_default_context(cafile=cafile))
s.login("alice", "secret", usenetrc=False)
out["caps_auth"] = sorted(s.getcapabilities().keys())
body = [b".", b"..x", b".hidden", b"...", b"end"]
art = [b"From: Py <py@example.org>", b"Newsgroups: misc.test,alt.test", b"Subject: dots", b"Message-ID: <dots@py.example>", b""] + body
out["post"] = s.post(art)
out["list"] = sorted([g.group, g.last, g.first, g.flag] for g in s.list()[1])
out["desc"] = s.descriptions("misc.*")[1]
resp, count, first, last, name = s.group("misc.test")
out["group"] = [count, first, last, name]
resp, ovs = s.over((first, last))
out["over"] = [[n, o["subject"], o["message-id"], o[":lines"], o["xref"]] for n, o in ovs]
resp, info = s.article("<dots@py.example>")
out["article"] = [l.decode() for l in info.lines]
resp, info = s.head(last)
out["head_number"] = info.number
out["head"] = [l.decode() for l in info.lines]
resp, info = s.body("<dots@py.example>")
out["body"] = [l.decode() for l in info.lines]
resp, ids = s.newnews("misc.test", datetime.datetime(2000, 1, 1))
out["newnews"] = ids
resp, hdrs = s.xhdr("subject", "%d-%d" % (first, last))
out["xhdr"] = [[n, v] for n, v in hdrs]
out["date"] = s.date()[1].year
out["quit"] = s.quit()
json.dump(out, sys.stdout, default=str)
`

// TestInterop_nntplib runs Python's nntplib against the server: STARTTLS
// with the test CA, AUTHINFO USER/PASS, POST of a body of lines starting
// with dots (HARDENING N1), LIST, LIST NEWSGROUPS, GROUP, OVER, ARTICLE,
// HEAD, BODY, NEWNEWS (without GMT: local time), XHDR, DATE, QUIT.
func TestInterop_nntplib(t *testing.T) {
	python := peers.Need(t, python311)
	if err := exec.Command(python, "-c", "import nntplib").Run(); err != nil {
		peers.Missing(t, fmt.Sprintf("%s has no nntplib: %v", python, err))
	}
	sp := newSpool()
	s := newServer(t, sp, func(s *nntp.Server) {
		s.InsecureAuth = false
		s.AllowAnonymousPost = false
		s.TLSConfig = testcert.ServerConfig()
	})
	post(t, s) // nothing: the server is up
	host, port, _ := strings.Cut(s.Addr, ":")
	cmd := exec.Command(python, "-c", nntplibScript, host, port, caFile(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nntplib: %v\n%s", err, stderr.Bytes())
	}
	var got struct {
		Welcome    string
		Caps       []string
		CapsAuth   []string `json:"caps_auth"`
		Post       string
		List       [][]any
		Desc       map[string]string
		Group      []any
		Over       [][]any
		Article    []string
		HeadNumber int `json:"head_number"`
		Head       []string
		Body       []string
		NewNews    []string
		XHdr       [][]any
		Date       int
		Quit       string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("nntplib output %q: %v", out, err)
	}
	if !strings.HasPrefix(got.Welcome, "201 inetkit") {
		t.Errorf("welcome %q", got.Welcome)
	}
	if slices.Contains(got.Caps, "POST") || !slices.Contains(got.Caps, "STARTTLS") || !slices.Contains(got.CapsAuth, "POST") || slices.Contains(got.CapsAuth, "AUTHINFO") {
		t.Errorf("capabilities %v, after login %v", got.Caps, got.CapsAuth)
	}
	if !strings.HasPrefix(got.Post, "240 ") {
		t.Errorf("post: %q", got.Post)
	}
	wantBody := []string{".", "..x", ".hidden", "...", "end"}
	if !slices.Equal(got.Body, wantBody) {
		t.Errorf("body %q; want %q", got.Body, wantBody)
	}
	if n := len(got.Article); n < 6 || !slices.Equal(got.Article[n-5:], wantBody) || !slices.Contains(got.Article, "Xref: news.test misc.test:1 alt.test:1") {
		t.Errorf("article %q", got.Article)
	}
	if got.HeadNumber != 1 || !slices.Contains(got.Head, "Subject: dots") {
		t.Errorf("head %d %q", got.HeadNumber, got.Head)
	}
	if len(got.List) != 2 || len(got.Group) != 4 || got.Group[3] != "misc.test" {
		t.Errorf("list %v, group %v", got.List, got.Group)
	}
	if len(got.Over) != 1 || got.Over[0][1] != "dots" || got.Over[0][2] != "<dots@py.example>" {
		t.Errorf("over %v", got.Over)
	}
	if !slices.Equal(got.NewNews, []string{"<dots@py.example>"}) {
		t.Errorf("newnews %v", got.NewNews)
	}
	if len(got.XHdr) != 1 || got.XHdr[0][1] != "dots" {
		t.Errorf("xhdr %v", got.XHdr)
	}
	if got.Date < 2020 || !strings.HasPrefix(got.Quit, "205") {
		t.Errorf("date %d, quit %q", got.Date, got.Quit)
	}
	stored, _ := sp.Stored("<dots@py.example>")
	if !strings.HasSuffix(stored, "\r\n\r\n.\r\n..x\r\n.hidden\r\n...\r\nend\r\n") {
		t.Errorf("stored %q", stored)
	}
}
