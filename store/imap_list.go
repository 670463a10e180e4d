package store

import (
	"context"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

func (sess *imapSession) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{
		Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: mailboxDelim}},
	}, nil
}

// List writes the mailboxes matching patterns under reference ref (RFC
// 9051 §6.3.9), with the selection and return options of LIST-EXTENDED
// (RFC 5258), SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).
func (sess *imapSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if options == nil {
		options = &imap.ListOptions{}
	}
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and root (RFC 9051 §6.3.9).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: mailboxDelim})
	}
	rows, err := sess.userMailboxes(sess.ctx)
	if err != nil {
		return sess.err("list", err)
	}
	l := newMailboxListing(rows, options)
	for _, name := range l.all {
		if !matchAnyPattern(name, ref, patterns) {
			continue
		}
		data, ok, err := sess.listData(l, name)
		if err != nil {
			return sess.err("list", err)
		}
		if !ok {
			continue
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// userMailboxes returns the mailboxes of the session's user.
func (sess *imapSession) userMailboxes(ctx context.Context) ([]mailboxRow, error) {
	rows, err := sess.s.db.QueryContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE user_id = ?`, sess.userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mailboxRow
	for rows.Next() {
		var mb mailboxRow
		if err := rows.Scan(&mb.id, &mb.name, &mb.uidValidity, &mb.uidNext, &mb.specialUse, &mb.subscribed); err != nil {
			return nil, err
		}
		out = append(out, mb)
	}
	return out, rows.Err()
}

// A mailboxListing is the mailboxes of a user as one LIST command sees
// them.
type mailboxListing struct {
	options  *imap.ListOptions
	byName   map[string]*mailboxRow
	names    []string        // of the mailboxes that exist
	all      []string        // names and their implied parents, INBOX first, then sorted
	children map[string]bool // names that have an inferior
}

// newMailboxListing lists rows and the names that exist only as the
// parents of others, which are listed too, as \Noselect (RFC 9051 §6.3.9,
// §7.3.1).
func newMailboxListing(rows []mailboxRow, options *imap.ListOptions) *mailboxListing {
	l := &mailboxListing{options: options, byName: make(map[string]*mailboxRow), children: make(map[string]bool)}
	for i := range rows {
		l.byName[rows[i].name] = &rows[i]
		l.names = append(l.names, rows[i].name)
	}
	for _, name := range l.names {
		for i := 0; i < len(name); i++ {
			if name[i] == mailboxDelim {
				l.children[name[:i]] = true
			}
		}
	}
	l.all = append([]string(nil), l.names...)
	for parent := range l.children {
		if l.byName[parent] == nil {
			l.all = append(l.all, parent)
		}
	}
	sort.Slice(l.all, func(i, j int) bool {
		a, b := l.all[i], l.all[j]
		if (a == "INBOX") != (b == "INBOX") {
			return a == "INBOX"
		}
		return a < b
	})
	return l
}

// selected says whether a name is a mailbox that meets the selection
// options.
func (l *mailboxListing) selected(name string) bool {
	mb := l.byName[name]
	if mb == nil {
		return false
	}
	if l.options.SelectSubscribed && !mb.subscribed {
		return false
	}
	if l.options.SelectSpecialUse && mb.specialUse == "" {
		return false
	}
	return true
}

// listData returns the LIST response for name, or false if name is not to
// be listed.
func (sess *imapSession) listData(l *mailboxListing, name string) (*imap.ListData, bool, error) {
	options := l.options
	mb := l.byName[name]
	data := &imap.ListData{Mailbox: name, Delim: mailboxDelim}
	if !l.selected(name) {
		if !options.SelectSubscribed && !options.SelectSpecialUse && mb == nil {
			// an implied parent in a plain LIST
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect, imap.MailboxAttrHasChildren)
			return data, true, nil
		}
		if !options.SelectRecursiveMatch || !hasSelectedDescendant(name, l.names, l.selected) {
			return nil, false, nil
		}
		// RFC 5258 §3.5: listed for a descendant that meets the selection
		// criteria.
		data.ChildInfo = &imap.ListDataChildInfo{Subscribed: options.SelectSubscribed}
	}
	if mb == nil {
		data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
	}
	if l.children[name] {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
	} else {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
	}
	if mb == nil {
		return data, true, nil
	}
	if mb.subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
		data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
	}
	// RFC 6154 §1: special-use attributes are returned in LIST responses
	// whether or not they were asked for.
	for _, a := range strings.Fields(mb.specialUse) {
		data.Attrs = append(data.Attrs, imap.MailboxAttr(a))
	}
	if options.ReturnStatus != nil {
		st, err := sess.status(sess.ctx, sess.s.db, *mb, options.ReturnStatus)
		if err != nil {
			return nil, false, err
		}
		data.Status = st
	}
	return data, true, nil
}

func hasSelectedDescendant(name string, names []string, selected func(string) bool) bool {
	prefix := name + "/"
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && selected(n) {
			return true
		}
	}
	return false
}

// matchAnyPattern reports whether name matches one of the LIST patterns
// under reference ref.
func matchAnyPattern(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if matchList(name, ref, p) {
			return true
		}
	}
	return false
}

// matchList is imapserver.MatchList without its exponential backtracking
// (a pattern like "*a*a*a*a*a*b" costs O(len(name)·len(pattern)) here):
// the reference, taken literally, must prefix the name unless the pattern
// starts with the delimiter; in the pattern "*" matches anything, "%"
// anything but the delimiter. INBOX is matched case-insensitively.
func matchList(name, ref, pattern string) bool {
	const delim = string(mailboxDelim)
	if strings.HasPrefix(pattern, delim) {
		ref = ""
		pattern = strings.TrimPrefix(pattern, delim)
	}
	if ref != "" {
		if !strings.HasSuffix(ref, delim) {
			ref += delim
		}
		ref = inboxPrefix(ref)
		if !strings.HasPrefix(name, ref) {
			return false
		}
		name = name[len(ref):]
	} else {
		pattern = inboxPrefix(pattern)
	}
	return globMatch(name, pattern)
}

// inboxPrefix spells a leading "inbox" (as a whole level) as INBOX.
func inboxPrefix(s string) string {
	if len(s) >= 5 && strings.EqualFold(s[:5], "INBOX") && (len(s) == 5 || s[5] == mailboxDelim) {
		return "INBOX" + s[5:]
	}
	return s
}

// globMatch matches name against pattern with "*" and "%" wildcards by
// dynamic programming over pattern positions.
func globMatch(name, pattern string) bool {
	// cur[j]: pattern[:j] matches name[:i].
	cur := make([]bool, len(pattern)+1)
	next := make([]bool, len(pattern)+1)
	cur[0] = true
	for j := 0; j < len(pattern) && (pattern[j] == '*' || pattern[j] == '%'); j++ {
		cur[j+1] = true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		for j := range next {
			next[j] = false
		}
		for j := 0; j < len(pattern); j++ {
			switch p := pattern[j]; p {
			case '*', '%':
				// the wildcard absorbs c, having matched name[:i] at j or j+1
				if (cur[j] || cur[j+1]) && (p == '*' || c != mailboxDelim) {
					next[j+1] = true
				}
			default:
				if cur[j] && p == c {
					next[j+1] = true
				}
			}
		}
		// wildcards may match empty strings
		for j := 0; j < len(pattern); j++ {
			if next[j] && (pattern[j] == '*' || pattern[j] == '%') {
				next[j+1] = true
			}
		}
		cur, next = next, cur
	}
	return cur[len(pattern)]
}
