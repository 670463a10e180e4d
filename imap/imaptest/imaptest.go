package imaptest

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/peers"
)

// Flags of Imaptest, registered as net/http/httptest registers its own:
// only test binaries import this package.
var (
	imaptestSecs = flag.Int("imaptest.secs", 3, "how long each stress run of Dovecot's imaptest lasts, in seconds (imaptest's secs=)")
	imaptestOut  = flag.String("imaptest.out", "", "a folder to keep the log of each imaptest run in (default: none)")
)

// scriptTimeout bounds the run of one scripted file, which takes well
// under a second against Dovecot: a server that stops answering fails the
// file (ERROR) without holding the whole test past go test's timeout.
const scriptTimeout = 30 * time.Second

// imaptestUser and imaptestPass are the account imaptest logs in as.
const (
	imaptestUser = "imaptest@example.org"
	imaptestPass = "pw"
)

// dovecotSkips are the files that imaptest skips against Dovecot 2.3 itself,
// for capabilities Dovecot does not have there (URLAUTH, and the PARTIAL of
// SORT): the only ones allowed to skip.
var dovecotSkips = []string{"urlauth", "urlauth2", "urlauth-binary", "sort-partial"}

// imaptestBinary returns the path of the imaptest binary and of its folder
// of scripted tests, or skips (or fails) t.
func imaptestBinary(t *testing.T) (bin, tests string) {
	t.Helper()
	bin = os.Getenv("INETKIT_IMAPTEST")
	if bin == "" {
		var dirs []string
		if d := os.Getenv("IMAPTEST_BUILD"); d != "" {
			dirs = append(dirs, d)
		}
		dirs = append(dirs, filepath.Join(os.TempDir(), "imaptest-build"), "/tmp/imaptest-build")
		bin = "imaptest"
		for _, d := range dirs {
			if p := filepath.Join(d, "imaptest", "src", "imaptest"); isFile(p) {
				bin = p
				break
			}
		}
	}
	bin = peers.Need(t, bin)
	tests = os.Getenv("INETKIT_IMAPTEST_TESTS")
	if tests == "" {
		tests = filepath.Join(filepath.Dir(bin), "tests")
	}
	if !isFile(filepath.Join(tests, "default.mbox")) {
		peers.Missing(t, "imaptest's scripted tests (no default.mbox in "+tests+"; set INETKIT_IMAPTEST_TESTS)")
	}
	return bin, tests
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// imaptestServer starts a server over a backend from newBackend with the
// imaptest account, closed at the end of the test. It has no error limits:
// the scripts send wrong commands on purpose, and many in a row.
func imaptestServer(t *testing.T, newBackend func(t *testing.T) (imap.Backend, func(user, pass string))) *Server {
	be, addUser := newBackend(t)
	addUser(imaptestUser, imaptestPass)
	s := NewUnstartedServer(be)
	s.Config.SoftErrorLimit = -1
	s.Config.HardErrorLimit = -1
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// runImaptest runs the imaptest binary against addr with args, stopped
// after timeout, and returns its output (stdout and stderr), which it also
// keeps as name.log in -imaptest.out.
func runImaptest(t *testing.T, bin, addr, name string, timeout time.Duration, args ...string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"host=" + host, "port=" + port,
		"user=" + imaptestUser, "pass=" + imaptestPass}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		fmt.Fprintf(&out, "\n[killed after %v]\n", timeout)
	} else if err != nil {
		fmt.Fprintf(&out, "\n[%v]\n", err)
	}
	if *imaptestOut != "" {
		if err := os.MkdirAll(*imaptestOut, 0o755); err == nil {
			os.WriteFile(filepath.Join(*imaptestOut, name+".log"), out.Bytes(), 0o644)
		}
	}
	return out.String()
}

// scriptFiles returns the names of the scripted test files in dir (not the
// .mbox files that go with some of them, nor folders).
func scriptFiles(t *testing.T, dir string) []string {
	t.Helper()
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
	if len(names) < 50 {
		t.Fatalf("only %d scripted tests in %s; want imaptest's 71", len(names), dir)
	}
	return names
}

// A scriptResult is the outcome of one scripted file: PASS, FAIL, SKIP
// (imaptest found a capability missing) or ERROR (imaptest ended without
// its summary: it crashed, or was killed after the time limit).
type scriptResult string

