package imap

import (
	"strings"
	"time"
)

func init() {
	register("IDLE", stateLoggedIn, cmdIdle)
}

// idleKeepalive is how often an idling client is sent "* OK Still here",
// as Dovecot does (imap_idle_notify_interval), so that NAT boxes and
// firewalls do not drop a connection that is silent for minutes.
const idleKeepalive = 2 * time.Minute

// keepalive returns the interval of IDLE's keepalives: idleKeepalive, or
// a third of the idle timeout if that is shorter, so that a client gets
// some before the timeout ends its IDLE (RFC 2177 §3: the client must
// restart IDLE before then).
func (c *conn) keepalive() time.Duration {
	cfg, _ := c.srv.setup()
	if t := cfg.Limits.IdleTimeout; t > 0 && t/3 < idleKeepalive {
		return max(t/3, time.Millisecond)
	}
	return idleKeepalive
}

// idleLine is what the client sent to end IDLE, or why it could not be
// read.
type idleLine struct {
	line string
	err  error
}

// cmdIdle answers IDLE (RFC 2177, RFC 9051 §6.3.13): "+ idling", then the
// updates of the selected mailbox (and NOTIFY's events, RFC 5465) as they
// come, until the client sends DONE. The wait for changes is set up before
// the first poll, so that a change made between "+ idling" and the wait is
// not missed. DONE is read under the idle timeout, by a goroutine of its
// own: the connection's reader is used by it alone until it returns.
func cmdIdle(c *conn, tag string) error {
	if err := c.dec.End(); err != nil {
		return err
	}
	var changed <-chan struct{}
	if c.sel != nil {
		changed = c.sel.mbox.Changed()
	}
	events := c.notifyChanged()
	if err := c.enc.Continuation("idling"); err != nil {
		return err
	}
	done := make(chan idleLine, 1)
	go func() {
		line, err := c.dec.ReadLine()
		done <- idleLine{line, err}
	}()
	keepalive := time.NewTicker(c.keepalive())
	defer keepalive.Stop()
	for {
		if err := c.idleUpdates(); err != nil {
			c.stopIdle(done)
			if !c.ioError(err) {
				// The reader is stopped: the session cannot go on.
				c.lc.Log.Error("backend error", "command", c.cmd, "user", c.username, "err", err)
				return errClose
			}
			return err
		}
		select {
		case <-changed:
		case <-events:
			if st := c.notifyOf(); st != nil {
				st.dirty = true
			}
		case <-keepalive.C:
			if err := c.untagged("OK Still here"); err != nil {
				c.stopIdle(done)
				return err
			}
		case <-c.ctx.Done():
			c.stopIdle(done)
			return c.ctx.Err()
		case l := <-done:
			if l.err != nil {
				return l.err
			}
			if !strings.EqualFold(strings.TrimSpace(l.line), "DONE") {
				return &Error{Type: "BAD", Text: "Expected DONE."}
			}
			return c.ok(tag, "", "Idle completed.")
		}
	}
}

// idleUpdates writes and flushes the updates of the selected mailbox and
// NOTIFY's events.
func (c *conn) idleUpdates() error {
	if err := c.writeUpdates(); err != nil {
		return err
	}
	return c.lc.Flush()
}

// stopIdle ends the read of DONE, when IDLE ends for another reason (the
// connection failed or the server closes it): its deadline is set to now,
// and the goroutine waited for. The connection ends after this.
func (c *conn) stopIdle(done <-chan idleLine) {
	c.lc.NetConn().SetReadDeadline(time.Now())
	<-done
}
