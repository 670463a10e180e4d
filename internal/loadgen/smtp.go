package loadgen

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/inetkit/inetkit/smtp"
)

// runSMTP sends messages of cfg.Size bytes, one after another, over one SMTP
// session per worker (STARTTLS first when cfg.TLS is set); a session that
// fails is replaced. An exchange is MAIL, RCPT, DATA and the final reply,
// and succeeds only on 250: the server has made the message durable.
func (w *worker) runSMTP() {
	cfg := &w.r.cfg
	msg := smtpMessage(w.id, cfg.Size)
	var b backoff
	for w.r.more() {
		c, err := w.smtpDial()
		if err != nil {
			if w.r.stopping() {
				return
			}
			w.fail(err, 1)
			w.pause(&b)
			continue
		}
		for w.r.ticket() {
			start := time.Now()
			err := smtpSend(c, msg)
			var se *smtp.Error
			switch {
			case err == nil:
				w.ok(time.Since(start))
				b.reset()
				continue
			case errors.As(err, &se):
				w.wrongReply(fmt.Sprintf("smtp %d", se.Code))
				if c.Reset() == nil {
					continue
				}
			case w.r.stopping():
			default:
				w.fail(err, 1)
			}
			break
		}
		w.mu.Lock()
		w.conn = nil
		w.mu.Unlock()
		c.Close()
		if !w.r.stopping() {
			w.pause(&b)
		}
	}
}

// smtpDial connects, greets and, if asked, starts TLS.
func (w *worker) smtpDial() (*smtp.Client, error) {
	cfg := &w.r.cfg
	nc, err := w.dial(time.Time{})
	if err != nil {
		return nil, err
	}
	c, err := smtp.NewClient(guardedConn{nc, w}, &smtp.ClientOptions{Timeout: cfg.Timeout, LocalName: "loadgen.invalid"})
	if err != nil {
		return nil, err
	}
	if cfg.TLS != nil {
		if err := c.StartTLS(cfg.TLS.Clone()); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func smtpSend(c *smtp.Client, msg []byte) error {
	if err := c.Mail("loadgen@example.org", nil); err != nil {
		return err
	}
	if err := c.Rcpt("sink@example.org"); err != nil {
		return err
	}
	dw, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := dw.Write(msg); err != nil {
		return err
	}
	return dw.Close()
}

// smtpMessage returns a message of size bytes (at least its header): a
// header and lines of text.
func smtpMessage(id, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: loadgen@example.org\r\nTo: sink@example.org\r\nSubject: load %d\r\nMessage-ID: <load-%d@example.org>\r\n\r\n", id, id)
	line := "The quick brown fox jumps over the lazy dog, again and again.\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	if n := size - b.Len() - 2; n > 0 {
		b.WriteString(strings.Repeat("x", n))
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// guardedConn keeps the deadlines of an interrupted worker's connection in
// the past: the SMTP client sets its own before every read and write.
type guardedConn struct {
	net.Conn
	w *worker
}

func (g guardedConn) SetDeadline(t time.Time) error     { return g.w.guard(g.Conn.SetDeadline)(t) }
func (g guardedConn) SetReadDeadline(t time.Time) error { return g.w.guard(g.Conn.SetReadDeadline)(t) }
func (g guardedConn) SetWriteDeadline(t time.Time) error {
	return g.w.guard(g.Conn.SetWriteDeadline)(t)
}
