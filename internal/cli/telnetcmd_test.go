package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// telnetView is what a test compares of telnetOptions.
type telnetView struct {
	Addr, Host  string
	TLS         bool
	Steps       []string // "expect RE 5s", "send TEXT"
	DialTimeout time.Duration
}

func viewOfTelnet(o *telnetOptions) telnetView {
	v := telnetView{Addr: o.addr, Host: o.host, TLS: o.tls, DialTimeout: o.dialTimeout}
	for _, st := range o.steps {
		if st.expect != nil {
			v.Steps = append(v.Steps, "expect "+st.expect.String()+" "+st.timeout.String())
		} else {
			v.Steps = append(v.Steps, "send "+st.send)
		}
	}
	return v
}

// argv → options: the target forms, and the steps in the order of the
// command line, each --expect with the --timeout in force.
func TestTelnetCmd_parse(t *testing.T) {
	script := filepath.Join(t.TempDir(), "steps")
	os.WriteFile(script, []byte("# a comment\nexpect login: \n\nsend alice\r\ntimeout 2s\nexpect \\$ $\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want telnetView
	}{
		{"host", []string{"example.org"}, telnetView{Addr: "example.org:23", Host: "example.org", DialTimeout: 30 * time.Second}},
		{"host port", []string{"example.org", "2323"}, telnetView{Addr: "example.org:2323", Host: "example.org", DialTimeout: 30 * time.Second}},
		{"host:port", []string{"127.0.0.1:2323"}, telnetView{Addr: "127.0.0.1:2323", Host: "127.0.0.1", DialTimeout: 30 * time.Second}},
		{"ipv6", []string{"::1"}, telnetView{Addr: "[::1]:23", Host: "::1", DialTimeout: 30 * time.Second}},
		{"url", []string{"telnet://localhost:2323/"}, telnetView{Addr: "localhost:2323", Host: "localhost", DialTimeout: 30 * time.Second}},
		{"telnets url", []string{"telnets://localhost"}, telnetView{Addr: "localhost:992", Host: "localhost", TLS: true, DialTimeout: 30 * time.Second}},
		{"--tls", []string{"--tls", "localhost"}, telnetView{Addr: "localhost:992", Host: "localhost", TLS: true, DialTimeout: 30 * time.Second}},
		{"steps in order", []string{"--timeout", "3s", "--expect", "a", "--send", "b", "--timeout", "1s", "--expect", "c", "--send", "d", "h"},
			telnetView{Addr: "h:23", Host: "h", DialTimeout: 3 * time.Second, Steps: []string{"expect a 3s", "send b", "expect c 1s", "send d"}}},
		{"send first", []string{"--send", "x", "--expect", "y", "--timeout", "1s", "h"},
			telnetView{Addr: "h:23", Host: "h", DialTimeout: 30 * time.Second, Steps: []string{"send x", "expect y 10s"}}},
		{"script among flags", []string{"--send", "first", "--script", script, "--send", "last", "h"},
			telnetView{Addr: "h:23", Host: "h", DialTimeout: 30 * time.Second,
				Steps: []string{"send first", "expect login:  10s", "send alice", "expect \\$ $ 2s", "send last"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *telnetOptions
			cmd := newTelnetCmd(&env{}, func(_ context.Context, o *telnetOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("Execute(%q) = %v", tc.args, err)
			}
			if diff := cmp.Diff(tc.want, viewOfTelnet(got)); diff != "" {
				t.Errorf("options of %q (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestTelnetCmd_usage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"telnet"}, "telnet takes HOST[:PORT]"},
		{[]string{"telnet", "ftp://h"}, "telnet speaks telnet:// and telnets://, not ftp://"},
		{[]string{"telnet", "h:1", "2"}, "the port is given twice"},
		{[]string{"telnet", "--expect", "(", "h"}, "not a regular expression"},
		{[]string{"telnet", "--timeout", "-1s", "h"}, "want a duration > 0"},
		{[]string{"telnet", "--script", "/nonexistent", "h"}, "/nonexistent"},
		{[]string{"telnet", "telnet://h/path"}, "want telnet://HOST[:PORT]"},
	} {
		code, stdout, stderr := runMain(t, "", tc.args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("Main(%q) = %d, %q, %q; want exit 2 and %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// inetkit telnet, scripted and with stdin, against inetkit serve telnet,
// plain and over implicit TLS.
func TestTelnetCmd_againstServe(t *testing.T) {
	srv, _ := telnetServe(t, "", "--telnets-addr", "127.0.0.1:0")
	addr := listenerAddr(t, srv, "telnet", "none")
	secure := listenerAddr(t, srv, "telnet", "implicit")

	code, stdout, stderr := runMain(t, "", "telnet", "--expect", "inetkit> ", "--send", "straße", "--expect", "STRASSE\r\n", "--send", "quit", addr)
	if code != exitOK || !strings.Contains(stdout, "inetkit> straße\r\nSTRASSE\r\n") || !strings.HasSuffix(stdout, "bye\r\n") || stderr != "" {
		t.Errorf("scripted telnet = %d, %q, %q; want 0, the echo, STRASSE and bye", code, stdout, stderr)
	}

	code, stdout, stderr = runMain(t, "", "telnet", "--timeout", "300ms", "--expect", "inetkit> ", "--send", "hello", "--expect", "GOODBYE", "telnet://"+addr)
	if code != exitError || !strings.Contains(stdout, "HELLO\r\n") || !strings.Contains(stderr, `step 3: --expect "GOODBYE": not seen within 300ms`) {
		t.Errorf("unmet --expect = %d, %q, %q; want 1, what was seen, and the step", code, stdout, stderr)
	}

	script := filepath.Join(t.TempDir(), "script")
	os.WriteFile(script, []byte("expect inetkit> \nsend help\nexpect read GROUP\nsend exit\n"), 0o600)
	if code, stdout, stderr := runMain(t, "", "telnet", "--script", script, addr); code != exitOK || !strings.HasSuffix(stdout, "bye\r\n") {
		t.Errorf("--script = %d, %q, %q", code, stdout, stderr)
	}

	// stdin that is not a terminal: copied, its LF sent as CR LF.
	code, stdout, stderr = runMain(t, "hello copy\nquit\n", "telnet", addr)
	if code != exitOK || !strings.Contains(stdout, "HELLO COPY\r\n") || !strings.HasSuffix(stdout, "bye\r\n") {
		t.Errorf("telnet with stdin = %d, %q, %q", code, stdout, stderr)
	}
	// The end of stdin half-closes: the console says bye at its EOF.
	code, stdout, _ = runMain(t, "no quit\n", "telnet", addr)
	if code != exitOK || !strings.Contains(stdout, "NO QUIT\r\n") || !strings.HasSuffix(stdout, "bye\r\n") {
		t.Errorf("telnet with stdin without quit = %d, %q; want the console's bye at EOF", code, stdout)
	}

	code, stdout, stderr = runMain(t, "", "telnet", "--tls", "--expect", "inetkit> ", "--send", "status", "--expect", "connection: TLS", "--send", "quit", secure)
	if code != exitOK || !strings.Contains(stdout, "connection: TLS") {
		t.Errorf("telnet --tls = %d, %q, %q", code, stdout, stderr)
	}
	code, _, stderr = runMain(t, "", "telnet", "--expect", "x", secure+"0")
	if code != exitError || stderr == "" {
		t.Errorf("telnet to a closed port = %d, %q; want exit 1", code, stderr)
	}
}
