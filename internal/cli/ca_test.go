package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/tlsca"
)

// The tests of this package never use the user's CA in the real home: every
// serve and client they run, in process or as a child, finds it in a
// directory of the system's temporary directory, one per user and shared by
// test runs (tlsca makes the CA once, whoever comes first), unless a test
// sets its own with t.Setenv(tlsca.EnvDir, t.TempDir()).
func init() {
	os.Setenv(tlsca.EnvDir, filepath.Join(os.TempDir(), fmt.Sprintf("inetkit-cli-test-ca-%d", os.Getuid())))
}

// userCAFile returns the CA file of the user's CA, which serve makes and
// the clients trust, for other clients (Python, curl).
func userCAFile(t testing.TB) string {
	t.Helper()
	dir, err := tlsca.UserDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, tlsca.CAFile)
}

// setUserCA gives the test a new, empty CA directory and returns it.
func setUserCA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(tlsca.EnvDir, dir)
	return dir
}

// One CA per user signs the certificate of every data directory: two
// servers with different --data are verified, with no flags, by clients run
// from a third directory.
func TestServeMail_userCA(t *testing.T) {
	caDir := setUserCA(t)
	srvA, dataA := mailServe(t)
	srvB, dataB := mailServe(t)
	caFile := filepath.Join(caDir, tlsca.CAFile)

	if log := srvA.stderr.String(); !strings.Contains(log, "made a local certificate authority") || !strings.Contains(log, "ca="+caFile) {
		t.Errorf("first serve's log does not say it made the CA at %s:\n%s", caFile, log)
	}
	if log := srvB.stderr.String(); strings.Contains(log, "made a local certificate authority") || !strings.Contains(log, "ca="+caFile) {
		t.Errorf("second serve's log does not name the CA it uses, %s:\n%s", caFile, log)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(filepath.Join(caDir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("CA key: %v, %v; want mode 0600", err, fi)
		}
	}
	for _, data := range []string{dataA, dataB} {
		if _, err := os.Stat(filepath.Join(data, "tls", "ca-key.pem")); err == nil {
			t.Errorf("%s holds a CA key", data)
		}
	}

	t.Chdir(t.TempDir())
	const user = "alice@example.org"
	for i, srv := range []*mainServer{srvA, srvB} {
		a := srv.addrs
		subject := fmt.Sprintf("to server %d", i)
		code, stdout, stderr := runMain(t, "", "send", "smtp://"+a["smtp"], "--tls", "require", "--from", "bob@example.org", "--to", user, "--subject", subject)
		if code != exitOK || !strings.HasPrefix(stdout, "250 ") {
			t.Fatalf("send to server %d with no flags = %d, %q, %q", i, code, stdout, stderr)
		}
		code, stdout, stderr = runMain(t, "", "get", "--tls", "require", userURL("pop3", user, "pw", a["pop3"], "/"))
		if code != exitOK || !strings.Contains(stdout, "1 ") {
			t.Errorf("get pop3 from server %d with no flags = %d, %q, %q", i, code, stdout, stderr)
		}
		code, stdout, stderr = runMain(t, "", "get", "--tls", "require", userURL("imap", user, "pw", a["imap"], "/INBOX"))
		if code != exitOK || !strings.Contains(stdout, subject) {
			t.Errorf("get imap from server %d with no flags = %d, %q, %q", i, code, stdout, stderr)
		}
	}
}

// A data directory that an older inetkit gave its own CA gets a certificate
// from the user's CA.
func TestServeMail_oldDataDirCA(t *testing.T) {
	data := t.TempDir()
	// The older layout: the CA's files in DATA/tls.
	if _, _, err := tlsca.LoadCA(filepath.Join(data, "tls")); err != nil {
		t.Fatal(err)
	}
	setUserCA(t)
	srv, _ := mailServe(t, "--data", data)
	t.Chdir(t.TempDir())
	code, stdout, stderr := runMain(t, "", "get", "--tls", "require", userURL("pop3", "a@example.org", "pw", srv.addrs["pop3"], "/"))
	if code != exitOK {
		t.Errorf("get from a server on an old data directory = %d, %q, %q", code, stdout, stderr)
	}
}

// A client trusts the CA in --data, as an older inetkit serve used it, and
// --tls-cert and --tls-key still choose the server's certificate.
func TestMailClient_dataCA(t *testing.T) {
	data, certDir := t.TempDir(), t.TempDir()
	// A certificate from the CA of DATA/tls, as an older inetkit made it.
	if _, err := tlsca.Load(certDir, filepath.Join(data, "tls"), nil); err != nil {
		t.Fatal(err)
	}
	userCA := setUserCA(t)
	srv, _ := mailServe(t, "--tls-cert", filepath.Join(certDir, tlsca.ServerFile), "--tls-key", filepath.Join(certDir, "server-key.pem"))
	if _, err := os.Stat(filepath.Join(userCA, tlsca.CAFile)); err == nil {
		t.Error("serve with --tls-cert made a user CA")
	}
	t.Chdir(t.TempDir())
	url := userURL("pop3", "a@example.org", "pw", srv.addrs["pop3"], "/")
	if code, stdout, stderr := runMain(t, "", "get", "--tls", "require", "--data", data, url); code != exitOK {
		t.Errorf("get --data DIR, DIR/tls holding the server's CA = %d, %q, %q", code, stdout, stderr)
	}
	if code, _, stderr := runMain(t, "", "get", "--tls", "require", url); code != exitError || !strings.Contains(stderr, "unknown authority") {
		t.Errorf("get without --data = %d, %q; want an unknown authority", code, stderr)
	}
}

// A client that trusts none of the server's CAs names the files it trusted
// and the flags that fix it; --cacert with the server's CA, or -k, then
// work.
func TestMailClient_unknownCA(t *testing.T) {
	serverCA := setUserCA(t)
	srv, _ := mailServe(t, "--smtps-addr", "127.0.0.1:0")
	smtpAddr, smtpsAddr := listenerAddr(t, srv, "smtp", "starttls"), listenerAddr(t, srv, "smtp", "implicit")

	clientCA := setUserCA(t) // another user's, with no CA yet
	t.Chdir(t.TempDir())
	pop3URL := userURL("pop3", "a@example.org", "pw", srv.addrs["pop3"], "/")
	for _, args := range [][]string{
		{"get", "--tls", "require", pop3URL},
		{"get", userURL("imap", "a@example.org", "pw", srv.addrs["imap"], "/")},
		{"send", "smtp://" + smtpAddr, "--to", "b@example.org", "--body", "x"},
		{"send", "smtps://" + smtpsAddr, "--to", "b@example.org", "--body", "x"},
	} {
		code, _, stderr := runMain(t, "", args...)
		for _, want := range []string{
			"x509: certificate signed by unknown authority (trusted: the system's roots; no inetkit CA at " +
				filepath.Join(clientCA, tlsca.CAFile) + ", where inetkit serve run by this user keeps it)",
			"--cacert FILE", "--data DIR", "-k",
		} {
			if code != exitError || !strings.Contains(stderr, want) {
				t.Errorf("%q with another user's CA directory = %d, %q; want exit 1 and %q", args, code, stderr, want)
			}
		}
	}

	// Once the client has a CA of its own, the message names it.
	if _, _, err := tlsca.LoadCA(clientCA); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runMain(t, "", "get", "--tls", "require", pop3URL)
	want := "(trusted: the system's roots and " + filepath.Join(clientCA, tlsca.CAFile) + ")"
	if code != exitError || !strings.Contains(stderr, want) {
		t.Errorf("get trusting another CA = %d, %q; want exit 1 and %q", code, stderr, want)
	}

	for _, fix := range [][]string{{"--cacert", filepath.Join(serverCA, tlsca.CAFile)}, {"-k"}} {
		code, stdout, stderr := runMain(t, "", append([]string{"get", "--tls", "require", pop3URL}, fix...)...)
		if code != exitOK {
			t.Errorf("get with %q = %d, %q, %q; want success", fix, code, stdout, stderr)
		}
	}
}

// listenerAddr returns the address of the listener of service with tls
// (starttls or implicit), once serve has logged it.
func listenerAddr(t *testing.T, srv *mainServer, service, tls string) string {
	t.Helper()
	re := regexp.MustCompile(`msg="waiting for clients" service=` + service + ` addr=(\S+) tls=` + tls)
	log := srv.stderr.waitFor(t, srv.done, 10*time.Second, service+" "+tls+" listener", re.MatchString)
	return re.FindStringSubmatch(log)[1]
}

// A serve with no home directory (a system service) keeps its CA in
// DATA/tls, which a client trusts with --data.
func TestServeMail_noHomeCA(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("the user's configuration directory does not come from $HOME here")
	}
	t.Setenv(tlsca.EnvDir, "")
	t.Setenv("HOME", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	if dir, err := tlsca.UserDir(); err == nil {
		t.Fatalf("UserDir() with no home = %q; want an error", dir)
	}
	srv, data := mailServe(t)
	caFile := filepath.Join(data, "tls", tlsca.CAFile)
	if log := srv.stderr.String(); !strings.Contains(log, "ca="+caFile) {
		t.Errorf("serve's log does not name the CA %s:\n%s", caFile, log)
	}
	url := userURL("pop3", "a@example.org", "pw", srv.addrs["pop3"], "/")
	if code, stdout, stderr := runMain(t, "", "get", "--tls", "require", "--data", data, url); code != exitOK {
		t.Errorf("get --data DATA = %d, %q, %q", code, stdout, stderr)
	}
}
