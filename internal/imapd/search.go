package imapd

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("SEARCH", stateSelected, cmdSearch)
	register("UID SEARCH", stateSelected, cmdSearch)
}

// errBadCharset answers a CHARSET other than UTF-8 and US-ASCII (RFC 9051
// §6.4.4: the server lists those it supports).
var errBadCharset = &Error{Code: "BADCHARSET (UTF-8 US-ASCII)", Text: "Unsupported charset."}

// checkCharset refuses a CHARSET the server does not search in.
func checkCharset(cs string) error {
	switch cs {
	case "", "UTF-8", "US-ASCII":
		return nil
	}
	return errBadCharset
}

// cmdSearch answers SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501
// §6.4.4), with the RETURN options of ESEARCH (RFC 4731), SEARCHRES (RFC
// 5182), CONTEXT=SEARCH (RFC 5267) and PARTIAL (RFC 9394).
func cmdSearch(c *conn, tag string) error {
	args, err := c.dec.ReadSearch()
	if err != nil {
		return err
	}
	uid := c.cmd == "UID SEARCH"
	if err := checkCharset(args.Charset); err != nil {
		return c.searchFailed(args, err)
	}
	ret := &args.Return
	if ret.Update && (ret.Save || ret.Partial != nil) {
		// RFC 5267 §4.2 and RFC 9394 §3: UPDATE is not combined with them.
		return &Error{Type: "BAD", Text: "UPDATE can't be combined with SAVE or PARTIAL."}
	}
	s := c.newSearch(&args.Key)
	found, err := s.run(c.ctx, nil)
	if err != nil {
		return c.searchFailed(args, err)
	}
	if s.modSeq {
		c.enable("CONDSTORE")
	}
	res := c.resultOf(found, uid)
	res.modSeq = s.modSeq
	if ret.Save {
		c.sel.saved = savedOf(res, ret, false)
	}
	if err := c.writeSearch(tag, args, res); err != nil {
		return err
	}
	if ret.Update && !c.addContext(tag, uid, &args.Key, found) {
		// RFC 5267 §4.2: the search is answered, but not kept updated.
		err := c.enc.StatusResponse("", "NO", "NOUPDATE "+strconv.Quote(tag), "Too many searches kept updated.")
		if err != nil {
			return err
		}
	}
	return c.ok(tag, "", "Search completed.")
}

// searchFailed empties the saved result when a SEARCH that would have
// saved fails (RFC 5182 §2.1), and returns err.
func (c *conn) searchFailed(args *imapwire.SearchArgs, err error) error {
	if args.Return.Save {
		c.sel.saved = []uint32{}
	}
	return err
}

// A result is the outcome of SEARCH or SORT: the messages found, in the
// order to report them, with what ESEARCH needs of each.
type result struct {
	uid     bool
	nums    []uint32 // sequence numbers or UIDs, as the command asked
	uids    []uint32 // the UIDs of the same messages
	modSeqs []uint64 // their mod-sequences
	modSeq  bool     // the search had a MODSEQ key: report MODSEQ (RFC 7162 §3.1.5)
}

// resultOf returns the result for the messages found (indexes of the view,
// ascending).
func (c *conn) resultOf(found []int, uid bool) *result {
	r := &result{uid: uid, nums: make([]uint32, len(found)), uids: make([]uint32, len(found)),
		modSeqs: make([]uint64, len(found))}
	for i, ix := range found {
		m := &c.sel.msgs[ix]
		r.uids[i], r.modSeqs[i] = m.UID, m.ModSeq
		r.nums[i] = uint32(ix + 1)
		if uid {
			r.nums[i] = m.UID
		}
	}
	return r
}

