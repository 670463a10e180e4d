package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	netmail "net/mail"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/gopher"
	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/pop3"
)

type getOptions struct {
	raw     string
	mail    *mailURL
	imapURL *inetimap.URL
	msg     int // pop3: message number, 0 for the listing
	tls     tlsOptions
	timeout time.Duration
	json    bool
	delete  bool
	match   mailMatch
	// criteria is what an IMAP listing asks the server for: the URL's
	// search and the match flags; nil for every message.
	criteria *imap.SearchCriteria

	ftpURL *ftpURL // for ftp:// and ftps:// URLs (ftpcmd.go)
	ftp    ftpFlags

	httpURL   *httpURL    // for http:// and https:// URLs (httpcmd.go)
	gopherURL *gopher.URL // for gopher:// URLs (gophercmd.go)
	web       webFlags

	nntpURL *nntpURL // for nntp://, nntps:// and news: URLs (nntpcmd.go)
}

func newGetCmd(e *env, runF func(context.Context, *getOptions) error) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get URL",
		Short: "List, search, print or delete messages (POP3, IMAP); fetch or list files (FTP, HTTP, Gopher); read news (NNTP)",
		Long: `Print what URL names on stdout, as curl does.

URL forms:
  pop3://USER:PASS@HOST:PORT/                the maildrop: number, size and UIDL of each message
  pop3://USER:PASS@HOST:PORT/N               message N
  imap://USER:PASS@HOST:PORT/                the mailboxes: name, messages, unseen, attributes
  imap://USER:PASS@HOST:PORT/MAILBOX         the mailbox: UID, flags, date, from and subject
  imap://USER:PASS@HOST:PORT/MAILBOX?SEARCH  the messages of the mailbox that SEARCH matches
  imap://USER:PASS@HOST:PORT/MAILBOX;UID=N   the message with UID N (RFC 5092)
  ftp://[USER[:PASS]@]HOST[:PORT]/PATH       the file PATH (to -o FILE with -o)
  ftp://[USER[:PASS]@]HOST[:PORT]/FOLDER/    the folder: type, size, date and name
                                             of each file (a PATH that is a folder too)
  http://[USER[:PASS]@]HOST[:PORT]/PATH      what the server sends for PATH (https://: over TLS)
  gopher://HOST[:PORT]/1SELECTOR             a menu: type, name and selector of each item
  gopher://HOST[:PORT]/0SELECTOR             a file (9SELECTOR and the other types too)
  gopher://HOST[:PORT]/7SELECTOR?QUERY       a search, QUERY sent after a TAB (also %09QUERY)
  nntp://[USER:PASS@]HOST[:PORT]/            the newsgroups: name, count, low, high, posting
  nntp://[USER:PASS@]HOST[:PORT]/GROUP       the group's last 100 articles: number, date,
                                             from, subject (?range=N-M, N- or N for others)
  nntp://[USER:PASS@]HOST[:PORT]/GROUP/N     article N of the group
  nntp://[USER:PASS@]HOST[:PORT]/MESSAGE-ID  the article with that message-id (<a@b>,
                                             %3Ca%40b%3E or a@b: the brackets may be left out)
  news:MESSAGE-ID, news:GROUP                the same on $NNTPSERVER (HOST[:PORT], port 119),
                                             else inetkit serve's 127.0.0.1:1119 (RFC 5538)

pop3s://, imaps://, ftps:// and nntps:// use implicit TLS; otherwise STARTTLS
(AUTH TLS for FTP) is used when the server offers it (see --tls). The user and
password are percent-encoded (alice%40example.org for alice@example.org).
Messages are read without being marked seen or deleted.

Searching. The query of an IMAP URL is an IMAP search program, which the
server runs (RFC 5092; spaces as %20): ?SUBJECT%20hello,
?OR%20(FROM%20alice)%20(FROM%20bob). It may also be KEY=VALUE pairs joined
by "&", each value one argument: ?SUBJECT=hello%20world&FROM=bob&UNSEEN.
Keys: SUBJECT, FROM, TO, CC, BCC, BODY, TEXT (header and body), HEADER
(HEADER=X-Test:yes), SINCE, BEFORE, ON (the day the message arrived),
SENTSINCE, SENTBEFORE, SENTON (its Date header), SEEN, UNSEEN, FLAGGED,
ANSWERED, DELETED, DRAFT and their UN- forms, KEYWORD, LARGER, SMALLER (in
bytes), UID (UID=3:*), NOT, OR, and parentheses. Dates are 2026-01-02 or
2-Jan-2026. Text matches are case-insensitive substrings. --subject, --from,
--to and --since add to the search, and work for POP3 too, which has no
search: inetkit reads the header of each message (TOP n 0) and matches it
itself, --since against the time of its first Received header (its
arrival), or else its Date.

--delete deletes the messages listed: the matches, every message of the
mailbox or maildrop if nothing narrows the listing down, or the one message a
message URL names (after printing it). IMAP marks exactly those UIDs
\Deleted and expunges them (UID EXPUNGE, RFC 4315); other messages marked
\Deleted stay. POP3 sends DELE for each, then QUIT. How many were deleted
goes to stderr ("deleted 2 messages").

--json prints one JSON document in place of a table:
  mailboxes  {"mailboxes":[{"name":"INBOX","messages":3,"unseen":1,
             "attributes":["\\HasNoChildren"]}]}
             (messages and unseen are null if the server has no LIST-STATUS)
  IMAP       {"messages":[{"uid":1,"seq":1,"from":"bob@example.org",
             "to":["alice@example.org"],"subject":"hi",
             "date":"2026-11-25T19:13:52Z","size":447,"flags":["\\Seen"]}]}
             (from and to are addresses alone, without names; date is when
             the message arrived, in UTC; flags may be [])
  POP3       {"messages":[{"n":1,"size":447,"uidl":"1795634032.1"}]}
  FTP        {"entries":[{"name":"notes.txt","type":"file","size":12,
             "modified":"2026-11-25T19:13:52Z"}]}
             (type is file, dir, link or other; size and modified are null
             when the server does not say)
  HTTP       what the server answers to "Accept: application/json", which
             for a folder of inetkit serve http is {"path":"/","entries":
             [{"name":"notes.txt","type":"file","size":12,
             "modified":"2026-11-25T19:13:52Z","url":"/notes.txt"}]}
             (a server that sends no JSON is an error)
  Gopher     {"items":[{"type":"text","name":"notes.txt","selector":
             "/notes.txt","host":"127.0.0.1","port":7070,
             "url":"gopher://127.0.0.1:7070/0/notes.txt"}]}
             (type is the item type's name: menu, text, search, binary,
             info, ...; url is "" for info lines)
  NNTP       {"groups":[{"name":"inetkit.test","count":3,"low":1,"high":3,
             "posting":"y"}]} for the groups; for a group
             {"group":"inetkit.test","count":3,"low":1,"high":3,
             "articles":[{"number":3,"date":"...","from":"...",
             "subject":"...","message_id":"<...>","references":"",
             "bytes":412,"lines":3}]} (fields as the server's overview
             has them: encoded words left as they are)
With --delete the document also has "deleted": how many were deleted. A
message or a file is printed as it is, never as JSON.

FTP. Without a user the login is anonymous ("anonymous", password
"inetkit@"); the port defaults to 21 (990 for ftps://). Transfers are
binary, in passive mode unless --active. --continue resumes a cut download
into -o FILE from its size (REST), and -o keeps what came of a failed one.
--timeout bounds each exchange with an FTP server, not the whole transfer.
A progress line goes to stderr when it is a terminal and the transfer takes
more than a second.

HTTP. The body goes to stdout, or -o FILE, or with -O to the file named as
the URL's path ends (as curl -O). -I prints the status line and headers of
a HEAD request instead. Redirects are followed, at most 10, to http or
https, never from https to http. The user and password of the URL, or of -u
USER:PASS, are sent with Basic authentication (never shown); net/http sends
them on to the same host only. https:// verifies the server's certificate
against the system's roots and inetkit's local CA (as for mail and FTP),
and speaks HTTP/2 when the server offers it (ALPN). --continue resumes into
-o FILE from its size with a Range request; a server that sends the whole
file (200) has it written from the start, and 416 means it is complete. A
status of 400 or more is a failure: the status line is the message.
--timeout bounds the connection, the wait for the response and each wait
for more of the body, not the whole transfer.

Gopher. A menu (type 1, or a URL without a type) and a search result (type
7) are printed as a table (an item of another server shows its URL as the
selector), or with --json as JSON; a file is printed as it is (text files
without the "." line of RFC 1436 servers), or written to -o FILE or -O. An
answer is read whole, up to 64 MiB.

NNTP. The port defaults to 119 (563 for nntps://). A user in the URL logs
in with AUTHINFO USER/PASS (after STARTTLS, with --tls auto, when the
server offers it); MODE READER is sent to a server that asks for it. An
article is printed as the server sends it, CRLF line endings and all.

Every failure is one line on stderr and exit status 1.`,
		Example: `  inetkit get 'pop3://alice%40example.org:pw@127.0.0.1:1110/'
  inetkit get 'pop3://alice%40example.org:pw@127.0.0.1:1110/1'
  inetkit get 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX'
  inetkit get 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX;UID=1'
  inetkit get 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX?SUBJECT=hello&UNSEEN' --json
  inetkit get 'imap://alice%40example.org:pw@127.0.0.1:1143/INBOX' --from bob --since 1h --delete
  inetkit get 'pop3://alice%40example.org:pw@127.0.0.1:1110/' --subject 'password reset'
  inetkit get ftp://127.0.0.1:2121/
  inetkit get 'ftp://alice%40example.org:pw@127.0.0.1:2121/disk.img' -o disk.img --continue
  inetkit get http://127.0.0.1:8080/notes.txt
  inetkit get http://127.0.0.1:8080/ --json
  inetkit get -O --continue https://127.0.0.1:8443/disk.img
  inetkit get -I https://example.org/
  inetkit get gopher://127.0.0.1:7070/
  inetkit get 'gopher://127.0.0.1:7070/7/search?straße'
  inetkit get nntp://127.0.0.1:1119/
  inetkit get 'nntp://127.0.0.1:1119/inetkit.test?range=1-20' --json
  inetkit get 'nntp://127.0.0.1:1119/%3C1234@example.org%3E'`,
		Args: exactArgs(1, "get takes one URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(args[0], time.Now()); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runGet(ctx, e, o) })
		},
	}
	o.tls.addFlags(cmd)
	f := cmd.Flags()
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up after this long")
	f.BoolVar(&o.json, "json", false, "print a listing as one JSON document (shapes above)")
	f.BoolVar(&o.delete, "delete", false, "delete the messages listed (or the message printed)")
	o.match.addFlags(cmd)
	o.ftp.addFlags(cmd, true)
	o.web.addFlags(cmd, true)
	return cmd
}