// scriptOutcome reads the outcome from imaptest's summary line, "N test
// groups: N failed, N skipped due to missing capabilities". A file whose
// log has an error line (a reply that contradicts what imaptest tracked
// of the mailbox, such as a keyword used before FLAGS announced it) fails
// too, whatever the summary: against Dovecot 2.3 no file has one.
func scriptOutcome(log string) scriptResult {
	for line := range strings.Lines(log) {
		_, sum, ok := strings.Cut(line, "test groups:")
		if !ok {
			continue
		}
		switch {
		case !strings.Contains(sum, " 0 failed") || len(errorLines(log)) > 0:
			return "FAIL"
		case !strings.Contains(sum, " 0 skipped"):
			return "SKIP"
		}
		return "PASS"
	}
	return "ERROR"
}

// excerpt returns the lines of log that tell why a file failed, at most
// max of them.
func excerpt(log string, max int) string {
	var lines []string
	for line := range strings.Lines(log) {
		lines = append(lines, "\t"+strings.TrimRight(line, "\r\n"))
	}
	if len(lines) > max {
		lines = append(lines[:max], fmt.Sprintf("\t[... %d more lines; -imaptest.out=DIR keeps the logs]", len(lines)-max))
	}
	return strings.Join(lines, "\n")
}

// Imaptest runs Dovecot's imaptest (https://github.com/dovecot/imaptest)
// against package imap's server over backends from newBackend, whose
// addUser must add a user with an empty INBOX. imaptest is the tool IMAP
// server authors test with: scripted files, each a set of commands with
// the exact replies RFC 3501 and its extensions require, and a stress mode
// where many clients work on one mailbox and every reply is checked for
// consistency with what the others did.
//
// Subtest "script/FILE" runs each scripted file against a server of its
// own, in parallel. A file fails on any failed command (its log excerpt
// shows the command, the expected and the received replies), on an error
// line in its log, on imaptest ending without its summary, and on a skip
// unless Dovecot 2.3 itself skips it (urlauth, urlauth2, urlauth-binary,
// sort-partial). The table of outcomes is logged at the end (go test -v,
// or on failure). Subtests "stress/shared" and "stress/own_flags" run the
// stress mode, 10 clients on one mailbox, the second with each client
// changing only flags of its own so that imaptest checks the flags it
// reads back: any error line in imaptest's log fails them, but for "STORE
// didn't return FETCH FLAGS" with own_flags, which Dovecot 2.3 gets too.
//
// The binary is found at $INETKIT_IMAPTEST, at
// $IMAPTEST_BUILD/imaptest/src/imaptest or
// $TMPDIR/imaptest-build/imaptest/src/imaptest (a source tree of
// dovecot/imaptest's release-2.3 branch built in place), or as imaptest in
// $PATH; its scripted files are in the tests folder
// beside it, or at $INETKIT_IMAPTEST_TESTS. When it is missing Imaptest
// skips t, or fails it with INETKIT_REQUIRE_PEERS=1. The flag
// -imaptest.secs sets the length of each stress run (3 seconds by
// default), and -imaptest.out a folder to keep every run's log in.
func Imaptest(t *testing.T, newBackend func(t *testing.T) (be imap.Backend, addUser func(user, pass string))) {
	t.Helper()
	bin, dir := imaptestBinary(t)
	t.Run("script", func(t *testing.T) { imaptestScripts(t, bin, dir, newBackend) })
	t.Run("stress", func(t *testing.T) { imaptestStress(t, bin, newBackend) })
}

// imaptestScripts runs every scripted file of dir and logs the table of
// their outcomes.
func imaptestScripts(t *testing.T, bin, dir string, newBackend func(t *testing.T) (imap.Backend, func(user, pass string))) {
	names := scriptFiles(t, dir)
	var (
		mu      sync.Mutex
		results = map[string]scriptResult{}
	)
	// Cleanup runs once the parallel subtests are done.
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		t.Log(resultTable(names, results))
	})
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := imaptestServer(t, newBackend)
			log := runImaptest(t, bin, s.Addr, name, scriptTimeout, "test="+filepath.Join(dir, name))
			res := scriptOutcome(log)
			mu.Lock()
			results[name] = res
			mu.Unlock()
			switch {
			case res == "PASS":
			case res == "SKIP" && slices.Contains(dovecotSkips, name):
				t.Logf("skipped by imaptest for a missing capability, as against Dovecot")
			default:
				t.Errorf("imaptest %s: %s\n%s", name, res, excerpt(log, 40))
			}
		})
	}
}

