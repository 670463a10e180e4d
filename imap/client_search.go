package imap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// ParseSearch parses an IMAP search program: the search keys of a SEARCH
// command (RFC 9051 §6.4.4), as an IMAP URL's query carries them (RFC 5092
// §6, once unescaped):
//
//	SUBJECT hello FROM bob@example.org UNSEEN
//	OR (FROM alice) (FROM bob) SINCE 1-Jan-2026 NOT HEADER X-Spam yes
//
// A list of keys means all of them. Keys are case-insensitive. Arguments
// are atoms or quoted strings ("hello world"). Dates are d-Mon-yyyy (RFC
// 9051) or yyyy-mm-dd. A leading "CHARSET UTF-8" (or US-ASCII) is accepted.
// Literals, RECENT, NEW and OLD (which IMAP4rev2 removed) and extension keys
// are not. This function doesn't perform I/O.
func ParseSearch(s string) (*imap.SearchCriteria, error) {
	p := &searchParser{s: s}
	c := &imap.SearchCriteria{}
	if err := p.charset(); err != nil {
		return nil, err
	}
	if err := p.keys(c, false); err != nil {
		return nil, fmt.Errorf("imap: search %q: %w", s, err)
	}
	return c, nil
}

// searchParser reads a search program from s.
type searchParser struct {
	s   string
	pos int
}

type tokenKind int

const (
	tokenEOF tokenKind = iota
	tokenAtom
	tokenQuoted
	tokenOpen  // (
	tokenClose // )
)

// next returns the next token.
func (p *searchParser) next() (string, tokenKind, error) {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
	if p.pos == len(p.s) {
		return "", tokenEOF, nil
	}
	switch c := p.s[p.pos]; c {
	case '(':
		p.pos++
		return "(", tokenOpen, nil
	case ')':
		p.pos++
		return ")", tokenClose, nil
	case '"':
		var b strings.Builder
		for i := p.pos + 1; i < len(p.s); i++ {
			switch p.s[i] {
			case '"':
				p.pos = i + 1
				return b.String(), tokenQuoted, nil
			case '\\':
				if i+1 < len(p.s) && (p.s[i+1] == '"' || p.s[i+1] == '\\') {
					i++
				}
			}
			b.WriteByte(p.s[i])
		}
		return "", tokenEOF, errors.New("unterminated quoted string")
	case '{':
		return "", tokenEOF, errors.New("literals are not supported: quote the string")
	}
	start := p.pos
	for p.pos < len(p.s) && !isSearchSpecial(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos], tokenAtom, nil
}

func isSearchSpecial(c byte) bool {
	return c == ' ' || c == '\t' || c == '(' || c == ')' || c == '"' || c < ' ' || c == 0x7f
}

// charset skips a leading "CHARSET UTF-8" or "CHARSET US-ASCII".
func (p *searchParser) charset() error {
	save := p.pos
	tok, kind, err := p.next()
	if err != nil || kind != tokenAtom || !strings.EqualFold(tok, "CHARSET") {
		p.pos = save
		return nil
	}
	cs, _, err := p.next()
	if err != nil {
		return err
	}
	if !strings.EqualFold(cs, "UTF-8") && !strings.EqualFold(cs, "US-ASCII") {
		return fmt.Errorf("imap: search charset %q is not supported: use UTF-8", cs)
	}
	return nil
}

// keys parses search keys into c until the end of the program or, in a
// list, the closing parenthesis.
func (p *searchParser) keys(c *imap.SearchCriteria, inList bool) error {
	n := 0
	for {
		save := p.pos
		_, kind, err := p.next()
		if err != nil {
			return err
		}
		switch {
		case kind == tokenEOF && inList:
			return errors.New(`missing ")"`)
		case kind == tokenEOF && n == 0:
			return errors.New("no search key")
		case kind == tokenEOF:
			return nil
		case kind == tokenClose && !inList:
			return errors.New(`unexpected ")"`)
		case kind == tokenClose && n == 0:
			return errors.New("empty ()")
		case kind == tokenClose:
			return nil
		}
		p.pos = save
		k, err := p.key()
		if err != nil {
			return err
		}
		andCriteria(c, k)
		n++
	}
}

