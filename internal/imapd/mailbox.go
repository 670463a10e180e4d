package imapd

import (
	"slices"
	"strings"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("CREATE", stateLoggedIn, cmdCreate)
	register("DELETE", stateLoggedIn, cmdDelete)
	register("RENAME", stateLoggedIn, cmdRename)
	register("SUBSCRIBE", stateLoggedIn, cmdSubscribe)
	register("UNSUBSCRIBE", stateLoggedIn, cmdSubscribe)
	register("STATUS", stateLoggedIn, cmdStatus)
}

// delim is the hierarchy delimiter of every mailbox name.
const delim = '/'

// specialUses are the special-use attributes CREATE accepts (RFC 6154 §2,
// RFC 8457 \Important).
var specialUses = map[string]string{
	`\ALL`: `\All`, `\ARCHIVE`: `\Archive`, `\DRAFTS`: `\Drafts`, `\FLAGGED`: `\Flagged`,
	`\JUNK`: `\Junk`, `\SENT`: `\Sent`, `\TRASH`: `\Trash`, `\IMPORTANT`: `\Important`,
}

// cmdCreate answers CREATE (RFC 9051 §6.3.4), with the USE parameter of
// CREATE-SPECIAL-USE (RFC 6154 §3). A trailing delimiter is dropped: it
// only says the client means to create children.
func cmdCreate(c *conn, tag string) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	name, err := c.dec.Mailbox()
	if err != nil {
		return err
	}
	var use []string
	if !c.dec.AtEnd() {
		if use, err = readUse(c.dec); err != nil {
			return err
		}
	}
	if err := c.dec.End(); err != nil {
		return err
	}
	name = strings.TrimSuffix(name, string(delim))
	if name == "INBOX" {
		return ErrAlreadyExists
	}
	if err := checkNewName(name); err != nil {
		return err
	}
	for i, u := range use {
		canon, ok := specialUses[strings.ToUpper(u)]
		if !ok {
			return &Error{Code: "USEATTR", Text: "Unsupported special-use attribute " + u}
		}
		use[i] = canon
	}
	if err := c.user.CreateMailbox(c.ctx, name, use); err != nil {
		return err
	}
	return c.ok(tag, "", "Create completed.")
}

// errNameChar refuses a new mailbox name with a LIST wildcard or a control
// character, which a client could not list or type (RFC 9051 §5.1), as
// Dovecot does.
var errNameChar = &Error{Code: "CANNOT", Text: "Character not allowed in mailbox name"}

// checkNewName checks the name of a mailbox to be created.
func checkNewName(name string) error {
	if name == "" {
		return ErrBadName
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '*' || c == '%' || c < 0x20 || c == 0x7f {
			return errNameChar
		}
	}
	return nil
}

// readUse reads CREATE's parameters: SP "(" "USE" SP "(" flags ")" ")".
func readUse(d *imapwire.Decoder) ([]string, error) {
	if err := d.SP(); err != nil {
		return nil, err
	}
	var use []string
	err := d.List(func() error {
		k, err := d.Keyword()
		if err != nil {
			return err
		}
		if k != "USE" {
			return &imapwire.CommandError{Type: "BAD", Text: "Unknown CREATE parameter " + k}
		}
		if err := d.SP(); err != nil {
			return err
		}
		return d.List(func() error {
			f, err := d.Flag(false)
			use = append(use, f)
			return err
		})
	})
	return use, err
}

// cmdDelete answers DELETE (RFC 9051 §6.3.5). Deleting the selected
// mailbox closes it first and ends the session after the answer, as
// Dovecot does: the client's view of it cannot go on.
func cmdDelete(c *conn, tag string) error {
	name, err := readMailboxArg(c.dec)
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return &Error{Text: "INBOX can't be deleted."}
	}
	selected := c.sel != nil && c.sel.name == name
	if selected {
		if err := c.closeSelected(false); err != nil {
			return err
		}
	}
	err = c.user.DeleteMailbox(c.ctx, name)
	if selected {
		if err := c.answer(tag, err); err != nil {
			return err
		}
		if err == nil {
			c.enc.StatusResponse(tag, "OK", "", "Delete completed.")
		}
		c.lc.Hangup("* BYE Selected mailbox was deleted, have to disconnect.")
		return errClose
	}
	if err != nil {
		return err
	}
	return c.ok(tag, "", "Delete completed.")
}

