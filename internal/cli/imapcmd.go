package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/imap"
)

type imapIdleOptions struct {
	raw  string
	mail *mailURL
	url  *imap.URL
	tls  tlsOptions
}

func newIMAPCmd(e *env, runF func(context.Context, *imapIdleOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "imap",
		Short: "IMAP operations that fit no common verb",
	}
	o := &imapIdleOptions{}
	idle := &cobra.Command{
		Use:   "idle URL",
		Short: "Print new messages as they arrive (IMAP IDLE)",
		Long: `Watch the mailbox URL names (imap://USER:PASS@HOST:PORT/MAILBOX, INBOX when
none) with IDLE, and print a line (UID, flags, date, from, subject) for every
message that arrives, until interrupted.`,
		Example: `  inetkit imap idle 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX'`,
		Args:    exactArgs(1, "imap idle takes one URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, _, err := parseMailURL(args[0], "imap")
			if err != nil {
				return err
			}
			if !m.hasUser {
				return usagef("URL %q has no user: want imap://USER:PASS@HOST...", args[0])
			}
			o.raw, o.mail = args[0], m
			if o.url, err = imap.ParseURL(args[0]); err != nil {
				return usagef("%v", err)
			}
			if o.url.Mailbox == "" {
				o.url.Mailbox = "INBOX"
			}
			if err := o.tls.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runIMAPIdle(ctx, e, o) })
		},
	}
	o.tls.addFlags(idle)
	cmd.AddCommand(idle)
	return cmd
}

func runIMAPIdle(ctx context.Context, e *env, o *imapIdleOptions) error {
	c, err := dialIMAP(ctx, o.mail, &o.tls, nil)
	if err != nil {
		return fmt.Errorf("imap idle %s: %w", redact(o.raw), err)
	}
	defer c.Close()
	w := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	err = imap.Watch(ctx, c, o.url.Mailbox, func(m imap.MessageSummary) error {
		printSummary(w, m)
		return w.Flush()
	}, &imap.WatchOptions{Ready: func() {
		// Only now: a message that arrives before is not reported.
		fmt.Fprintf(e.stderr, "watching %s; interrupt to stop\n", o.url.Mailbox)
	}})
	if ctx.Err() != nil {
		return nil // interrupted: the normal end (Watch returns only with an error)
	}
	return fmt.Errorf("imap idle %s: %w", redact(o.raw), err)
}
