package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/imap/imaptest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/pop3/pop3test"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

// startTestMailServer starts an in-process server of kind (smtp, pop3 or
// imap) in mode: "plain" (no TLS), "starttls" or "implicit" (TLS from the
// first octet), with the test certificate, and returns its address. Its
// user is alice, password pw.
func startTestMailServer(t *testing.T, kind, mode string) string {
	t.Helper()
	start := func(plain, startTLS, implicit func()) {
		switch mode {
		case "plain":
			plain()
		case "starttls":
			startTLS()
		case "implicit":
			implicit()
		default:
			t.Fatalf("mode %q", mode)
		}
	}
	switch kind {
	case "smtp":
		s := smtptest.NewUnstartedServer(smtptest.NewRecorder())
		start(s.Start, s.StartSTARTTLS, s.StartTLS)
		t.Cleanup(s.Close)
		return s.Addr
	case "pop3":
		s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("alice", "pw", "Subject: hi\r\n\r\nhello\r\n"))
		start(s.Start, s.StartSTARTTLS, s.StartTLS)
		t.Cleanup(s.Close)
		return s.Addr
	case "imap":
		be := imaptest.NewMemBackend()
		be.AddUser("alice", "pw")
		s := imaptest.NewUnstartedServer(be)
		start(s.Start, s.StartSTARTTLS, s.StartTLS)
		t.Cleanup(s.Close)
		return s.Addr
	}
	t.Fatalf("kind %q", kind)
	return ""
}

// testCAFile writes the test certificate's CA to a file and returns its
// path, for --cacert.
func testCAFile(t *testing.T) string {
	t.Helper()
	_, _, ca, err := testcert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// clientArgs returns the command line of the client of scheme at addr:
// send for smtp and smtps, get for the others.
func clientArgs(scheme, addr string, extra ...string) []string {
	if strings.HasPrefix(scheme, "smtp") {
		return append([]string{"send", scheme + "://" + addr, "--from", "a@example.org", "--to", "b@example.org", "--body", "x"}, extra...)
	}
	return append([]string{"get", scheme + "://alice:pw@" + addr + "/"}, extra...)
}

var mailNames = map[string]string{"smtp": "SMTP", "pop3": "POP3", "imap": "IMAP"}

// Every mail client at every kind of mail port: where the protocol and the
// TLS fit, it works; elsewhere it says what the port speaks and which
// scheme to use (or, for a protocol the command does not speak, which port
// inetkit serve uses), and says so well before its timeout.
func TestMailClient_wrongPort(t *testing.T) {
	ca := testCAFile(t)
	const timeout = 20 * time.Second
	for _, scheme := range []string{"smtp", "smtps", "pop3", "pop3s", "imap", "imaps"} {
		proto, implicit := strings.TrimSuffix(scheme, "s"), strings.HasSuffix(scheme, "s")
		commandProtos := []string{"pop3", "imap"}
		if proto == "smtp" {
			commandProtos = []string{"smtp"}
		}
		for _, kind := range []string{"smtp", "pop3", "imap"} {
			for _, mode := range []string{"plain", "starttls", "implicit"} {
				t.Run(scheme+"/"+kind+"-"+mode, func(t *testing.T) {
					t.Parallel()
					addr := startTestMailServer(t, kind, mode)
					start := time.Now()
					code, stdout, stderr := runMain(t, "", clientArgs(scheme, addr, "--cacert", ca, "--timeout", timeout.String())...)
					elapsed := time.Since(start)
					works := kind == proto && implicit == (mode == "implicit")
					if works {
						if code != exitOK {
							t.Errorf("%s at a %s %s port = %d, %q, %q; want success", scheme, kind, mode, code, stdout, stderr)
						}
						return
					}
					want := "that port speaks " + mailNames[kind]
					switch {
					case mode == "implicit":
						want += " over implicit TLS"
					case implicit:
						want += " without implicit TLS"
					}
					want += " (it greeted "
					var then string
					if slices.Contains(commandProtos, kind) {
						then = "use " + kind
						if mode == "implicit" {
							then += "s"
						}
						then += "://" + addr
					} else {
						then = ", not " + mailNames[proto]
					}
					if code != exitError || !strings.Contains(stderr, want) || !strings.Contains(stderr, then) {
						t.Errorf("%s at a %s %s port = %d, %q; want exit 1 and %q ... %q", scheme, kind, mode, code, stderr, want, then)
					}
					if elapsed > timeout/2 {
						t.Errorf("%s at a %s %s port took %v; want it told well before the %v timeout", scheme, kind, mode, elapsed, timeout)
					}
				})
			}
		}
	}
}

// A mail client at an HTTP port says so, and one at an HTTPS port says that
// it takes TLS and sends no greeting.
func TestMailClient_httpPort(t *testing.T) {
	// The servers log the handshakes and requests they refuse: not here.
	quiet := log.New(io.Discard, "", 0)
	h := httptest.NewUnstartedServer(http.NotFoundHandler())
	h.Config.ErrorLog = quiet
	h.Start()
	t.Cleanup(h.Close)
	hs := httptest.NewUnstartedServer(http.NotFoundHandler())
	hs.Config.ErrorLog = quiet
	hs.StartTLS()
	t.Cleanup(hs.Close)
	httpAddr := strings.TrimPrefix(h.URL, "http://")
	httpsAddr := strings.TrimPrefix(hs.URL, "https://")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{clientArgs("smtp", httpAddr, "--timeout", "20s"), "that port speaks HTTP (it answered \"HTTP/1."},
		{clientArgs("smtps", httpAddr, "--timeout", "20s"), "that port speaks HTTP"},
		{clientArgs("pop3", httpAddr, "--timeout", "20s"), "that port speaks HTTP"},
		{clientArgs("pop3s", httpAddr, "--timeout", "20s"), "that port speaks HTTP"},
		{clientArgs("imap", httpAddr, "--timeout", "20s"), "that port speaks HTTP"},
		{clientArgs("imap", httpAddr, "--timeout", "20s", "--tls", "none"), "that port speaks HTTP"},
		{clientArgs("imaps", httpAddr, "--timeout", "20s"), "that port speaks HTTP (it answered \"HTTP/1."},
		{clientArgs("smtp", httpsAddr, "--timeout", "20s"), "that port expects TLS from its first octet (implicit TLS), and then sent no greeting: if it serves SMTP over TLS, use smtps://" + httpsAddr},
		{clientArgs("pop3", httpsAddr, "--timeout", "20s"), "that port expects TLS from its first octet (implicit TLS), and then sent no greeting: if it serves POP3 over TLS, use pop3s://" + httpsAddr},
		{clientArgs("imap", httpsAddr, "--timeout", "20s"), "that port expects TLS from its first octet (implicit TLS), and then sent no greeting: if it serves IMAP over TLS, use imaps://" + httpsAddr},
		// Over TLS, a late greeting is waited for, until the timeout.
		{clientArgs("imaps", httpsAddr, "--timeout", "3s", "-k"), "that port expects TLS from its first octet (implicit TLS), and then sent no greeting"},
	} {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			code, _, stderr := runMain(t, "", tc.args...)
			if code != exitError || !strings.Contains(stderr, tc.want) {
				t.Errorf("%q = %d, %q; want exit 1 and %q", tc.args, code, stderr, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%q took %v", tc.args, d)
			}
		})
	}
}

