package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/store"
	"github.com/inetkit/inetkit/telnet"
	"github.com/inetkit/inetkit/upper"
)

// Limits of what one console command prints.
const (
	consoleMaxEntries  = 1000 // files: entries of a folder
	consoleMaxArticles = 100  // read GROUP: the latest articles
	// consoleMaxArticleBytes caps an article "read GROUP N" shows; the
	// news server takes none larger.
	consoleMaxArticleBytes = 4 << 20
)

// consoleHelp is what "help" prints.
const consoleHelp = `Each line you type comes back upper-cased, as Python's str.upper() does it
("straße" gives "STRASSE"), unless its first word is a command:
  help              this list
  files [PATH]      the files of a folder of the file tree (or one file's line)
  mail              the mailboxes of your login, with their message counts
  groups            the newsgroups, with their article counts
  read GROUP [N]    the latest articles of GROUP, or article N
  login [NAME]      log in as NAME
  status            your login, connection, terminal and window as the server sees them
  quit, exit        end the session (Ctrl-D on an empty line too)
Line editing: Backspace, Ctrl-U, Ctrl-W, the arrows, Home, End; Up and
Down go through the lines typed before.
`

// telnetConsole is the Handler of `inetkit serve telnet`: a console, never
// an operating-system shell. It reads lines with the telnet package's line
// editor and answers each with the line upper-cased, except the commands
// of consoleHelp, which show the file tree (read only), the mailbox counts
// of the login and the newsgroups of the store.
//
// Logins: under the any-login policy (every listener of the store's
// services on loopback) a session starts without one, and "login NAME"
// takes any name, without a password, to say whose mail "mail" counts.
// Otherwise a session must log in with an account (store.Authenticate)
// before anything else, and only over TLS, unless every telnet listener is
// on loopback (insecure); a plain session off loopback only gets its lines
// upper-cased. Failed logins wait on the shared AuthLimiter, then on the
// session's own delay, and end the session at the server's
// MaxAuthFailures (Conn.AuthFailure).
type telnetConsole struct {
	store    *store.Store
	files    fs.FS // the file tree, read only
	anyLogin bool
	insecure bool
	limiter  *lineproto.AuthLimiter
	log      *slog.Logger
}

// consoleSession is one session of the console.
type consoleSession struct {
	*telnetConsole
	ctx  context.Context
	c    *telnet.Conn
	lr   *telnet.LineReader
	log  *slog.Logger
	user string // the login, "" before one
}

// errEndSession ends a session without a goodbye of the console's own: the
// server has said one, or the connection is gone.
var errEndSession = errors.New("session ended")

func (tc *telnetConsole) ServeTelnet(ctx context.Context, c *telnet.Conn) {
	s := &consoleSession{telnetConsole: tc, ctx: ctx, c: c, lr: telnet.NewLineReader(c),
		log: tc.log.With("remote", lineproto.RemoteString(c.NetConn()))}
	if err := s.run(); err != nil && !errors.Is(err, errEndSession) && !errors.Is(err, io.EOF) {
		s.log.Debug("telnet: session ended", "err", err)
	}
}

func (s *consoleSession) run() error {
	s.printf("inetkit console: each line you type comes back upper-cased; 'help' lists the commands.\r\n")
	if !s.anyLogin {
		if !s.loginAllowed() {
			s.printf("Logins need TLS here (the telnets port; inetkit telnet --tls): without one, lines only come back upper-cased.\r\n")
		} else if err := s.loginAtStart(); err != nil {
			return err
		}
	}
	for {
		line, err := s.lr.ReadLine(s.prompt())
		switch {
		case errors.Is(err, telnet.ErrInterrupt):
			continue
		case errors.Is(err, io.EOF):
			s.printf("\r\nbye\r\n")
			return nil
		case err != nil:
			return err // the server says the goodbye a failed read calls for
		}
		if quit, err := s.command(line); quit || err != nil {
			return err
		}
	}
}

// prompt shows who is logged in.
func (s *consoleSession) prompt() string {
	if s.user != "" {
		return s.user + "@inetkit> "
	}
	return "inetkit> "
}

func (s *consoleSession) printf(format string, args ...any) error {
	_, err := fmt.Fprintf(s.c, format, args...)
	return err
}

