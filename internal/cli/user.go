package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/store"
)

// defaultDataDir is where `inetkit serve` and `inetkit user` keep the store
// and the TLS files.
const defaultDataDir = "./inetkit-data"

type userOptions struct {
	data     string
	action   string // add, passwd, list
	address  string
	password string
}

func newUserCmd(e *env, runF func(context.Context, *userOptions) error) *cobra.Command {
	o := &userOptions{}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the mail accounts of the store",
		Long: `Manage the mail accounts of the store in --data.

A server listening on an address other than loopback accepts only these
accounts. Passwords are stored as bcrypt hashes; give one with --password or
on the first line of stdin.`,
	}
	cmd.PersistentFlags().StringVar(&o.data, "data", defaultDataDir, "data directory")
	run := func(action string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			o.action = action
			if len(args) > 0 {
				o.address = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runUser(ctx, e, o) })
		}
	}
	add := &cobra.Command{
		Use:     "add ADDRESS",
		Short:   "Add an account (the address is the login)",
		Example: `  echo 's3cret' | inetkit user add alice@example.org`,
		Args:    exactArgs(1, "user add takes an ADDRESS"),
		RunE:    run("add"),
	}
	passwd := &cobra.Command{
		Use:   "passwd ADDRESS",
		Short: "Change the password of an account",
		Args:  exactArgs(1, "user passwd takes an ADDRESS"),
		RunE:  run("passwd"),
	}
	for _, c := range []*cobra.Command{add, passwd} {
		c.Flags().StringVar(&o.password, "password", "", "the password (default: the first line of stdin)")
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the accounts",
		Args:  exactArgs(0, "user list takes no arguments"),
		RunE:  run("list"),
	}
	cmd.AddCommand(add, passwd, list)
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

func runUser(ctx context.Context, e *env, o *userOptions) error {
	st, err := store.Open(o.data, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.action == "list" {
		users, err := st.Users(ctx)
		for _, u := range users {
			fmt.Fprintln(e.stdout, u)
		}
		return err
	}
	pass := o.password
	if pass == "" {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("no password: give --password or a line on stdin")
		}
		pass = strings.TrimRight(line, "\r\n")
	}
	if pass == "" {
		return errors.New("empty password")
	}
	switch o.action {
	case "add":
		if err := st.AddUser(ctx, o.address, pass); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added %s\n", strings.ToLower(o.address))
	case "passwd":
		if err := st.SetPassword(ctx, o.address, pass); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "changed the password of %s\n", strings.ToLower(o.address))
	}
	return nil
}
