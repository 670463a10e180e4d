package imapd

import (
	"slices"
	"strconv"
	"strings"
)

func init() {
	register("THREAD", stateSelected, cmdThread)
	register("UID THREAD", stateSelected, cmdThread)
}

// cmdThread answers THREAD and UID THREAD (RFC 5256 §4) with the
// ORDEREDSUBJECT and REFERENCES algorithms (RFC 5256 §2.2).
func cmdThread(c *conn, tag string) error {
	args, err := c.dec.ReadThread()
	if err != nil {
		return err
	}
	if args.Thread != "ORDEREDSUBJECT" && args.Thread != "REFERENCES" {
		return &Error{Type: "BAD", Text: "Unknown thread algorithm " + args.Thread + "."}
	}
	if err := checkCharset(args.Charset); err != nil {
		return err
	}
	s := c.newSearch(&args.Key)
	found, err := s.run(c.ctx, nil)
	if err != nil {
		return err
	}
	items, err := c.sortItems(c.ctx, found, true)
	if err != nil {
		return err
	}
	uid := c.cmd == "UID THREAD"
	num := func(it *sortItem) uint32 {
		if uid {
			return it.m.UID
		}
		return uint32(it.ix + 1)
	}
	var out string
	if args.Thread == "ORDEREDSUBJECT" {
		out = orderedSubject(items, num)
	} else {
		out = threadReferences(items).write(num)
	}
	c.enc.Star().Atom("THREAD")
	if out != "" {
		c.enc.SP().Atom(out)
	}
	if err := c.enc.CRLF(); err != nil {
		return err
	}
	return c.ok(tag, "", "Thread completed.")
}

