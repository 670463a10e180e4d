//go:build unix

package peers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/testcert"
)

// tempDir returns a new temporary directory that the unprivileged user the
// servers run as (nobody, when the test runs as root) can enter: t.TempDir
// makes it and its parent mode 0700.
func tempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loopbackIP returns a random address in 127.0.0.0/8 for one server's
// ports, so that listeners on 127.0.0.1 (other tests') or of other peers
// cannot take them between freePort and the server's bind. It returns
// 127.0.0.1 where the other loopback addresses are not usable.
func loopbackIP(t testing.TB) string {
	t.Helper()
	ip := fmt.Sprintf("127.%d.%d.%d", rand.IntN(254)+1, rand.IntN(254)+1, rand.IntN(253)+2)
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		return "127.0.0.1"
	}
	l.Close()
	return ip
}

// freePort returns a port on ip that was free a moment ago. A test of the
// retries replaces it.
var freePort = freeLoopbackPort

func freeLoopbackPort(t testing.TB, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// errExited reports that a server exited before it listened: most likely
// a port that freePort chose was taken before the server could bind it.
var errExited = errors.New("exited before listening")

// waitListening waits until each of addrs (HOST:PORT, or the path of a
// Unix socket) accepts connections. It returns
// an error wrapping errExited if the server exits first, or another error
// after 20 s; both hold the server's log.
func waitListening(exited <-chan struct{}, logFile string, addrs ...string) error {
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range addrs {
		for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
			network := "tcp"
			if filepath.IsAbs(addr) {
				network = "unix"
			}
			c, err := net.DialTimeout(network, addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				log, _ := os.ReadFile(logFile)
				return fmt.Errorf("%w on %s; log:\n%s", errExited, addr, log)
			case <-time.After(delay):
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(logFile)
				return fmt.Errorf("not listening on %s after 20 s; log:\n%s", addr, log)
			}
		}
	}
	return nil
}

// retry calls startOnce until it succeeds, up to three times while the
// server exits before listening (see errExited); it fails t otherwise.
func retry[T any](t testing.TB, name string, startOnce func() (T, error)) T {
	t.Helper()
	for try := 1; ; try++ {
		v, err := startOnce()
		if err == nil {
			return v
		}
		if try == 3 || !errors.Is(err, errExited) {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s, try %d: %v", name, try, err)
	}
}

// start runs cmd in a process group of its own until the test ends, when
// the whole group is killed: Dovecot's master takes a second to stop its
// children on SIGTERM (five if the signal comes before its handlers are
// set), and nothing here needs a clean shutdown.
func start(t testing.TB, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
			// Reaped: the id may name another group by now.
		default:
			// Not reaped before exited is closed, the group's
			// leader keeps its id.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return exited
}

// The protocols that StartDovecot can serve.
const (
	IMAP = "imap" // IMAP4rev1 (RFC 3501), IMAPAddr and IMAPSAddr
	POP3 = "pop3" // POP3 (RFC 1939), POP3Addr and POP3SAddr
)

// Dovecot is a running Dovecot with one user and Maildir storage, serving
// the protocols it was started with on loopback, each with STARTTLS and
// with implicit TLS, using the internal/testcert certificate, which names
// localhost (clients must verify that name, as testcert.ClientConfig does:
// the addresses are on a random 127.x.y.z). Failed logins are answered
// after about half a second (Dovecot checks for them twice a second), with
// no growing penalty.
type Dovecot struct {
	IMAPAddr, POP3Addr   string // STARTTLS offered; "" when not served
	IMAPSAddr, POP3SAddr string // implicit TLS; "" when not served
	// AuthSocket is the path of the socket where Dovecot's auth service
	// answers SASL requests of other servers (Postfix's
	// smtpd_sasl_type = dovecot).
	AuthSocket string
	User, Pass string
	Dir        string
}

// dovecotLibexecDirs are where Dovecot's own programs (one for each
// protocol, and its login process) may be installed: Debian's directory,
// then other systems' and a source build's. The first that exists is
// Dovecot's. A test of the skips replaces it.
var dovecotLibexecDirs = []string{"/usr/lib/dovecot", "/usr/libexec/dovecot", "/usr/local/libexec/dovecot"}

// DovecotPrograms returns the programs that Dovecot runs to serve
// protocols: the master, and each protocol's process and login process,
// which Debian packages apart (dovecot-core, dovecot-imapd,
// dovecot-pop3d).
func DovecotPrograms(protocols ...string) []string {
	dir := dovecotLibexecDirs[0]
	for _, d := range dovecotLibexecDirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dir = d
			break
		}
	}
	programs := []string{"dovecot"}
	for _, p := range protocols {
		programs = append(programs, filepath.Join(dir, p), filepath.Join(dir, p+"-login"))
	}
	return programs
}