func (o *getOptions) parse(raw string, now time.Time) error {
	o.raw = raw
	switch {
	case isFTPURL(raw):
		return o.parseFTP(raw)
	case isHTTPURL(raw):
		return o.parseHTTP(raw)
	case isGopherURL(raw):
		return o.parseGopher(raw)
	case isNNTPURL(raw):
		return o.parseNNTP(raw)
	}
	if err := o.ftp.ftpOnly(); err != nil {
		return err
	}
	if o.web.user != "" || o.web.remoteName || o.web.head {
		return usagef("-u, -O and -I are for ftp, http and gopher URLs: put the user of a mail URL in the URL")
	}
	m, u, err := parseMailURL(raw, "pop3", "imap")
	if err != nil {
		return err
	}
	o.mail = m
	if !m.hasUser {
		return usagef("URL %q has no user: want %s://USER:PASS@HOST...", raw, u.Scheme)
	}
	if err := o.match.parse(now); err != nil {
		return err
	}
	if strings.HasPrefix(u.Scheme, "imap") {
		if o.imapURL, err = inetimap.ParseURL(raw); err != nil {
			return usagef("%v", err)
		}
		if err := o.parseIMAP(); err != nil {
			return err
		}
	} else if err := o.parsePOP3(u.Path, u.RawQuery, u.ForceQuery); err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return o.tls.validate()
}