// key parses one search key.
func (p *searchParser) key() (*imap.SearchCriteria, error) {
	tok, kind, err := p.next()
	if err != nil {
		return nil, err
	}
	c := &imap.SearchCriteria{}
	switch kind {
	case tokenOpen:
		return c, p.keys(c, true)
	case tokenAtom:
	case tokenEOF:
		return nil, errors.New("search key missing at the end")
	default:
		return nil, fmt.Errorf("search key expected, not %q", tok)
	}
	name := strings.ToUpper(tok)
	switch name {
	case "ALL":
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
		c.Flag = []imap.Flag{systemFlag(name)}
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		c.NotFlag = []imap.Flag{systemFlag(name[2:])}
	case "KEYWORD", "UNKEYWORD":
		kw, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		if kw == "" || strings.HasPrefix(kw, `\`) {
			return nil, fmt.Errorf("%s needs a keyword, not %q", name, kw)
		}
		if name == "KEYWORD" {
			c.Flag = []imap.Flag{imap.Flag(kw)}
		} else {
			c.NotFlag = []imap.Flag{imap.Flag(kw)}
		}
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		c.Header = []imap.SearchCriteriaHeaderField{{Key: headerKey(name), Value: v}}
	case "HEADER":
		field, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		if field == "" || strings.ContainsAny(field, ": ") {
			return nil, fmt.Errorf("HEADER needs a field name, not %q", field)
		}
		v, err := p.arg(name + " " + field)
		if err != nil {
			return nil, err
		}
		c.Header = []imap.SearchCriteriaHeaderField{{Key: field, Value: v}}
	case "BODY", "TEXT":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		if name == "BODY" {
			c.Body = []string{v}
		} else {
			c.Text = []string{v}
		}
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		if err := p.date(c, name); err != nil {
			return nil, err
		}
	case "LARGER", "SMALLER":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s needs a size in bytes, not %q", name, v)
		}
		if name == "LARGER" {
			c.Larger = n
		} else if c.Smaller = n; n == 0 {
			return nil, errors.New("SMALLER 0 matches nothing")
		}
	case "UID":
		v, err := p.arg(name)
		if err != nil {
			return nil, err
		}
		ranges, ok := parseNumSet(v)
		if !ok {
			return nil, fmt.Errorf("UID needs a UID set (1:5,7), not %q", v)
		}
		var set imap.UIDSet
		for _, r := range ranges {
			set.AddRange(imap.UID(r[0]), imap.UID(r[1]))
		}
		c.UID = []imap.UIDSet{set}
	case "NOT":
		k, err := p.key()
		if err != nil {
			return nil, fmt.Errorf("NOT: %w", err)
		}
		c.Not = []imap.SearchCriteria{*k}
	case "OR":
		a, err := p.key()
		if err != nil {
			return nil, fmt.Errorf("OR: %w", err)
		}
		b, err := p.key()
		if err != nil {
			return nil, fmt.Errorf("OR: %w", err)
		}
		c.Or = [][2]imap.SearchCriteria{{*a, *b}}
	case "RECENT", "NEW", "OLD":
		return nil, fmt.Errorf("%s is not supported (IMAP4rev2 removed \\Recent)", name)
	default:
		ranges, ok := parseNumSet(tok)
		if !ok {
			return nil, fmt.Errorf("unknown search key %q", tok)
		}
		var set imap.SeqSet
		for _, r := range ranges {
			set.AddRange(r[0], r[1])
		}
		c.SeqNum = []imap.SeqSet{set}
	}
	return c, nil
}

// arg reads the argument of key: an atom or a quoted string.
func (p *searchParser) arg(key string) (string, error) {
	tok, kind, err := p.next()
	if err != nil {
		return "", err
	}
	if kind != tokenAtom && kind != tokenQuoted {
		return "", fmt.Errorf("%s needs an argument", key)
	}
	return tok, nil
}

// date reads the date of key into c. As RFC 9051 §6.4.4 says, only the date
// counts: SINCE is on or after it, BEFORE before it, ON on it.
func (p *searchParser) date(c *imap.SearchCriteria, key string) error {
	v, err := p.arg(key)
	if err != nil {
		return err
	}
	d, err := ParseSearchDate(v)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	next := d.AddDate(0, 0, 1)
	switch key {
	case "BEFORE":
		c.Before = d
	case "ON":
		c.Since, c.Before = d, next
	case "SINCE":
		c.Since = d
	case "SENTBEFORE":
		c.SentBefore = d
	case "SENTON":
		c.SentSince, c.SentBefore = d, next
	case "SENTSINCE":
		c.SentSince = d
	}
	return nil
}

// ParseSearchDate parses a date as IMAP writes it (RFC 9051 date-text,
// "2-Jan-2006", the month in any case) or as yyyy-mm-dd, and returns
// midnight of that day in UTC. This function doesn't perform I/O.
func ParseSearchDate(s string) (time.Time, error) {
	for _, layout := range []string{"2-Jan-2006", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want a date as 2-Jan-2006 or 2006-01-02, not %q", s)
}

func systemFlag(name string) imap.Flag {
	return imap.Flag(`\` + name[:1] + strings.ToLower(name[1:]))
}

func headerKey(name string) string {
	switch name {
	case "BCC":
		return "Bcc"
	case "CC":
		return "Cc"
	}
	return name[:1] + strings.ToLower(name[1:])
}

// parseNumSet parses a sequence set (RFC 9051 sequence-set: "1:5,7,9:*"),
// "*" as 0, as go-imap's number sets write it.
func parseNumSet(s string) ([][2]uint32, bool) {
	if s == "" {
		return nil, false
	}
	var out [][2]uint32
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, ok := parseSeqNumber(lo)
		if !ok {
			return nil, false
		}
		b := a
		if isRange {
			if b, ok = parseSeqNumber(hi); !ok {
				return nil, false
			}
		}
		if a == 0 || b != 0 && a > b { // "*:5" is "5:*", "9:2" is "2:9"
			a, b = b, a
		}
		out = append(out, [2]uint32{a, b})
	}
	return out, true
}

func parseSeqNumber(s string) (uint32, bool) {
	if s == "*" {
		return 0, true
	}
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// andCriteria adds the keys of other to c: a message must meet both. It is
// imap.SearchCriteria.And, which (in go-imap v2.0.0-beta.8) drops a SMALLER
// of c when other has none.
func andCriteria(c, other *imap.SearchCriteria) {
	smaller := c.Smaller
	c.And(other)
	switch {
	case smaller == 0:
		c.Smaller = other.Smaller
	case other.Smaller == 0:
		c.Smaller = smaller
	default:
		c.Smaller = min(smaller, other.Smaller)
	}
}

// SearchMessages examines mailbox (read-only: flags are not changed) and
// returns a summary of each message that meets criteria (UID SEARCH, then
// UID FETCH), in UID order. A nil criteria matches every message, without
// a SEARCH. If ctx ends first, the client is closed.
func SearchMessages(ctx context.Context, c *imapclient.Client, mailbox string, criteria *imap.SearchCriteria) ([]MessageSummary, error) {
	defer closeOnCancel(ctx, c)()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, err
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	var set imap.NumSet
	if criteria == nil {
		var all imap.SeqSet
		all.AddRange(1, 0)
		set = all
	} else {
		data, err := c.UIDSearch(criteria, nil).Wait()
		if err != nil {
			return nil, err
		}
		uids := data.AllUIDs()
		if len(uids) == 0 {
			return nil, nil
		}
		set = imap.UIDSetNum(uids...)
	}
	msgs, err := c.Fetch(set, summaryItems).Collect()
	if err != nil {
		return nil, err
	}
	out := make([]MessageSummary, 0, len(msgs))
	for _, m := range msgs {
		s := summarize(m)
		s.UIDValidity = sel.UIDValidity
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b MessageSummary) int { return cmp.Compare(a.UID, b.UID) })
	return out, nil
}

// ErrUIDValidity is returned by DeleteMessages when the mailbox is no longer
// the one the messages were listed from (its UIDVALIDITY changed).
var ErrUIDValidity = errors.New("imap: the mailbox's UIDVALIDITY changed")

// DeleteMessages selects mailbox (read-write), marks msgs \Deleted and
// expunges exactly them (UID STORE, then UID EXPUNGE: RFC 4315 §2.1, so
// other messages marked \Deleted stay), and returns how many the server
// expunged: fewer than len(msgs) if some were already gone. The server must
// offer UIDPLUS or IMAP4rev2. msgs come from SearchMessages, ListMessages,
// or Watch on mailbox; if their UIDValidity is set and the mailbox's differs,
// nothing is deleted and the error is ErrUIDValidity. If ctx ends first, the
// client is closed.
func DeleteMessages(ctx context.Context, c *imapclient.Client, mailbox string, msgs []MessageSummary) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	defer closeOnCancel(ctx, c)()
	if caps := c.Caps(); !caps.Has(imap.CapUIDPlus) && !caps.Has(imap.CapIMAP4rev2) {
		return 0, errors.New("imap: the server offers no UID EXPUNGE (UIDPLUS), which deleting only some messages needs")
	}
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		return 0, err
	}
	var uids imap.UIDSet
	for _, m := range msgs {
		if m.UIDValidity != 0 && m.UIDValidity != sel.UIDValidity {
			return 0, fmt.Errorf("%w: %d, listed as %d", ErrUIDValidity, sel.UIDValidity, m.UIDValidity)
		}
		uids.AddNum(m.UID)
	}
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(uids, store, nil).Close(); err != nil {
		return 0, err
	}
	expunged, err := c.UIDExpunge(uids).Collect()
	return len(expunged), err
}
