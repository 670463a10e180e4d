package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// timeoutsView is what the command line made of every service's timeouts.
type timeoutsView struct {
	tcpIdle, tcpWrite time.Duration
	idle              map[string]time.Duration // mail services, by name
	command, write    map[string]time.Duration
}

func timeoutsOf(o *serveOptions) timeoutsView {
	tcp := o.configs["tcp"].(*tcpConfig)
	v := timeoutsView{tcpIdle: tcp.idleTimeout, tcpWrite: tcp.writeTimeout,
		idle: map[string]time.Duration{}, command: map[string]time.Duration{}, write: map[string]time.Duration{}}
	for _, name := range mailServices {
		c := o.configs[name].(*mailConfig)
		v.idle[name], v.command[name], v.write[name] = c.idleTimeout, c.commandTimeout, c.writeTimeout
	}
	return v
}

// all returns a map giving each mail service d.
func all(d time.Duration) map[string]time.Duration {
	return map[string]time.Duration{"smtp": d, "pop3": d, "imap": d}
}

// The timeout flags mean the same for every service that has them; each
// service has its own default (the RFC's for mail, 10 s for tcp), and a
// mail service's --SERVICE-idle-timeout beats --idle-timeout whatever their
// order.
func TestServeTimeoutArgs(t *testing.T) {
	defaults := func() timeoutsView {
		return timeoutsView{tcpIdle: 10 * time.Second, tcpWrite: 10 * time.Second,
			idle:    map[string]time.Duration{"smtp": 5 * time.Minute, "pop3": 10 * time.Minute, "imap": 30 * time.Minute},
			command: all(30 * time.Second), write: all(30 * time.Second)}
	}
	tests := []struct {
		name string
		args []string
		want func(v *timeoutsView)
	}{
		{"defaults", nil, func(*timeoutsView) {}},
		{"idle for all", []string{"--idle-timeout", "1m"}, func(v *timeoutsView) {
			v.tcpIdle, v.idle = time.Minute, all(time.Minute)
		}},
		{"idle none", []string{"--idle-timeout", "0"}, func(v *timeoutsView) {
			v.tcpIdle, v.idle = 0, all(0)
		}},
		{"imap's own, after", []string{"--idle-timeout", "1m", "--imap-idle-timeout", "2h"}, func(v *timeoutsView) {
			v.tcpIdle, v.idle = time.Minute, all(time.Minute)
			v.idle["imap"] = 2 * time.Hour
		}},
		{"imap's own, before", []string{"--imap-idle-timeout", "2h", "--idle-timeout", "1m"}, func(v *timeoutsView) {
			v.tcpIdle, v.idle = time.Minute, all(time.Minute)
			v.idle["imap"] = 2 * time.Hour
		}},
		{"each its own", []string{"--smtp-idle-timeout", "6m", "--pop3-idle-timeout", "0", "--imap-idle-timeout", "31m"}, func(v *timeoutsView) {
			v.idle = map[string]time.Duration{"smtp": 6 * time.Minute, "pop3": 0, "imap": 31 * time.Minute}
		}},
		{"command", []string{"--command-timeout", "5s"}, func(v *timeoutsView) { v.command = all(5 * time.Second) }},
		{"write none", []string{"--write-timeout", "0"}, func(v *timeoutsView) { v.tcpWrite, v.write = 0, all(0) }},
		{"write", []string{"--write-timeout", "1m30s"}, func(v *timeoutsView) {
			v.tcpWrite, v.write = 90*time.Second, all(90*time.Second)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := parseArgs(t, append([]string{"serve"}, tc.args...)...)
			if err != nil || got == nil {
				t.Fatalf("serve %q: %v (runF called: %v)", tc.args, err, got != nil)
			}
			want := defaults()
			tc.want(&want)
			if v := timeoutsOf(got); !equalTimeouts(v, want) {
				t.Errorf("serve %q timeouts:\n got %+v\nwant %+v", tc.args, v, want)
			}
		})
	}
}

func equalTimeouts(a, b timeoutsView) bool {
	eq := func(x, y map[string]time.Duration) bool {
		for _, n := range mailServices {
			if x[n] != y[n] {
				return false
			}
		}
		return true
	}
	return a.tcpIdle == b.tcpIdle && a.tcpWrite == b.tcpWrite && eq(a.idle, b.idle) && eq(a.command, b.command) && eq(a.write, b.write)
}

