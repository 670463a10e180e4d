package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/nntp"
)

// startNNTPBinary runs the inetkit binary's nntp service on a free port
// over data.
func startNNTPBinary(t *testing.T, data string, extra ...string) (*proc, string) {
	t.Helper()
	p, addrs := startInetkit(t, []string{"nntp"}, append([]string{"nntp", "--nntp-addr", "127.0.0.1:0", "--data", data}, extra...)...)
	return p, addrs["nntp"]
}

// testArticle returns an article with message-id id and the SHA-256 of its
// body in a header, for storedArticles to check.
func testArticle(id string, lines int) string {
	body := strings.Repeat(fmt.Sprintf("%s line\r\n.dot %s\r\n", id, id), lines)
	sum := sha256.Sum256([]byte(body))
	return fmt.Sprintf("From: k@example.org\r\nNewsgroups: inetkit.test\r\nSubject: kill\r\nMessage-ID: %s\r\nX-Body-SHA256: %x\r\n\r\n%s", id, sum, body)
}

// checkArticles reads each of ids by message-id and fails the test for one
// that is missing or whose body does not match its hash; it also checks
// that every article of the group is whole.
func checkArticles(t *testing.T, addr string, ids map[string]bool) {
	t.Helper()
	c, err := nntp.Dial(context.Background(), addr, &nntp.ClientOptions{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sumRE := regexp.MustCompile(`(?m)^X-Body-SHA256: ([0-9a-f]+)\r$`)
	check := func(spec string) (bool, string) {
		r, err := c.Article(spec)
		if err != nil {
			return false, err.Error()
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := sumRE.FindSubmatch(b)
		_, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
		got := sha256.Sum256(body)
		if sum == nil || hex.EncodeToString(got[:]) != string(sum[1]) {
			return false, fmt.Sprintf("damaged: body hash %x, header says %q", got, sum)
		}
		return true, ""
	}
	for id := range ids {
		if ok, why := check(id); !ok {
			t.Errorf("acknowledged article %s: %s", id, why)
		}
	}
	g, err := c.Group("inetkit.test")
	if err != nil {
		t.Fatal(err)
	}
	nums, err := c.ListGroup("inetkit.test", g.Low, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nums {
		if ok, why := check(fmt.Sprint(n)); !ok {
			t.Errorf("article %d of the group: %s", n, why)
		}
	}
	t.Logf("%d acknowledged articles whole; the group has %d", len(ids), len(nums))
}

// HARDENING X1 for news: posting from several clients, inetkit is killed
// (SIGKILL) at random moments, 5 times, and restarted; every article that
// got 240 is then readable with its body intact, nothing half-stored is
// visible, and the store passes integrity_check. Then the fixed moment:
// killed right after an article is durable and before its 240 (the
// INETKIT_TEST_KILL_AFTER_POST hook), the article is whole after the
// restart though never acknowledged.
func TestKill9NNTP(t *testing.T) { kill9NNTP(t) }

// TestKill9NNTP_faults is TestKill9NNTP with faults on: posts refused,
// delayed, and sessions reset lose no acknowledged article either.
func TestKill9NNTP_faults(t *testing.T) {
	kill9NNTP(t, "--faults", writeFaults(t, `nntp POST store-error prob=0.3
nntp POST delay=10ms prob=0.3
nntp connect delay=20ms
nntp POST reset prob=0.02
`))
}

// kill9NNTP is TestKill9NNTP, with extra arguments for serve.
func kill9NNTP(t *testing.T, extra ...string) {
	data := t.TempDir()
	const cycles = 5
	acked := map[string]bool{}
	var mu sync.Mutex
	seq := 0
	for cycle := range cycles {
		p, addr := startNNTPBinary(t, data, extra...)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				c, err := nntp.Dial(ctx, addr, &nntp.ClientOptions{Timeout: 5 * time.Second})
				if err != nil {
					return
				}
				defer c.Close()
				for ctx.Err() == nil {
					mu.Lock()
					seq++
					id := fmt.Sprintf("<c%d-w%d-%d@kill.test>", cycle, w, seq)
					mu.Unlock()
					got, err := c.Post(strings.NewReader(testArticle(id, 5+rand.IntN(300))))
					var e *nntp.Error
					if errors.As(err, &e) {
						continue // refused: a fault
					}
					if err != nil {
						return // the server is gone
					}
					if got != id {
						t.Errorf("Post = %q; want %q", got, id)
					}
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(50+rand.IntN(450)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(t, 10*time.Second)
		stop()
		wg.Wait()
	}
	if len(acked) < 20 {
		t.Fatalf("only %d articles acknowledged over %d cycles: the test did not exercise POST", len(acked), cycles)
	}
	p, addr := startNNTPBinary(t, data)
	checkArticles(t, addr, acked)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 20*time.Second)
	checkIntegrity(t, data)

	t.Setenv(killAfterPostEnv, "1")
	p, addr = startNNTPBinary(t, data)
	c, err := nntp.Dial(context.Background(), addr, &nntp.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Post(strings.NewReader(testArticle("<hook@kill.test>", 50))); err == nil {
		t.Error("the post the hook kills the server after got its 240")
	}
	c.Close()
	if code := p.wait(t, 10*time.Second); code != -1 {
		t.Errorf("inetkit exited %d; want killed by a signal (-1)", code)
	}
	t.Setenv(killAfterPostEnv, "")
	_, addr = startNNTPBinary(t, data)
	checkArticles(t, addr, map[string]bool{"<hook@kill.test>": true})
	checkIntegrity(t, data)
}

// HARDENING X5 for news, through the binary: on SIGTERM an idle reader
// gets 400, a POST in flight finishes with 240 within --drain, inetkit
// exits 0, and the article is there after a restart.
func TestNNTPSIGTERM(t *testing.T) {
	data := t.TempDir()
	p, addr := startNNTPBinary(t, data, "--drain", "20s")
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); !strings.HasPrefix(line, "200 ") {
			t.Fatalf("greeting %q, %v", line, err)
		}
		return c, r
	}
	_, idle := dial()
	busy, busyR := dial()
	io.WriteString(busy, "POST\r\n")
	if line, err := busyR.ReadString('\n'); !strings.HasPrefix(line, "340 ") {
		t.Fatalf("POST: %q, %v", line, err)
	}
	io.WriteString(busy, "From: a@example.org\r\nNewsgroups: inetkit.test\r\nSubject: in flight\r\nMessage-ID: <flight@term.test>\r\n\r\nfirst half\r\n")
	time.Sleep(200 * time.Millisecond) // the server has read it
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if line, err := idle.ReadString('\n'); !strings.HasPrefix(line, "400 ") {
		t.Errorf("idle reader after SIGTERM: %q, %v; want 400", line, err)
	}
	io.WriteString(busy, "second half\r\n.\r\n")
	if line, err := busyR.ReadString('\n'); !strings.HasPrefix(line, "240 ") {
		t.Errorf("POST in flight at SIGTERM: %q, %v; want 240", line, err)
	}
	if code := p.wait(t, 25*time.Second); code != 0 {
		t.Errorf("inetkit exited %d after SIGTERM; want 0\n%s", code, p.stderr)
	}
	_, addr = startNNTPBinary(t, data)
	c, err := nntp.Dial(context.Background(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, id, err := c.Stat("<flight@term.test>"); err != nil || id != "<flight@term.test>" {
		t.Errorf("the article posted during the drain: %q, %v", id, err)
	}
	checkIntegrity(t, data)
}
