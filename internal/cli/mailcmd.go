package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/store"
)

// mailRmOptions are the options of `inetkit mail rm`.
type mailRmOptions struct {
	data     string
	address  string // "" with everyone
	everyone bool
	mailbox  string // "" with all
	all      bool
	subject  string
	from     string
}

func newMailCmd(e *env, runF func(context.Context, *mailRmOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mail",
		Short: "Work on the mail in the store directly",
		Long: `Work on the mail of the store in --data directly, without logging in.

These commands work while inetkit serve runs on the same --data: the server
carries out the change, so that IMAP clients with a mailbox open are told at
once (EXPUNGE), as they are of a change another client makes.`,
	}
	cmd.AddCommand(newMailRmCmd(e, runF))
	return cmd
}

func newMailRmCmd(e *env, runF func(context.Context, *mailRmOptions) error) *cobra.Command {
	o := &mailRmOptions{}
	cmd := &cobra.Command{
		Use:   "rm ADDRESS | --everyone",
		Short: "Delete messages of an address, or of every address",
		Long: `Delete the messages of ADDRESS's INBOX, of another mailbox (--mailbox), or
of all its mailboxes (--all); --everyone in place of ADDRESS does the same
for every address of the store. Nothing is asked; the number of messages
deleted is printed.

--subject and --from delete only the messages whose Subject or From header
field holds TEXT (decoded, without regard to case; with both, a message must
match both); the others stay.

While inetkit serve runs, IMAP clients that have a mailbox open are told
through EXPUNGE. A POP3 client that has the maildrop open keeps its list
until it quits; a message deleted under it is answered "-ERR message was
deleted by another session".`,
		Example: `  inetkit mail rm alice@example.org                      # alice's INBOX
  inetkit mail rm alice@example.org --all                # all her mailboxes
  inetkit mail rm alice@example.org --mailbox Sent
  inetkit mail rm alice@example.org --subject 'password reset' --from noreply
  inetkit mail rm --everyone --all                       # all mail of the store`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(cmd, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runMailRm(ctx, e, o) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", defaultDataDir, "data directory")
	f.BoolVar(&o.everyone, "everyone", false, "delete the messages of every address, in place of ADDRESS")
	f.StringVar(&o.mailbox, "mailbox", "INBOX", "the mailbox to delete messages from")
	f.BoolVar(&o.all, "all", false, "delete from all mailboxes, not only --mailbox")
	f.StringVar(&o.subject, "subject", "", "delete only messages whose Subject holds `TEXT`")
	f.StringVar(&o.from, "from", "", "delete only messages whose From holds `TEXT`")
	return cmd
}

// parse checks the arguments and flags of mail rm and completes o.
func (o *mailRmOptions) parse(cmd *cobra.Command, args []string) error {
	switch {
	case o.everyone && len(args) > 0:
		return usagef("mail rm takes an ADDRESS or --everyone, not both")
	case !o.everyone && len(args) != 1:
		return usagef("mail rm takes an ADDRESS (or --everyone)")
	case o.all && cmd.Flags().Changed("mailbox"):
		return usagef("--all and --mailbox: choose one")
	case o.mailbox == "" && !o.all:
		return usagef("--mailbox needs a NAME (or use --all)")
	}
	for _, name := range []string{"subject", "from"} {
		if v, _ := cmd.Flags().GetString(name); cmd.Flags().Changed(name) && v == "" {
			return usagef("--%s needs a TEXT: an empty one would match every message", name)
		}
	}
	if len(args) == 1 {
		o.address = args[0]
	}
	if o.all {
		o.mailbox = ""
	}
	return nil
}

func runMailRm(ctx context.Context, e *env, o *mailRmOptions) error {
	st, err := openExistingStore(o.data)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, storeRequestTimeout)
	defer cancel()
	n, err := st.DeleteMessages(ctx, store.MessageFilter{Address: o.address, Mailbox: o.mailbox, Subject: o.subject, From: o.from})
	if err != nil {
		return notFoundText(err, o.data)
	}
	fmt.Fprintf(e.stdout, "deleted %s%s from %s\n", plural(int64(n), "message", "messages"), o.matching(), o.where())
	return nil
}

// matching describes the --subject and --from of o, or is "".
func (o *mailRmOptions) matching() string {
	var m []string
	if o.subject != "" {
		m = append(m, fmt.Sprintf("subject holds %q", o.subject))
	}
	if o.from != "" {
		m = append(m, fmt.Sprintf("from holds %q", o.from))
	}
	if len(m) == 0 {
		return ""
	}
	return " whose " + strings.Join(m, " and ")
}

// where names the mailboxes o deletes from.
func (o *mailRmOptions) where() string {
	who := "every address"
	if !o.everyone {
		who = printable(strings.ToLower(o.address))
	}
	if o.mailbox == "" {
		return "all mailboxes of " + who
	}
	return printable(o.mailbox) + " of " + who
}
