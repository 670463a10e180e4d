package imapd

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("FETCH", stateSelected, func(c *conn, tag string) error { return c.fetch(tag, false) })
	register("UID FETCH", stateSelected, func(c *conn, tag string) error { return c.fetch(tag, true) })
}

// Errors of FETCH.
var (
	// errUnknownCTE answers a BINARY fetch of a part whose
	// Content-Transfer-Encoding the server cannot decode (RFC 3516 §4.3).
	errUnknownCTE = &Error{Code: "UNKNOWN-CTE", Text: "Unknown Content-Transfer-Encoding."}
	// errShortMessage is a message whose Body holds less than its Size:
	// an error of the backend, answered with NO [SERVERBUG] before any of
	// the message is written. (io.ErrUnexpectedEOF would end the
	// connection, as a failed read of it does.)
	errShortMessage = errors.New("imapd: message body shorter than its size")
	// errFetchEmpty answers "FETCH 1 ()", in Dovecot's words.
	errFetchEmpty = &Error{Type: "BAD", Text: "Error in IMAP command FETCH: FETCH list is empty."}
)

// What a FETCH needs of a message's content, in increasing order of cost.
const (
	fetchNeedNone   = iota // only the view (flags, dates, sizes), or the octets streamed as stored
	fetchNeedHeader        // the top-level header, read up to its blank line
	fetchNeedBytes         // the whole message in memory
	fetchNeedTree          // the whole message parsed into its MIME tree
)

// fetchCmd is a FETCH command being answered. Its buffers are pooled, so
// that answering a FETCH allocates little more than the parse trees.
type fetchCmd struct {
	c   *conn
	uid bool
	// items are the items to write for each message, in Dovecot's order:
	// those answered from the view (UID, FLAGS, INTERNALDATE, RFC822.SIZE,
	// MODSEQ) first, then the others, each group in the order asked,
	// without repeats of an item that has no section.
	items []imapwire.FetchItem
	view  int  // items[:view] are answered from the view
	flags bool // FLAGS was asked for
	// implicitFlags is set when FLAGS was not asked for but an item sets
	// \Seen: FLAGS is then written, last of the view's items, for the
	// messages whose \Seen this command set.
	implicitFlags bool
	setsSeen      bool // an item sets \Seen (BODY[...] without PEEK, RFC822, RFC822.TEXT, BINARY[...])
	need          int  // one of fetchNeed*
	rev2          bool // IMAP4rev2: no \Recent

	uids      []uint32             // the messages to answer for
	next      int                  // index in uids of the next message to answer for
	onMessage func(*Message) error // f.message

	seen       []uint32 // UIDs whose \Seen this command set, ascending
	seenNext   int      // index in seen of the next message written
	expunged   bool     // a message of a FETCH had gone before it could be read
	unknownCTE bool     // a BINARY item met an encoding it cannot decode

	// The message being written: msg, its octets read so far (buf, a
	// prefix of the message: the header, or all of it), where its header
	// ends, and its parse tree (nil unless an item needs it).
	msg    *Message
	buf    []byte
	hdrEnd int64
	tree   *imapmsg.Part

	skip    []bool // of the content items, those left out for the message (see skipBinary)
	content []imapwire.FetchItem
	scratch []byte // a filtered header, a decoded BINARY part, a copy without NUL
	br      bytes.Reader
	at      atReader
}

var fetchCmds = sync.Pool{New: func() any {
	f := new(fetchCmd)
	f.onMessage = f.message
	return f
}}

