package store

import (
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

func (sess *imapSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if options == nil {
		options = &imap.ListOptions{}
	}
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and root (RFC 9051 §6.3.9).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: mailboxDelim})
	}
	ctx := sess.ctx
	rows, err := sess.s.db.QueryContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE user_id = ?`, sess.userID)
	if err != nil {
		return sess.err("list", err)
	}
	byName := make(map[string]*mailboxRow)
	var names []string
	for rows.Next() {
		var mb mailboxRow
		if err := rows.Scan(&mb.id, &mb.name, &mb.uidValidity, &mb.uidNext, &mb.specialUse, &mb.subscribed); err != nil {
			rows.Close()
			return sess.err("list", err)
		}
		byName[mb.name] = &mb
		names = append(names, mb.name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sess.err("list", err)
	}

	// Names that exist only as the parents of others are listed too, as
	// \Noselect (RFC 9051 §6.3.9, §7.3.1).
	children := make(map[string]bool) // names with an inferior
	for _, name := range names {
		for i := 0; i < len(name); i++ {
			if name[i] != mailboxDelim {
				continue
			}
			parent := name[:i]
			children[parent] = true
		}
	}
	all := append([]string(nil), names...)
	for parent := range children {
		if byName[parent] == nil {
			all = append(all, parent)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if (a == "INBOX") != (b == "INBOX") {
			return a == "INBOX"
		}
		return a < b
	})

	// selected says whether a name meets the selection options.
	selected := func(name string) bool {
		mb := byName[name]
		if mb == nil {
			return false
		}
		if options.SelectSubscribed && !mb.subscribed {
			return false
		}
		if options.SelectSpecialUse && mb.specialUse == "" {
			return false
		}
		return true
	}
	anySelection := options.SelectSubscribed || options.SelectSpecialUse

	for _, name := range all {
		if !matchAnyPattern(name, ref, patterns) {
			continue
		}
		mb := byName[name]
		data := imap.ListData{Mailbox: name, Delim: mailboxDelim}
		if !selected(name) {
			if !anySelection && mb == nil {
				// an implied parent in a plain LIST
				data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect, imap.MailboxAttrHasChildren)
				if err := w.WriteList(&data); err != nil {
					return err
				}
				continue
			}
			if !options.SelectRecursiveMatch || !hasSelectedDescendant(name, names, selected) {
				continue
			}
			// RFC 5258 §3.5: listed for a descendant that meets the
			// selection criteria.
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: options.SelectSubscribed}
		}
		if mb == nil {
			data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
		}
		if children[name] {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if mb != nil {
			if mb.subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
				data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
			}
			// RFC 6154 §1: special-use attributes are returned in LIST
			// responses whether or not they were asked for.
			for _, a := range strings.Fields(mb.specialUse) {
				data.Attrs = append(data.Attrs, imap.MailboxAttr(a))
			}
			if options.ReturnStatus != nil {
				st, err := sess.status(ctx, sess.s.db, *mb, options.ReturnStatus)
				if err != nil {
					return sess.err("list", err)
				}
				data.Status = st
			}
		}
		if err := w.WriteList(&data); err != nil {
			return err
		}
	}
	return nil
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