// resultTable formats the outcome of every file and their counts.
func resultTable(names []string, results map[string]scriptResult) string {
	var b strings.Builder
	count := map[scriptResult]int{}
	b.WriteString("imaptest scripted files:\n")
	for _, name := range names {
		res := results[name]
		if res == "" {
			count["NOT RUN"]++ // left out by -run
			continue
		}
		count[res]++
		fmt.Fprintf(&b, "\t%-36s %s\n", name, res)
	}
	fmt.Fprintf(&b, "\t%d passed, %d failed, %d errors, %d skipped, %d not run",
		count["PASS"], count["FAIL"], count["ERROR"], count["SKIP"], count["NOT RUN"])
	return b.String()
}

// imaptestStress runs imaptest's stress mode: 10 clients logged in as one
// user for -imaptest.secs, appending, fetching, storing, expunging and
// checking every reply against what the others did; with own_flags, each
// client changes only its own flags, so that imaptest also checks the flags
// it reads back. A line of imaptest's log that reports an error fails it,
// but for one that Dovecot 2.3 gets too (ownFlagsArtifact).
func imaptestStress(t *testing.T, bin string, newBackend func(t *testing.T) (imap.Backend, func(user, pass string))) {
	mbox := stressMbox(t)
	for _, mode := range []struct{ name, arg string }{{"shared", ""}, {"own_flags", "own_flags"}} {
		t.Run(mode.name, func(t *testing.T) {
			s := imaptestServer(t, newBackend)
			secs := max(1, *imaptestSecs)
			args := []string{"mbox=" + mbox, "clients=10", fmt.Sprintf("secs=%d", secs)}
			if mode.arg != "" {
				args = append(args, mode.arg)
			}
			log := runImaptest(t, bin, s.Addr, "stress-"+mode.name, time.Duration(secs)*time.Second+time.Minute, args...)
			errs := errorLines(log)
			if mode.arg == "own_flags" {
				n := len(errs)
				errs = slices.DeleteFunc(errs, ownFlagsArtifact)
				if n > len(errs) {
					t.Logf("%d \"STORE didn't return FETCH FLAGS\" lines left out: Dovecot 2.3 gets them too with own_flags", n-len(errs))
				}
			}
			if len(errs) > 0 {
				t.Errorf("imaptest stress (%s) reported %d errors, of these kinds:\n%s", mode.name, len(errs), errorKinds(errs, 20))
			}
			if !strings.Contains(log, "Logi") {
				t.Errorf("imaptest stress (%s) printed no statistics; log:\n%s", mode.name, excerpt(log, 40))
			}
		})
	}
}

// ownFlagsArtifact reports whether an error line of a stress run with
// own_flags is one that Dovecot 2.3 gets as well, in every run of 10
// seconds: imaptest's own flag tracking expects a FETCH FLAGS in a STORE's
// reply for a message whose STORE it had not yet seen the end of
// (expunged=? or no). It is not a sign of a bug in the server.
func ownFlagsArtifact(line string) bool {
	return strings.Contains(line, "STORE didn't return FETCH FLAGS for seq ")
}

// errorLines returns the lines of imaptest's log that report an error:
// Dovecot's logging prefixes (Error:, Panic:, Fatal:), and the notes
// runImaptest adds when imaptest was killed or exited with an error.
func errorLines(log string) []string {
	var errs []string
	for line := range strings.Lines(log) {
		for _, p := range []string{"Error:", "Panic:", "Fatal:", "[killed after", "[exit status"} {
			if strings.Contains(line, p) {
				errs = append(errs, strings.TrimRight(line, "\r\n"))
				break
			}
		}
	}
	return errs
}

// errorKinds sums up error lines: each kind of error (the text before the
// server's response it quotes, with numbers left out) with its count and
// its first line, for at most max kinds.
func errorKinds(errs []string, max int) string {
	type kind struct {
		n       int
		example string
	}
	kinds := map[string]*kind{}
	var order []string
	for _, e := range errs {
		k := e
		if _, rest, ok := strings.Cut(k, "]: "); ok {
			k = rest
		}
		for _, sep := range []string{": * ", ": " + `"`, " '", ": "} {
			if i := strings.Index(k, sep); i > 0 {
				k = k[:i]
				break
			}
		}
		k = strings.Map(func(r rune) rune {
			if '0' <= r && r <= '9' {
				return 'N'
			}
			return r
		}, k)
		if kinds[k] == nil {
			kinds[k] = &kind{example: e}
			order = append(order, k)
		}
		kinds[k].n++
	}
	var b strings.Builder
	for i, k := range order {
		if i == max {
			fmt.Fprintf(&b, "\t[... %d more kinds; -imaptest.out=DIR keeps the logs]\n", len(order)-max)
			break
		}
		ex := kinds[k].example
		if len(ex) > 300 {
			ex = ex[:300] + "..."
		}
		fmt.Fprintf(&b, "\t%6d × %s\n\t\t%s\n", kinds[k].n, k, ex)
	}
	return b.String()
}