// fetch answers FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9; RFC 3501
// §6.4.5 for IMAP4rev1 sessions), with BINARY (RFC 3516) and the
// CHANGEDSINCE and VANISHED modifiers (RFC 7162 §3.1.4, §3.2.6).
func (c *conn) fetch(tag string, uid bool) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	args, err := c.dec.ReadFetch()
	if err != nil {
		return err
	}
	if len(args.Items) == 0 {
		return errFetchEmpty
	}
	if args.Vanished {
		switch {
		case !uid:
			return &Error{Type: "BAD", Text: "Error in IMAP command FETCH: Unknown FETCH modifier"}
		case !c.enabled["QRESYNC"]:
			return &Error{Type: "BAD", Text: "Error in IMAP command UID FETCH: QRESYNC not enabled"}
		case !args.HasChangedSince:
			return &Error{Type: "BAD", Text: "Error in IMAP command UID FETCH: VANISHED used without CHANGEDSINCE"}
		}
	}
	uids, err := c.sel.uids(args.Seq, uid)
	if err != nil {
		return err
	}
	f := fetchCmds.Get().(*fetchCmd)
	defer f.release()
	f.c, f.uid = c, uid
	f.plan(args)
	if f.needsModSeq() {
		// RFC 7162 §3.1: FETCH MODSEQ and CHANGEDSINCE enable CONDSTORE.
		c.enable("CONDSTORE")
	}
	if args.HasChangedSince {
		uids = c.sel.changedSince(uids, args.ChangedSince)
	}
	if args.Vanished {
		if err := c.writeVanishedEarlier(args.Seq, args.ChangedSince); err != nil {
			return err
		}
	}
	if f.setsSeen && !c.sel.readOnly {
		if err := f.markSeen(uids); err != nil {
			return err
		}
	}
	if err := f.run(uids); err != nil {
		return err
	}
	if err := f.writeSeenModSeqs(); err != nil {
		return err
	}
	if len(f.seen) > 0 {
		// The searches kept updated hear of the \Seen this FETCH set,
		// as of a STORE's changes (RFC 5267 §4.3).
		if err := c.contextUpdate(f.seen, nil); err != nil {
			return err
		}
	}
	if f.unknownCTE {
		return errUnknownCTE
	}
	if f.expunged {
		return c.ok(tag, "EXPUNGEISSUED", "Some messages were already expunged.")
	}
	return c.ok(tag, "", "Fetch completed.")
}

// release returns f to the pool, keeping its buffers unless they grew
// large.
func (f *fetchCmd) release() {
	const keep = 1 << 20
	buf, scratch := f.buf[:0], f.scratch[:0]
	if cap(buf) > keep {
		buf = nil
	}
	if cap(scratch) > keep {
		scratch = nil
	}
	*f = fetchCmd{items: f.items[:0], content: f.content[:0], seen: f.seen[:0], skip: f.skip[:0], buf: buf, scratch: scratch, onMessage: f.onMessage}
	fetchCmds.Put(f)
}

// plan orders the items asked for and works out what they need.
func (f *fetchCmd) plan(args *imapwire.FetchArgs) {
	f.rev2 = f.c.enabled["IMAP4REV2"]
	f.items, f.content = f.items[:0], f.content[:0]
	if f.uid {
		f.add(imapwire.FetchItem{Kind: imapwire.FetchUID})
	}
	for _, it := range args.Items {
		f.add(it)
	}
	if args.HasChangedSince {
		f.add(imapwire.FetchItem{Kind: imapwire.FetchModSeq})
	}
	f.flags = hasKind(f.items, imapwire.FetchFlags)
	if f.setsSeen && !f.flags && !f.c.sel.readOnly {
		f.implicitFlags = true
		f.items = append(f.items, imapwire.FetchItem{Kind: imapwire.FetchFlags})
	}
	f.view = len(f.items)
	f.items = append(f.items, f.content...)
}

// add adds item it to f.items if the view answers it, else to f.content,
// unless an item of its kind is there and it has no section (Dovecot
// writes such an item once).
func (f *fetchCmd) add(it imapwire.FetchItem) {
	switch it.Kind {
	case imapwire.FetchUID, imapwire.FetchFlags, imapwire.FetchInternalDate,
		imapwire.FetchRFC822Size, imapwire.FetchModSeq:
		if !hasKind(f.items, it.Kind) {
			f.items = append(f.items, it)
		}
		return
	case imapwire.FetchBodySection, imapwire.FetchBinarySection, imapwire.FetchBinarySize:
	default:
		if hasKind(f.content, it.Kind) {
			return
		}
	}
	f.content = append(f.content, it)
	f.need = max(f.need, itemNeed(it))
	switch it.Kind {
	case imapwire.FetchRFC822, imapwire.FetchRFC822Text:
		f.setsSeen = true
	case imapwire.FetchBodySection, imapwire.FetchBinarySection:
		f.setsSeen = f.setsSeen || !it.Peek
	}
}