// readMailboxArg reads SP mailbox and the end of the command.
func readMailboxArg(d *imapwire.Decoder) (string, error) {
	if err := d.SP(); err != nil {
		return "", err
	}
	name, err := d.Mailbox()
	if err != nil {
		return "", err
	}
	return name, d.End()
}

// cmdRename answers RENAME (RFC 9051 §6.3.6).
func cmdRename(c *conn, tag string) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	from, err := c.dec.Mailbox()
	if err != nil {
		return err
	}
	if err := c.dec.SP(); err != nil {
		return err
	}
	to, err := c.dec.Mailbox()
	if err != nil {
		return err
	}
	if err := c.dec.End(); err != nil {
		return err
	}
	to = strings.TrimSuffix(to, string(delim))
	if to == "INBOX" {
		return ErrAlreadyExists
	}
	if err := checkNewName(to); err != nil {
		return err
	}
	if err := c.user.RenameMailbox(c.ctx, from, to); err != nil {
		return err
	}
	return c.ok(tag, "", "Rename completed.")
}

// cmdSubscribe answers SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7,
// §6.3.8). A name that does not exist may be subscribed to.
func cmdSubscribe(c *conn, tag string) error {
	name, err := readMailboxArg(c.dec)
	if err != nil {
		return err
	}
	sub := c.cmd == "SUBSCRIBE"
	if err := c.user.Subscribe(c.ctx, name, sub); err != nil {
		return err
	}
	if sub {
		return c.ok(tag, "", "Subscribe completed.")
	}
	return c.ok(tag, "", "Unsubscribe completed.")
}

// cmdStatus answers STATUS (RFC 9051 §6.3.11). The selected mailbox first
// gets its pending updates, as Dovecot does, so that its counts and the
// client's view agree.
func cmdStatus(c *conn, tag string) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	name, items, err := c.dec.ReadStatus()
	if err != nil {
		return err
	}
	if c.sel != nil && c.sel.name == name {
		if err := c.writeUpdates(); err != nil {
			return err
		}
	}
	st, err := c.user.Status(c.ctx, name)
	if err != nil {
		return err
	}
	if err := c.writeStatus(name, items, st); err != nil {
		return err
	}
	return c.ok(tag, "", "Status completed.")
}

// writeStatus writes "* STATUS name (items)" with the values of st.
func (c *conn) writeStatus(name string, items []string, st *MailboxStatus) error {
	e := c.enc.Star().Atom("STATUS ").Mailbox(name).Atom(" (")
	first := true
	for _, it := range items {
		if it == "MAILBOXID" {
			continue // RFC 8474 OBJECTID is not offered
		}
		if !first {
			e.SP()
		}
		first = false
		e.Atom(it).SP()
		switch it {
		case "MESSAGES":
			e.Number(st.Messages)
		case "RECENT":
			e.Number(st.Recent)
		case "UIDNEXT":
			e.Number(st.UIDNext)
		case "UIDVALIDITY":
			e.Number(st.UIDValidity)
		case "UNSEEN":
			e.Number(st.Unseen)
		case "DELETED":
			e.Number(st.Deleted)
		case "SIZE":
			e.Uint(uint64(max(st.Size, 0)))
		case "HIGHESTMODSEQ":
			// A CONDSTORE enabling command (RFC 7162 §3.1).
			c.enableQuietly("CONDSTORE")
			e.Uint(st.HighestModSeq)
		case "APPENDLIMIT":
			e.Uint(uint64(c.appendLimit()))
		}
	}
	return e.Special(')').CRLF()
}