// A bad timeout or message size is a usage error.
func TestServeLimitArgs_usageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--idle-timeout", "-1s"}, `invalid argument "-1s" for "--idle-timeout" flag: want a duration ≥ 0`},
		{[]string{"--imap-idle-timeout", "soon"}, `invalid argument "soon" for "--imap-idle-timeout" flag`},
		{[]string{"--command-timeout", "5"}, `for "--command-timeout" flag`},
		{[]string{"--max-message-bytes", "0"}, "--max-message-bytes must be between 1 and 4294967295"},
		{[]string{"--max-message-bytes", "4294967296"}, "--max-message-bytes must be between 1 and 4294967295"},
	} {
		code, _, stderr := runMain(t, "", append([]string{"serve"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve %q = %d, %q; want %d, %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}

// serve --help gives every timeout flag with its defaults.
func TestServeHelp_timeouts(t *testing.T) {
	code, stdout, _ := runMain(t, "", "serve", "--help")
	for _, want := range []string{
		"--idle-timeout duration", "(default: tcp 10s; smtp 5m0s; pop3 10m0s; imap 30m0s; ftp 5m0s; http 1m0s; gopher 10s; nntp 30m0s; telnet 15m0s; web 1m0s)",
		"--command-timeout duration", "(default: smtp, pop3, imap, ftp 30s; http 10s; nntp, telnet 30s; web 10s)",
		"--write-timeout duration", "(default: tcp 10s; smtp, pop3, imap, ftp, http, gopher, nntp, telnet, web 30s)",
		"--smtp-idle-timeout duration", "RFC 5321 §4.5.3.2.7 asks for at least 5 minutes; 0: never (default 5m0s)",
		"--pop3-idle-timeout duration", "RFC 1939 §3 asks for at least 10 minutes; 0: never (default 10m0s)",
		"--imap-idle-timeout duration", "0: never (default 30m0s)",
		"(advertised as SMTP SIZE and IMAP APPENDLIMIT) (default 33554432)",
	} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("serve --help = %d, without %q:\n%s", code, want, stdout)
		}
	}
}

// Over real connections: --imap-idle-timeout and --smtp-idle-timeout end
// an idle session with the protocol's goodbye, while pop3, left at its
// default, keeps its session.
func TestServeMail_idleTimeoutFlags(t *testing.T) {
	srv, _ := mailServe(t, "--imap-idle-timeout", "300ms", "--smtp-idle-timeout", "300ms")
	imap := dialText(t, srv.addrs["imap"])
	imap.expect(t, "* OK ")
	smtp := dialText(t, srv.addrs["smtp"])
	smtp.expect(t, "220 ")
	pop3 := dialText(t, srv.addrs["pop3"])
	pop3.expect(t, "+OK ")
	start := time.Now()
	imap.expect(t, "* BYE ")
	smtp.expect(t, "421 4.4.2 ")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the goodbyes came after %v; want about 300ms", d)
	}
	pop3.send(t, "NOOP") // not allowed before login, but answered
	pop3.expect(t, "-ERR ")
}

// --max-message-bytes is the one size limit of mail: SMTP advertises it as
// SIZE and IMAP as APPENDLIMIT, and IMAP refuses a larger APPEND.
func TestServeMail_oneSizeLimit(t *testing.T) {
	srv, _ := mailServe(t, "--max-message-bytes", "100000")
	smtp := dialText(t, srv.addrs["smtp"])
	smtp.expect(t, "220 ")
	smtp.send(t, "EHLO x")
	if ehlo := smtp.readUntil(t, "250 "); !strings.Contains(ehlo, "250-SIZE 100000\r\n") {
		t.Errorf("EHLO reply lacks SIZE 100000:\n%s", ehlo)
	}
	smtp.send(t, "MAIL FROM:<a@example.org> SIZE=100001")
	smtp.expect(t, "552 ")
	imap := dialText(t, srv.addrs["imap"])
	imap.expect(t, "* OK ")
	imap.send(t, "a LOGIN alice@example.org pw")
	if login := imap.readUntil(t, "a "); !strings.HasPrefix(login, "a OK ") || !regexp.MustCompile(` APPENDLIMIT=100000[ \]]`).MatchString(login) {
		t.Errorf("LOGIN reply = %q; want OK with APPENDLIMIT=100000", login)
	}
	imap.send(t, "b APPEND INBOX {100001}")
	imap.expect(t, "b NO [TOOBIG]")
	imap.send(t, "c APPEND INBOX {100000}")
	imap.expect(t, "+ ")
}