// hasKind reports whether items holds an item of kind k.
func hasKind(items []imapwire.FetchItem, k imapwire.FetchItemKind) bool {
	for _, it := range items {
		if it.Kind == k {
			return true
		}
	}
	return false
}

// needsModSeq reports whether the responses hold MODSEQ.
func (f *fetchCmd) needsModSeq() bool { return hasKind(f.items[:f.view], imapwire.FetchModSeq) }

// itemNeed returns what item it needs of a message's content.
func itemNeed(it imapwire.FetchItem) int {
	switch it.Kind {
	case imapwire.FetchRFC822:
		return fetchNeedNone
	case imapwire.FetchEnvelope, imapwire.FetchRFC822Header, imapwire.FetchRFC822Text:
		return fetchNeedHeader
	case imapwire.FetchBodySection:
		switch {
		case len(it.Section.Part) > 0:
			return fetchNeedTree
		case it.Section.Specifier == "":
			return fetchNeedNone
		}
		return fetchNeedHeader
	case imapwire.FetchBinarySection:
		if len(it.Section.Part) == 0 {
			return fetchNeedBytes
		}
		return fetchNeedTree
	case imapwire.FetchBinarySize:
		if len(it.Section.Part) == 0 {
			return fetchNeedNone
		}
		return fetchNeedTree
	}
	return fetchNeedTree // BODY, BODYSTRUCTURE
}

// changedSince returns those of uids (ascending) whose mod-sequence in the
// view is above modseq (RFC 7162 §3.1.4.1).
func (s *selected) changedSince(uids []uint32, modseq uint64) []uint32 {
	out := uids[:0]
	for _, u := range uids {
		if seq := s.seq(u); seq != 0 && s.msgs[seq-1].ModSeq > modseq {
			out = append(out, u)
		}
	}
	return out
}

// writeVanishedEarlier writes "* VANISHED (EARLIER)" with the UIDs of set
// expunged after mod-sequence since (RFC 7162 §3.2.6), if any.
func (c *conn) writeVanishedEarlier(set imapwire.SeqSet, since uint64) error {
	gone, err := c.sel.mbox.Vanished(c.ctx, since)
	if err != nil {
		return err
	}
	if set.Saved {
		return nil // "$" holds UIDs of the view, none of which has vanished
	}
	var max uint32
	if n := len(c.sel.msgs); n > 0 {
		max = c.sel.msgs[n-1].UID
	}
	if n := len(gone); n > 0 && gone[n-1] > max {
		max = gone[n-1]
	}
	var in []uint32
	for _, u := range gone {
		if c.sel.seq(u) == 0 && set.Contains(u, max) {
			in = append(in, u)
		}
	}
	if len(in) == 0 {
		return nil
	}
	return c.enc.Star().Atom("VANISHED (EARLIER) ").SeqSet(imapwire.SeqSetOf(in...)).CRLF()
}

// markSeen sets \Seen on those of uids that lack it, through the backend,
// and takes their new state into the view: the FETCH responses report it
// (RFC 9051 §6.4.5), so no later update repeats it.
func (f *fetchCmd) markSeen(uids []uint32) error {
	var unseen []uint32
	for _, u := range uids {
		if seq := f.c.sel.seq(u); seq != 0 && !slices.Contains(f.c.sel.msgs[seq-1].Flags, `\Seen`) {
			unseen = append(unseen, u)
		}
	}
	if len(unseen) == 0 {
		return nil
	}
	changed, _, err := f.c.sel.mbox.Store(f.c.ctx, unseen, StoreAdd, []string{`\Seen`}, 0)
	if err != nil {
		return err
	}
	f.c.sel.took(changed)
	for _, m := range changed {
		f.seen = append(f.seen, m.UID)
	}
	slices.Sort(f.seen)
	return nil
}

