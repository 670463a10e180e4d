package cli

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	debugURLRE  = regexp.MustCompile(`msg="debug statistics" url=(\S+)`)
	mailAddrsRE = regexp.MustCompile(`msg="waiting for clients" service=(\S+) addr=(\S+) tls=(\S+)`)
)

// debugGet fetches url and returns its body, failing the test unless the
// status is 200 and the content type starts with ctype.
func debugGet(t *testing.T, url, ctype string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
		t.Fatalf("GET %s: %s, %q; want 200, %s", url, resp.Status, resp.Header.Get("Content-Type"), ctype)
	}
	return string(b)
}

// --debug-addr serves the counters of every service, the mail services'
// implicit-TLS listeners among them, and an index page at / that links to
// them and says where each service listens.
func TestServeDebug(t *testing.T) {
	data := t.TempDir()
	srv := startMain(t, []string{"tcp", "udp", "smtp", "pop3", "imap", "ftp", "http", "gopher", "nntp", "telnet", "web"}, "serve", "--data", data,
		"--addr", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0",
		"--smtp-addr", "127.0.0.1:0", "--pop3-addr", "127.0.0.1:0", "--imap-addr", "127.0.0.1:0", "--ftp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--gopher-addr", "127.0.0.1:0", "--telnet-addr", "127.0.0.1:0", "--nntp-addr", "127.0.0.1:0", "--web-addr", "127.0.0.1:0",
		"--smtps-addr", "127.0.0.1:0", "--pop3s-addr", "127.0.0.1:0", "--imaps-addr", "127.0.0.1:0", "--ftps-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0", "--telnets-addr", "127.0.0.1:0", "--nntps-addr", "127.0.0.1:0", "--webs-addr", "127.0.0.1:0")
	log := srv.stderr.waitFor(t, srv.done, 10*time.Second, "the debug server's URL", func(s string) bool {
		return debugURLRE.MatchString(s) && len(mailAddrsRE.FindAllString(s, -1)) == 16
	})
	base := strings.TrimSuffix(debugURLRE.FindStringSubmatch(log)[1], "/")

	// One connection to each listener of the store's services: a greeting
	// on the STARTTLS ones (a reply to a request for http), a TLS handshake
	// on the implicit ones.
	addrs := make(map[string]map[string]string) // service → tls → address
	for _, m := range mailAddrsRE.FindAllStringSubmatch(log, -1) {
		if addrs[m[1]] == nil {
			addrs[m[1]] = make(map[string]string)
		}
		addrs[m[1]][m[3]] = m[2]
		c, err := net.DialTimeout("tcp", m[2], 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		var rc net.Conn = c
		if m[3] == "implicit" {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // only counted here
			if err := tc.Handshake(); err != nil {
				t.Fatalf("%s %s: TLS handshake: %v", m[1], m[2], err)
			}
			rc = tc
		}
		if m[1] == "http" || m[1] == "web" {
			io.WriteString(rc, "HEAD / HTTP/1.0\r\n\r\n")
		}
		if _, err := bufio.NewReader(rc).ReadString('\n'); err != nil {
			t.Fatalf("%s %s: greeting: %v", m[1], m[2], err)
		}
		rc.Close()
	}

	var vars struct {
		Goroutines int
		Services   map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(debugGet(t, base+"/debug/vars", "application/json")), &vars); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tcp", "udp", "smtp", "pop3", "imap", "ftp", "http", "gopher", "nntp", "telnet", "web"} {
		if vars.Services[name] == nil {
			t.Errorf("/debug/vars has no counters for %s: %s", name, vars.Services)
		}
	}
	for _, name := range append(slices.Clone(mailServices), "ftp", "http", "nntp", "telnet", "web") {
		var st mailStats
		if err := json.Unmarshal(vars.Services[name], &st); err != nil {
			t.Fatalf("%s counters: %v", name, err)
		}
		if st.Accepted != 2 || len(st.Listeners) != 2 {
			t.Errorf("%s counters %+v; want 2 accepted, 2 listeners", name, st)
			continue
		}
		plain, kind := addrs[name]["starttls"], "STARTTLS"
		if name == "http" || name == "telnet" || name == "web" {
			plain, kind = addrs[name]["none"], "plain"
		}
		for i, want := range []listenerStats{
			{Addr: plain, TLS: kind, Accepted: 1},
			{Addr: addrs[name]["implicit"], TLS: "implicit TLS", Accepted: 1},
		} {
			if st.Listeners[i] != want {
				t.Errorf("%s listener %d: %+v; want %+v", name, i, st.Listeners[i], want)
			}
		}
	}

	index := debugGet(t, base+"/", "text/html")
	for _, want := range []string{`href="/debug/vars"`, `href="/debug/pprof/"`, "<td>tcp</td>", "<td>udp</td>", "<td>smtp</td>", "<td>pop3</td>", "<td>imap</td>", "<td>ftp</td>", "<td>http</td>", "<td>gopher</td>", "<td>nntp</td>", "<td>telnet</td>",
		addrs["http"]["none"] + " (plain), " + addrs["http"]["implicit"] + " (implicit TLS)", srv.addrs["gopher"] + " (tcp)",
		srv.addrs["tcp"] + " (tcp)", srv.addrs["udp"] + " (udp)",
		addrs["smtp"]["starttls"] + " (STARTTLS), " + addrs["smtp"]["implicit"] + " (implicit TLS)",
		addrs["imap"]["implicit"] + " (implicit TLS)", addrs["pop3"]["implicit"] + " (implicit TLS)",
	} {
		if !strings.Contains(index, want) {
			t.Errorf("the index page lacks %q:\n%s", want, index)
		}
	}
	debugGet(t, base+"/debug/pprof/", "text/html")
	if resp, err := http.Get(base + "/nothing"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing: %v, %v; want 404", resp, err)
	} else {
		resp.Body.Close()
	}
}
