package store

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// loadBody returns the body of message m of mailbox mbox in memory.
func loadBody(ctx context.Context, q *bodyQueries, mbox int64, m *msgMeta) ([]byte, error) {
	b, err := openBody(ctx, q, m.id, mbox, uint32(m.uid), m.size)
	if err != nil {
		return nil, err
	}
	return b.readAll(ctx)
}

// Search returns the messages that meet criteria (RFC 9051 §6.4.4), by
// sequence number or UID as kind says; with RETURN (SAVE) (RFC 5182) it
// keeps them for "$".
func (sess *imapSession) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	sel := sess.sel
	if sel == nil {
		return nil, noSelection
	}
	ctx, s := sess.ctx, sess.s
	var refs []msgRef
	err := s.snapshot(func() error {
		var err error
		refs, err = sess.view(ctx, s.db)
		return err
	})
	if err != nil {
		return nil, sess.err("search", err)
	}
	crit := sess.staticCriteria(refs, criteria)
	needBody := criteriaNeedBody(crit)
	res := searchResults{kind: kind}
	for len(refs) > 0 {
		chunk := refs[:min(fetchChunk, len(refs))]
		refs = refs[len(chunk):]
		meta, err := loadMeta(ctx, s.db, sel.id, chunk)
		if err != nil {
			return nil, sess.err("search", err)
		}
		for _, r := range chunk {
			m := meta[r.id]
			if m == nil || r.cseq == 0 {
				continue
			}
			sm := &searchMsg{meta: m, seq: r.cseq}
			if needBody {
				if sm.body, err = loadBody(ctx, s.bodies, sel.id, m); err != nil {
					continue
				}
			}
			if sm.match(crit) {
				res.add(m.uid, r.cseq)
			}
		}
	}
	if options != nil && options.ReturnSave {
		sel.searchRes = res.uids
	}
	return res.data(), nil
}

// searchResults gathers the messages a SEARCH matched.
type searchResults struct {
	kind imapserver.NumKind
	sum  imap.SearchData // Min, Max and Count
	seqs imap.SeqSet
	uids imap.UIDSet
}

// add records a message that matched.
func (r *searchResults) add(uid imap.UID, seq uint32) {
	r.uids.AddNum(uid)
	num := seq
	if r.kind == imapserver.NumKindUID {
		num = uint32(uid)
	} else {
		r.seqs.AddNum(seq)
	}
	if r.sum.Min == 0 || num < r.sum.Min {
		r.sum.Min = num
	}
	if num > r.sum.Max {
		r.sum.Max = num
	}
	r.sum.Count++
}

// data returns the SEARCH result.
func (r *searchResults) data() *imap.SearchData {
	data := r.sum
	if r.kind == imapserver.NumKindUID {
		data.All = r.uids
	} else {
		data.All = r.seqs
	}
	return &data
}

// staticCriteria returns a copy of criteria with "*" and "$" in its number
// sets resolved for this session.
func (sess *imapSession) staticCriteria(refs []msgRef, c *imap.SearchCriteria) *imap.SearchCriteria {
	out := *c
	var maxSeq uint32
	for i := len(refs) - 1; i >= 0; i-- {
		if refs[i].cseq != 0 {
			maxSeq = refs[i].cseq
			break
		}
	}
	var maxUID uint32
	if len(refs) > 0 {
		maxUID = uint32(refs[len(refs)-1].uid)
	}
	out.SeqNum = nil
	out.UID = nil
	for _, set := range c.SeqNum {
		ranges := make([][2]uint32, len(set))
		for i, r := range set {
			ranges[i] = [2]uint32{r.Start, r.Stop}
		}
		out.SeqNum = append(out.SeqNum, staticSet(ranges, maxSeq))
	}
	for _, set := range c.UID {
		if imap.IsSearchRes(set) {
			set = sess.sel.searchRes
		}
		ranges := make([][2]uint32, len(set))
		for i, r := range set {
			ranges[i] = [2]uint32{uint32(r.Start), uint32(r.Stop)}
		}
		var u imap.UIDSet
		for _, r := range staticSet(ranges, maxUID) {
			u.AddRange(imap.UID(r.Start), imap.UID(r.Stop))
		}
		if u == nil {
			u = imap.UIDSet{} // matches nothing
		}
		out.UID = append(out.UID, u)
	}
	for i, set := range out.SeqNum {
		if set == nil {
			out.SeqNum[i] = imap.SeqSet{}
		}
	}
	out.Not = make([]imap.SearchCriteria, len(c.Not))
	for i := range c.Not {
		out.Not[i] = *sess.staticCriteria(refs, &c.Not[i])
	}
	out.Or = make([][2]imap.SearchCriteria, len(c.Or))
	for i := range c.Or {
		out.Or[i][0] = *sess.staticCriteria(refs, &c.Or[i][0])
		out.Or[i][1] = *sess.staticCriteria(refs, &c.Or[i][1])
	}
	return &out
}