// writeSeenModSeqs reports, once CONDSTORE is enabled, the new
// mod-sequence of each message whose \Seen the FETCH set (RFC 7162 §3.2:
// a flag change comes with its MODSEQ) when the FETCH responses did not
// hold it: "* 1 FETCH (MODSEQ (12))", after them, as Dovecot sends it.
func (f *fetchCmd) writeSeenModSeqs() error {
	if len(f.seen) == 0 || !f.c.enabled["CONDSTORE"] || f.needsModSeq() {
		return nil
	}
	for _, u := range f.seen {
		if seq := f.c.sel.seq(u); seq != 0 {
			f.c.enc.Star().Number(seq).Atom(" FETCH (MODSEQ (").Uint(f.c.sel.msgs[seq-1].ModSeq).Atom("))")
			if err := f.c.enc.CRLF(); err != nil {
				return err
			}
		}
	}
	return nil
}

// run writes the FETCH responses of uids, ascending: from the view alone
// if no item needs the content, else as the backend hands the messages
// over.
func (f *fetchCmd) run(uids []uint32) error {
	if len(f.items) == f.view {
		for _, u := range uids {
			if err := f.write(u, nil); err != nil {
				return err
			}
		}
		return nil
	}
	f.uids, f.next = uids, 0
	if err := f.c.sel.mbox.Fetch(f.c.ctx, uids, f.onMessage); err != nil {
		return err
	}
	for ; f.next < len(uids); f.next++ {
		if err := f.gone(uids[f.next]); err != nil {
			return err
		}
	}
	return nil
}

// message writes the response of the message m that Mailbox.Fetch hands
// over, after those of the messages before it that it skipped. It is
// f.onMessage, a method value made once per pooled fetchCmd.
func (f *fetchCmd) message(m *Message) error {
	for f.next < len(f.uids) && f.uids[f.next] < m.UID {
		if err := f.gone(f.uids[f.next]); err != nil {
			return err
		}
		f.next++
	}
	if f.next == len(f.uids) || f.uids[f.next] != m.UID {
		return nil // not asked for: ignore it
	}
	f.next++
	return f.write(m.UID, m)
}

// gone answers for a message of the view that the backend no longer has:
// another session expunged it and this one has not been told. UID FETCH
// leaves it out; FETCH answers with what the view knows and NIL for the
// content, as Dovecot does, and ends with OK [EXPUNGEISSUED] (RFC 5530).
func (f *fetchCmd) gone(uid uint32) error {
	if f.uid {
		return nil
	}
	f.expunged = true
	return f.write(uid, nil)
}

// write writes the FETCH response of the message uid of the view, whose
// content is m (nil if only the view is needed, or if the message has
// gone).
func (f *fetchCmd) write(uid uint32, m *Message) error {
	seq := f.c.sel.seq(uid)
	if seq == 0 {
		return nil
	}
	st := &f.c.sel.msgs[seq-1]
	seenSet := false
	for f.seenNext < len(f.seen) && f.seen[f.seenNext] <= uid {
		seenSet = f.seen[f.seenNext] == uid
		f.seenNext++
	}
	view := f.items[:f.view]
	if f.implicitFlags && !seenSet {
		view = view[:len(view)-1] // the implicit FLAGS, last, only if \Seen was set
	}
	content := f.items[f.view:]
	f.msg, f.tree, f.buf, f.skip = m, nil, f.buf[:0], f.skip[:0]
	left := len(content)
	if m != nil {
		if err := f.load(); err != nil {
			return err
		}
		left = f.skipBinary(content)
	}
	if len(view)+left == 0 {
		return nil
	}
	e := f.c.enc
	e.Star().Number(seq).Atom(" FETCH (")
	for i, it := range view {
		if i > 0 {
			e.SP()
		}
		f.writeViewItem(it, st)
	}
	first := len(view) == 0
	for i, it := range content {
		if i < len(f.skip) && f.skip[i] {
			continue
		}
		if !first {
			e.SP()
		}
		first = false
		e.FetchItemName(it).SP()
		if m == nil {
			writeNil(e, it)
			continue
		}
		if err := f.writeContentItem(it); err != nil {
			return err
		}
	}
	return e.Atom(")").CRLF()
}

