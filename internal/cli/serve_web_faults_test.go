package cli

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// apiCall makes a request to the console's API and returns its status and
// body.
func apiCall(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// faultsJSON is the answer of GET /api/v1/faults, as far as the tests read
// it.
type faultsJSON struct {
	Seed  string `json:"seed"`
	Rules []struct {
		ID      int    `json:"id"`
		Rule    string `json:"rule"`
		Matched int    `json:"matched"`
		Fired   int    `json:"fired"`
	} `json:"rules"`
}

// A rule added through the console of `inetkit serve`, without --faults,
// reaches the smtp service at once: Python's smtplib gets SMTPDataError
// 451 for the first message and the second is delivered, and the rule's
// counters say so. Without --faults a tcp rule is refused, as the tcp
// service keeps its fast paths.
func TestServeWebFaults(t *testing.T) {
	srv := startMain(t, []string{"smtp", "web"}, "serve", "smtp", "web", "--data", t.TempDir(),
		"--smtp-addr", "127.0.0.1:0", "--web-addr", "127.0.0.1:0")
	base := "http://" + srv.addrs["web"]

	code, body := apiCall(t, "POST", base+"/api/v1/faults", `{"rule": "smtp DATA reply=\"451 4.3.0 later\" first=1"}`)
	if code != http.StatusCreated || !strings.Contains(body, `"id":1`) {
		t.Fatalf("POST /api/v1/faults = %d %s; want 201, rule 1", code, body)
	}
	script := `import smtplib, sys
msg = "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: retried\r\n\r\nbody\r\n"
with smtplib.SMTP(sys.argv[1], int(sys.argv[2])) as s:
    try:
        s.sendmail("alice@example.org", ["bob@example.org"], msg)
        print("delivered at once")
    except smtplib.SMTPDataError as e:
        print("refused", e.smtp_code, e.smtp_error.decode())
    s.sendmail("alice@example.org", ["bob@example.org"], msg)
    print("delivered")
`
	host, port, _ := strings.Cut(srv.addrs["smtp"], ":")
	stdout, stderr, pcode := runPython(t, 30*time.Second, "-c", script, host, port)
	if pcode != 0 || stdout != "refused 451 4.3.0 later\ndelivered\n" {
		t.Fatalf("smtplib = %d, %q, %q; want refused with 451, then delivered", pcode, stdout, stderr)
	}

	var l faultsJSON
	code, body = apiCall(t, "GET", base+"/api/v1/faults", "")
	if code != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil || len(l.Rules) != 1 || l.Rules[0].Matched != 2 || l.Rules[0].Fired != 1 || l.Seed == "" {
		t.Errorf("GET /api/v1/faults = %d %s; want rule 1 matched twice, fired once, and the seed", code, body)
	}
	var page struct {
		Total int `json:"total"`
	}
	code, body = apiCall(t, "GET", base+"/api/v1/messages?address=bob@example.org", "")
	if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || page.Total != 1 {
		t.Errorf("GET /api/v1/messages = %d %s; want the one message delivered, not the refused one", code, body)
	}
	log := srv.stderr.String()
	for _, want := range []string{`msg="faults: none loaded; the console can add rules"`, `msg="console: fault rule added" service=web rule=1`,
		`msg="fault injected" rule=1 service=smtp moment=DATA kind=reply`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no %q:\n%s", want, log)
		}
	}

	code, body = apiCall(t, "POST", base+"/api/v1/faults", `{"rule": "tcp connect reset"}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "tcp rules need inetkit serve --faults FILE") {
		t.Errorf("POST of a tcp rule without --faults = %d %s; want 400 naming --faults", code, body)
	}
}

// With --faults, the console shows the file's rules and the seed, and a tcp
// rule added through it reaches the tcp service.
func TestServeWebFaultsFile(t *testing.T) {
	file := writeFaults(t, "# none for tcp yet\nsmtp RCPT to=*@fail.test reply=\"550 5.1.1 no such user\"\n")
	srv := startMain(t, []string{"tcp", "web"}, "serve", "tcp", "web", "--data", t.TempDir(),
		"--addr", "127.0.0.1:0", "--web-addr", "127.0.0.1:0", "--faults", file, "--fault-seed", "9")
	base := "http://" + srv.addrs["web"]

	var l faultsJSON
	code, body := apiCall(t, "GET", base+"/api/v1/faults", "")
	if code != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil || l.Seed != "9" || len(l.Rules) != 1 ||
		l.Rules[0].Rule != `smtp RCPT to=*@fail.test reply="550 5.1.1 no such user"` {
		t.Fatalf("GET /api/v1/faults = %d %s; want the file's rule and seed 9", code, body)
	}
	code, body = apiCall(t, "POST", base+"/api/v1/faults", `{"service": "tcp", "moment": "connect", "kind": "close"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST of a tcp rule with --faults = %d %s; want 201", code, body)
	}
	c, err := net.DialTimeout("tcp", srv.addrs["tcp"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Errorf("a tcp client after the rule close read %q, %v; want the end at once", b, err)
	}
}

// faultsFor gives the set that the console changes to every service, but
// to tcp, udp and http only with --faults; without the console or
// --faults, no service has a set.
func TestFaultsFor(t *testing.T) {
	newEnv := func(file string, services ...string) *serveEnv {
		o := &serveOptions{services: services}
		o.faults.file = file
		return &serveEnv{opts: o, log: slog.New(slog.DiscardHandler), shared: make(map[reflect.Type]any)}
	}
	all := []string{"tcp", "udp", "smtp", "pop3", "imap", "ftp", "http", "gopher", "nntp", "telnet", "web"}
	fast := map[string]bool{"tcp": true, "udp": true, "http": true}

	se := newEnv("", all...)
	set := faultSet(se)
	if set == nil || consoleFaultCheck(se) == nil {
		t.Fatal("with the console: no fault set, or no check of its rules")
	}
	for _, name := range all {
		if got := faultsFor(se, name); fast[name] != (got == nil) || got != nil && got != set {
			t.Errorf("with the console, without --faults: faultsFor(%s) = %p; want %v", name, got, map[bool]string{true: "nil", false: "the console's set"}[fast[name]])
		}
	}

	se = newEnv("", "tcp", "smtp", "http")
	for _, name := range []string{"tcp", "smtp", "http"} {
		if got := faultsFor(se, name); got != nil {
			t.Errorf("without the console and --faults: faultsFor(%s) = %p; want nil", name, got)
		}
	}

	se = newEnv("faults.txt", all...)
	set = faultSet(se)
	if set == nil || consoleFaultCheck(se) != nil {
		t.Fatal("with --faults: no fault set, or a check of the console's rules")
	}
	for _, name := range all {
		if got := faultsFor(se, name); got != set {
			t.Errorf("with --faults: faultsFor(%s) = %p; want the set %p", name, got, set)
		}
	}
}
