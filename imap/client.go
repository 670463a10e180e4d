package imap

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// ErrNoMessage is returned by FetchMessage when the mailbox has no message
// with the UID.
var ErrNoMessage = errors.New("imap: no such message")

// ClientOptions configures the clients made by Dial, DialTLS, DialStartTLS
// and NewClient. A nil *ClientOptions is equivalent to the zero value.
type ClientOptions struct {
	// TLSConfig is used by DialTLS and DialStartTLS; nil means a default
	// configuration. Its ServerName defaults to the host dialled.
	TLSConfig *tls.Config
	// DebugWriter, if non-nil, receives a copy of all traffic (passwords
	// included).
	DebugWriter io.Writer
	// UnilateralDataHandler, if non-nil, receives the server's unilateral
	// responses (EXISTS, EXPUNGE, FETCH), as in imapclient.Options.
	UnilateralDataHandler *imapclient.UnilateralDataHandler
}

// Dial connects to the IMAP server at addr without TLS and waits for its
// greeting. ctx bounds the connection and the greeting.
func Dial(ctx context.Context, addr string, opts *ClientOptions) (*imapclient.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return greet(ctx, NewClient(conn, opts))
}

// DialTLS connects to the IMAP server at addr with implicit TLS (port 993)
// and waits for its greeting.
func DialTLS(ctx context.Context, addr string, opts *ClientOptions) (*imapclient.Client, error) {
	cfg, err := tlsConfig(addr, opts)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return greet(ctx, NewClient(conn, opts))
}

// DialStartTLS connects to the IMAP server at addr and upgrades the
// connection with STARTTLS, which the server must offer.
func DialStartTLS(ctx context.Context, addr string, opts *ClientOptions) (*imapclient.Client, error) {
	cfg, err := tlsConfig(addr, opts)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	o := clientOptions(opts)
	o.TLSConfig = cfg
	c, err := imapclient.NewStartTLS(conn, o)
	if err != nil {
		return nil, fmt.Errorf("imap: STARTTLS: %w", err)
	}
	watchExists(c, o.UnilateralDataHandler)
	return c, nil
}

func tlsConfig(addr string, opts *ClientOptions) (*tls.Config, error) {
	var cfg *tls.Config
	if opts != nil && opts.TLSConfig != nil {
		cfg = opts.TLSConfig.Clone()
	} else {
		cfg = new(tls.Config)
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg.ServerName = host
	}
	return cfg, nil
}

func greet(ctx context.Context, c *imapclient.Client) (*imapclient.Client, error) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := c.WaitGreeting()
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NewClient returns an imapclient.Client for conn, with the hooks that Watch
// needs. It doesn't perform I/O.
func NewClient(conn net.Conn, opts *ClientOptions) *imapclient.Client {
	o := clientOptions(opts)
	c := imapclient.New(conn, o)
	watchExists(c, o.UnilateralDataHandler)
	return c
}

// watchers maps the clients made here to the signal Watch waits on.
var watchers sync.Map // *imapclient.Client → *watcher

type watcher struct{ exists chan struct{} }

func (w *watcher) signal() {
	select {
	case w.exists <- struct{}{}:
	default:
	}
}

func clientOptions(opts *ClientOptions) *imapclient.Options {
	o := &imapclient.Options{}
	var user *imapclient.UnilateralDataHandler
	if opts != nil {
		o.TLSConfig = opts.TLSConfig
		o.DebugWriter = opts.DebugWriter
		user = opts.UnilateralDataHandler
	}
	h := &imapclient.UnilateralDataHandler{}
	if user != nil {
		*h = *user
	}
	o.UnilateralDataHandler = h
	return o
}

// watchExists installs the EXISTS hook in h, which c uses, and records c for
// Watch until it is closed.
func watchExists(c *imapclient.Client, h *imapclient.UnilateralDataHandler) {
	w := &watcher{exists: make(chan struct{}, 1)}
	userMailbox := h.Mailbox
	h.Mailbox = func(data *imapclient.UnilateralDataMailbox) {
		if data.NumMessages != nil {
			w.signal()
		}
		if userMailbox != nil {
			userMailbox(data)
		}
	}
	watchers.Store(c, w)
	go func() {
		<-c.Closed()
		watchers.Delete(c)
	}()
}

// MessageSummary is what ListMessages, SearchMessages and Watch report
// about a message.
type MessageSummary struct {
	SeqNum       uint32
	UID          imap.UID
	UIDValidity  uint32 // the mailbox's, when the summary was made
	Flags        []imap.Flag
	InternalDate time.Time
	Size         int64
	From         string   // the first From address, "Name <user@host>" or "user@host"
	FromAddress  string   // the first From address alone, "user@host"
	To           []string // the To addresses alone, "user@host"
	Subject      string
}

var summaryItems = &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true}