// writeViewItem writes item it of message st, which the view holds.
func (f *fetchCmd) writeViewItem(it imapwire.FetchItem, st *MessageState) {
	e := f.c.enc
	switch it.Kind {
	case imapwire.FetchUID:
		e.Atom("UID ").Number(st.UID)
	case imapwire.FetchFlags:
		e.Atom("FLAGS (")
		for i, fl := range st.Flags {
			if i > 0 {
				e.SP()
			}
			e.Flag(fl)
		}
		if st.Recent && !f.rev2 {
			if len(st.Flags) > 0 {
				e.SP()
			}
			e.Flag(`\Recent`)
		}
		e.Atom(")")
	case imapwire.FetchInternalDate:
		e.Atom("INTERNALDATE ").DateTime(st.InternalDate)
	case imapwire.FetchRFC822Size:
		e.Atom("RFC822.SIZE ").Uint(uint64(st.Size))
	case imapwire.FetchModSeq:
		e.Atom("MODSEQ (").Uint(st.ModSeq).Atom(")")
	}
}

// writeNil writes the value of item it for a message whose content is
// gone, as Dovecot does.
func writeNil(e *imapwire.Encoder, it imapwire.FetchItem) {
	switch it.Kind {
	case imapwire.FetchEnvelope:
		e.Atom("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)")
	case imapwire.FetchBody:
		e.Atom(`("text" "plain" NIL NIL NIL "7bit" 0 0)`)
	case imapwire.FetchBodyStructure:
		e.Atom(`("text" "plain" NIL NIL NIL "7bit" 0 0 NIL NIL NIL NIL)`)
	case imapwire.FetchBinarySize:
		e.Atom("0")
	default:
		e.NIL()
	}
}

// load reads what the items need of f.msg.
func (f *fetchCmd) load() error {
	m := f.msg
	switch f.need {
	case fetchNeedNone:
		return nil
	case fetchNeedHeader:
		return f.readHeader()
	}
	if cap(f.buf) < int(m.Size) {
		f.buf = make([]byte, m.Size)
	}
	f.buf = f.buf[:m.Size]
	if n, err := m.Body.ReadAt(f.buf, 0); n < len(f.buf) {
		if err == nil || err == io.EOF {
			err = errShortMessage
		}
		return err
	}
	f.hdrEnd, _ = headerEnd(f.buf)
	if f.need == fetchNeedTree {
		f.tree = imapmsg.Parse(f.buf)
	}
	return nil
}

// readHeader reads f.msg's header into f.buf, up to and including the
// blank line that ends it (all of the message if there is none), as
// imapmsg.Parse delimits it.
func (f *fetchCmd) readHeader() error {
	m := f.msg
	chunk := int64(4096)
	for {
		end, ok := headerEnd(f.buf)
		if whole := int64(len(f.buf)) == m.Size; ok || whole {
			f.hdrEnd = end
			return nil
		}
		n := min(chunk, m.Size-int64(len(f.buf)))
		off := len(f.buf)
		f.buf = slices.Grow(f.buf, int(n))[:off+int(n)]
		if k, err := m.Body.ReadAt(f.buf[off:], int64(off)); k < int(n) {
			if err == nil || err == io.EOF {
				err = errShortMessage
			}
			return err
		}
		chunk = min(chunk*2, 1<<20)
	}
}