// enableQuietly turns ext on without an ENABLED response, as a CONDSTORE
// enabling command does (RFC 7162 §3.1).
func (c *conn) enableQuietly(ext string) { c.enable(ext) }

// isChildOf reports whether name is below parent in the hierarchy.
func isChildOf(name, parent string) bool {
	return len(name) > len(parent) && name[len(parent)] == delim && strings.HasPrefix(name, parent)
}

// sortNames sorts mailbox names with INBOX first, then by octets.
func sortNames(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "INBOX":
			return -1
		case b == "INBOX":
			return 1
		}
		return strings.Compare(a, b)
	})
}

func init() {
	register("LIST", stateLoggedIn, cmdList)
	register("LSUB", stateLoggedIn, cmdList)
}

// listEntry is a name of the hierarchy, as LIST sees it.
type listEntry struct {
	exists     bool // a mailbox; else a parent that exists only in a child's name, or a subscription
	subscribed bool
	children   bool // has a mailbox below it
	hiddenSub  bool // has a subscribed descendant that the patterns do not match
	specialUse []string
}

// listQuery is one LIST or LSUB command, parsed and checked.
type listQuery struct {
	lsub            bool
	patterns        []string // reference and pattern joined
	subscribed      bool     // select SUBSCRIBED
	recursive       bool     // select RECURSIVEMATCH
	specialUse      bool     // select SPECIAL-USE
	retSubscribed   bool
	retChildren     bool
	retSpecialUse   bool
	status          []string // LIST-STATUS items; nil if none
	needSubscribers bool
}

// cmdList answers LIST (RFC 9051 §6.3.9, LIST-EXTENDED RFC 5258,
// LIST-STATUS RFC 5819) and LSUB (RFC 3501 §6.3.9).
func cmdList(c *conn, tag string) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	lsub := c.cmd == "LSUB"
	a, err := c.dec.ReadList(lsub)
	if err != nil {
		return err
	}
	q, err := newListQuery(a, lsub)
	if err != nil {
		return err
	}
	if !a.Extended && len(a.Patterns) == 1 && a.Patterns[0] == "" {
		// RFC 9051 §6.3.9: the hierarchy delimiter and the root name.
		if err := c.untagged(c.cmd + ` (\Noselect) "/" ""`); err != nil {
			return err
		}
		return c.ok(tag, "", c.listDone())
	}
	tree, err := c.listTree(q)
	if err != nil {
		return err
	}
	if err := c.writeList(q, tree); err != nil {
		return err
	}
	return c.ok(tag, "", c.listDone())
}

func (c *conn) listDone() string {
	if c.cmd == "LSUB" {
		return "Lsub completed."
	}
	return "List completed."
}

// newListQuery checks the options of a and joins the reference to each
// pattern.
func newListQuery(a *imapwire.ListArgs, lsub bool) (*listQuery, error) {
	q := &listQuery{lsub: lsub, status: a.Status}
	bad := func(what string) error { return &Error{Type: "BAD", Text: "Invalid LIST " + what} }
	for _, s := range a.Select {
		switch s {
		case "SUBSCRIBED":
			q.subscribed, q.retSubscribed = true, true
		case "REMOTE":
		case "RECURSIVEMATCH":
			q.recursive = true
		case "SPECIAL-USE":
			q.specialUse, q.retSpecialUse = true, true
		default:
			return nil, bad("selection option " + s)
		}
	}
	if q.recursive && !q.subscribed {
		// RFC 5258 §3.1: RECURSIVEMATCH needs another selection option
		// that it modifies; SPECIAL-USE has no child information.
		return nil, bad("selection options: RECURSIVEMATCH alone")
	}
	for _, r := range a.Return {
		switch r {
		case "SUBSCRIBED":
			q.retSubscribed = true
		case "CHILDREN":
			q.retChildren = true
		case "SPECIAL-USE":
			q.retSpecialUse = true
		case "STATUS":
		default:
			return nil, bad("return option " + r)
		}
	}
	for _, p := range a.Patterns {
		q.patterns = append(q.patterns, canonPattern(a.Reference, p))
	}
	q.needSubscribers = lsub || q.subscribed || q.retSubscribed
	// Plain LIST reports children and special use anyway, as Dovecot does
	// (RFC 5258 §4 and RFC 6154 §5.1 allow it).
	if !lsub && !a.Extended {
		q.retChildren, q.retSpecialUse = true, true
	}
	if !lsub && !q.subscribed {
		q.retChildren = true
	}
	return q, nil
}