// orderedSubject threads items by ORDEREDSUBJECT (RFC 5256 §2.2): sorted by
// base subject then sent date, a thread per base subject whose first
// message is the parent of the others; the threads in the order of their
// first messages' sent dates.
func orderedSubject(items []sortItem, num func(*sortItem) uint32) string {
	for i := range items {
		items[i].key = []string{casemapKey(items[i].sd.BaseSubject)}
	}
	slices.SortFunc(items, func(a, b sortItem) int {
		if v := strings.Compare(a.key[0], b.key[0]); v != 0 {
			return v
		}
		if v := cmpInt(a.date, b.date); v != 0 {
			return v
		}
		return a.ix - b.ix
	})
	var threads [][]*sortItem
	for i := range items {
		it := &items[i]
		if n := len(threads); n > 0 && threads[n-1][0].key[0] == it.key[0] {
			threads[n-1] = append(threads[n-1], it)
			continue
		}
		threads = append(threads, []*sortItem{it})
	}
	slices.SortStableFunc(threads, func(a, b []*sortItem) int {
		if v := cmpInt(a[0].date, b[0].date); v != 0 {
			return v
		}
		return a[0].ix - b[0].ix
	})
	var b strings.Builder
	for _, t := range threads {
		b.WriteByte('(')
		b.WriteString(strconv.FormatUint(uint64(num(t[0])), 10))
		switch {
		case len(t) == 2:
			b.WriteString(" " + strconv.FormatUint(uint64(num(t[1])), 10))
		case len(t) > 2:
			b.WriteByte(' ')
			for _, it := range t[1:] {
				b.WriteString("(" + strconv.FormatUint(uint64(num(it)), 10) + ")")
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// A container is a node of the REFERENCES thread tree (RFC 5256 §2.2): a
// message, or a dummy standing for a message id that no message found has.
type container struct {
	it       *sortItem // nil for a dummy
	parent   *container
	children []*container
}

// hasAncestor reports whether a is c or one of c's ancestors.
func (c *container) hasAncestor(a *container) bool {
	for n := c; n != nil; n = n.parent {
		if n == a {
			return true
		}
	}
	return false
}

// link makes parent the parent of child, unless child has a parent already
// or the link would make a loop (RFC 5256 §2.2 step 1B).
func link(parent, child *container) {
	if parent.hasAncestor(child) || child.parent != nil {
		return
	}
	child.parent = parent
}

// A threadRoot is a top-level thread while threads are gathered by
// subject (RFC 5256 §2.2 steps 5 and 6).
type threadRoot struct {
	c      *container
	dummy  bool
	ignore bool // merged into another, or an empty dummy
	isRe   bool
	into   int // the root (index + 1) it is to be merged into; 0 if none
	date   int64
	ix     int
}

// threadTree is the outcome of REFERENCES: its top-level threads, in
// order.
type threadTree []*threadRoot

// threadReferences threads items (ascending by UID) by REFERENCES (RFC
// 5256 §2.2), as Dovecot does where the RFC leaves a choice: siblings are
// in order of sent date (the internal date for a message without one),
// then UID.
func threadReferences(items []sortItem) threadTree {
	all := linkByReferences(items)
	roots := rootsOf(all)
	sortRoots(roots)
	if gatherSubjects(roots) {
		roots = mergeSubjects(roots)
		sortRoots(roots)
	}
	return roots
}

// linkByReferences builds the containers and their parent links (RFC 5256
// §2.2 step 1), in the order they were made.
func linkByReferences(items []sortItem) []*container {
	byID := make(map[string]*container)
	var all []*container
	get := func(id string) *container {
		c := byID[id]
		if c == nil {
			c = &container{}
			byID[id] = c
			all = append(all, c)
		}
		return c
	}
	for i := range items {
		it := &items[i]
		var c *container
		if id := it.sd.MessageID; id != "" && (byID[id] == nil || byID[id].it == nil) {
			c = get(id)
		} else {
			// No id, or a duplicate: the message is a thread of its own.
			c = &container{}
			all = append(all, c)
		}
		c.it = it
		refs := it.sd.References
		if len(refs) == 0 && it.sd.InReplyTo != "" {
			refs = []string{it.sd.InReplyTo}
		}
		var last *container
		for j, id := range refs {
			r := get(id)
			if j > 0 {
				link(last, r)
			}
			last = r
		}
		if c.parent != nil && c.parent != last {
			c.parent = nil
		}
		if last != nil {
			link(last, c)
		}
	}
	return all
}

// rootsOf gathers the containers without a parent (step 2) and prunes
// the dummies (step 4): a message is made the child of its nearest
// ancestor that is a message, or of the top-level dummy above it.
func rootsOf(all []*container) []*threadRoot {
	var roots []*threadRoot
	for _, c := range all {
		if c.parent == nil {
			roots = append(roots, &threadRoot{c: c, dummy: c.it == nil})
			continue
		}
		if c.it == nil {
			continue
		}
		p := c.parent
		for p.it == nil && p.parent != nil {
			p = p.parent
		}
		p.children = append(p.children, c)
	}
	return roots
}

// sortSiblings sorts containers (messages) by sent date, then UID.
func sortSiblings(cs []*container) {
	slices.SortFunc(cs, func(a, b *container) int {
		if v := cmpInt(a.it.date, b.it.date); v != 0 {
			return v
		}
		return cmpInt(int64(a.it.m.UID), int64(b.it.m.UID))
	})
}

// sortRoots sorts the top-level threads (step 5): a dummy by its first
// child, one with a single child replaced by that child, one without
// children dropped.
func sortRoots(roots []*threadRoot) {
	for _, r := range roots {
		if r.ignore {
			continue
		}
		if r.dummy {
			if len(r.c.children) == 0 {
				r.ignore = true
				continue
			}
			sortSiblings(r.c.children)
			if len(r.c.children) == 1 {
				r.c = r.c.children[0]
				r.dummy = false
			} else {
				first := r.c.children[0].it
				r.date, r.ix = first.date, int(first.m.UID)
				continue
			}
		}
		r.date, r.ix = r.c.it.date, int(r.c.it.m.UID)
	}
	slices.SortStableFunc(roots, func(a, b *threadRoot) int {
		if v := cmpInt(a.date, b.date); v != 0 {
			return v
		}
		return a.ix - b.ix
	})
}

// gatherSubjects finds, for each top-level thread, the thread its base
// subject joins it to (step 6, A to C), and reports whether any does.
func gatherSubjects(roots []*threadRoot) bool {
	table := make(map[string]int)
	found := false
	for i, r := range roots {
		if r.ignore {
			continue
		}
		it := r.c.it
		if r.dummy {
			it = r.c.children[0].it
		}
		subj := casemapKey(it.sd.BaseSubject)
		r.isRe = it.sd.HasRe
		if subj == "" {
			continue
		}
		j, ok := table[subj]
		if !ok {
			table[subj] = i
			continue
		}
		found = true
		h := roots[j]
		if !h.dummy && (r.dummy || (h.isRe && !r.isRe)) {
			h.into = i + 1
			table[subj] = i
		} else {
			r.into = j + 1
		}
	}
	return found
}

// mergeSubjects joins the threads that gatherSubjects paired (step 6D),
// and returns the roots, with the dummies it made.
func mergeSubjects(roots []*threadRoot) []*threadRoot {
	for i := 0; i < len(roots); i++ {
		cur := roots[i]
		if cur.into == 0 || cur.ignore {
			continue
		}
		top := cur
		for top.into != 0 {
			top = roots[top.into-1]
		}
		switch {
		case cur.dummy:
			// Both are dummies: their children become siblings.
			top.c.children = append(top.c.children, cur.c.children...)
			cur.c.children = nil
			cur.ignore = true
		case top.dummy || (cur.isRe && !top.isRe):
			top.c.children = append(top.c.children, cur.c)
			cur.ignore = true
		default:
			d := &threadRoot{c: &container{children: []*container{top.c, cur.c}}, dummy: true}
			roots = append(roots, d)
			top.into = len(roots)
			top.ignore = true
			cur.ignore = true
		}
	}
	return roots
}

// write returns the threads in the syntax of RFC 5256 §4: "(1 2 (3)(4))".
func (t threadTree) write(num func(*sortItem) uint32) string {
	var b strings.Builder
	for _, r := range t {
		if r.ignore {
			continue
		}
		b.WriteByte('(')
		if !r.dummy {
			b.WriteString(strconv.FormatUint(uint64(num(r.c.it)), 10))
			if len(r.c.children) > 0 {
				b.WriteByte(' ')
			}
		}
		writeChildren(&b, r.c.children, num)
		b.WriteByte(')')
	}
	return b.String()
}

// writeChildren writes the children of a message, sorted: an only child
// follows its parent in the same list, several are each a nested list.
func writeChildren(b *strings.Builder, cs []*container, num func(*sortItem) uint32) {
	sortSiblings(cs)
	if len(cs) == 1 {
		b.WriteString(strconv.FormatUint(uint64(num(cs[0].it)), 10))
		if len(cs[0].children) > 0 {
			b.WriteByte(' ')
			writeChildren(b, cs[0].children, num)
		}
		return
	}
	for _, c := range cs {
		b.WriteByte('(')
		b.WriteString(strconv.FormatUint(uint64(num(c.it)), 10))
		if len(c.children) > 0 {
			b.WriteByte(' ')
			writeChildren(b, c.children, num)
		}
		b.WriteByte(')')
	}
}