func criteriaNeedBody(c *imap.SearchCriteria) bool {
	if len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		return true
	}
	for i := range c.Not {
		if criteriaNeedBody(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if criteriaNeedBody(&c.Or[i][0]) || criteriaNeedBody(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// searchMsg is a message being matched against SEARCH criteria.
type searchMsg struct {
	meta   *msgMeta
	seq    uint32
	body   []byte
	header *mail.Header // parsed on first use
}

func (m *searchMsg) hdr() *mail.Header {
	if m.header == nil {
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(m.body)))
		m.header = &mail.Header{Header: gomessage.Header{Header: h}}
	}
	return m.header
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, g := range flags {
		if strings.EqualFold(string(g), string(f)) {
			return true
		}
	}
	return false
}

func (m *searchMsg) match(c *imap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if !set.Contains(m.seq) {
			return false
		}
	}
	for _, set := range c.UID {
		if !set.Contains(m.meta.uid) {
			return false
		}
	}
	if !matchDate(m.meta.date, c.Since, c.Before) {
		return false
	}
	for _, f := range c.Flag {
		if !hasFlag(m.meta.flags, f) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if hasFlag(m.meta.flags, f) {
			return false
		}
	}
	if c.Larger != 0 && m.meta.size <= c.Larger {
		return false
	}
	if c.Smaller != 0 && m.meta.size >= c.Smaller {
		return false
	}
	if len(c.Header) > 0 {
		h := m.hdr()
		for _, f := range c.Header {
			if !matchHeaderFields(h.FieldsByKey(f.Key), f.Value) {
				return false
			}
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		h := m.hdr()
		t, err := h.Date()
		if err != nil || h.Get("Date") == "" || !matchDate(t, c.SentSince, c.SentBefore) {
			return false
		}
	}
	for _, text := range c.Text {
		if !matchBody(m.body, text, true) {
			return false
		}
	}
	for _, text := range c.Body {
		if !matchBody(m.body, text, false) {
			return false
		}
	}
	for i := range c.Not {
		if m.match(&c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !m.match(&c.Or[i][0]) && !m.match(&c.Or[i][1]) {
			return false
		}
	}
	return true
}

// matchDate compares dates without time or zone, as RFC 9051 §6.4.4 asks.
func matchDate(t, since, before time.Time) bool {
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && t.Before(since) {
		return false
	}
	if !before.IsZero() && !t.Before(before) {
		return false
	}
	return true
}

func matchHeaderFields(fields gomessage.HeaderFields, pattern string) bool {
	if pattern == "" {
		return fields.Len() > 0
	}
	pattern = strings.ToLower(pattern)
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
}

// matchBody searches the text of a message (its headers too when
// withHeader), decoded, case-insensitively. A message with too many MIME
// containers is searched as raw bytes.
func matchBody(body []byte, pattern string, withHeader bool) bool {
	if pattern == "" {
		return true
	}
	if tooManyContainers(body) {
		return bytes.Contains(bytes.ToLower(body), bytes.ToLower([]byte(pattern)))
	}
	e, err := gomessage.Read(bytes.NewReader(body))
	if e == nil {
		return bytes.Contains(bytes.ToLower(body), bytes.ToLower([]byte(pattern)))
	}
	_ = err // an unknown charset or encoding still gives an entity
	return matchEntity(e, strings.ToLower(pattern), withHeader, 0)
}

func matchEntity(e *gomessage.Entity, pattern string, withHeader bool, depth int) bool {
	if withHeader && matchHeaderFields(e.Header.Fields(), pattern) {
		return true
	}
	if depth > maxMIMEDepth {
		return false
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			part, err := mr.NextPart()
			if err != nil {
				return false
			}
			if matchEntity(part, pattern, withHeader, depth+1) {
				return true
			}
		}
	}
	t, _, err := e.Header.ContentType()
	if err != nil {
		t = "text/plain"
	}
	if !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	buf, err := io.ReadAll(e.Body)
	if err != nil && len(buf) == 0 {
		return false
	}
	return bytes.Contains(bytes.ToLower(buf), []byte(pattern))
}