// headerEnd returns where the body of the message b starts: after the
// first empty line (CRLF or bare LF), with ok set; len(b) if there is
// none.
func headerEnd(b []byte) (end int64, ok bool) {
	i := 0
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		if j == 0 || j == 1 && b[i] == '\r' {
			return int64(i + j + 1), true
		}
		i += j + 1
	}
	return int64(len(b)), false
}

// skipBinary marks in f.skip the content items that cannot be answered
// for the message: BINARY items of a part whose Content-Transfer-Encoding
// imapmsg.Decode does not know (RFC 3516 §4.3). They are left out, and
// the command ends with NO [UNKNOWN-CTE]. It returns how many items are
// left.
func (f *fetchCmd) skipBinary(content []imapwire.FetchItem) int {
	f.skip = f.skip[:0]
	left := 0
	for _, it := range content {
		skip := false
		if f.tree != nil && (it.Kind == imapwire.FetchBinarySection || it.Kind == imapwire.FetchBinarySize) {
			if _, enc, ok := f.tree.Binary(it.Section.Part); ok && !identityEncoding(enc) {
				if _, err := imapmsg.Decode(nil, nil, enc); err != nil {
					f.unknownCTE, skip = true, true
				}
			}
		}
		f.skip = append(f.skip, skip)
		if !skip {
			left++
		}
	}
	return left
}

// identityEncoding reports whether a part in Content-Transfer-Encoding
// enc is its own content.
func identityEncoding(enc string) bool {
	return enc == "" || strings.EqualFold(enc, "7bit") || strings.EqualFold(enc, "8bit") || strings.EqualFold(enc, "binary")
}

// writeContentItem writes the value of content item it of f.msg, after its
// name.
func (f *fetchCmd) writeContentItem(it imapwire.FetchItem) error {
	e := f.c.enc
	switch it.Kind {
	case imapwire.FetchEnvelope:
		env := (*imapmsg.Envelope)(nil)
		if f.tree != nil {
			env = f.tree.Envelope
		} else {
			env = imapmsg.Parse(f.buf[:f.hdrEnd]).Envelope
		}
		imapmsg.WriteEnvelope(e, env)
	case imapwire.FetchBody, imapwire.FetchBodyStructure:
		imapmsg.WriteBodyStructure(e, f.tree, it.Kind == imapwire.FetchBodyStructure)
	case imapwire.FetchRFC822:
		f.literalRange(0, f.msg.Size)
	case imapwire.FetchRFC822Header:
		f.literalRange(0, f.hdrEnd)
	case imapwire.FetchRFC822Text:
		f.literalRange(f.hdrEnd, f.msg.Size-f.hdrEnd)
	case imapwire.FetchBodySection:
		f.writeSection(it)
	case imapwire.FetchBinarySection, imapwire.FetchBinarySize:
		f.writeBinary(it)
	}
	return e.Err()
}

// section returns the octets of BODY[s] of f.msg, and whether the section
// exists.
func (f *fetchCmd) section(s imapwire.Section) (imapmsg.Range, bool) {
	if f.tree != nil {
		return f.tree.Section(s)
	}
	switch s.Specifier {
	case "":
		return imapmsg.Range{Offset: 0, Length: f.msg.Size}, true
	case "TEXT":
		return imapmsg.Range{Offset: f.hdrEnd, Length: f.msg.Size - f.hdrEnd}, true
	}
	return imapmsg.Range{Offset: 0, Length: f.hdrEnd}, true
}

// writeSection writes BODY[section]<partial> as a literal: empty if the
// section does not exist (RFC 9051 §6.4.5 allows it; Dovecot does it, for
// HEADER.FIELDS too).
func (f *fetchCmd) writeSection(it imapwire.FetchItem) {
	r, ok := f.section(it.Section)
	switch it.Section.Specifier {
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if !ok {
			break
		}
		hdr := f.buf[r.Offset : r.Offset+r.Length]
		f.scratch = filterHeader(f.scratch[:0], hdr, it.Section)
		off, n := partial(int64(len(f.scratch)), it.Partial)
		f.literalOwned(f.scratch[off : off+n])
		return
	}
	off, n := partial(r.Length, it.Partial)
	f.literalRange(r.Offset+off, n)
}