// StartDovecot runs Dovecot until the test ends, serving protocols (IMAP,
// POP3): none runs only its auth service, for Postfix's SASL. It skips t,
// or fails it when INETKIT_REQUIRE_PEERS=1, when Dovecot or the programs
// of one of those protocols are not installed.
func StartDovecot(t testing.TB, protocols ...string) *Dovecot {
	t.Helper()
	for _, p := range protocols {
		if p != IMAP && p != POP3 {
			t.Fatalf("StartDovecot: unknown protocol %q (want %q or %q)", p, IMAP, POP3)
		}
	}
	bin := NeedAll(t, DovecotPrograms(protocols...)...)[0]
	return retry(t, "dovecot", func() (*Dovecot, error) { return startDovecot(t, bin, protocols) })
}

func startDovecot(t testing.TB, bin string, protocols []string) (*Dovecot, error) {
	t.Helper()
	dir := tempDir(t)
	certFile, keyFile, _, err := testcert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	ip := loopbackIP(t)
	d := &Dovecot{
		User:       "alice@example.org",
		Pass:       "secret",
		Dir:        dir,
		AuthSocket: filepath.Join(dir, "run", "auth-smtp"),
	}
	// One login service for each protocol, with a STARTTLS listener and an
	// implicit-TLS one.
	listen := []string{d.AuthSocket}
	var services strings.Builder
	for _, p := range protocols {
		plain, implicit := &d.IMAPAddr, &d.IMAPSAddr
		if p == POP3 {
			plain, implicit = &d.POP3Addr, &d.POP3SAddr
		}
		*plain = fmt.Sprintf("%s:%d", ip, freePort(t, ip))
		*implicit = fmt.Sprintf("%s:%d", ip, freePort(t, ip))
		listen = append(listen, *plain, *implicit)
		_, port, _ := net.SplitHostPort(*plain)
		_, tlsPort, _ := net.SplitHostPort(*implicit)
		fmt.Fprintf(&services, `service %[1]s-login {
  chroot =
  inet_listener %[1]s {
    port = %[2]s
  }
  inet_listener %[1]ss {
    port = %[3]s
  }
}
`, p, port, tlsPort)
	}
	protocolList := "none"
	if len(protocols) > 0 {
		protocolList = strings.Join(protocols, " ")
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o777)
	// Mail is kept as an unprivileged user; when not root, as ourselves.
	mailUser, mailGroup := "nobody", "nogroup"
	extra := ""
	if os.Getuid() != 0 {
		u, _ := user.Current()
		mailUser, mailGroup = u.Uid, fmt.Sprint(os.Getgid())
		extra = fmt.Sprintf("default_internal_user = %s\ndefault_login_user = %s\n", u.Username, u.Username)
	} else {
		os.Chown(home, 65534, 65534)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = %[4]s
listen = %[9]s
ssl = yes
ssl_cert = <%[2]s
ssl_key = <%[3]s
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mailbox_idle_check_interval = 1 secs
mail_location = maildir:%[1]s/home/%%u/Maildir
pop3_uidl_format = %%08Xu%%08Xv
first_valid_uid = 1
%[6]s
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[7]s gid=%[8]s home=%[1]s/home/%%u
}
%[5]s# No growing delay after failed logins (Dovecot's documented switch).
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# For Postfix's smtpd_sasl_type = dovecot.
service auth {
  unix_listener auth-smtp {
    mode = 0666
  }
}
`, dir, certFile, keyFile, protocolList, services.String(), extra, mailUser, mailGroup, ip)
	confFile := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(d.User+":{PLAIN}"+d.Pass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exited := start(t, exec.Command(bin, "-F", "-c", confFile))
	logFile := filepath.Join(dir, "dovecot.log")
	if err := waitListening(exited, logFile, listen...); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logFile)
			t.Logf("dovecot log:\n%s", log)
		}
	})
	return d, nil
}

// SMTPSink is a running Postfix smtp-sink that keeps every message it
// accepts as a file in Dir.
type SMTPSink struct {
	Addr string
	Dir  string
}

// StartSMTPSink runs smtp-sink until the test ends. args are more
// smtp-sink options, such as "-f", "RCPT" to refuse every recipient with
// the hard-error reply, which "-B", "550 5.1.1 No such user" sets (see
// smtp-sink(1)). The sink offers no STARTTLS.
func StartSMTPSink(t testing.TB, args ...string) *SMTPSink {
	t.Helper()
	bin := Need(t, "smtp-sink")
	return retry(t, "smtp-sink", func() (*SMTPSink, error) { return startSMTPSink(t, bin, args) })
}

func startSMTPSink(t testing.TB, bin string, args []string) (*SMTPSink, error) {
	t.Helper()
	dir := tempDir(t)
	ip := loopbackIP(t)
	s := &SMTPSink{Addr: fmt.Sprintf("%s:%d", ip, freePort(t, ip)), Dir: filepath.Join(dir, "mail")}
	if err := os.Mkdir(s.Dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.Dir, 0o777); err != nil { // whatever the umask
		t.Fatal(err)
	}
	args = append([]string{"-d", s.Dir + "/%Y%m%d%H%M%S.", "-h", "sink.example.org"}, args...)
	if os.Getuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	args = append(args, s.Addr, "64")
	logFile := filepath.Join(dir, "sink.log")
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lf.Close() })
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	exited := start(t, cmd)
	if err := waitListening(exited, logFile, s.Addr); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if t.Failed() {
			if log, _ := os.ReadFile(logFile); len(log) > 0 {
				t.Logf("smtp-sink log:\n%s", log)
			}
		}
	})
	return s, nil
}

// SinkMessage is a message smtp-sink kept: the envelope, and the text as
// the sink stores it, which is not quite as it came: the sink drops every
// CR byte (so lines end in LF) and the first dot of each line that follows
// a CRLF (the dot-stuffing), and ends the text where CRLF "." CRLF came.
type SinkMessage struct {
	Helo     string   // the argument of the last EHLO or HELO
	MailFrom string   // the arguments of MAIL FROM:, as "<a@example.org>"
	RcptTo   []string // the arguments of each RCPT TO:
	Text     string
}

// Messages returns the messages the sink has kept, oldest first, waiting up
// to 10 s for at least n. A file that a mail transaction in progress is
// writing is not a kept message until it is complete (or ever, if the
// transaction is reset), so a message whose final dot the sink has not
// answered may or may not be among them.
func (s *SMTPSink) Messages(ctx context.Context, n int) ([]SinkMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		msgs, incomplete, err := s.read()
		if err != nil {
			return nil, err
		}
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			err := fmt.Errorf("smtp-sink kept %d messages, want %d: %w", len(msgs), n, ctx.Err())
			if incomplete != nil {
				err = fmt.Errorf("%w (%v)", err, incomplete)
			}
			return nil, err
		case <-time.After(delay):
		}
	}
}

// read returns the complete messages in s.Dir, and why the last of the
// others is not.
func (s *SMTPSink) read() (msgs []SinkMessage, incomplete, err error) {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, nil, err
	}
	type file struct {
		mod time.Time
		msg SinkMessage
	}
	var files []file
	for _, e := range ents {
		path := filepath.Join(s.Dir, e.Name())
		b, err := os.ReadFile(path)
		fi, ierr := e.Info()
		if errors.Is(err, fs.ErrNotExist) || errors.Is(ierr, fs.ErrNotExist) {
			continue // a transaction reset
		}
		if err != nil {
			return nil, nil, err
		}
		if ierr != nil {
			return nil, nil, ierr
		}
		m, err := parseDump(string(b))
		if err != nil {
			incomplete = fmt.Errorf("%s: %w", path, err)
			continue
		}
		files = append(files, file{fi.ModTime(), m})
	}
	slices.SortStableFunc(files, func(a, b file) int { return a.mod.Compare(b.mod) })
	for _, f := range files {
		msgs = append(msgs, f.msg)
	}
	return msgs, incomplete, nil
}

// parseDump parses smtp-sink's dump file format: its own header lines,
// ending with a three-line Received header, then the message text and an
// empty line.
func parseDump(dump string) (SinkMessage, error) {
	var m SinkMessage
	rest := dump
	for {
		line, after, ok := strings.Cut(rest, "\n")
		if !ok {
			return m, errors.New("smtp-sink dump ends in its header")
		}
		rest = after
		name, val, _ := strings.Cut(line, ": ")
		switch name {
		case "X-Client-Addr", "X-Client-Proto":
		case "X-Helo-Args":
			m.Helo = val
		case "X-Mail-Args":
			m.MailFrom = val
		case "X-Rcpt-Args":
			m.RcptTo = append(m.RcptTo, val)
		case "Received":
			for range 2 { // "\tby ..." and "\t<date>"
				if _, rest, ok = strings.Cut(rest, "\n"); !ok {
					return m, errors.New("smtp-sink dump ends in its Received header")
				}
			}
			// The text ends with the LF of its last line (the sink
			// keeps no partial line), then comes an empty line.
			text, ok := strings.CutSuffix(rest, "\n")
			if !ok || text != "" && !strings.HasSuffix(text, "\n") {
				return m, errors.New("smtp-sink dump does not end with an empty line")
			}
			m.Text = text
			return m, nil
		default:
			return m, fmt.Errorf("unexpected smtp-sink header line %q", line)
		}
	}
}

// Postfix is a running Postfix MTA. Its SMTP server, on Addr, offers
// STARTTLS with the internal/testcert certificate, refuses recipients as
// PostfixOptions says, and relays every message it accepts to Relay, an
// smtp-sink.
type Postfix struct {
	Addr  string
	Relay *SMTPSink
	Dir   string
}

// PostfixOptions configures a Postfix started by StartPostfix. A nil
// *PostfixOptions is equivalent to the zero value.
type PostfixOptions struct {
	// RecipientAccess maps a recipient address to the access(5) action
	// Postfix takes at RCPT, such as "REJECT No such user" (554 5.7.1)
	// or "450 4.2.2 Mailbox full". Other recipients are accepted.
	RecipientAccess map[string]string
	// SASL, if not nil, makes Postfix offer AUTH after STARTTLS, checked
	// by this Dovecot's auth service.
	SASL *Dovecot
}

// StartPostfix runs a Postfix instance of its own until the test ends. It
// needs root, as Postfix does.
func StartPostfix(t testing.TB, opts *PostfixOptions) *Postfix {
	t.Helper()
	bin := Need(t, "postfix")
	if os.Getuid() != 0 {
		// A limit of the machine, not a missing peer: the STARTTLS, AUTH
		// and per-recipient cases it serves are skipped, even in CI; the
		// smtp-sink tests still run.
		t.Skip("Postfix needs root")
	}
	if opts == nil {
		opts = &PostfixOptions{}
	}
	relay := StartSMTPSink(t)
	return retry(t, "postfix", func() (*Postfix, error) { return startPostfix(t, bin, opts, relay) })
}

func startPostfix(t testing.TB, bin string, opts *PostfixOptions, relay *SMTPSink) (*Postfix, error) {
	t.Helper()
	dir := tempDir(t)
	ip := loopbackIP(t)
	p := &Postfix{Addr: fmt.Sprintf("%s:%d", ip, freePort(t, ip)), Relay: relay, Dir: dir}
	etc, queue, data := filepath.Join(dir, "etc"), filepath.Join(dir, "queue"), filepath.Join(dir, "data")
	for _, d := range []string{etc, queue, data} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pf, err := user.Lookup("postfix")
	if err != nil {
		t.Fatalf("Postfix's user: %v", err)
	}
	var uid, gid int
	fmt.Sscan(pf.Uid, &uid)
	fmt.Sscan(pf.Gid, &gid)
	if err := os.Chown(data, uid, gid); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, _, err := testcert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var access []string
	for _, rcpt := range slices.Sorted(maps.Keys(opts.RecipientAccess)) {
		access = append(access, fmt.Sprintf("{ %s = %s }", rcpt, opts.RecipientAccess[rcpt]))
	}
	restrictions := "permit"
	if len(access) > 0 {
		restrictions = "check_recipient_access inline:{ " + strings.Join(access, ", ") + " }, permit"
	}
	sasl := "smtpd_sasl_auth_enable = no"
	if opts.SASL != nil {
		sasl = "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\nsmtpd_sasl_path = " + opts.SASL.AuthSocket
	}
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s
data_directory = %[2]s
mail_owner = postfix
setgid_group = postdrop
maillog_file = %[3]s/maillog
maillog_file_prefixes = %[3]s
myhostname = mx.example.org
mydomain = example.org
myorigin = example.org
mydestination =
alias_maps =
alias_database =
# Postfix wants its own addresses local; the smtpd listener binds its
# address (master.cf) whatever this says.
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = %[4]s
smtpd_recipient_restrictions = %[5]s
smtpd_tls_security_level = may
smtpd_tls_cert_file = %[6]s
smtpd_tls_key_file = %[7]s
smtpd_tls_auth_only = yes
%[8]s
# Be strict about what clients send: no bare LF (RFC 5321 section 2.3.8;
# Postfix's defence against SMTP smuggling), and no command sent before
# the reply that allows it.
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
smtpd_forbid_unauth_pipelining = yes
`, queue, data, dir, "["+strings.Replace(p.Relay.Addr, ":", "]:", 1), restrictions, certFile, keyFile, sasl)
	// Only the services this needs, none chrooted.
	masterCF := p.Addr + ` inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`
	if err := os.WriteFile(filepath.Join(etc, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "master.cf"), []byte(masterCF), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "maillog")
	out := filepath.Join(dir, "postfix.out")
	of, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { of.Close() })
	cmd := exec.Command(bin, "-c", etc, "start-fg")
	cmd.Stdout, cmd.Stderr = of, of
	exited := start(t, cmd)
	// The master daemon runs in a session of its own: kill its group by
	// the id in its pid file (before start's cleanup kills the script
	// that waits for it).
	t.Cleanup(func() {
		b, err := os.ReadFile(filepath.Join(queue, "pid", "master.pid"))
		var pid int
		if _, perr := fmt.Sscan(string(b), &pid); err != nil || perr != nil || pid <= 1 {
			return
		}
		// Only if the id still names Postfix's master.
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) == "master\n" {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	if err := waitListening(exited, logFile, p.Addr); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logFile)
			t.Logf("postfix log:\n%s", log)
		}
	})
	return p, nil
}