// A refused connection to loopback names inetkit serve's address.
func TestMailClient_refusedLoopback(t *testing.T) {
	for _, tc := range []struct{ scheme, want string }{
		{"smtp", "inetkit serve listens for SMTP on 127.0.0.1:2525 unless --smtp-addr says otherwise"},
		{"smtps", "inetkit serve listens for SMTPS only where --smtps-addr says (it has no default), and for SMTP with STARTTLS on 127.0.0.1:2525"},
		{"pop3", "inetkit serve listens for POP3 on 127.0.0.1:1110 unless --pop3-addr says otherwise"},
		{"pop3s", "inetkit serve listens for POP3S only where --pop3s-addr says"},
		{"imap", "inetkit serve listens for IMAP on 127.0.0.1:1143 unless --imap-addr says otherwise"},
		{"imaps", "inetkit serve listens for IMAPS only where --imaps-addr says"},
	} {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
		code, _, stderr := runMain(t, "", clientArgs(tc.scheme, addr)...)
		want := "connection refused: nothing listens on " + addr + "; " + tc.want
		if code != exitError || !strings.Contains(stderr, want) {
			t.Errorf("%s to a closed port = %d, %q; want exit 1 and %q", tc.scheme, code, stderr, want)
		}
	}
}

// The refused-connection message for each way the port was chosen; the
// standard ports (25 and the others) cannot be dialled in a test, since a
// mail server may run there.
func TestRefusedError(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct{ url, want string }{
		{"smtp://127.0.0.1", "connection refused: nothing listens on 127.0.0.1:25, the standard SMTP port; " +
			"inetkit serve listens for SMTP on 127.0.0.1:2525 unless --smtp-addr says otherwise: use smtp://127.0.0.1:2525"},
		{"smtp://localhost", "use smtp://localhost:2525"},
		{"smtp://[::1]", "nothing listens on [::1]:25, the standard SMTP port; inetkit serve listens for SMTP on 127.0.0.1:2525 unless --smtp-addr says otherwise: use smtp://127.0.0.1:2525"},
		{"smtps://127.0.0.1", "connection refused: nothing listens on 127.0.0.1:465, the standard SMTPS port; inetkit serve listens for SMTPS only where " +
			"--smtps-addr says (it has no default), and for SMTP with STARTTLS on 127.0.0.1:2525: use smtp://127.0.0.1:2525"},
		{"pop3://u:p@127.0.0.1/", "nothing listens on 127.0.0.1:110, the standard POP3 port; inetkit serve listens for POP3 on 127.0.0.1:1110 unless --pop3-addr says otherwise: use pop3://127.0.0.1:1110"},
		{"pop3s://u:p@127.0.0.1/", "nothing listens on 127.0.0.1:995, the standard POP3S port; inetkit serve listens for POP3S only where --pop3s-addr says (it has no default), and for POP3 with STARTTLS on 127.0.0.1:1110: use pop3://127.0.0.1:1110"},
		{"imap://u:p@127.0.0.1/", "nothing listens on 127.0.0.1:143, the standard IMAP port; inetkit serve listens for IMAP on 127.0.0.1:1143 unless --imap-addr says otherwise: use imap://127.0.0.1:1143"},
		{"imaps://u:p@127.0.0.1/", "nothing listens on 127.0.0.1:993, the standard IMAPS port; inetkit serve listens for IMAPS only where --imaps-addr says (it has no default), and for IMAP with STARTTLS on 127.0.0.1:1143: use imap://127.0.0.1:1143"},
		{"imap://u:p@127.0.0.1:1143/", "connection refused: nothing listens on 127.0.0.1:1143: is inetkit serve running? (it listens for IMAP there unless --imap-addr says otherwise)"},
		{"pop3://u:p@127.0.0.1:1111/", "connection refused: nothing listens on 127.0.0.1:1111; inetkit serve listens for POP3 on 127.0.0.1:1110 unless --pop3-addr says otherwise"},
	} {
		m, _, err := parseMailURL(tc.url, "smtp", "pop3", "imap")
		if err != nil {
			t.Fatal(err)
		}
		got := explain(context.Background(), m, &tlsOptions{}, newDialWatch(m), refused)
		if !strings.Contains(got.Error(), tc.want) || !errors.Is(got, syscall.ECONNREFUSED) {
			t.Errorf("refused %s: %q; want %q, wrapping ECONNREFUSED", tc.url, got, tc.want)
		}
	}
	// Not loopback: the error as it was.
	m, _, _ := parseMailURL("smtp://192.0.2.1", "smtp")
	if got := explain(context.Background(), m, &tlsOptions{}, newDialWatch(m), refused); got != refused {
		t.Errorf("refused off loopback: %q; want the dial error as it was", got)
	}
}