func summarize(m *imapclient.FetchMessageBuffer) MessageSummary {
	s := MessageSummary{SeqNum: m.SeqNum, UID: m.UID, Flags: m.Flags, InternalDate: m.InternalDate, Size: m.RFC822Size}
	if env := m.Envelope; env != nil {
		s.Subject = env.Subject
		if len(env.From) > 0 {
			a := env.From[0]
			s.From, s.FromAddress = a.Addr(), a.Addr()
			if a.Name != "" {
				s.From = fmt.Sprintf("%s <%s>", a.Name, a.Addr())
			}
		}
		for _, a := range env.To {
			if addr := a.Addr(); addr != "" { // not a group's start or end
				s.To = append(s.To, addr)
			}
		}
	}
	return s
}

// closeOnCancel closes c if ctx ends before the returned stop is called:
// imapclient commands take no context.
func closeOnCancel(ctx context.Context, c *imapclient.Client) (stop func() bool) {
	return context.AfterFunc(ctx, func() { c.Close() })
}

// ListMessages examines mailbox (read-only: flags are not changed) and
// returns a summary of each message, in UID order. If ctx ends first, the
// client is closed.
func ListMessages(ctx context.Context, c *imapclient.Client, mailbox string) ([]MessageSummary, error) {
	return SearchMessages(ctx, c, mailbox, nil)
}

// FetchMessage examines mailbox and returns the message with the UID, as
// BODY.PEEK[] (the \Seen flag is not set). It returns an error wrapping
// ErrNoMessage if there is none. If ctx ends first, the client is closed.
func FetchMessage(ctx context.Context, c *imapclient.Client, mailbox string, uid imap.UID) ([]byte, error) {
	defer closeOnCancel(ctx, c)()
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, err
	}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.UID == uid && len(m.BodySection) > 0 {
			return m.BodySection[0].Bytes, nil
		}
	}
	return nil, fmt.Errorf("%w: UID %d in %q", ErrNoMessage, uid, mailbox)
}

// WatchOptions are the optional settings of Watch.
type WatchOptions struct {
	// Ready, if not nil, is called once, when the mailbox is selected and
	// the first IDLE has begun: every message that arrives from then on is
	// reported.
	Ready func()
	// Existing, if true, has the messages already in the mailbox reported
	// first, in UID order, before Watch waits for new ones.
	Existing bool
}

// Watch examines mailbox and calls fn for each message that arrives, until
// fn returns an error, ctx ends or the connection fails: it waits in IDLE
// (RFC 2177) for an EXISTS response, then fetches the messages with UIDs it
// has not reported. It returns fn's error, or ctx.Err() when ctx ends,
// leaving the client usable (selected, not idling). c must come from Dial,
// DialTLS, DialStartTLS or NewClient. opts may be nil.
//
// Messages already in mailbox when it is selected are reported only with
// opts.Existing. Without it, tell whoever sends the messages to wait for
// opts.Ready.
func Watch(ctx context.Context, c *imapclient.Client, mailbox string, fn func(MessageSummary) error, opts *WatchOptions) error {
	v, ok := watchers.Load(c)
	if !ok {
		return errors.New("imap: Watch needs a client made by this package's Dial or NewClient")
	}
	w := v.(*watcher)
	var o WatchOptions
	if opts != nil {
		o = *opts
	}
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return err
	}
	next := max(sel.UIDNext, 1)
	report := func(set imap.NumSet) error {
		msgs, err := c.Fetch(set, summaryItems).Collect()
		if err != nil {
			return err
		}
		slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return cmp.Compare(a.UID, b.UID) })
		for _, m := range msgs {
			if m.UID < next && !o.Existing {
				continue // "N:*" matches the last message even below N
			}
			s := summarize(m)
			s.UIDValidity = sel.UIDValidity
			if err := fn(s); err != nil {
				return err
			}
			next = max(next, m.UID+1)
		}
		return nil
	}
	if o.Existing && sel.NumMessages > 0 {
		var all imap.SeqSet
		all.AddRange(1, 0)
		if err := report(all); err != nil {
			return err
		}
	}
	o.Existing = false
	ready := o.Ready
	for {
		idle, err := c.Idle()
		if err != nil {
			return err
		}
		if ready != nil {
			ready()
			ready = nil
		}
		var waitErr error
		select {
		case <-w.exists:
		case <-ctx.Done():
			waitErr = ctx.Err()
		case <-c.Closed():
			waitErr = errors.New("imap: connection closed")
		}
		if err := idle.Close(); err != nil && waitErr == nil {
			return err
		}
		if err := idle.Wait(); err != nil && waitErr == nil {
			return err
		}
		if waitErr != nil {
			return waitErr
		}
		var uids imap.UIDSet
		uids.AddRange(next, 0)
		if err := report(uids); err != nil {
			return err
		}
	}
}