// canonPattern joins reference and pattern (RFC 9051 §6.3.9) and
// collapses each run of wildcards into one, which matches the same names:
// a run with a "*" is "*", a run of "%" is "%". Matching then costs at most
// the square of a name's length, whatever the client sent.
func canonPattern(ref, pattern string) string {
	p := ref + pattern
	if !strings.Contains(p, "**") && !strings.Contains(p, "%%") && !strings.Contains(p, "*%") && !strings.Contains(p, "%*") {
		return p
	}
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '*' && c != '%' {
			b = append(b, c)
			continue
		}
		j := i
		for j < len(p) && (p[j] == '*' || p[j] == '%') {
			if p[j] == '*' {
				c = '*'
			}
			j++
		}
		b = append(b, c)
		i = j - 1
	}
	return string(b)
}

// listTree returns every name LIST may report: the mailboxes, their
// parents and, if q needs them, the subscriptions and their parents.
func (c *conn) listTree(q *listQuery) (map[string]*listEntry, error) {
	mboxes, err := c.user.Mailboxes(c.ctx)
	if err != nil {
		return nil, err
	}
	tree := make(map[string]*listEntry, len(mboxes)+1)
	get := func(name string) *listEntry {
		e := tree[name]
		if e == nil {
			e = &listEntry{}
			tree[name] = e
		}
		return e
	}
	addParents := func(name string, mailbox bool) {
		for i := strings.LastIndexByte(name, delim); i > 0; i = strings.LastIndexByte(name[:i], delim) {
			p := get(name[:i])
			if mailbox {
				p.children = true
			}
		}
	}
	for _, m := range mboxes {
		e := get(m.Name)
		e.exists, e.specialUse = true, m.SpecialUse
		addParents(m.Name, true)
	}
	if q.needSubscribers {
		subs, err := c.user.Subscriptions(c.ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range subs {
			get(s).subscribed = true
			addParents(s, false)
		}
	}
	return tree, nil
}

// matchAny reports whether name matches one of patterns. INBOX is
// case-insensitive (RFC 9051 §5.1): for INBOX and its children a pattern
// that starts with "inbox" in any case matches as if it were "INBOX".
func matchAny(patterns []string, name string) bool {
	inbox := name == "INBOX" || strings.HasPrefix(name, "INBOX/")
	for _, p := range patterns {
		if matchPattern(p, name) {
			return true
		}
		if inbox && len(p) >= 5 && strings.EqualFold(p[:5], "INBOX") && matchPattern("INBOX"+p[5:], name) {
			return true
		}
	}
	return false
}

// matchPattern reports whether name matches pattern, in which "*" matches
// any run of characters and "%" any run without the hierarchy delimiter
// (RFC 9051 §6.3.9). It runs in O(len(pattern)·len(name)).
func matchPattern(pattern, name string) bool {
	if literals := len(pattern) - strings.Count(pattern, "*") - strings.Count(pattern, "%"); literals > len(name) {
		return false
	}
	// ok[j]: pattern[:i] matches name[:j].
	ok := make([]bool, len(name)+1)
	ok[0] = true
	for i := 0; i < len(pattern); i++ {
		switch pc := pattern[i]; pc {
		case '*', '%':
			for j := 1; j <= len(name); j++ {
				if !ok[j] && ok[j-1] && (pc == '*' || name[j-1] != delim) {
					ok[j] = true
				}
			}
		default:
			for j := len(name); j >= 1; j-- {
				ok[j] = ok[j-1] && name[j-1] == pc
			}
			ok[0] = false
		}
	}
	return ok[len(name)]
}

// markHiddenSubscribed marks the names that have a subscribed descendant
// which does not match the patterns itself: such a parent then stands for
// it (LSUB's "%" rule, RFC 3501 §6.3.9; CHILDINFO, RFC 5258 §3.5).
func markHiddenSubscribed(tree map[string]*listEntry, patterns []string) {
	for n, e := range tree {
		if !e.subscribed || matchAny(patterns, n) {
			continue
		}
		for i := strings.LastIndexByte(n, delim); i > 0; i = strings.LastIndexByte(n[:i], delim) {
			tree[n[:i]].hiddenSub = true
		}
	}
}

// writeList writes the LIST or LSUB responses of q, in name order.
func (c *conn) writeList(q *listQuery, tree map[string]*listEntry) error {
	if q.lsub || q.recursive {
		markHiddenSubscribed(tree, q.patterns)
	}
	names := make([]string, 0, len(tree))
	for n := range tree {
		if matchAny(q.patterns, n) {
			names = append(names, n)
		}
	}
	sortNames(names)
	for _, n := range names {
		if err := c.writeListEntry(q, tree, n); err != nil {
			return err
		}
	}
	return nil
}

// writeListEntry writes the response for name, if q selects it, and its
// STATUS with LIST-STATUS.
func (c *conn) writeListEntry(q *listQuery, tree map[string]*listEntry, name string) error {
	e := tree[name]
	var attrs []string
	childInfo := false
	switch {
	case q.lsub:
		if !e.subscribed {
			if !e.hiddenSub {
				return nil
			}
			attrs = append(attrs, `\Noselect`)
		}
	case q.subscribed:
		if !e.subscribed {
			if !q.recursive || !e.hiddenSub {
				return nil
			}
			childInfo = true
		}
	default:
		if !e.exists && !e.children {
			return nil // a subscription's parent, not a mailbox's
		}
	}
	if q.specialUse && len(e.specialUse) == 0 {
		return nil
	}
	if !q.lsub {
		attrs = c.listAttrs(q, e, attrs)
	}
	enc := c.enc.Star().Atom(c.cmd).Atom(" (").Atom(strings.Join(attrs, " ")).Atom(`) "/" `).Mailbox(name)
	if childInfo {
		enc.Atom(` ("CHILDINFO" ("SUBSCRIBED"))`)
	}
	if err := enc.CRLF(); err != nil {
		return err
	}
	if q.status != nil && e.exists {
		return c.listStatus(name, q.status)
	}
	return nil
}

// listAttrs returns the attributes of a LIST response for e.
func (c *conn) listAttrs(q *listQuery, e *listEntry, attrs []string) []string {
	switch {
	case !e.exists && !e.children:
		attrs = append(attrs, `\NonExistent`)
	case !e.exists:
		attrs = append(attrs, `\Noselect`)
	}
	if q.retSubscribed && e.subscribed {
		attrs = append(attrs, `\Subscribed`)
	}
	if q.retChildren && (e.exists || e.children) {
		if e.children {
			attrs = append(attrs, `\HasChildren`)
		} else {
			attrs = append(attrs, `\HasNoChildren`)
		}
	}
	if q.retSpecialUse {
		attrs = append(attrs, e.specialUse...)
	}
	return attrs
}

// listStatus writes the STATUS of a listed mailbox (RFC 5819); a mailbox
// whose status cannot be had is left out, as RFC 5819 §2 allows.
func (c *conn) listStatus(name string, items []string) error {
	if c.sel != nil && c.sel.name == name {
		if err := c.writeUpdates(); err != nil {
			return err
		}
	}
	st, err := c.user.Status(c.ctx, name)
	if err != nil {
		c.lc.Log.Debug("LIST-STATUS", "mailbox", name, "err", err)
		return nil
	}
	return c.writeStatus(name, items, st)
}