// serveAddrs are what serve's flags default to.
func TestServeAddrs(t *testing.T) {
	cmd := newServeCmd(&env{}, nil)
	for proto, addr := range serveAddrs {
		f := cmd.Flags().Lookup(proto + "-addr")
		if f == nil {
			t.Fatalf("serve has no --%s-addr", proto)
		}
		if f.DefValue != addr {
			t.Errorf("serve --%s-addr defaults to %s; the clients' hints say %s", proto, f.DefValue, addr)
		}
	}
}

func TestClassify(t *testing.T) {
	for in, want := range map[string]string{
		"+OK POP3 ready\r\n":                  "pop3",
		"-ERR [SYS/TEMP] busy\r\n":            "pop3",
		"* OK [CAPABILITY IMAP4rev1] hi\r\n":  "imap",
		"* PREAUTH ready\r\n":                 "imap",
		"* BYE too many\r\n":                  "imap",
		"220 mail.example.org ESMTP\r\n":      "smtp",
		"220-mail.example.org ESMTP\r\n":      "smtp",
		"421 4.3.2 busy\r\n":                  "smtp",
		"200 news.example.org ready\r\n":      "nntp",
		"HTTP/1.1 400 Bad Request\r\n":        "http",
		"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD": "http",
		"SSH-2.0-OpenSSH_9.6\r\n":             "ssh",
		"hello\r\n":                           "",
		"":                                    "",
		"\x16\x03\x03\x00\x7a":                "",
	} {
		if got := classify([]byte(in)); got != want {
			t.Errorf("classify(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestQuoteSaid(t *testing.T) {
	for in, want := range map[string]string{
		"+OK ready\r\n+OK more": `"+OK ready"`,
		"* OK [CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL- STARTTLS]\r\n": `"* OK [CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LIT..."`,
		"\x00\xff\r\n":          `"\x00\xff"`,
		strings.Repeat("é", 30): fmt.Sprintf("%q", strings.Repeat("é", 24)+"..."),
	} {
		if got := quoteSaid([]byte(in)); got != want {
			t.Errorf("quoteSaid(%q) = %s; want %s", in, got, want)
		}
	}
}

// A server that greets late (Postfix's greet pause) is waited for: the
// probe, which finds no TLS, does not end the client.
func TestMailClient_lateGreeting(t *testing.T) {
	srv := startTestMailServer(t, "pop3", "plain")
	delay := greetingWait + 3*probeStep
	// A proxy that connects to the server only after delay.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(delay)
				s, err := net.Dial("tcp", srv)
				if err != nil {
					return
				}
				defer s.Close()
				go io.Copy(s, c)
				io.Copy(c, s)
			}()
		}
	}()
	code, stdout, stderr := runMain(t, "", "get", "--timeout", "20s", "pop3://alice:pw@"+l.Addr().String()+"/")
	if code != exitOK {
		t.Errorf("get from a server that greets after %v = %d, %q, %q; want success", delay, code, stdout, stderr)
	}
}
