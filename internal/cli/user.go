package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/store"
)

// defaultDataDir is where `inetkit serve` and `inetkit user` keep the store
// and the TLS files.
const defaultDataDir = "./inetkit-data"

// storeRequestTimeout bounds how long a command waits for a running server
// to carry out a change it asked for (inetkit mail rm, inetkit user remove).
const storeRequestTimeout = time.Minute

type userOptions struct {
	data     string
	action   string // add, passwd, list, remove
	address  string
	password string
	json     bool
}

func newUserCmd(e *env, runF func(context.Context, *userOptions) error) *cobra.Command {
	o := &userOptions{}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the addresses and accounts of the store",
		Long: `Manage the addresses of the mail store in --data.

An account is an address with a password. A server listening on an address
other than loopback accepts only accounts. On loopback (any-login mode) any
login with a mail address is accepted, and a login or mail delivered to an
address makes it, without a password; 'user add' then gives it one, keeping
its mail, and from then on its password is needed.

Passwords are stored as bcrypt hashes; give one with --password or on the
first line of stdin.`,
	}
	cmd.PersistentFlags().StringVar(&o.data, "data", defaultDataDir, "data directory")
	run := func(action string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			o.action = action
			if len(args) > 0 {
				o.address = args[0]
			}
			if action == "add" {
				if err := store.ValidateAddress(o.address); err != nil {
					return usagef("%s", strings.TrimPrefix(err.Error(), "store: "))
				}
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runUser(ctx, e, o) })
		}
	}
	add := &cobra.Command{
		Use:   "add ADDRESS",
		Short: "Add an account, or give a password to an address that has none",
		Long: `Add an account: the address is the login. An address that a login in
any-login mode or a delivery made becomes an account, keeping its mail. An
address that already has a password is an error: see 'user passwd'.`,
		Example: `  echo 's3cret' | inetkit user add alice@example.org`,
		Args:    exactArgs(1, "user add takes an ADDRESS"),
		RunE:    run("add"),
	}
	passwd := &cobra.Command{
		Use:   "passwd ADDRESS",
		Short: "Change the password of an address",
		Args:  exactArgs(1, "user passwd takes an ADDRESS"),
		RunE:  run("passwd"),
	}
	for _, c := range []*cobra.Command{add, passwd} {
		c.Flags().StringVar(&o.password, "password", "", "the password (default: the first line of stdin)")
	}
	remove := &cobra.Command{
		Use:     "remove ADDRESS",
		Aliases: []string{"rm"},
		Short:   "Remove an address: its account, mailboxes and mail",
		Long: `Remove an address: its password, its mailboxes and all its mail. Nothing is
asked. It works while inetkit serve runs on the same --data: IMAP clients
that have one of its mailboxes open are told the messages are gone, and its
IMAP sessions are then disconnected. In any-login mode a later login or
delivery makes the address again, empty.`,
		Example: `  inetkit user remove alice@example.org`,
		Args:    exactArgs(1, "user remove takes an ADDRESS"),
		RunE:    run("remove"),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the addresses, how each was made, and their messages",
		Long: `List every address of the store with its kind and the messages it has.

KIND is how the address came to be:
  account    it has a password ('user add')
  any-login  a login in any-login mode made it
  rcpt       mail delivered to it made it
  auto       one of the last two, before inetkit recorded which

--json prints one JSON document:
  {"users":[{"address":"alice@example.org","kind":"account",
             "created":"2026-11-25T19:13:52Z","messages":3,
             "mailboxes":[{"name":"INBOX","messages":2},
                          {"name":"Archive","messages":0}, ...]}]}
  (users sorted by address; every mailbox, INBOX first, then by name;
  created in UTC)`,
		Args: exactArgs(0, "user list takes no arguments"),
		RunE: run("list"),
	}
	list.Flags().BoolVar(&o.json, "json", false, "print the list as one JSON document (shape above)")
	cmd.AddCommand(add, passwd, remove, list)
	return cmd
}

func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s", msg)
		}
		return nil
	}
}

// openExistingStore opens the store in dir for a command that reads or
// changes what a server made: a directory without one is an error, not a
// new store.
func openExistingStore(dir string) (*store.Store, error) {
	st, err := store.Open(dir, &store.Options{MustExist: true})
	if errors.Is(err, store.ErrNoStore) {
		return nil, fmt.Errorf("no inetkit data in %s (inetkit serve --data %s creates it)", dir, dir)
	}
	return st, err
}

