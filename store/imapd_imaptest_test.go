package store_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapd/imapdtest"
	"github.com/inetkit/inetkit/internal/peers"
)

// Dovecot's imaptest (https://github.com/dovecot/imaptest) scripted files
// against package imapd's server over the store's IMAPDBackend: what the
// server's own tests check over its in-memory backend, checked over SQLite.
// The binary is $INETKIT_IMAPTEST, or where the shared tools' build script
// puts it (/tmp/imaptest-build), or imaptest in $PATH; the files are in the
// tests folder beside it. When it is missing the test skips, or fails with
// INETKIT_REQUIRE_PEERS=1.

// imapdImaptestSkips are the files imaptest skips against Dovecot 2.3 itself,
// for capabilities Dovecot lacks there: the only ones allowed to skip.
var imapdImaptestSkips = []string{"urlauth", "urlauth2", "urlauth-binary", "sort-partial"}

func imapdImaptestBinary(t *testing.T) (bin, tests string) {
	t.Helper()
	bin = os.Getenv("INETKIT_IMAPTEST")
	if bin == "" {
		bin = "imaptest"
		for _, d := range []string{os.Getenv("IMAPTEST_BUILD"), filepath.Join(os.TempDir(), "imaptest-build"), "/tmp/imaptest-build"} {
			p := filepath.Join(d, "imaptest", "src", "imaptest")
			if fi, err := os.Stat(p); d != "" && err == nil && fi.Mode().IsRegular() {
				bin = p
				break
			}
		}
	}
	bin = peers.Need(t, bin)
	tests = filepath.Join(filepath.Dir(bin), "tests")
	if _, err := os.Stat(filepath.Join(tests, "default.mbox")); err != nil {
		peers.Missing(t, "imaptest's scripted tests (no default.mbox in "+tests+")")
	}
	return bin, tests
}

// imapdImaptestRun runs one scripted file against a server of its own over
// a new store, and returns PASS, FAIL, SKIP or ERROR with imaptest's output.
func imapdImaptestRun(t *testing.T, bin, file string) (string, string) {
	st := openStore(t, "", nil)
	if err := st.AddUser(context.Background(), "imaptest@example.org", "pw"); err != nil {
		t.Fatal(err)
	}
	s := imapdtest.NewUnstartedServer(st.IMAPDBackend())
	s.Config.SoftErrorLimit, s.Config.HardErrorLimit = -1, -1
	s.Start()
	t.Cleanup(s.Close)
	host, port, _ := net.SplitHostPort(s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "host="+host, "port="+port, "user=imaptest@example.org", "pass=pw", "test="+file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	cmd.Run()
	for line := range strings.Lines(out.String()) {
		if _, sum, ok := strings.Cut(line, "test groups:"); ok {
			switch {
			case !strings.Contains(sum, " 0 failed"):
				return "FAIL", out.String()
			case !strings.Contains(sum, " 0 skipped"):
				return "SKIP", out.String()
			}
			return "PASS", out.String()
		}
	}
	return "ERROR", out.String()
}

// TestIMAPDBackend_imaptest runs every scripted file of imaptest, each over
// a store of its own, in parallel; the outcomes are logged at the end.
func TestIMAPDBackend_imaptest(t *testing.T) {
	bin, dir := imapdImaptestBinary(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), ".mbox") {
			names = append(names, e.Name())
		}
	}
	var mu sync.Mutex
	results := map[string]string{}
	t.Run("script", func(t *testing.T) {
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				res, log := imapdImaptestRun(t, bin, filepath.Join(dir, name))
				mu.Lock()
				results[name] = res
				mu.Unlock()
				if res != "PASS" && !(res == "SKIP" && slices.Contains(imapdImaptestSkips, name)) {
					if len(log) > 4000 {
						log = log[:4000] + "\n[...]"
					}
					t.Errorf("imaptest %s: %s\n%s", name, res, log)
				}
			})
		}
	})
	var b strings.Builder
	count := map[string]int{}
	for _, name := range names {
		if res := results[name]; res != "" {
			count[res]++
			fmt.Fprintf(&b, "\t%-32s %s\n", name, res)
		}
	}
	t.Logf("imaptest over the store:\n%s\t%d passed, %d failed, %d errors, %d skipped", b.String(), count["PASS"], count["FAIL"], count["ERROR"], count["SKIP"])
}