// savedOf returns what SAVE keeps of a result (RFC 5182 §2.4, RFC 9394
// §3.2): with ALL or COUNT, every message; else those that MIN, MAX and
// PARTIAL return (MIN and MAX in the result's order if sorted). The
// result is UIDs, ascending.
func savedOf(r *result, ret *imapwire.SearchReturn, sorted bool) []uint32 {
	out := []uint32{}
	if ret.All || ret.Count || (!ret.Min && !ret.Max && ret.Partial == nil) {
		out = append(out, r.uids...)
	} else {
		for _, i := range returned(r, ret, sorted) {
			out = append(out, r.uids[i])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// returned returns the indexes in r of the messages that MIN, MAX and
// PARTIAL return, for SAVE and MODSEQ.
func returned(r *result, ret *imapwire.SearchReturn, sorted bool) []int {
	n := len(r.nums)
	if n == 0 {
		return nil
	}
	var out []int
	lo, hi := 0, n-1
	if !sorted {
		lo, hi = minMaxIndex(r.nums)
	}
	if ret.Min {
		out = append(out, lo)
	}
	if ret.Max {
		out = append(out, hi)
	}
	if p := ret.Partial; p != nil {
		if a, b, ok := partialSpan(p, n); ok {
			for i := a; i < b; i++ {
				out = append(out, i)
			}
		}
	}
	return out
}

// partialSpan returns the indexes [a, b) of a result of n messages that
// the partial range p names (RFC 9394 §3.1: 1-based, from the end if
// negative), and false if it names none.
func partialSpan(p *imapwire.PartialRange, n int) (a, b int, ok bool) {
	first, last := orderedPartial(p)
	lo, hi := int64(first), int64(last)
	if first < 0 {
		lo, hi = int64(n)+lo+1, int64(n)+hi+1
	}
	lo, hi = max(lo, 1), min(hi, int64(n))
	if lo > hi {
		return 0, 0, false
	}
	return int(lo - 1), int(hi), true
}

// orderedPartial returns the bounds of p in increasing order: the client
// may send them either way.
func orderedPartial(p *imapwire.PartialRange) (first, last int32) {
	first, last = p.First, p.Last
	if first > last {
		first, last = last, first
	}
	return first, last
}

// minMaxIndex returns the indexes of the smallest and largest of nums,
// which is not empty.
func minMaxIndex(nums []uint32) (lo, hi int) {
	for i, n := range nums {
		if n < nums[lo] {
			lo = i
		}
		if n > nums[hi] {
			hi = i
		}
	}
	return lo, hi
}

// writeSearch writes the untagged response of a SEARCH: "* SEARCH" (RFC
// 3501 §7.2.5), or "* ESEARCH" when RETURN was given or IMAP4rev2 is
// enabled (RFC 9051 §7.3.4, RFC 4731). RETURN (SAVE) alone writes nothing
// (RFC 5182 §2.1).
func (c *conn) writeSearch(tag string, args *imapwire.SearchArgs, r *result) error {
	ret := args.Return
	if !ret.Given && !c.rev2() {
		c.enc.Star().Atom("SEARCH")
		for _, n := range r.nums {
			c.enc.SP().Number(n)
		}
		if r.modSeq && len(r.nums) > 0 {
			c.enc.Atom(" (MODSEQ ").Uint(slices.Max(r.modSeqs)).Special(')')
		}
		return c.enc.CRLF()
	}
	if ret.Save && !ret.Min && !ret.Max && !ret.All && !ret.Count && ret.Partial == nil && !ret.Update {
		return nil
	}
	if !ret.Min && !ret.Max && !ret.All && !ret.Count && ret.Partial == nil && !ret.Update && !ret.Save {
		ret.All = true
	}
	return c.writeESearch(tag, &ret, r, false)
}

// writeESearch writes "* ESEARCH (TAG tag) [UID] ..." with the return data
// that ret asks for (RFC 4731 §3.1, RFC 9394 §3.1): MIN and MAX, ALL (in
// the order of the result, which is the sort order for SORT), COUNT,
// PARTIAL, and MODSEQ if the search had a MODSEQ key: the highest of the
// messages returned (RFC 7162 §3.1.5). sorted says that MIN and MAX are
// the first and last in the result's order (ESORT, RFC 5267 §3.1).
func (c *conn) writeESearch(tag string, ret *imapwire.SearchReturn, r *result, sorted bool) error {
	c.enc.Star().Atom("ESEARCH (TAG ").String(tag).Special(')')
	if r.uid {
		c.enc.Atom(" UID")
	}
	if n := len(r.nums); n > 0 {
		lo, hi := 0, n-1
		if !sorted {
			lo, hi = minMaxIndex(r.nums)
		}
		if ret.Min {
			c.enc.Atom(" MIN ").Number(r.nums[lo])
		}
		if ret.Max {
			c.enc.Atom(" MAX ").Number(r.nums[hi])
		}
		if ret.All {
			c.enc.Atom(" ALL ").Atom(runsOf(r.nums, !sorted))
		}
	}
	if ret.Count {
		c.enc.Atom(" COUNT ").Number(uint32(len(r.nums)))
	}
	if p := ret.Partial; p != nil {
		c.writePartial(p, r.nums, !sorted)
	}
	// The MODSEQ of the messages returned: all of them for ALL and COUNT,
	// else those of MIN, MAX and PARTIAL, as Dovecot has it.
	var modSeq uint64
	if ret.All || ret.Count {
		for _, m := range r.modSeqs {
			modSeq = max(modSeq, m)
		}
	} else {
		for _, i := range returned(r, ret, sorted) {
			modSeq = max(modSeq, r.modSeqs[i])
		}
	}
	if r.modSeq && modSeq != 0 {
		c.enc.Atom(" MODSEQ ").Uint(modSeq)
	}
	return c.enc.CRLF()
}

// writePartial writes " PARTIAL (range set)" (RFC 9394 §3.1): the range as
// asked, its bounds in order, and the numbers at those positions of nums,
// NIL if none.
func (c *conn) writePartial(p *imapwire.PartialRange, nums []uint32, ascending bool) {
	first, last := orderedPartial(p)
	c.enc.Atom(" PARTIAL (").Atom(partialString(first, last)).SP()
	a, b, ok := partialSpan(p, len(nums))
	if !ok {
		c.enc.NIL().Special(')')
		return
	}
	c.enc.Atom(runsOf(nums[a:b], ascending)).Special(')')
}

// partialString writes a partial-range.
func partialString(first, last int32) string {
	return itoa(int64(first)) + ":" + itoa(int64(last))
}

func itoa(n int64) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// runsOf writes nums in sequence-set syntax: compacted and ascending if
// ascending is set (nums are then ascending already), else in their order,
// with runs of consecutive ascending numbers as ranges (ESORT's ALL keeps
// the sort order, RFC 5267 §3.1).
func runsOf(nums []uint32, ascending bool) string {
	if ascending {
		return imapwire.SeqSetOf(nums...).String()
	}
	var b []byte
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, itoa(int64(nums[i]))...)
		if j > i {
			b = append(b, ':')
			b = append(b, itoa(int64(nums[j]))...)
		}
		i = j + 1
	}
	return string(b)
}

// A search is a search program compiled for the selected mailbox's view.
type search struct {
	root   *node
	msgs   []MessageState // the view the sets were compiled for
	saved  []uint32
	mbox   Mailbox
	now    time.Time
	modSeq bool // the program has a MODSEQ key
	needSD bool // it has a key that needs SortData
	needTx bool // it has a key that needs the message's text
	// needBody: it has BODY or TEXT, which need the whole message; the
	// other text keys need only the header.
	needBody bool
}

// newSearch compiles key over the connection's view.
func (c *conn) newSearch(key *imapwire.SearchKey) *search {
	s := &search{msgs: c.sel.msgs, saved: c.sel.saved, mbox: c.sel.mbox, now: time.Now()}
	s.root = s.compile(key)
	return s
}

// run returns the indexes in s.msgs of the messages that match, ascending:
// of those of only if it is not nil. It evaluates what the view says
// first, then reads the sort data of the messages that can still match,
// and only then their text, one message at a time.
func (s *search) run(ctx context.Context, only []int) ([]int, error) {
	cand := only
	if cand == nil {
		cand = make([]int, len(s.msgs))
		for i := range cand {
			cand[i] = i
		}
	}
	var found, unknown []int
	for _, ix := range cand {
		switch s.root.eval(s, &msgCtx{ix: ix, m: &s.msgs[ix]}) {
		case yes:
			found = append(found, ix)
		case maybe:
			unknown = append(unknown, ix)
		}
	}
	if len(unknown) == 0 {
		return found, nil
	}
	more, err := s.deep(ctx, unknown)
	if err != nil {
		return nil, err
	}
	found = append(found, more...)
	slices.Sort(found)
	return found, nil
}

// deep decides the messages (indexes) that the view alone could not: with
// their SortData, then their text.
func (s *search) deep(ctx context.Context, unknown []int) ([]int, error) {
	byUID := make(map[uint32]*msgCtx, len(unknown))
	uids := make([]uint32, len(unknown))
	for i, ix := range unknown {
		uids[i] = s.msgs[ix].UID
		byUID[uids[i]] = &msgCtx{ix: ix, m: &s.msgs[ix]}
	}
	var found []int
	if s.needSD {
		sds, err := s.mbox.SortData(ctx, uids)
		if err != nil {
			return nil, err
		}
		for i := range sds {
			if mc := byUID[sds[i].UID]; mc != nil {
				mc.sd = &sds[i]
			}
		}
		uids = uids[:0]
		for _, mc := range byUID {
			if mc.sd == nil {
				mc.sd = &SortData{}
			}
			switch s.root.eval(s, mc) {
			case yes:
				found = append(found, mc.ix)
			case maybe:
				uids = append(uids, mc.m.UID)
			}
		}
		slices.Sort(uids)
	}
	if len(uids) == 0 || !s.needTx {
		return found, nil
	}
	var buf []byte
	err := s.mbox.Fetch(ctx, uids, func(msg *Message) error {
		mc := byUID[msg.UID]
		if mc == nil {
			return nil
		}
		var err error
		if buf, err = readMessage(msg, buf, !s.needBody); err != nil {
			return err
		}
		mc.text = newMsgText(buf)
		if s.root.eval(s, mc) == yes {
			found = append(found, mc.ix)
		}
		mc.text = nil
		return nil
	})
	return found, err
}

// readMessage reads msg into buf, whose memory it reuses: the whole
// message, or, if headerOnly is set, its header up to and including the
// blank line (all of it if there is none), read in growing chunks so that
// the body of a large message is not read for a header key.
func readMessage(msg *Message, buf []byte, headerOnly bool) ([]byte, error) {
	buf = buf[:0]
	want := msg.Size
	if headerOnly {
		want = min(msg.Size, 8<<10)
	}
	for {
		have := int64(len(buf))
		buf = slices.Grow(buf, int(want-have))[:want]
		n, err := msg.Body.ReadAt(buf[have:], have)
		if int64(n) < want-have {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if !headerOnly || want == msg.Size {
			return buf, nil
		}
		if i := messageHeaderEnd(buf); i >= 0 {
			return buf[:i], nil
		}
		want = min(msg.Size, 2*want)
	}
}

// messageHeaderEnd returns the length of the header at the start of msg,
// including the blank line that ends it, or -1 if msg holds no blank line.
func messageHeaderEnd(msg []byte) int {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return 2
	}
	if bytes.HasPrefix(msg, []byte("\n")) {
		return 1
	}
	for i := 0; ; {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case bytes.HasPrefix(msg[i:], []byte("\r\n")):
			return i + 2
		case bytes.HasPrefix(msg[i:], []byte("\n")):
			return i + 1
		}
	}
}

