package imapd

import (
	"slices"
	"strings"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("NOTIFY", stateLoggedIn, cmdNotify)
}

// NOTIFY events (RFC 5465 §5), as bits.
const (
	evMessageNew = 1 << iota
	evMessageExpunge
	evFlagChange
	evMailboxName
	evSubscriptionChange
)

// notifyEvents are the events the server reports, by their names in
// NOTIFY; the others of RFC 5465 §5 (AnnotationChange,
// MailboxMetadataChange, ServerMetadataChange) are refused with BADEVENT.
var notifyEvents = map[string]int{
	"MESSAGENEW":         evMessageNew,
	"MESSAGEEXPUNGE":     evMessageExpunge,
	"FLAGCHANGE":         evFlagChange,
	"MAILBOXNAME":        evMailboxName,
	"SUBSCRIPTIONCHANGE": evSubscriptionChange,
}

// errBadEvent refuses an event the server does not report, listing those
// it does (RFC 5465 §5: the BADEVENT response code).
var errBadEvent = &Error{Code: "BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)",
	Text: "Unsupported NOTIFY events."}

// errNotifySyntax answers NOTIFY arguments that are not RFC 5465 §8's.
var errNotifySyntax = &Error{Type: "BAD", Text: "Invalid arguments."}

// A notifyFilter is one event group of NOTIFY SET other than SELECTED: the
// mailboxes it names and the events asked for them.
type notifyFilter struct {
	kind   string   // PERSONAL, INBOXES, SUBSCRIBED, SUBTREE or MAILBOXES
	names  []string // of SUBTREE and MAILBOXES
	events int
}

// notifyState is what a connection's NOTIFY SET asked for (RFC 5465 §3),
// and what the client knows of the mailboxes it watches: their STATUS,
// names and subscriptions, from which events are computed when the user's
// mailboxes change (User.Changed).
type notifyState struct {
	filters   []notifyFilter
	status    map[string]*MailboxStatus // by mailbox name
	names     map[string]bool           // mailboxes that exist
	subscribe map[string]bool           // subscriptions
	dirty     bool                      // User.Changed fired
}

// notifyOf returns c's NOTIFY state, nil if none was set.
func (c *conn) notifyOf() *notifyState { return c.notify }

// setNotify replaces c's NOTIFY state; nil removes it.
func (c *conn) setNotify(st *notifyState) { c.notify = st }

// notifyChanged returns the channel that signals changes NOTIFY may
// report, nil if NOTIFY is not set.
func (c *conn) notifyChanged() <-chan struct{} {
	if c.notifyOf() == nil || c.user == nil {
		return nil
	}
	return c.user.Changed()
}

// cmdNotify answers NOTIFY NONE and NOTIFY SET (RFC 5465 §3): the events
// of mailboxes other than the selected one are reported as STATUS
// (MessageNew, MessageExpunge, FlagChange) and LIST responses
// (MailboxName, SubscriptionChange) while the client idles and at the end
// of its commands. The selected mailbox's events are those IMAP always
// reports. With STATUS, the watched mailboxes' STATUS is sent at once.
func cmdNotify(c *conn, tag string) error {
	args, err := c.dec.Args()
	if err != nil {
		return err
	}
	if len(args) == 0 || args[0].Kind != imapwire.ArgAtom {
		return errNotifySyntax
	}
	switch strings.ToUpper(args[0].Value) {
	case "NONE":
		if len(args) != 1 {
			return errNotifySyntax
		}
		c.setNotify(nil)
		return c.ok(tag, "", "NOTIFY completed.")
	case "SET":
	default:
		return errNotifySyntax
	}
	args = args[1:]
	status := false
	if len(args) > 0 && args[0].Kind == imapwire.ArgAtom && strings.EqualFold(args[0].Value, "STATUS") {
		status, args = true, args[1:]
	}
	st := &notifyState{}
	for _, a := range args {
		f, err := parseNotifyFilter(a)
		if err != nil {
			return err
		}
		if f != nil {
			st.filters = append(st.filters, *f)
		}
	}
	if err := c.notifySnapshot(st, status); err != nil {
		return err
	}
	c.setNotify(st)
	return c.ok(tag, "", "NOTIFY completed.")
}

