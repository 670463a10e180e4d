package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/spf13/cobra"

	inetimap "github.com/inetkit/inetkit/imap"
)

type getOptions struct {
	raw     string
	mail    *mailURL
	imapURL *inetimap.URL
	msg     int // pop3: message number, 0 for the listing
	tls     tlsOptions
	timeout time.Duration
}

func newGetCmd(e *env, runF func(context.Context, *getOptions) error) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get URL",
		Short: "List a mailbox or print a message (POP3, IMAP)",
		Long: `Print what URL names on stdout, as curl does.

URL forms:
  pop3://USER:PASS@HOST:PORT/              the maildrop: number, size and UIDL of each message
  pop3://USER:PASS@HOST:PORT/N             message N
  imap://USER:PASS@HOST:PORT/              the mailboxes: name, messages, unseen, attributes
  imap://USER:PASS@HOST:PORT/MAILBOX       the mailbox: UID, flags, date, from and subject
  imap://USER:PASS@HOST:PORT/MAILBOX;UID=N the message with UID N (RFC 5092)

pop3s:// and imaps:// use implicit TLS; otherwise STARTTLS is used when the
server offers it (see --tls). The user and password are percent-encoded
(alice%40example.org for alice@example.org). Messages are read without being
marked seen or deleted.`,
		Example: `  inetkit get 'pop3://alice%40example.org:pw@127.0.0.1:1110/'
  inetkit get 'pop3://alice%40example.org:pw@127.0.0.1:1110/1'
  inetkit get 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX'
  inetkit get 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX;UID=1'`,
		Args: exactArgs(1, "get takes one URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runGet(ctx, e, o) })
		},
	}
	o.tls.addFlags(cmd)
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

func (o *getOptions) parse(raw string) error {
	o.raw = raw
	m, u, err := parseMailURL(raw, "pop3", "imap")
	if err != nil {
		return err
	}
	o.mail = m
	if !m.hasUser {
		return usagef("URL %q has no user: want %s://USER:PASS@HOST...", raw, u.Scheme)
	}
	if strings.HasPrefix(u.Scheme, "imap") {
		if o.imapURL, err = inetimap.ParseURL(raw); err != nil {
			return usagef("%v", err)
		}
		// No mailbox: the list of mailboxes, as curl gives.
	} else if p := strings.Trim(u.Path, "/"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return usagef("URL %q: want a message number after the host, not %q", raw, p)
		}
		o.msg = n
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return o.tls.validate()
}

func runGet(ctx context.Context, e *env, o *getOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var err error
	if o.imapURL != nil {
		err = getIMAP(ctx, e, o)
	} else {
		err = getPOP3(ctx, e, o)
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", redact(o.raw), err)
	}
	return nil
}

// redact hides the password of a URL for error messages.
func redact(raw string) string {
	m, u, err := parseMailURL(raw, "pop3", "imap", "smtp")
	if err != nil || !m.hasUser {
		return raw
	}
	return u.Redacted()
}

func getPOP3(ctx context.Context, e *env, o *getOptions) error {
	c, err := dialPOP3(ctx, o.mail, &o.tls, o.timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(o.mail.user, o.mail.pass); err != nil {
		return err
	}
	if o.msg > 0 {
		r, err := c.Retrieve(o.msg)
		if err != nil {
			return err
		}
		if _, err := io.Copy(e.stdout, r); err != nil {
			return err
		}
		if err := r.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	sizes, err := c.List()
	if err != nil {
		return err
	}
	uids, err := c.UIDL()
	if err != nil {
		return err
	}
	uid := make(map[int]string, len(uids))
	for _, u := range uids {
		uid[u.Number] = u.UID
	}
	w := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "N\tSIZE\tUIDL")
	for _, s := range sizes {
		fmt.Fprintf(w, "%d\t%d\t%s\n", s.Number, s.Size, uid[s.Number])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return c.Quit()
}

func getIMAP(ctx context.Context, e *env, o *getOptions) error {
	c, err := dialIMAP(ctx, o.mail, &o.tls, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	u := o.imapURL
	if u.Mailbox == "" {
		if err := listMailboxes(e.stdout, c); err != nil {
			return err
		}
		return c.Logout().Wait()
	}
	if u.UID != 0 {
		b, err := inetimap.FetchMessage(ctx, c, u.Mailbox, u.UID)
		if err != nil {
			return err
		}
		if _, err := e.stdout.Write(b); err != nil {
			return err
		}
		return c.Logout().Wait()
	}
	msgs, err := inetimap.ListMessages(ctx, c, u.Mailbox)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "UID\tFLAGS\tDATE\tFROM\tSUBJECT")
	for _, m := range msgs {
		printSummary(w, m)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return c.Logout().Wait()
}

func printSummary(w io.Writer, m inetimap.MessageSummary) {
	flags := make([]string, len(m.Flags))
	for i, f := range m.Flags {
		flags[i] = string(f)
	}
	fl := strings.Join(flags, " ")
	if fl == "" {
		fl = "-"
	}
	fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", m.UID, fl, m.InternalDate.UTC().Format("2006-01-02 15:04:05"), oneLine(m.From), oneLine(m.Subject))
}

// oneLine keeps a header value printable on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// listMailboxes prints every mailbox with its message and unseen counts
// (LIST "" "*" RETURN (STATUS ...), RFC 5819, where the server has it;
// "-" otherwise) and its attributes.
func listMailboxes(w io.Writer, c *imapclient.Client) error {
	var opts *imap.ListOptions
	if c.Caps().Has(imap.CapListStatus) {
		opts = &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, NumUnseen: true}}
	}
	boxes, err := c.List("", "*", opts).Collect()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "MAILBOX\tMESSAGES\tUNSEEN\tATTRIBUTES")
	for _, b := range boxes {
		var msgs, unseen string = "-", "-"
		if st := b.Status; st != nil {
			if st.NumMessages != nil {
				msgs = strconv.FormatUint(uint64(*st.NumMessages), 10)
			}
			if st.NumUnseen != nil {
				unseen = strconv.FormatUint(uint64(*st.NumUnseen), 10)
			}
		}
		attrs := make([]string, len(b.Attrs))
		for i, a := range b.Attrs {
			attrs[i] = string(a)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(b.Mailbox), msgs, unseen, strings.Join(attrs, " "))
	}
	return tw.Flush()
}