// fail answers a mistake with line, counted against the error limits: at
// the hard limit the server has said goodbye, and the session ends.
func (s *consoleSession) fail(format string, args ...any) error {
	if err := s.c.WriteError(fmt.Sprintf(format, args...)); err != nil {
		return errEndSession
	}
	return nil
}

// command runs one line: a command, or the line upper-cased.
func (s *consoleSession) command(line string) (quit bool, err error) {
	args := strings.Fields(line)
	if len(args) == 0 {
		return false, nil
	}
	switch strings.ToLower(args[0]) {
	case "quit", "exit", "logout":
		s.printf("bye\r\n")
		return true, nil
	case "help", "?":
		return false, s.printf("%s", strings.ReplaceAll(consoleHelp, "\n", "\r\n"))
	case "files":
		return false, s.filesCmd(args[1:])
	case "mail":
		return false, s.mailCmd(args[1:])
	case "groups":
		return false, s.groupsCmd(args[1:])
	case "read":
		return false, s.readCmd(args[1:])
	case "login":
		return false, s.loginCmd(args[1:])
	case "status":
		return false, s.statusCmd()
	}
	return false, s.printf("%s\r\n", upper.String(line))
}

// needLogin reports whether the session must log in before cmd, and says
// so.
func (s *consoleSession) needLogin(cmd string) (bool, error) {
	if s.anyLogin || s.user != "" {
		return false, nil
	}
	return true, s.fail("%s: log in first (login NAME)", cmd)
}

func (s *consoleSession) filesCmd(args []string) error {
	if len(args) > 1 {
		return s.fail("usage: files [PATH]")
	}
	if need, err := s.needLogin("files"); need {
		return err
	}
	name := "."
	if len(args) == 1 {
		name = strings.Trim(path.Clean("/"+args[0]), "/")
		if name == "" {
			name = "."
		}
	}
	fi, err := fs.Stat(s.files, name)
	if err != nil {
		return s.fail("files: %s: no such file or folder", displayPath(name))
	}
	if !fi.IsDir() {
		return s.printf("%s\r\n", fileLine(fi, name))
	}
	entries, err := fs.ReadDir(s.files, name)
	if err != nil {
		s.log.Warn("telnet: files", "path", name, "err", err)
		return s.fail("files: %s: cannot be read", displayPath(name))
	}
	if len(entries) == 0 {
		return s.printf("%s is empty\r\n", displayPath(name))
	}
	var b strings.Builder
	for i, e := range entries {
		if i == consoleMaxEntries {
			fmt.Fprintf(&b, "... and %d more\r\n", len(entries)-i)
			break
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		b.WriteString(fileLine(info, e.Name()))
		b.WriteString("\r\n")
	}
	return s.printf("%s", b.String())
}

// displayPath is the name of a file of the tree as the user sees it.
func displayPath(name string) string {
	if name == "." {
		return "/"
	}
	return "/" + name
}

// fileLine is one line of "files": type, size, time and name, a folder's
// with a slash.
func fileLine(fi fs.FileInfo, name string) string {
	kind, size := "-", strconv.FormatInt(fi.Size(), 10)
	if fi.IsDir() {
		kind, size, name = "d", "-", name+"/"
	}
	return fmt.Sprintf("%s %12s  %s  %s", kind, size, fi.ModTime().UTC().Format("2006-01-02 15:04"), oneLine(name))
}

func (s *consoleSession) mailCmd(args []string) error {
	if len(args) > 0 {
		return s.fail("usage: mail")
	}
	if s.user == "" {
		return s.fail("mail: log in first (login NAME)")
	}
	users, err := s.store.ListUsers(s.ctx)
	if err != nil {
		s.log.Warn("telnet: mail", "err", err)
		return s.fail("mail: the store cannot be read")
	}
	for _, u := range users {
		if !strings.EqualFold(u.Address, s.user) {
			continue
		}
		var b strings.Builder
		for _, m := range u.Mailboxes {
			fmt.Fprintf(&b, "%-20s %6d\r\n", oneLine(m.Name), m.Messages)
		}
		fmt.Fprintf(&b, "%d message%s\r\n", u.Messages(), cond(u.Messages() == 1, "", "s"))
		return s.printf("%s", b.String())
	}
	return s.printf("no mail for %s\r\n", s.user)
}

func (s *consoleSession) groupsCmd(args []string) error {
	if len(args) > 0 {
		return s.fail("usage: groups")
	}
	if need, err := s.needLogin("groups"); need {
		return err
	}
	groups, err := s.store.ListGroups(s.ctx)
	if err != nil {
		s.log.Warn("telnet: groups", "err", err)
		return s.fail("groups: the store cannot be read")
	}
	if len(groups) == 0 {
		return s.printf("no newsgroups\r\n")
	}
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "%-30s %6d  %s\r\n", g.Name, g.Count, oneLine(g.Description))
	}
	return s.printf("%s", b.String())
}