// parseIMAP checks what the IMAP URL asks for against the flags, and makes
// the search criteria.
func (o *getOptions) parseIMAP() error {
	u := o.imapURL
	searching := u.Search != "" || o.match.set()
	switch {
	case u.Mailbox == "" && (searching || o.delete):
		// No mailbox: the list of mailboxes, as curl gives.
		return usagef("searching and --delete need a mailbox: imap://USER:PASS@HOST:PORT/INBOX")
	case u.UID != 0 && searching:
		return usagef("URL %q names one message: a search needs a mailbox URL without ;UID=", o.raw)
	case u.UID != 0 && o.json:
		return usagef("--json is for listings: a message is printed as it is")
	}
	if !searching {
		return nil
	}
	c := &imap.SearchCriteria{}
	if u.Search != "" {
		var err error
		if c, err = inetimap.ParseSearch(u.Search); err != nil {
			return usagef("%v", err)
		}
	}
	// The flags' criteria first: And (go-imap v2.0.0-beta.8) drops the
	// SMALLER of its receiver when the other has none, and they have none.
	o.criteria = o.match.criteria()
	o.criteria.And(c)
	return nil
}

func (o *getOptions) parsePOP3(path, query string, forceQuery bool) error {
	if query != "" || forceQuery {
		return usagef("URL %q: a POP3 URL has no search; use --subject, --from, --to or --since", o.raw)
	}
	p := strings.Trim(path, "/")
	if p == "" {
		return nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 {
		return usagef("URL %q: want a message number after the host, not %q", o.raw, p)
	}
	o.msg = n
	switch {
	case o.match.set():
		return usagef("URL %q names one message: a search needs the maildrop URL (pop3://USER:PASS@HOST:PORT/)", o.raw)
	case o.json:
		return usagef("--json is for listings: a message is printed as it is")
	}
	return nil
}

func runGet(ctx context.Context, e *env, o *getOptions) error {
	switch {
	case o.ftpURL != nil:
		// --timeout bounds each exchange (the client's Timeout), not a
		// transfer of any size.
		if err := getFTP(ctx, e, o); err != nil {
			return fmt.Errorf("get %s: %s", o.ftpURL.redacted(), ftpErrorLine(err))
		}
		return nil
	case o.httpURL != nil:
		if err := getHTTP(ctx, e, o); err != nil {
			return fmt.Errorf("get %s: %s", o.httpURL.redacted(), ftpErrorLine(err))
		}
		return nil
	case o.gopherURL != nil:
		if err := getGopher(ctx, e, o); err != nil {
			return fmt.Errorf("get %s: %s", o.gopherURL, ftpErrorLine(err))
		}
		return nil
	case o.nntpURL != nil:
		if err := getNNTP(ctx, e, o); err != nil {
			return fmt.Errorf("get %s: %s", o.nntpURL.redacted(), ftpErrorLine(err))
		}
		return nil
	}
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

// reportDeleted tells how many messages were deleted, on stderr: stdout
// has the listing.
func reportDeleted(e *env, n int) {
	s := "s"
	if n == 1 {
		s = ""
	}
	fmt.Fprintf(e.stderr, "deleted %d message%s\n", n, s)
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
		return getPOP3Message(e, o, c)
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
	if o.match.set() {
		if sizes, err = matchPOP3(c, sizes, &o.match); err != nil {
			return err
		}
	}
	list := make([]jsonPOP3Message, len(sizes))
	for i, s := range sizes {
		list[i] = jsonPOP3Message{N: s.Number, Size: s.Size, UIDL: uid[s.Number]}
	}
	var deleted *int
	if o.delete {
		for _, s := range sizes {
			if err := c.Delete(s.Number); err != nil {
				return err
			}
		}
		if err := c.Quit(); err != nil {
			return fmt.Errorf("QUIT, which deletes the messages marked: %w", err)
		}
		n := len(sizes)
		deleted = &n
	}
	if err := writePOP3List(e.stdout, list, deleted, o.json); err != nil {
		return err
	}
	if deleted != nil {
		if !o.json {
			reportDeleted(e, *deleted)
		}
		return nil
	}
	return c.Quit()
}

func getPOP3Message(e *env, o *getOptions, c *pop3.Client) error {
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
	if !o.delete {
		return c.Quit()
	}
	if err := c.Delete(o.msg); err != nil {
		return err
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("QUIT, which deletes the message marked: %w", err)
	}
	reportDeleted(e, 1)
	return nil
}

// matchPOP3 returns the messages of sizes whose header (TOP n 0) matches m.
func matchPOP3(c *pop3.Client, sizes []pop3.MessageSize, m *mailMatch) ([]pop3.MessageSize, error) {
	var out []pop3.MessageSize
	for _, s := range sizes {
		r, err := c.Top(s.Number, 0)
		if err != nil {
			return nil, err
		}
		h, herr := textproto.ReadHeader(bufio.NewReader(r))
		if err := r.Close(); err != nil {
			return nil, err
		}
		if herr != nil {
			continue // no header to match
		}
		if m.header(mail.Header{Header: gomessage.Header{Header: h}}) {
			out = append(out, s)
		}
	}
	return out, nil
}

type jsonPOP3Message struct {
	N    int    `json:"n"`
	Size int64  `json:"size"`
	UIDL string `json:"uidl"`
}

func writePOP3List(w io.Writer, list []jsonPOP3Message, deleted *int, asJSON bool) error {
	if asJSON {
		return writeJSON(w, struct {
			Messages []jsonPOP3Message `json:"messages"`
			Deleted  *int              `json:"deleted,omitempty"`
		}{list, deleted})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tSIZE\tUIDL")
	for _, m := range list {
		fmt.Fprintf(tw, "%d\t%d\t%s\n", m.N, m.Size, m.UIDL)
	}
	return tw.Flush()
}

// writeJSON writes v as one JSON document on a line.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func getIMAP(ctx context.Context, e *env, o *getOptions) error {
	c, err := dialIMAP(ctx, o.mail, &o.tls, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	u := o.imapURL
	switch {
	case u.Mailbox == "":
		err = listMailboxes(e.stdout, c, o.json)
	case u.UID != 0:
		err = getIMAPMessage(ctx, e, o, c)
	default:
		err = getIMAPList(ctx, e, o, c)
	}
	if err != nil {
		return err
	}
	return c.Logout().Wait()
}

func getIMAPMessage(ctx context.Context, e *env, o *getOptions, c *imapclient.Client) error {
	u := o.imapURL
	b, err := inetimap.FetchMessage(ctx, c, u.Mailbox, u.UID)
	if err != nil {
		return err
	}
	if _, err := e.stdout.Write(b); err != nil {
		return err
	}
	if !o.delete {
		return nil
	}
	n, err := inetimap.DeleteMessages(ctx, c, u.Mailbox, []inetimap.MessageSummary{{UID: u.UID, UIDValidity: u.UIDValidity}})
	if err != nil {
		return err
	}
	reportDeleted(e, n)
	return nil
}

func getIMAPList(ctx context.Context, e *env, o *getOptions, c *imapclient.Client) error {
	u := o.imapURL
	msgs, err := inetimap.SearchMessages(ctx, c, u.Mailbox, o.criteria)
	if err != nil {
		return err
	}
	if len(msgs) > 0 && u.UIDValidity != 0 && msgs[0].UIDValidity != u.UIDValidity {
		return fmt.Errorf("%w: %q has UIDVALIDITY %d, not %d as the URL says", inetimap.ErrUIDValidity, u.Mailbox, msgs[0].UIDValidity, u.UIDValidity)
	}
	if !o.match.since.IsZero() && !o.match.sinceDate {
		// The server matched the day (RFC 9051 §6.4.4 SINCE); the time
		// is for us.
		kept := msgs[:0]
		for _, m := range msgs {
			if !m.InternalDate.Before(o.match.since) {
				kept = append(kept, m)
			}
		}
		msgs = kept
	}
	var deleted *int
	if o.delete {
		n, err := inetimap.DeleteMessages(ctx, c, u.Mailbox, msgs)
		if err != nil {
			return err
		}
		deleted = &n
	}
	if err := writeIMAPList(e.stdout, msgs, deleted, o.json); err != nil {
		return err
	}
	if deleted != nil && !o.json {
		reportDeleted(e, *deleted)
	}
	return nil
}

// jsonMessage is an IMAP message in --json output, of get and of imap idle.
type jsonMessage struct {
	UID     imap.UID `json:"uid"`
	Seq     uint32   `json:"seq"`
	From    string   `json:"from"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Date    string   `json:"date"`
	Size    int64    `json:"size"`
	Flags   []string `json:"flags"`
}

func toJSONMessage(m inetimap.MessageSummary) jsonMessage {
	j := jsonMessage{UID: m.UID, Seq: m.SeqNum, From: m.FromAddress, To: m.To, Subject: m.Subject,
		Date: m.InternalDate.UTC().Format(time.RFC3339), Size: m.Size, Flags: flagStrings(m.Flags)}
	if j.To == nil {
		j.To = []string{}
	}
	return j
}

func flagStrings(flags []imap.Flag) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = string(f)
	}
	return out
}

func writeIMAPList(w io.Writer, msgs []inetimap.MessageSummary, deleted *int, asJSON bool) error {
	if asJSON {
		list := make([]jsonMessage, len(msgs))
		for i, m := range msgs {
			list[i] = toJSONMessage(m)
		}
		return writeJSON(w, struct {
			Messages []jsonMessage `json:"messages"`
			Deleted  *int          `json:"deleted,omitempty"`
		}{list, deleted})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "UID\tFLAGS\tDATE\tFROM\tSUBJECT")
	for _, m := range msgs {
		printSummary(tw, m)
	}
	return tw.Flush()
}

func printSummary(w io.Writer, m inetimap.MessageSummary) {
	fl := strings.Join(flagStrings(m.Flags), " ")
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

type jsonMailbox struct {
	Name       string   `json:"name"`
	Messages   *uint32  `json:"messages"`
	Unseen     *uint32  `json:"unseen"`
	Attributes []string `json:"attributes"`
}

// listMailboxes prints every mailbox with its message and unseen counts
// (LIST "" "*" RETURN (STATUS ...), RFC 5819, where the server has it;
// "-" or null otherwise) and its attributes.
func listMailboxes(w io.Writer, c *imapclient.Client, asJSON bool) error {
	var opts *imap.ListOptions
	if c.Caps().Has(imap.CapListStatus) {
		// An extended LIST gives the special-use attributes only when
		// asked (RFC 6154 §2).
		opts = &imap.ListOptions{
			ReturnStatus:     &imap.StatusOptions{NumMessages: true, NumUnseen: true},
			ReturnSpecialUse: c.Caps().Has(imap.CapSpecialUse),
		}
	}
	boxes, err := c.List("", "*", opts).Collect()
	if err != nil {
		return err
	}
	list := make([]jsonMailbox, len(boxes))
	for i, b := range boxes {
		list[i] = jsonMailbox{Name: b.Mailbox, Attributes: make([]string, len(b.Attrs))}
		if st := b.Status; st != nil {
			list[i].Messages, list[i].Unseen = st.NumMessages, st.NumUnseen
		}
		for j, a := range b.Attrs {
			list[i].Attributes[j] = string(a)
		}
	}
	if asJSON {
		return writeJSON(w, struct {
			Mailboxes []jsonMailbox `json:"mailboxes"`
		}{list})
	}
	count := func(n *uint32) string {
		if n == nil {
			return "-"
		}
		return strconv.FormatUint(uint64(*n), 10)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "MAILBOX\tMESSAGES\tUNSEEN\tATTRIBUTES")
	for _, b := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(b.Name), count(b.Messages), count(b.Unseen), strings.Join(b.Attributes, " "))
	}
	return tw.Flush()
}

// mailMatch is what --subject, --from, --to and --since ask of a message.
type mailMatch struct {
	subject, from, to string
	sinceFlag         string
	since             time.Time // zero if none
	sinceDate         bool      // since is a day, not a time
}

func (m *mailMatch) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&m.subject, "subject", "", "only messages whose Subject contains `TEXT` (any case)")
	f.StringVar(&m.from, "from", "", "only messages whose From contains `TEXT` (any case)")
	f.StringVar(&m.to, "to", "", "only messages whose To contains `TEXT` (any case)")
	f.StringVar(&m.sinceFlag, "since", "", "only messages that arrived since `WHEN`: a day (2026-01-02), a time (RFC 3339) or a duration ago (30m)")
}

func (m *mailMatch) parse(now time.Time) error {
	if m.sinceFlag == "" {
		return nil
	}
	if d, err := time.ParseDuration(m.sinceFlag); err == nil && d >= 0 {
		m.since = now.Add(-d)
		return nil
	}
	if t, err := time.Parse(time.RFC3339, m.sinceFlag); err == nil {
		m.since = t
		return nil
	}
	if t, err := inetimap.ParseSearchDate(m.sinceFlag); err == nil {
		m.since, m.sinceDate = t, true
		return nil
	}
	return usagef("--since wants a day (2026-01-02), a time (2026-01-02T15:04:05Z) or a duration (30m), not %q", m.sinceFlag)
}

// set reports whether any match flag was given.
func (m *mailMatch) set() bool {
	return m.subject != "" || m.from != "" || m.to != "" || !m.since.IsZero()
}

// criteria returns the match as IMAP search criteria. A time is searched
// for from the day before it, in UTC, which holds it in every time zone;
// the caller keeps only the messages that arrived since the time.
func (m *mailMatch) criteria() *imap.SearchCriteria {
	c := &imap.SearchCriteria{}
	for _, h := range [...]struct{ key, value string }{{"Subject", m.subject}, {"From", m.from}, {"To", m.to}} {
		if h.value != "" {
			c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: h.key, Value: h.value})
		}
	}
	switch {
	case m.sinceDate:
		c.Since = m.since
	case !m.since.IsZero():
		t := m.since.UTC()
		c.Since = time.Date(t.Year(), t.Month(), t.Day()-1, 0, 0, 0, 0, time.UTC)
	}
	return c
}

// header reports whether a message header matches, as an IMAP server
// would match SUBJECT, FROM, TO and SINCE: substrings of the decoded
// fields in any case, and the arrival time, which is the date of the first
// Received field (the last hop's), or else the Date field.
func (m *mailMatch) header(h mail.Header) bool {
	for _, f := range [...]struct{ key, value string }{{"Subject", m.subject}, {"From", m.from}, {"To", m.to}} {
		if f.value != "" && !headerContains(h, f.key, f.value) {
			return false
		}
	}
	if m.since.IsZero() {
		return true
	}
	t, ok := arrival(h)
	if !ok {
		return false
	}
	if m.sinceDate {
		return !time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Before(m.since)
	}
	return !t.Before(m.since)
}

func headerContains(h mail.Header, key, value string) bool {
	value = strings.ToLower(value)
	fields := h.FieldsByKey(key)
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), value) {
			return true
		}
	}
	return false
}

// arrival returns the time in the first Received field (RFC 5321 §4.4:
// after its last ";"), or else the Date field.
func arrival(h mail.Header) (time.Time, bool) {
	if rcvd := h.Get("Received"); rcvd != "" {
		if i := strings.LastIndexByte(rcvd, ';'); i >= 0 {
			if t, err := netmail.ParseDate(strings.TrimSpace(rcvd[i+1:])); err == nil {
				return t, true
			}
		}
	}
	if h.Get("Date") == "" {
		return time.Time{}, false
	}
	t, err := h.Date()
	return t, err == nil
}