// filterHeader appends to dst the fields of header that HEADER.FIELDS or
// HEADER.FIELDS.NOT section s keeps, then the blank line that ends a header
// if header has one: RFC 3501 §6.4.5 includes it "in all header fetches,
// except in the case of a message which has no body and no blank line".
func filterHeader(dst, header []byte, s imapwire.Section) []byte {
	dst = imapmsg.FilterHeader(dst, header, s.Fields, s.Specifier == "HEADER.FIELDS.NOT")
	if _, blank := headerEnd(header); !blank {
		dst = dst[:len(dst)-2] // FilterHeader's CRLF
	}
	return dst
}

// writeBinary writes BINARY[part]<partial> (a literal8 if the decoded
// content holds NUL) or BINARY.SIZE[part] (RFC 3516 §4.2).
func (f *fetchCmd) writeBinary(it imapwire.FetchItem) {
	e := f.c.enc
	var data []byte
	if f.tree != nil {
		r, enc, _ := f.tree.Binary(it.Section.Part)
		data = f.buf[r.Offset : r.Offset+r.Length]
		if !identityEncoding(enc) {
			f.scratch, _ = imapmsg.Decode(f.scratch[:0], data, enc)
			data = f.scratch
		}
	} else if it.Kind == imapwire.FetchBinarySize {
		e.Uint(uint64(f.msg.Size)) // BINARY.SIZE[] is the message as stored
		return
	} else {
		data = f.buf
	}
	if it.Kind == imapwire.FetchBinarySize {
		e.Uint(uint64(len(data)))
		return
	}
	binary := bytes.IndexByte(data, 0) >= 0
	off, n := partial(int64(len(data)), it.Partial)
	f.br.Reset(data[off : off+n])
	if binary {
		e.Literal8(&f.br, n)
	} else {
		e.Literal(&f.br, n)
	}
}

// partial returns the offset and length of the <offset.count> p of
// content of length octets: what is left of it past offset, at most count
// octets (RFC 9051 §6.4.5); all of it if p is nil.
func partial(length int64, p *imapwire.Partial) (off, n int64) {
	if p == nil {
		return 0, length
	}
	if p.Offset >= length {
		return length, 0
	}
	return p.Offset, min(p.Count, length-p.Offset)
}

// literalRange writes octets off to off+n of f.msg as a literal, from
// memory if they were read, else streamed from the backend's ReaderAt. A
// NUL, which a literal must not hold (RFC 9051 §4.3), is written as 0x80,
// as Dovecot does.
func (f *fetchCmd) literalRange(off, n int64) {
	if off+n <= int64(len(f.buf)) {
		b := f.buf[off : off+n]
		if bytes.IndexByte(b, 0) >= 0 {
			f.scratch = append(f.scratch[:0], b...)
			f.literalOwned(f.scratch)
			return
		}
		f.br.Reset(b)
		f.c.enc.Literal(&f.br, n)
		return
	}
	f.at = atReader{r: f.msg.Body, off: off, end: off + n}
	f.c.enc.Literal(&f.at, n)
}

// literalOwned writes b, which f owns, as a literal, its NULs replaced by
// 0x80.
func (f *fetchCmd) literalOwned(b []byte) {
	noNUL(b)
	f.br.Reset(b)
	f.c.enc.Literal(&f.br, int64(len(b)))
}

// noNUL replaces each NUL of b by 0x80.
func noNUL(b []byte) {
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return
		}
		b[i] = 0x80
		b = b[i+1:]
	}
}

// atReader reads octets off to end of an io.ReaderAt, NULs replaced by
// 0x80.
type atReader struct {
	r        io.ReaderAt
	off, end int64
}

func (r *atReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	if int64(len(p)) > r.end-r.off {
		p = p[:r.end-r.off]
	}
	n, err := r.r.ReadAt(p, r.off)
	r.off += int64(n)
	noNUL(p[:n])
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}