func (s *consoleSession) readCmd(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return s.fail("usage: read GROUP [N]")
	}
	if need, err := s.needLogin("read"); need {
		return err
	}
	be := s.store.NNTPBackend()
	g, err := be.Group(s.ctx, args[0])
	if err != nil {
		if errors.Is(err, nntp.ErrNoSuchGroup) {
			return s.fail("read: no newsgroup %s (groups lists them)", oneLine(args[0]))
		}
		s.log.Warn("telnet: read", "group", args[0], "err", err)
		return s.fail("read: the store cannot be read")
	}
	if len(args) == 1 {
		return s.listArticles(be, g)
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || n < 1 {
		return s.fail("usage: read GROUP [N]: N is an article number")
	}
	a, err := be.Article(s.ctx, g.Name, n, true)
	if err != nil {
		if errors.Is(err, nntp.ErrNoSuchArticle) {
			return s.fail("read: %s has no article %d", g.Name, n)
		}
		s.log.Warn("telnet: read", "group", g.Name, "n", n, "err", err)
		return s.fail("read: the store cannot be read")
	}
	body, err := io.ReadAll(io.LimitReader(a.Body, consoleMaxArticleBytes))
	a.Body.Close()
	if err != nil {
		s.log.Warn("telnet: read", "group", g.Name, "n", n, "err", err)
		return s.fail("read: the store cannot be read")
	}
	return s.printf("%s\r\n%s", consoleText(string(a.Header)), consoleText(string(body)))
}

// consoleText makes text from the store safe to show on a terminal: every
// control character but TAB, CR and LF is shown as "?", so that an article
// cannot send escape sequences to the reader's terminal.
func consoleText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\t' && r != '\r' && r != '\n' {
			return '?'
		}
		return r
	}, s)
}

// listArticles prints the latest articles of g: number, from, subject.
func (s *consoleSession) listArticles(be nntp.Backend, g nntp.Group) error {
	if g.High < g.Low {
		return s.printf("%s has no articles\r\n", g.Name)
	}
	low := max(g.Low, g.High-consoleMaxArticles+1)
	over, err := be.Overview(s.ctx, g.Name, low, g.High, consoleMaxArticles)
	if err != nil {
		s.log.Warn("telnet: read", "group", g.Name, "err", err)
		return s.fail("read: the store cannot be read")
	}
	var b strings.Builder
	if low > g.Low {
		fmt.Fprintf(&b, "(the latest %d; read %s N shows article N)\r\n", consoleMaxArticles, g.Name)
	}
	for _, o := range over {
		fmt.Fprintf(&b, "%6d  %-30s  %s\r\n", o.Number, oneLine(o.From), oneLine(o.Subject))
	}
	if len(over) == 0 {
		fmt.Fprintf(&b, "%s has no articles\r\n", g.Name)
	}
	return s.printf("%s", b.String())
}

func (s *consoleSession) statusCmd() error {
	var b strings.Builder
	fmt.Fprintf(&b, "login:      %s\r\n", cond(s.user == "", "(none)", s.user))
	fmt.Fprintf(&b, "connection: %s, from %s\r\n", cond(s.c.TLS(), "TLS", "plain telnet"), lineproto.RemoteString(s.c.NetConn()))
	termType := cond(s.c.TerminalType() == "", "unknown", oneLine(s.c.TerminalType()))
	window := "unknown"
	if w, h, ok := s.c.WindowSize(); ok && (w > 0 || h > 0) {
		window = fmt.Sprintf("%dx%d", w, h) // 0: that dimension unknown
	}
	fmt.Fprintf(&b, "terminal:   %s, window %s\r\n", termType, window)
	mode := "line (your client edits the line)"
	if s.c.LocalEnabled(telnet.OptionEcho) {
		mode = "character (the server edits the line)"
	}
	fmt.Fprintf(&b, "mode:       %s\r\n", mode)
	return s.printf("%s", b.String())
}

