package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"strings"
	"time"

	"github.com/inetkit/inetkit/smtp"
)

// smtpSendOptions are the flags of `inetkit send smtp://...`.
type smtpSendOptions struct {
	mail    *mailURL
	from    string
	to      []string
	subject string
	body    string
	file    string // "" to build the message from --subject and --body, "-" for stdin
	tls     tlsOptions
}

func (o *sendOptions) parseSMTP(args []string) error {
	m, _, err := parseMailURL(args[0], "smtp")
	if err != nil {
		return err
	}
	s := &o.smtp
	s.mail = m
	if len(args) == 2 {
		s.file = args[1]
	}
	if len(s.to) == 0 {
		return usagef("send %s needs at least one --to", m.scheme+"://")
	}
	if s.file != "" && (s.subject != "" || s.body != "") {
		return usagef("give a message FILE or --subject/--body, not both")
	}
	for _, a := range append([]string{s.from}, s.to...) {
		if strings.ContainsAny(a, "\r\n\x00<>") {
			return usagef("address %q has a forbidden character", a)
		}
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return s.tls.validate()
}

// message returns the message to send: FILE, stdin, or one built from the
// flags.
func (s *smtpSendOptions) message(stdin io.Reader, now time.Time) ([]byte, error) {
	switch s.file {
	case "-":
		b, err := io.ReadAll(io.LimitReader(stdin, maxStdinMessage+1))
		if err == nil && len(b) > maxStdinMessage {
			err = fmt.Errorf("message on stdin is longer than %d bytes", maxStdinMessage)
		}
		return b, err
	case "":
	default:
		return os.ReadFile(s.file)
	}
	var b bytes.Buffer
	id := make([]byte, 12)
	rand.Read(id)
	host := "localhost"
	if i := strings.LastIndexByte(s.from, '@'); i >= 0 {
		host = s.from[i+1:]
	}
	fmt.Fprintf(&b, "From: %s\r\n", orNull(s.from))
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(s.to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", s.subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), host)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body := s.body
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	b.WriteString(body)
	return b.Bytes(), nil
}

func orNull(a string) string {
	if a == "" {
		return "<>"
	}
	return a
}

func runSendSMTP(ctx context.Context, e *env, o *sendOptions) error {
	s := &o.smtp
	msg, err := s.message(e.stdin, time.Now())
	if err != nil {
		return err
	}
	cfg, err := s.tls.config(s.mail.host)
	if err != nil {
		return err
	}
	copts := &smtp.ClientOptions{TLSConfig: cfg, Timeout: o.timeout, Username: s.mail.user, Password: s.mail.pass}
	switch {
	case s.mail.implicitTLS:
		copts.TLSPolicy = smtp.TLSPolicyImplicit
	case s.tls.mode == "require":
		copts.TLSPolicy = smtp.TLSPolicyStartTLS
	case s.tls.mode == "none":
		copts.TLSPolicy = smtp.TLSPolicyNone
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var res *smtp.SendResult
	err = dialExplained(ctx, s.mail, &s.tls, func(ctx context.Context, debug io.Writer) error {
		copts.DebugWriter = debug
		var err error
		res, err = smtp.SendMail(ctx, s.mail.addr, copts, s.from, s.to, bytes.NewReader(msg))
		return err
	})
	if res != nil {
		for _, rcpt := range s.to {
			if r, ok := res.Refused[rcpt]; ok {
				fmt.Fprintf(e.stderr, "refused %s: %d %s\n", rcpt, r.Code, r.Message)
			}
		}
		if res.Reply != "" {
			fmt.Fprintln(e.stdout, res.Reply)
		}
	}
	if errors.Is(err, smtp.ErrPlaintextAuth) {
		err = errors.New("the server offers no STARTTLS: not sending the password in clear (--tls none would)")
	}
	if err != nil {
		return fmt.Errorf("send %s: %w", redact(o.url.String()), err)
	}
	if len(res.Refused) > 0 {
		return fmt.Errorf("send %s: %d of %d recipients refused", redact(o.url.String()), len(res.Refused), len(s.to))
	}
	return nil
}