// tri is the value of a key for a message whose data may not all have
// been read: yes, no, or maybe (it depends on data not read yet).
type tri int8

const (
	no tri = iota
	yes
	maybe
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

// msgCtx is a message being evaluated, with what has been read of it.
type msgCtx struct {
	ix   int // index in the view: sequence number - 1
	m    *MessageState
	sd   *SortData // nil until read
	text *msgText  // nil until read
}

// A node is a compiled search key.
type node struct {
	kind   imapwire.SearchKeyKind
	kids   []*node
	ranges []imapwire.SeqRange // normalized, for sequence and UID sets
	saved  bool                // a "$" set (RFC 5182)
	uids   []uint32            // a "$" set: the saved UIDs, ascending
	text   string              // folded needle; flag; header field name (lower case)
	field  string
	day    int // date keys: year*10000+month*100+day
	num    uint64
}

// compile turns k into a node, normalizing its sets against the view.
func (s *search) compile(k *imapwire.SearchKey) *node {
	n := &node{kind: k.Kind, num: k.Num}
	for i := range k.Keys {
		n.kids = append(n.kids, s.compile(&k.Keys[i]))
	}
	switch k.Kind {
	case imapwire.SearchSeqSet, imapwire.SearchUID:
		if k.Seq.Saved {
			n.uids, n.saved = s.saved, true
			n.kind = imapwire.SearchUID
			break
		}
		var max uint32
		if k.Kind == imapwire.SearchSeqSet {
			max = uint32(len(s.msgs))
		} else if len(s.msgs) > 0 {
			max = s.msgs[len(s.msgs)-1].UID
		}
		n.ranges = k.Seq.Normalize(max).Ranges
	case imapwire.SearchKeyword, imapwire.SearchUnkeyword:
		n.text = k.Text
	case imapwire.SearchBcc, imapwire.SearchBody, imapwire.SearchCc, imapwire.SearchFrom,
		imapwire.SearchSubject, imapwire.SearchText, imapwire.SearchTo, imapwire.SearchHeader:
		n.text = fold(k.Text)
		n.field = strings.ToLower(k.Field)
		s.needTx = true
		s.needBody = s.needBody || k.Kind == imapwire.SearchBody || k.Kind == imapwire.SearchText
	case imapwire.SearchBefore, imapwire.SearchOn, imapwire.SearchSince:
		n.day = dayOf(k.Date)
	case imapwire.SearchSentBefore, imapwire.SearchSentOn, imapwire.SearchSentSince:
		n.day = dayOf(k.Date)
		s.needSD = true
	case imapwire.SearchModSeq:
		s.modSeq = true
	}
	return n
}

// dayOf returns t's date, in t's own time zone, as one comparable number.
func dayOf(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// inRanges reports whether x is in ranges, which are normalized.
func inRanges(ranges []imapwire.SeqRange, x uint32) bool {
	i, _ := slices.BinarySearchFunc(ranges, x, func(r imapwire.SeqRange, x uint32) int {
		if r.Stop < x {
			return -1
		}
		if r.Start > x {
			return 1
		}
		return 0
	})
	return i < len(ranges) && ranges[i].Start <= x && x <= ranges[i].Stop
}

// eval returns the value of n for the message mc.
func (n *node) eval(s *search, mc *msgCtx) tri {
	switch n.kind {
	case imapwire.SearchAnd:
		v := yes
		for _, k := range n.kids {
			switch k.eval(s, mc) {
			case no:
				return no
			case maybe:
				v = maybe
			}
		}
		return v
	case imapwire.SearchOr:
		a := n.kids[0].eval(s, mc)
		if a == yes {
			return yes
		}
		b := n.kids[1].eval(s, mc)
		if b == yes {
			return yes
		}
		if a == no && b == no {
			return no
		}
		return maybe
	case imapwire.SearchNot:
		switch n.kids[0].eval(s, mc) {
		case yes:
			return no
		case no:
			return yes
		}
		return maybe
	}
	if v, ok := n.evalState(s, mc); ok {
		return v
	}
	if v, ok := n.evalSent(mc); ok {
		return v
	}
	if mc.text == nil {
		return maybe
	}
	return triOf(n.evalText(mc.text))
}

// evalState evaluates the keys that the view answers: flags, sets, sizes,
// internal dates, mod-sequences. It reports false for the other keys.
func (n *node) evalState(s *search, mc *msgCtx) (tri, bool) {
	m := mc.m
	switch n.kind {
	case imapwire.SearchAll:
		return yes, true
	case imapwire.SearchSeqSet:
		return triOf(inRanges(n.ranges, uint32(mc.ix+1))), true
	case imapwire.SearchUID:
		if n.saved {
			_, ok := slices.BinarySearch(n.uids, m.UID)
			return triOf(ok), true
		}
		return triOf(inRanges(n.ranges, m.UID)), true
	case imapwire.SearchAnswered, imapwire.SearchUnanswered:
		return triOf(hasFlag(m, `\Answered`) == (n.kind == imapwire.SearchAnswered)), true
	case imapwire.SearchDeleted, imapwire.SearchUndeleted:
		return triOf(hasFlag(m, `\Deleted`) == (n.kind == imapwire.SearchDeleted)), true
	case imapwire.SearchDraft, imapwire.SearchUndraft:
		return triOf(hasFlag(m, `\Draft`) == (n.kind == imapwire.SearchDraft)), true
	case imapwire.SearchFlagged, imapwire.SearchUnflagged:
		return triOf(hasFlag(m, `\Flagged`) == (n.kind == imapwire.SearchFlagged)), true
	case imapwire.SearchSeen, imapwire.SearchUnseen:
		return triOf(hasFlag(m, `\Seen`) == (n.kind == imapwire.SearchSeen)), true
	case imapwire.SearchKeyword, imapwire.SearchUnkeyword:
		return triOf(hasFlag(m, n.text) == (n.kind == imapwire.SearchKeyword)), true
	case imapwire.SearchNew:
		return triOf(m.Recent && !hasFlag(m, `\Seen`)), true
	case imapwire.SearchOld:
		return triOf(!m.Recent), true
	case imapwire.SearchRecent:
		return triOf(m.Recent), true
	case imapwire.SearchLarger:
		return triOf(uint64(m.Size) > n.num), true
	case imapwire.SearchSmaller:
		return triOf(uint64(m.Size) < n.num), true
	case imapwire.SearchBefore:
		return triOf(dayOf(m.InternalDate) < n.day), true
	case imapwire.SearchOn:
		return triOf(dayOf(m.InternalDate) == n.day), true
	case imapwire.SearchSince:
		return triOf(dayOf(m.InternalDate) >= n.day), true
	case imapwire.SearchOlder:
		// RFC 5032 §3: OLDER and YOUNGER are each other's complement.
		return triOf(!m.InternalDate.After(s.now.Add(-time.Duration(n.num) * time.Second))), true
	case imapwire.SearchYounger:
		return triOf(m.InternalDate.After(s.now.Add(-time.Duration(n.num) * time.Second))), true
	case imapwire.SearchModSeq:
		return triOf(m.ModSeq >= n.num), true
	case imapwire.SearchEmailID, imapwire.SearchThreadID:
		return no, true // OBJECTID (RFC 8474) is not offered: no message has one
	}
	return maybe, false
}

// evalSent evaluates the sent-date keys, from the message's SortData: a
// message without a Date field was sent on 1 January 1970, as Dovecot has
// it. It reports false for the other keys.
func (n *node) evalSent(mc *msgCtx) (tri, bool) {
	switch n.kind {
	case imapwire.SearchSentBefore, imapwire.SearchSentOn, imapwire.SearchSentSince:
	default:
		return maybe, false
	}
	if mc.sd == nil {
		return maybe, true
	}
	d := mc.sd.Date
	if d.IsZero() {
		d = time.Unix(0, 0).UTC()
	}
	day := dayOf(d)
	switch n.kind {
	case imapwire.SearchSentBefore:
		return triOf(day < n.day), true
	case imapwire.SearchSentOn:
		return triOf(day == n.day), true
	}
	return triOf(day >= n.day), true
}

// evalText evaluates a text key on the message's content.
func (n *node) evalText(t *msgText) bool {
	switch n.kind {
	case imapwire.SearchBcc:
		return t.matchAddresses("bcc", n.text)
	case imapwire.SearchCc:
		return t.matchAddresses("cc", n.text)
	case imapwire.SearchFrom:
		return t.matchAddresses("from", n.text)
	case imapwire.SearchTo:
		return t.matchAddresses("to", n.text)
	case imapwire.SearchSubject:
		return t.matchHeader("subject", n.text)
	case imapwire.SearchHeader:
		return t.matchHeader(n.field, n.text)
	case imapwire.SearchBody:
		return t.matchBody(n.text)
	case imapwire.SearchText:
		return t.matchText(n.text)
	}
	return false
}

// hasFlag reports whether m has flag (system flags in their canonical
// case; keywords compared without regard to case, as Dovecot does).
func hasFlag(m *MessageState, flag string) bool {
	for _, f := range m.Flags {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}