// loginAllowed reports whether this session may log in: over TLS, or over
// plain Telnet when the policy is any-login or every telnet listener is on
// loopback.
func (s *consoleSession) loginAllowed() bool {
	return s.anyLogin || s.insecure || s.c.TLS()
}

func (s *consoleSession) loginCmd(args []string) error {
	if len(args) > 1 {
		return s.fail("usage: login [NAME]")
	}
	if !s.loginAllowed() {
		return s.fail("login: logins need TLS here: connect to the telnets port (inetkit telnet --tls)")
	}
	name := ""
	if len(args) == 1 {
		name = args[0]
	} else {
		var err error
		if name, err = s.readName(); err != nil || name == "" {
			return err
		}
	}
	if bad := badLoginName(name); bad != "" {
		return s.fail("login: %s", bad)
	}
	if s.anyLogin {
		s.user = name
		s.log.Info("telnet: login", "user", name, "policy", "any")
		return nil
	}
	_, err := s.authenticate(name)
	return err
}

// loginAtStart asks for a login and a password until they are right, the
// session's failures reach the server's limit, or the client leaves.
func (s *consoleSession) loginAtStart() error {
	for s.user == "" {
		name, err := s.readName()
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		if bad := badLoginName(name); bad != "" {
			if err := s.fail("%s", bad); err != nil {
				return err
			}
			continue
		}
		if _, err := s.authenticate(name); err != nil {
			return err
		}
	}
	return nil
}

// readName reads a login name at the "login: " prompt.
func (s *consoleSession) readName() (string, error) {
	name, err := s.lr.ReadLine("login: ")
	if errors.Is(err, telnet.ErrInterrupt) {
		return "", nil
	}
	if errors.Is(err, io.EOF) {
		s.printf("\r\nbye\r\n")
		return "", errEndSession
	}
	return strings.TrimSpace(name), err
}

// badLoginName says what is wrong with a login name, or "".
func badLoginName(name string) string {
	if !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 || len(name) > 254 {
		return "a login is a name or a mail address, without control characters"
	}
	return ""
}

// authenticate asks for the password of name and checks it with the store,
// after the shared limiter's wait. It reports whether the login succeeded;
// an error ends the session.
func (s *consoleSession) authenticate(name string) (bool, error) {
	pass, ok, err := s.readPassword()
	if err != nil || !ok {
		return false, err
	}
	remote := s.c.RemoteAddr()
	if err := s.limiter.Wait(s.ctx, remote, name); err != nil {
		return false, errEndSession
	}
	if _, err := s.store.Authenticate(s.ctx, name, pass); err != nil {
		if !errors.Is(err, store.ErrAuthFailed) {
			s.log.Warn("telnet: login", "user", name, "err", err)
		}
		s.limiter.Failed(remote, name)
		s.log.Info("telnet: login failed", "user", name)
		if err := s.c.AuthFailure("Login incorrect"); err != nil {
			return false, errEndSession
		}
		return false, nil
	}
	s.limiter.Succeeded(remote, name)
	s.user = name
	s.log.Info("telnet: login", "user", name, "policy", "accounts")
	return true, nil
}

// readPassword reads a password at the "Password: " prompt with the line
// editor's ReadPassword: nothing of it is echoed in character mode, and it
// is kept out of the line history; a client in line mode echoes it itself.
// ok is false when the user pressed Ctrl-C.
func (s *consoleSession) readPassword() (pass string, ok bool, err error) {
	pass, err = s.lr.ReadPassword("Password: ")
	switch {
	case errors.Is(err, telnet.ErrInterrupt):
		return "", false, nil
	case errors.Is(err, io.EOF):
		s.printf("\r\nbye\r\n")
		return "", false, errEndSession
	}
	return pass, err == nil, err
}