// stressMbox writes an mbox of 50 messages for the stress runs (imaptest
// appends them, and checks that what it fetches of each, which it tells
// by Message-ID, never changes), and returns its path. Like the shared
// tools' make_mbox.py, it mixes plain text, UTF-8 in base64 with encoded
// words, multipart/alternative, multipart/mixed with a base64 attachment
// and a quoted-printable part, and forwarded message/rfc822 parts.
func stressMbox(t *testing.T) string {
	t.Helper()
	rnd := rand.New(rand.NewPCG(42, 42))
	names := []string{"Alice Example <alice@example.org>", "Bob Builder <bob@example.net>",
		"=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>", "Carol <carol@example.com>",
		`"O'Neil, Dave" <dave@example.com>`, "zoe@example.se"}
	subjects := []string{"Hello", "Re: meeting tomorrow", "Fwd: report", "=?utf-8?b?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=",
		"Re: Re: Fwd: long thread subject", "[list] weekly digest", "plain ascii subject with some length to fold maybe beyond seventy-eight characters"}
	base := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := range 50 {
		date := base.Add(time.Duration(i) * 7 * time.Hour)
		fmt.Fprintf(&b, "From sender@example.org %s\n", date.Format(time.ANSIC))
		fmt.Fprintf(&b, "From: %s\nTo: %s\n", names[rnd.IntN(len(names))], names[rnd.IntN(len(names))])
		if i%3 == 0 {
			b.WriteString("Cc: Carol <carol@example.com>, bob@example.net\n")
		}
		fmt.Fprintf(&b, "Subject: %s #%d\nDate: %s\nMessage-ID: <msg%d.%d@imaptest.example>\n",
			subjects[rnd.IntN(len(subjects))], i, date.Format(time.RFC1123Z), i, rnd.Uint32())
		if i > 0 && i%4 == 0 {
			fmt.Fprintf(&b, "In-Reply-To: <msg%d@imaptest.example>\n", i-4)
		}
		b.WriteString("MIME-Version: 1.0\n")
		stressBody(&b, i, rnd)
		b.WriteString("\n")
	}
	p := filepath.Join(t.TempDir(), "stress.mbox")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stressBody writes the Content-Type and the body of stress message i.
func stressBody(b *strings.Builder, i int, rnd *rand.Rand) {
	switch i % 5 {
	case 0:
		fmt.Fprintf(b, "Content-Type: text/plain; charset=us-ascii\n\nPlain body %d\nline two\n%s\n", i, strings.Repeat("x", rnd.IntN(500)))
	case 1:
		fmt.Fprintf(b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n%s\n",
			base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("Körper %d: Ünïcödé text ☃ ✓ 日本\n", i))))
	case 2:
		fmt.Fprintf(b, "Content-Type: multipart/alternative; boundary=\"alt%d\"\n\n--alt%d\nContent-Type: text/plain; charset=utf-8\n\nalt text %d\n"+
			"--alt%d\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>alt html %d</p></body></html>\n--alt%d--\n", i, i, i, i, i, i)
	case 3:
		att := make([]byte, 100+rnd.IntN(2900))
		for j := range att {
			att[j] = byte(rnd.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(att)
		var lines []string
		for len(enc) > 76 {
			lines, enc = append(lines, enc[:76]), enc[76:]
		}
		lines = append(lines, enc)
		fmt.Fprintf(b, "Content-Type: multipart/mixed; boundary=\"mix%d\"\n\n--mix%d\nContent-Type: text/plain\n\nsee attachment %d\n"+
			"--mix%d\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"data%d.bin\"\n\n%s\n"+
			"--mix%d\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nquoted-printable =3D sign and long line %s=\n\n--mix%d--\n",
			i, i, i, i, i, strings.Join(lines, "\n"), i, strings.Repeat("=E9", 40), i)
	default:
		fmt.Fprintf(b, "Content-Type: multipart/mixed; boundary=\"fwd%d\"\n\n--fwd%d\nContent-Type: text/plain\n\nforwarding %d\n"+
			"--fwd%d\nContent-Type: message/rfc822\n\nFrom: inner@example.org\nTo: x@example.org\nSubject: inner subject %d\n"+
			"Message-ID: <inner%d@imaptest.example>\n\ninner forwarded message %d\n--fwd%d--\n", i, i, i, i, i, i, i, i)
	}
}