// parseNotifyFilter parses one event group, "(" filter-mailboxes events
// ")"; it returns nil for SELECTED and SELECTED-DELAYED, whose events are
// those IMAP always reports, and for NONE.
func parseNotifyFilter(a imapwire.Arg) (*notifyFilter, error) {
	if a.Kind != imapwire.ArgList || len(a.List) < 2 || a.List[0].Kind != imapwire.ArgAtom {
		return nil, errNotifySyntax
	}
	f := &notifyFilter{kind: strings.ToUpper(a.List[0].Value)}
	rest := a.List[1:]
	switch f.kind {
	case "SELECTED", "SELECTED-DELAYED":
		ev, err := parseNotifyEvents(rest, true)
		if err != nil {
			return nil, err
		}
		// RFC 5465 §5.2, §5.3: MessageNew and MessageExpunge go
		// together, and FlagChange needs them (as Dovecot checks).
		const both = evMessageNew | evMessageExpunge
		if ev&both != 0 && ev&both != both {
			return nil, &Error{Type: "BAD", Text: "MessageNew and MessageExpunge must be together"}
		}
		if ev&evFlagChange != 0 && ev&both == 0 {
			return nil, &Error{Type: "BAD", Text: "FlagChange requires MessageNew and MessageExpunge"}
		}
		return nil, nil
	case "PERSONAL", "INBOXES", "SUBSCRIBED":
	case "SUBTREE", "MAILBOXES":
		names, err := notifyMailboxes(rest[0])
		if err != nil {
			return nil, err
		}
		f.names, rest = names, rest[1:]
	default:
		return nil, errNotifySyntax
	}
	ev, err := parseNotifyEvents(rest, false)
	if err != nil || ev == 0 {
		return nil, err
	}
	f.events = ev
	return f, nil
}

// parseNotifyEvents parses the events of a group: NONE (0), or a list of
// event names; for the selected mailbox, MessageNew may be followed by a
// list of FETCH attributes, which are accepted and not used.
func parseNotifyEvents(rest []imapwire.Arg, selected bool) (int, error) {
	if len(rest) != 1 {
		return 0, errNotifySyntax
	}
	a := rest[0]
	if a.Kind == imapwire.ArgAtom && strings.EqualFold(a.Value, "NONE") {
		return 0, nil
	}
	if a.Kind != imapwire.ArgList || len(a.List) == 0 {
		return 0, errNotifySyntax
	}
	ev, bad := 0, false
	for i, e := range a.List {
		if e.Kind == imapwire.ArgList && selected && i > 0 && strings.EqualFold(a.List[i-1].Value, "MessageNew") {
			continue
		}
		if e.Kind != imapwire.ArgAtom {
			return 0, errNotifySyntax
		}
		name := strings.ToUpper(e.Value)
		switch bit, ok := notifyEvents[name]; {
		case ok:
			ev |= bit
		case name == "ANNOTATIONCHANGE", name == "MAILBOXMETADATACHANGE", name == "SERVERMETADATACHANGE":
			bad = true
		default:
			return 0, errNotifySyntax
		}
	}
	if bad {
		return 0, errBadEvent
	}
	return ev, nil
}

