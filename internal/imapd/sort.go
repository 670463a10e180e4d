package imapd

import (
	"context"
	"slices"
	"strings"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("SORT", stateSelected, cmdSort)
	register("UID SORT", stateSelected, cmdSort)
}

// cmdSort answers SORT and UID SORT (RFC 5256 §3), with the criteria of
// RFC 5256 and DISPLAYFROM and DISPLAYTO (RFC 5957), and the RETURN options
// of ESORT (RFC 5267 §3): the answer is "* SORT" or, with RETURN, an
// ESEARCH whose ALL keeps the sort order.
func cmdSort(c *conn, tag string) error {
	args, err := c.dec.ReadSort()
	if err != nil {
		return err
	}
	uid := c.cmd == "UID SORT"
	if err := checkCharset(args.Charset); err != nil {
		return c.searchFailed(args, err)
	}
	ret := &args.Return
	if ret.Update {
		// CONTEXT=SORT is not offered: only searches are kept updated.
		return &Error{Type: "BAD", Text: "UPDATE is not supported for SORT."}
	}
	s := c.newSearch(&args.Key)
	found, err := s.run(c.ctx, nil)
	if err != nil {
		return c.searchFailed(args, err)
	}
	if s.modSeq {
		c.enable("CONDSTORE")
	}
	items, err := c.sortItems(c.ctx, found, needsSortData(args.Sort))
	if err != nil {
		return c.searchFailed(args, err)
	}
	sortItems(items, args.Sort)
	for i, it := range items {
		found[i] = it.ix
	}
	res := c.resultOf(found, uid)
	res.modSeq = s.modSeq
	if ret.Save {
		c.sel.saved = savedOf(res, ret, true)
	}
	if err := c.writeSort(tag, ret, res); err != nil {
		return err
	}
	return c.ok(tag, "", "Sort completed.")
}

// writeSort writes "* SORT ..." (RFC 5256 §4), or the ESEARCH of ESORT.
func (c *conn) writeSort(tag string, ret *imapwire.SearchReturn, r *result) error {
	if !ret.Given {
		c.enc.Star().Atom("SORT")
		for _, n := range r.nums {
			c.enc.SP().Number(n)
		}
		if r.modSeq && len(r.nums) > 0 {
			c.enc.Atom(" (MODSEQ ").Uint(slices.Max(r.modSeqs)).Special(')')
		}
		return c.enc.CRLF()
	}
	opts := *ret
	if opts.Save && !opts.Min && !opts.Max && !opts.All && !opts.Count && opts.Partial == nil {
		return nil
	}
	if !opts.Min && !opts.Max && !opts.All && !opts.Count && opts.Partial == nil && !opts.Save {
		opts.All = true
	}
	return c.writeESearch(tag, &opts, r, true)
}

// needsSortData reports whether a criterion needs the messages' SortData.
func needsSortData(crit []imapwire.SortCriterion) bool {
	for _, k := range crit {
		if k.Key != "ARRIVAL" && k.Key != "SIZE" {
			return true
		}
	}
	return false
}

// A sortItem is a message being sorted or threaded.
type sortItem struct {
	ix   int // index in the view
	m    *MessageState
	sd   *SortData
	date int64    // the sent date, or the internal date if it has none (RFC 5256 §3), Unix seconds
	key  []string // for each sort criterion, its string as i;ascii-casemap compares it
}

// sortItems returns the items of the messages found (indexes of the view,
// ascending), with their SortData if withData is set (else empty ones).
func (c *conn) sortItems(ctx context.Context, found []int, withData bool) ([]sortItem, error) {
	items := make([]sortItem, len(found))
	uids := make([]uint32, len(found))
	for i, ix := range found {
		items[i] = sortItem{ix: ix, m: &c.sel.msgs[ix], sd: &SortData{}}
		uids[i] = c.sel.msgs[ix].UID
	}
	if withData && len(uids) > 0 {
		sds, err := c.sel.mbox.SortData(ctx, uids)
		if err != nil {
			return nil, err
		}
		j := 0
		for i := range sds {
			for j < len(items) && items[j].m.UID < sds[i].UID {
				j++
			}
			if j < len(items) && items[j].m.UID == sds[i].UID {
				items[j].sd = &sds[i]
			}
		}
	}
	for i := range items {
		it := &items[i]
		if !it.sd.Date.IsZero() {
			it.date = it.sd.Date.Unix()
		}
		if it.date == 0 {
			it.date = it.m.InternalDate.Unix()
		}
	}
	return items, nil
}

// sortItems sorts items by the criteria, then by sequence number (RFC
// 5256 §3: ties are in ascending sequence order, whatever REVERSE says).
// The strings compared are worked out once per message, not once per
// comparison.
func sortItems(items []sortItem, crit []imapwire.SortCriterion) {
	keys := make([]string, len(items)*len(crit))
	for i := range items {
		for j, k := range crit {
			keys[i*len(crit)+j] = casemapKey(sortString(k.Key, &items[i]))
		}
		items[i].key = keys[i*len(crit) : (i+1)*len(crit)]
	}
	slices.SortFunc(items, func(a, b sortItem) int {
		for j, k := range crit {
			v := compareBy(k.Key, &a, &b)
			if v == 0 {
				v = strings.Compare(a.key[j], b.key[j])
			}
			if k.Reverse {
				v = -v
			}
			if v != 0 {
				return v
			}
		}
		return a.ix - b.ix
	})
}

// sortString returns the string that criterion key compares, "" for the
// criteria that compare numbers.
func sortString(key string, it *sortItem) string {
	switch key {
	case "CC":
		return it.sd.Cc
	case "FROM":
		return it.sd.From
	case "TO":
		return it.sd.To
	case "SUBJECT":
		return it.sd.BaseSubject
	case "DISPLAYFROM":
		return it.sd.DisplayFrom
	case "DISPLAYTO":
		return it.sd.DisplayTo
	}
	return ""
}

// compareBy compares a and b by one of the criteria that compare numbers;
// the others compare as equal here, and by their strings in sortItems,
// with the i;ascii-casemap collation (RFC 4790 §9.2) that RFC 5256 §3
// asks for.
func compareBy(key string, a, b *sortItem) int {
	switch key {
	case "ARRIVAL":
		return a.m.InternalDate.Compare(b.m.InternalDate)
	case "SIZE":
		return cmpInt(a.m.Size, b.m.Size)
	case "DATE":
		return cmpInt(a.date, b.date)
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// casemapKey returns s as i;ascii-casemap sees it, octet by octet: two
// strings compare in that collation as their keys compare.
func casemapKey(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return 'a' <= r && r <= 'z' })
	if i < 0 {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		b[i] = upperASCII(b[i])
	}
	return string(b)
}