// notFoundText words a *store.NotFoundError for a user of dir, or returns
// err as it is.
func notFoundText(err error, dir string) error {
	var nf *store.NotFoundError
	switch {
	case !errors.As(err, &nf):
		return err
	case nf.Mailbox != "":
		return fmt.Errorf("%s has no mailbox %q", printable(nf.Address), nf.Mailbox)
	}
	return fmt.Errorf("no such address %s in %s", printable(nf.Address), dir)
}

func runUser(ctx context.Context, e *env, o *userOptions) error {
	open := openExistingStore
	if o.action == "add" {
		open = func(dir string) (*store.Store, error) { return store.Open(dir, nil) }
	}
	st, err := open(o.data)
	if err != nil {
		return err
	}
	defer st.Close()
	switch o.action {
	case "list":
		users, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		if o.json {
			return writeUsersJSON(e.stdout, users)
		}
		return writeUsers(e.stdout, users)
	case "remove":
		return removeUser(ctx, e, st, o)
	}
	pass, err := readPassword(e.stdin, o.password)
	if err != nil {
		return err
	}
	address := strings.ToLower(o.address)
	if o.action == "add" {
		err = st.AddUser(ctx, o.address, pass)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%s already has a password; use inetkit user passwd", printable(address))
		}
		if err == nil {
			fmt.Fprintf(e.stdout, "added %s\n", printable(address))
		}
		return err
	}
	if err := st.SetPassword(ctx, o.address, pass); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no such address %s in %s; add it with inetkit user add", printable(address), o.data)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "changed the password of %s\n", printable(address))
	return nil
}

// readPassword returns flag if it is set, and the first line of stdin
// otherwise.
func readPassword(stdin io.Reader, flag string) (string, error) {
	pass := flag
	if pass == "" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password: give --password or a line on stdin")
		}
		pass = strings.TrimRight(line, "\r\n")
	}
	if pass == "" {
		return "", errors.New("empty password")
	}
	return pass, nil
}

func removeUser(ctx context.Context, e *env, st *store.Store, o *userOptions) error {
	ctx, cancel := context.WithTimeout(ctx, storeRequestTimeout)
	defer cancel()
	u, err := st.RemoveUser(ctx, o.address)
	if err != nil {
		return notFoundText(err, o.data)
	}
	what := "address"
	if u.Kind == store.UserKindAccount {
		what = "account"
	}
	fmt.Fprintf(e.stdout, "removed the %s %s, its %s and %s\n", what, printable(u.Address),
		plural(int64(len(u.Mailboxes)), "mailbox", "mailboxes"), plural(int64(u.Messages()), "message", "messages"))
	return nil
}

// writeUsers prints users as a table.
func writeUsers(w io.Writer, users []store.User) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tKIND\tMESSAGES\tMAILBOXES")
	for _, u := range users {
		var in []string
		for _, mb := range u.Mailboxes {
			if mb.Messages > 0 {
				in = append(in, fmt.Sprintf("%s %d", printable(mb.Name), mb.Messages))
			}
		}
		if len(in) == 0 {
			in = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", printable(u.Address), u.Kind, u.Messages(), strings.Join(in, ", "))
	}
	return tw.Flush()
}

// jsonUser is an address in the JSON of `inetkit user list --json`; the
// shape is documented in the command's help and must stay stable.
type jsonUser struct {
	Address   string            `json:"address"`
	Kind      string            `json:"kind"`
	Created   time.Time         `json:"created"`
	Messages  int               `json:"messages"`
	Mailboxes []jsonUserMailbox `json:"mailboxes"`
}

// jsonUserMailbox is a mailbox of a jsonUser.
type jsonUserMailbox struct {
	Name     string `json:"name"`
	Messages int    `json:"messages"`
}

func writeUsersJSON(w io.Writer, users []store.User) error {
	doc := struct {
		Users []jsonUser `json:"users"`
	}{Users: []jsonUser{}}
	for _, u := range users {
		ju := jsonUser{Address: u.Address, Kind: u.Kind.String(), Created: u.Created.UTC(), Messages: u.Messages(), Mailboxes: []jsonUserMailbox{}}
		for _, mb := range u.Mailboxes {
			ju.Mailboxes = append(ju.Mailboxes, jsonUserMailbox{Name: mb.Name, Messages: mb.Messages})
		}
		doc.Users = append(doc.Users, ju)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// printable returns s as it is if it is valid UTF-8 of graphic characters,
// and quoted with escapes otherwise, so that a name made from a client's
// bytes cannot upset a terminal.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) || r == ' ' }) < 0 {
		return s
	}
	return strconv.QuoteToGraphic(s)
}