// notifyMailboxes returns the names of a SUBTREE or MAILBOXES group: one
// mailbox, or a list of them (RFC 5465 §8 one-or-more-mailbox).
func notifyMailboxes(a imapwire.Arg) ([]string, error) {
	one := func(a imapwire.Arg) (string, error) {
		if a.Kind == imapwire.ArgList {
			return "", errNotifySyntax
		}
		if strings.EqualFold(a.Value, "INBOX") {
			return "INBOX", nil
		}
		name, err := imapwire.DecodeUTF7(a.Value)
		if err != nil {
			return a.Value, nil
		}
		return name, nil
	}
	if a.Kind != imapwire.ArgList {
		n, err := one(a)
		return []string{n}, err
	}
	if len(a.List) == 0 {
		return nil, errNotifySyntax
	}
	var names []string
	for _, x := range a.List {
		n, err := one(x)
		if err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, nil
}

// events returns the events st watches for mailbox name.
func (st *notifyState) events(name string) int {
	ev := 0
	for _, f := range st.filters {
		switch f.kind {
		case "PERSONAL":
			ev |= f.events
		case "INBOXES":
			if name == "INBOX" || strings.HasPrefix(name, "INBOX/") {
				ev |= f.events
			}
		case "SUBSCRIBED":
			if st.subscribe[name] {
				ev |= f.events
			}
		case "MAILBOXES":
			if slices.Contains(f.names, name) {
				ev |= f.events
			}
		case "SUBTREE":
			for _, n := range f.names {
				if name == n || isChildOf(name, n) {
					ev |= f.events
				}
			}
		}
	}
	return ev
}

// statusItems returns the STATUS items that report events ev: MESSAGES,
// UIDNEXT and UIDVALIDITY for MessageNew, MESSAGES for MessageExpunge,
// UIDVALIDITY and HIGHESTMODSEQ for FlagChange (RFC 5465 §5.2-§5.4), and
// UNSEEN with either message event.
func statusItems(ev int) []string {
	var items []string
	if ev&(evMessageNew|evMessageExpunge) != 0 {
		items = append(items, "MESSAGES")
	}
	if ev&evMessageNew != 0 {
		items = append(items, "UIDNEXT")
	}
	if ev&(evMessageNew|evFlagChange) != 0 {
		items = append(items, "UIDVALIDITY")
	}
	if ev&evFlagChange != 0 {
		items = append(items, "HIGHESTMODSEQ")
	}
	return items
}

// notifySnapshot records what the client is to know of the mailboxes st
// watches, and with send writes their STATUS (NOTIFY SET STATUS), but
// for the selected mailbox, whose state the client has.
func (c *conn) notifySnapshot(st *notifyState, send bool) error {
	infos, err := c.user.Mailboxes(c.ctx)
	if err != nil {
		return err
	}
	subs, err := c.user.Subscriptions(c.ctx)
	if err != nil {
		return err
	}
	st.names = make(map[string]bool, len(infos))
	st.subscribe = make(map[string]bool, len(subs))
	st.status = make(map[string]*MailboxStatus)
	for _, s := range subs {
		st.subscribe[s] = true
	}
	for _, mi := range infos {
		st.names[mi.Name] = true
		ev := st.events(mi.Name)
		if ev&(evMessageNew|evMessageExpunge|evFlagChange) == 0 {
			continue
		}
		ms, err := c.user.Status(c.ctx, mi.Name)
		if err != nil {
			continue // deleted meanwhile
		}
		st.status[mi.Name] = ms
		if send && (c.sel == nil || c.sel.name != mi.Name) {
			if err := c.writeStatus(mi.Name, statusItems(ev), ms); err != nil {
				return err
			}
		}
	}
	return nil
}

// notifyUpdates writes the events NOTIFY asked for that happened since
// they were last written: a STATUS for each watched mailbox whose counters
// changed, a LIST for each mailbox created or deleted (MailboxName) and
// each subscription added or removed (SubscriptionChange). It does
// nothing if NOTIFY is not set or the user's mailboxes have not changed.
func (c *conn) notifyUpdates() error {
	st := c.notifyOf()
	if st == nil || c.user == nil {
		return nil
	}
	select {
	case <-c.user.Changed():
		st.dirty = true
	default:
	}
	if !st.dirty {
		return nil
	}
	st.dirty = false
	old := *st
	if err := c.notifySnapshot(st, false); err != nil {
		return err
	}
	if err := c.notifyNames(&old, st); err != nil {
		return err
	}
	for name, ms := range st.status {
		if c.sel != nil && c.sel.name == name {
			continue
		}
		ev := st.events(name)
		if items := statusDiff(old.status[name], ms, ev); len(items) > 0 {
			if err := c.writeStatus(name, items, ms); err != nil {
				return err
			}
		}
	}
	return nil
}

// statusDiff returns the STATUS items that report how a mailbox went from
// before (nil if unknown) to after, for the events ev; none if nothing the
// events cover changed.
func statusDiff(before, after *MailboxStatus, ev int) []string {
	if before == nil {
		return statusItems(ev)
	}
	newMsg := after.UIDNext != before.UIDNext || after.UIDValidity != before.UIDValidity
	gone := after.Messages != before.Messages && !newMsg
	flags := after.HighestModSeq != before.HighestModSeq && !newMsg && !gone
	switch {
	case newMsg && ev&evMessageNew != 0:
		return statusItems(ev & (evMessageNew | evMessageExpunge))
	case gone && ev&evMessageExpunge != 0:
		return statusItems(evMessageExpunge)
	case flags && ev&evFlagChange != 0:
		return statusItems(evFlagChange)
	}
	return nil
}

// notifyNames writes the LIST responses of MailboxName and
// SubscriptionChange (RFC 5465 §5.4, §5.5): a mailbox that appeared, one
// that is gone (\NonExistent), a subscription added (\Subscribed) or
// removed.
func (c *conn) notifyNames(old, st *notifyState) error {
	write := func(name string, attrs ...string) error {
		c.enc.Star().Atom("LIST ").Flags(attrs).Atom(` "/" `).Mailbox(name)
		return c.enc.CRLF()
	}
	for _, name := range sortedKeys(st.names) {
		if !old.names[name] && st.events(name)&evMailboxName != 0 {
			if err := write(name); err != nil {
				return err
			}
		}
	}
	for _, name := range sortedKeys(old.names) {
		if !st.names[name] && old.events(name)&evMailboxName != 0 {
			if err := write(name, `\NonExistent`); err != nil {
				return err
			}
		}
	}
	for _, name := range sortedKeys(st.subscribe) {
		if !old.subscribe[name] && st.events(name)&evSubscriptionChange != 0 {
			if err := write(name, `\Subscribed`); err != nil {
				return err
			}
		}
	}
	for _, name := range sortedKeys(old.subscribe) {
		if !st.subscribe[name] && old.events(name)&evSubscriptionChange != 0 {
			if err := write(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
