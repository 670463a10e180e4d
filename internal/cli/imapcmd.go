package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/imap"
)

type imapIdleOptions struct {
	raw      string
	mail     *mailURL
	url      *imap.URL
	tls      tlsOptions
	count    int           // exit after this many matching messages; 0: never
	timeout  time.Duration // give up after this long; 0: never
	subject  string
	from     string
	existing bool
	json     bool
}

func newIMAPCmd(e *env, runF func(context.Context, *imapIdleOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "imap",
		Short: "IMAP operations that fit no common verb",
	}
	o := &imapIdleOptions{}
	idle := &cobra.Command{
		Use:   "idle URL",
		Short: "Print messages as they arrive (IMAP IDLE); wait for mail from a script",
		Long: `Watch the mailbox URL names (imap://USER:PASS@HOST:PORT/MAILBOX, INBOX when
none) with IDLE, and print a line (UID, flags, date, from, subject) for every
message that arrives, until interrupted, or until --count messages have.
"watching MAILBOX" goes to stderr once a message that arrives is sure to be
seen: send the mail after it.

--subject and --from print (and count) only the messages whose Subject or
From (name or address) holds the text, in any case. --existing looks at the
messages already in the mailbox first, oldest first, as if they had just
arrived: with --count 1, it returns at once if a match is there.

--timeout gives up after that long (connecting included), with an error and
exit status 1, unless --count messages arrived first (exit status 0).

--json prints each message as one line of JSON, as "get --json" prints the
elements of "messages":
  {"uid":1,"seq":1,"from":"bob@example.org","to":["alice@example.org"],
   "subject":"hi","date":"2026-11-25T19:13:52Z","size":447,"flags":[]}

It stops as soon as its stdout is closed (when the reader of "| head -n1"
exits), without waiting for another message to write.`,
		Example: `  inetkit imap idle 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX'
  inetkit imap idle 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX' --count 1 --subject 'reset' --existing --timeout 30s
  inetkit imap idle 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX' --json | jq -r .subject`,
		Args: exactArgs(1, "imap idle takes one URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runIMAPIdle(ctx, e, o) })
		},
	}
	o.tls.addFlags(idle)
	f := idle.Flags()
	f.IntVar(&o.count, "count", 0, "exit after `N` matching messages (0: never)")
	f.DurationVar(&o.timeout, "timeout", 0, "give up after this long, with exit status 1 (0: never)")
	f.StringVar(&o.subject, "subject", "", "only messages whose Subject contains `TEXT` (any case)")
	f.StringVar(&o.from, "from", "", "only messages whose From contains `TEXT` (any case)")
	f.BoolVar(&o.existing, "existing", false, "count the matching messages already in the mailbox too")
	f.BoolVar(&o.json, "json", false, "print each message as a line of JSON")
	cmd.AddCommand(idle)
	return cmd
}

func (o *imapIdleOptions) parse(raw string) error {
	m, _, err := parseMailURL(raw, "imap")
	if err != nil {
		return err
	}
	if !m.hasUser {
		return usagef("URL %q has no user: want imap://USER:PASS@HOST...", raw)
	}
	o.raw, o.mail = raw, m
	if o.url, err = imap.ParseURL(raw); err != nil {
		return usagef("%v", err)
	}
	switch {
	case o.url.Search != "":
		return usagef("URL %q: imap idle takes --subject and --from, not a search in the URL", raw)
	case o.url.UID != 0:
		return usagef("URL %q names one message: imap idle watches a mailbox", raw)
	case o.count < 0:
		return usagef("--count must not be negative")
	case o.timeout < 0:
		return usagef("--timeout must not be negative")
	}
	if o.url.Mailbox == "" {
		o.url.Mailbox = "INBOX"
	}
	return o.tls.validate()
}

// matches reports whether m is a message the flags ask for.
func (o *imapIdleOptions) matches(m imap.MessageSummary) bool {
	return containsFold(m.Subject, o.subject) && containsFold(m.From, o.from)
}

func containsFold(s, substr string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
}

// Why runIMAPIdle's context ended, besides an interrupt.
var (
	errIdleTimeout  = errors.New("--timeout passed")
	errStdoutClosed = errors.New("stdout closed")
	errDone         = errors.New("done") // --count messages printed
)

func runIMAPIdle(ctx context.Context, e *env, o *imapIdleOptions) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if o.timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, o.timeout, errIdleTimeout)
		defer stop()
	}
	defer watchClosed(e.stdout, func() { cancel(errStdoutClosed) })()

	n, watching := 0, false
	c, err := dialIMAP(ctx, o.mail, &o.tls, nil)
	if err == nil {
		defer c.Close()
		// imapclient commands take no context: ending ctx closes c.
		defer context.AfterFunc(ctx, func() { c.Close() })()
		err = imap.Watch(ctx, c, o.url.Mailbox, func(m imap.MessageSummary) error {
			if !o.matches(m) {
				return nil
			}
			n++
			if err := o.print(e.stdout, m); err != nil {
				return err
			}
			if o.count > 0 && n >= o.count {
				return errDone
			}
			return nil
		}, &imap.WatchOptions{Existing: o.existing, Ready: func() {
			// Only now: a message that arrives before may not be reported.
			watching = true
			if o.count > 0 {
				fmt.Fprintf(e.stderr, "watching %s for %d more message(s)\n", o.url.Mailbox, o.count-n)
			} else {
				fmt.Fprintf(e.stderr, "watching %s; interrupt to stop\n", o.url.Mailbox)
			}
		}})
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(err, errDone):
		logout(c)
		return nil
	case cause == errStdoutClosed || isBrokenPipe(err):
		return nil // nobody reads what we would print: done
	case cause == errIdleTimeout:
		err = o.timedOut(n, watching)
	case ctx.Err() != nil:
		return nil // interrupted: the normal end without --count
	}
	return fmt.Errorf("imap idle %s: %w", redact(o.raw), err)
}

func (o *imapIdleOptions) timedOut(n int, watching bool) error {
	switch {
	case !watching && n == 0:
		return fmt.Errorf("timed out after %v before watching %s (connecting, logging in or selecting it)", o.timeout, o.url.Mailbox)
	case o.count > 0:
		return fmt.Errorf("timed out after %v: %d of %d message(s) arrived", o.timeout, n, o.count)
	}
	return fmt.Errorf("timed out after %v: %d message(s) arrived", o.timeout, n)
}

// print writes m on w, as a line of the table or of JSON.
func (o *imapIdleOptions) print(w io.Writer, m imap.MessageSummary) error {
	if o.json {
		return writeJSON(w, toJSONMessage(m))
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	printSummary(tw, m)
	return tw.Flush()
}

// isBrokenPipe reports whether err is a write to a reader that has gone.
func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe)
}

// logout says LOGOUT, waiting a few seconds at most for the reply: the
// work is done, and the server's goodbye is a courtesy.
func logout(c *imapclient.Client) {
	t := time.AfterFunc(5*time.Second, func() { c.Close() })
	defer t.Stop()
	c.Logout().Wait()
}
