package nntp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
)

func faultServer(t *testing.T, rules ...string) (*nntptest.Server, *nntptest.Spool) {
	t.Helper()
	sp := newSpool()
	s := newServer(t, sp, func(s *nntp.Server) { s.Faults = fault.MustParseSet(1, rules...) })
	return s, sp
}

const faultArticle = "From: a@x.test\r\nNewsgroups: misc.test\r\nSubject: hi\r\n\r\nbody\r\n"

func nntpCode(err error) int {
	var e *nntp.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestServer_faults(t *testing.T) {
	t.Parallel()
	s, sp := faultServer(t,
		`nntp connect reply="502 not now" first=1`,
		`nntp GROUP reply="403 try later" first=1`,
		`nntp POST disk-full first=1`,
		`nntp POST reply="441 Posting failed: over quota" user=alice`,
		`nntp ARTICLE reset`,
	)
	if _, err := nntp.Dial(context.Background(), s.Addr, nil); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("first Dial = %v; want the 502 greeting", err)
	}
	c, err := nntp.Dial(context.Background(), s.Addr, &nntp.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Group("misc.test"); nntpCode(err) != 403 {
		t.Errorf("Group = %v; want 403", err)
	}
	if _, err := c.Group("misc.test"); err != nil {
		t.Errorf("Group again = %v; want it (first=1)", err)
	}
	if _, err := c.Post(strings.NewReader(faultArticle)); nntpCode(err) != 441 || !strings.Contains(err.Error(), "insufficient storage") {
		t.Errorf("Post = %v; want 441 insufficient storage", err)
	}
	if _, err := c.Post(strings.NewReader(faultArticle)); err != nil {
		t.Errorf("Post again = %v; want it stored (the other POST rule is alice's)", err)
	}
	if n := sp.Len(); n != 1 {
		t.Errorf("%d articles stored; want 1", n)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Post(strings.NewReader(faultArticle)); nntpCode(err) != 441 || !strings.Contains(err.Error(), "over quota") {
		t.Errorf("alice: Post = %v; want 441 over quota", err)
	}
	if _, err := c.Article("1"); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("Article = %v; want ECONNRESET", err)
	}
}

const nntplibFaultScript = `
import nntplib, sys, warnings
warnings.simplefilter("ignore")
host, port = sys.argv[1], int(sys.argv[2])
s = nntplib.NNTP(host, port, timeout=10)
try:
    s.group("misc.test")
except nntplib.NNTPTemporaryError as e:
    print("group:", e)
try:
    s.post(b"From: a@x.test\r\nNewsgroups: misc.test\r\nSubject: hi\r\n\r\nbody\r\n")
except nntplib.NNTPTemporaryError as e:
    print("post:", e)
print("post again:", s.post(b"From: a@x.test\r\nNewsgroups: misc.test\r\nSubject: hi\r\n\r\nbody\r\n").split()[0])
s.quit()
`

// TestInterop_nntplibFaults: Python's nntplib raises NNTPTemporaryError for
// a 4xx to GROUP and to a POSTed article.
func TestInterop_nntplibFaults(t *testing.T) {
	t.Parallel()
	python := peers.Need(t, python311)
	if err := exec.Command(python, "-c", "import nntplib").Run(); err != nil {
		peers.Missing(t, fmt.Sprintf("%s has no nntplib: %v", python, err))
	}
	s, _ := faultServer(t, `nntp GROUP reply="411 no such group"`, `nntp POST store-error first=1`)
	host, port, _ := strings.Cut(s.Addr, ":")
	var stderr bytes.Buffer
	cmd := exec.Command(python, "-c", nntplibFaultScript, host, port)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nntplib: %v\n%s", err, stderr.Bytes())
	}
	want := "group: 411 no such group\npost: 441 Posting failed: try again later\npost again: 240\n"
	if string(out) != want {
		t.Errorf("nntplib said\n%s\nwant\n%s", out, want)
	}
}
