package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/upper"
)

type sendOptions struct {
	url     *url.URL
	network string // tcp, udp, unix, unixgram
	addr    string
	message []byte
	stdin   bool // the message is "-": read it from stdin
	mode    upper.Mode
	timeout time.Duration
	raw     bool

	smtp   smtpSendOptions   // for smtp:// and smtps:// URLs
	xmlrpc xmlrpcSendOptions // for xmlrpc:// and xmlrpcs:// URLs (xmlrpccmd.go)
	nntp   nntpSendOptions   // for nntp:// and nntps:// URLs (nntpcmd.go)
}

// maxStdinMessage caps a message read from stdin in oneshot and UDP mode.
const maxStdinMessage = 64 << 20

func newSendCmd(e *env, runF func(context.Context, *sendOptions) error) *cobra.Command {
	o := &sendOptions{}
	cmd := &cobra.Command{
		Use:   "send URL MESSAGE | send smtp://HOST:PORT --from A --to B [FILE|-] | send nntp://HOST:PORT/GROUP [--from A --subject S] [FILE|-] | send xmlrpc://HOST:PORT/PATH METHOD [ARG...]",
		Short: "Send a message and print the reply",
		Long: `Send MESSAGE to the server at URL and print its reply on stdout.
MESSAGE "-" is read from stdin.

URL forms:
  tcp://HOST:PORT        the uppercase service over TCP (the tutorial's client)
  udp://HOST:PORT        the uppercase service over UDP
  unix:///PATH           over a Unix stream socket
  unixgram:///PATH       over a Unix datagram socket
  smtp://[USER:PASS@]HOST:PORT   mail: FILE (or - for stdin, or a message
                         built from --subject and --body) from --from to
                         every --to, with STARTTLS when offered (see --tls)
  smtps://[USER:PASS@]HOST:PORT  mail over implicit TLS
  xmlrpc://[USER:PASS@]HOST:PORT[/PATH] METHOD [ARG...]
                         an XML-RPC call over HTTP (PATH defaults to /RPC2)
  xmlrpcs://...          the same over HTTPS
  nntp://[USER:PASS@]HOST:PORT/GROUP[,GROUP...]
                         news: POST an article to the groups, with STARTTLS
                         when offered (see --tls); prints its message-id
  nntps://...            the same over implicit TLS

For smtp the final reply is printed, and each refused recipient is reported
on stderr (the exit status is then 1). The port defaults to 6666 (25 for
smtp, 465 for smtps). Over TCP, --mode matches the server's: in oneshot
mode the message is sent, the write side shut down and the reply read until the
server closes; in stream and line mode a message from stdin is streamed, and
replies are printed as they arrive.

XML-RPC. Each ARG that is a JSON literal is that value: 42 an int, 1.5 a
double, true a boolean, null nil, "text" a string, [1,"a"] an array,
{"a":1} a struct; any other ARG is a string (quote a string that looks like
JSON: '"42"'). The result is printed as Python's print() shows what
xmlrpc.client returns: a string as it is, other values as Python writes
them (True, None, [1, 'a'], {'a': 1}); --json prints it as JSON instead
(base64 as a JSON string, dateTime in RFC 3339). A fault is exit status 1
and "fault CODE: STRING". https is verified against the system's roots and
inetkit's local CA, as for mail.

NNTP. With --subject, FILE (or stdin for -, or --body) is the body, and
the header is made of --from, the URL's groups (Newsgroups) and --subject;
the server adds Message-ID, Date and Path. Without --subject, FILE is a
whole article (a header, an empty line, the body), posted as it is but for
the fields it lacks: Newsgroups from the URL, From from --from. Lines are
sent with CRLF endings and dot-stuffed. The message-id of the article, as
the server's 240 gives it, is printed on stdout. The port defaults to 119
(563 for nntps://).`,
		Example: `  inetkit send tcp://127.0.0.1:6666 hello
  inetkit send udp://127.0.0.1:6666 hello
  echo straße | inetkit send tcp://127.0.0.1:6666 -
  inetkit send --mode line tcp://127.0.0.1:6666 - < lines.txt
  inetkit send smtp://127.0.0.1:2525 --from me@example.org --to alice@example.org --subject hi --body 'hello'
  inetkit send smtp://127.0.0.1:2525 --from me@example.org --to alice@example.org message.eml
  inetkit send nntp://127.0.0.1:1119/inetkit.test --from me@example.org --subject hi --body 'hello'
  inetkit send nntp://127.0.0.1:1119/inetkit.test article.txt
  inetkit send xmlrpc://127.0.0.1:8080/RPC2 upper straße
  inetkit send --json xmlrpc://127.0.0.1:8080 system.listMethods`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 && isXMLRPCURL(args[0]) {
				if len(args) < 2 {
					return usagef("send xmlrpc:// takes a URL, a METHOD and its ARGs")
				}
				return nil
			}
			if len(args) > 0 && isNNTPURL(args[0]) {
				if len(args) > 2 {
					return usagef("send nntp:// takes a URL and at most one FILE, got %d arguments", len(args))
				}
				return nil
			}
			if len(args) > 0 && isSMTPURL(args[0]) {
				if len(args) > 2 {
					return usagef("send smtp:// takes a URL and at most one FILE, got %d arguments", len(args))
				}
				return nil
			}
			if len(args) != 2 {
				return usagef("send takes a URL and a MESSAGE (or - for stdin), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if isXMLRPCURL(args[0]) {
				if err := o.parseXMLRPC(args); err != nil {
					return err
				}
				o.url = o.xmlrpc.url.u
				if runF != nil {
					return runF(cmd.Context(), o)
				}
				return e.run(cmd.Context(), func(ctx context.Context) error { return runSendXMLRPC(ctx, e, o) })
			}
			if isNNTPURL(args[0]) {
				if err := o.parseNNTP(args); err != nil {
					return err
				}
				o.url, _ = url.Parse(args[0])
				if runF != nil {
					return runF(cmd.Context(), o)
				}
				return e.run(cmd.Context(), func(ctx context.Context) error { return runSendNNTP(ctx, e, o) })
			}
			if isSMTPURL(args[0]) {
				if err := o.parseSMTP(args); err != nil {
					return err
				}
				o.url, _ = url.Parse(args[0])
				if runF != nil {
					return runF(cmd.Context(), o)
				}
				return e.run(cmd.Context(), func(ctx context.Context) error { return runSendSMTP(ctx, e, o) })
			}
			if err := o.parse(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runSend(ctx, e, o) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.smtp.from, "from", "", "smtp: the sender (envelope and From header); empty for the null sender; nntp: the From of the article")
	f.StringArrayVar(&o.smtp.to, "to", nil, "smtp: a recipient; repeat for more")
	f.StringVar(&o.smtp.subject, "subject", "", "smtp: subject of the message built when no FILE is given; nntp: subject of the article, whose body FILE then is")
	f.StringVar(&o.smtp.body, "body", "", "smtp, nntp: text of the message built when no FILE is given")
	o.smtp.tls.addFlags(cmd)
	f.Var(&o.mode, "mode", "TCP mode of the server: oneshot, stream or line")
	f.DurationVar(&o.timeout, "timeout", 5*time.Second, "give up after this long")
	f.BoolVar(&o.raw, "raw", false, "print the reply exactly, without adding a final newline")
	f.BoolVar(&o.xmlrpc.json, "json", false, "xmlrpc: print the result as JSON")
	return cmd
}

func (o *sendOptions) parse(args []string) error {
	u, err := url.Parse(args[0])
	if err != nil {
		return usagef("bad URL %q: %v", args[0], err)
	}
	o.url = u
	switch u.Scheme {
	case "tcp", "udp":
		if u.Host == "" {
			return usagef("URL %q has no host", args[0])
		}
		o.network, o.addr = u.Scheme, u.Host
		if u.Port() == "" {
			o.addr = net.JoinHostPort(u.Hostname(), "6666")
		}
	case "unix", "unixgram":
		if u.Path == "" {
			return usagef("URL %q has no socket path", args[0])
		}
		o.network, o.addr = u.Scheme, u.Path
	case "":
		return usagef("URL %q has no scheme (want tcp://, udp://, unix:// or unixgram://)", args[0])
	default:
		return usagef("send does not speak %s:// (want tcp, udp, unix, unixgram, smtp, smtps, nntp, nntps, xmlrpc or xmlrpcs)", u.Scheme)
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	if args[1] == "-" {
		o.stdin = true
	} else {
		o.message = []byte(args[1])
	}
	return nil
}

func (o *sendOptions) streaming() bool {
	return (o.network == "tcp" || o.network == "unix") && o.mode != upper.ModeOneshot
}

func runSend(ctx context.Context, e *env, o *sendOptions) error {
	copts := &upper.ClientOptions{Timeout: o.timeout}
	if o.stdin && o.streaming() {
		return sendError(o, upper.Stream(ctx, o.network, o.addr, e.stdin, e.stdout, copts))
	}
	msg := o.message
	if o.stdin {
		b, err := io.ReadAll(io.LimitReader(e.stdin, maxStdinMessage+1))
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		if len(b) > maxStdinMessage {
			return fmt.Errorf("message on stdin is longer than %d bytes", maxStdinMessage)
		}
		msg = b
	}
	reply, err := upper.Exchange(ctx, o.network, o.addr, msg, copts)
	if err != nil {
		return sendError(o, err)
	}
	if !o.raw && (len(reply) == 0 || reply[len(reply)-1] != '\n') {
		reply = append(reply, '\n')
	}
	_, err = e.stdout.Write(reply)
	return err
}

// sendError says what went wrong in one line: "send tcp://127.0.0.1:6666:
// connection refused".
func sendError(o *sendOptions, err error) error {
	if err == nil {
		return nil
	}
	var te *upper.TimeoutError
	msg := err.Error()
	switch {
	case errors.As(err, &te):
		msg = te.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		msg = "connection reset by peer"
	case errors.Is(err, syscall.ENOENT):
		msg = "no such socket"
	case errors.Is(err, context.Canceled):
		msg = "interrupted"
	}
	return fmt.Errorf("send %s: %s", o.url, msg)
}

func isSMTPURL(s string) bool {
	return strings.HasPrefix(strings.ToLower(s), "smtp://") || strings.HasPrefix(strings.ToLower(s), "smtps://")
}
