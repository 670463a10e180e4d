package imapwire

import (
	"strconv"
	"time"
)

// A SearchKeyKind is the kind of a search key (RFC 9051 §6.4.4).
type SearchKeyKind int

// The kinds of search keys. Flag keys take no argument; string keys take
// Text; date keys Date; size and age keys Num.
const (
	SearchAnd        SearchKeyKind = iota + 1 // Keys, all of which must match: a parenthesized list, or the program
	SearchOr                                  // OR: Keys[0] or Keys[1]
	SearchNot                                 // NOT: Keys[0] does not
	SearchSeqSet                              // a sequence set: Seq
	SearchUID                                 // UID: Seq
	SearchAll                                 // ALL
	SearchAnswered                            // ANSWERED
	SearchDeleted                             // DELETED
	SearchDraft                               // DRAFT
	SearchFlagged                             // FLAGGED
	SearchNew                                 // NEW
	SearchOld                                 // OLD
	SearchRecent                              // RECENT
	SearchSeen                                // SEEN
	SearchUnanswered                          // UNANSWERED
	SearchUndeleted                           // UNDELETED
	SearchUndraft                             // UNDRAFT
	SearchUnflagged                           // UNFLAGGED
	SearchUnseen                              // UNSEEN
	SearchKeyword                             // KEYWORD: Text
	SearchUnkeyword                           // UNKEYWORD: Text
	SearchBcc                                 // BCC: Text
	SearchBody                                // BODY: Text
	SearchCc                                  // CC: Text
	SearchFrom                                // FROM: Text
	SearchSubject                             // SUBJECT: Text
	SearchText                                // TEXT: Text
	SearchTo                                  // TO: Text
	SearchHeader                              // HEADER: Field, Text
	SearchBefore                              // BEFORE: Date
	SearchOn                                  // ON: Date
	SearchSince                               // SINCE: Date
	SearchSentBefore                          // SENTBEFORE: Date
	SearchSentOn                              // SENTON: Date
	SearchSentSince                           // SENTSINCE: Date
	SearchLarger                              // LARGER: Num
	SearchSmaller                             // SMALLER: Num
	SearchOlder                               // OLDER (RFC 5032): Num seconds
	SearchYounger                             // YOUNGER (RFC 5032): Num seconds
	SearchModSeq                              // MODSEQ (RFC 7162): Num, and Field, EntryType if given
	SearchEmailID                             // EMAILID (RFC 8474): Text
	SearchThreadID                            // THREADID (RFC 8474): Text
)

var searchFlagKeys = map[string]SearchKeyKind{
	"ALL": SearchAll, "ANSWERED": SearchAnswered, "DELETED": SearchDeleted, "DRAFT": SearchDraft,
	"FLAGGED": SearchFlagged, "NEW": SearchNew, "OLD": SearchOld, "RECENT": SearchRecent, "SEEN": SearchSeen,
	"UNANSWERED": SearchUnanswered, "UNDELETED": SearchUndeleted, "UNDRAFT": SearchUndraft,
	"UNFLAGGED": SearchUnflagged, "UNSEEN": SearchUnseen,
}

var searchStringKeys = map[string]SearchKeyKind{
	"BCC": SearchBcc, "BODY": SearchBody, "CC": SearchCc, "FROM": SearchFrom, "SUBJECT": SearchSubject,
	"TEXT": SearchText, "TO": SearchTo,
}

var searchDateKeys = map[string]SearchKeyKind{
	"BEFORE": SearchBefore, "ON": SearchOn, "SINCE": SearchSince, "SENTBEFORE": SearchSentBefore,
	"SENTON": SearchSentOn, "SENTSINCE": SearchSentSince,
}

// A SearchKey is a node of a search program's tree.
type SearchKey struct {
	Kind      SearchKeyKind
	Text      string    // string argument; flag of KEYWORD, UNKEYWORD
	Field     string    // HEADER field name; MODSEQ entry name
	EntryType string    // MODSEQ entry type: "priv", "shared" or "all", lower-cased
	Num       uint64    // LARGER, SMALLER, OLDER, YOUNGER, MODSEQ
	Date      time.Time // date keys, midnight UTC of the date
	Seq       SeqSet    // SearchSeqSet, SearchUID
	Keys      []SearchKey
}

// A PartialRange is the range of PARTIAL (RFC 9394): First:Last, 1-based,
// counted from the end of the results if negative.
type PartialRange struct {
	First, Last int32
}

// SearchReturn holds the RETURN options of an extended SEARCH or SORT
// (RFC 4731, RFC 5267, RFC 5182, RFC 9394).
type SearchReturn struct {
	Given   bool // RETURN was given: the answer is ESEARCH (with ALL if no option)
	Min     bool
	Max     bool
	All     bool
	Count   bool
	Save    bool // RFC 5182
	Update  bool // CONTEXT=SEARCH (RFC 5267)
	Context bool // CONTEXT=SEARCH (RFC 5267)
	Partial *PartialRange
}

// SearchArgs are the arguments of SEARCH, SORT and THREAD.
type SearchArgs struct {
	Return  SearchReturn
	Charset string          // upper-cased; "" if not given
	Key     SearchKey       // SearchAnd of the program's keys
	Sort    []SortCriterion // SORT only
	Thread  string          // THREAD only: the algorithm, upper-cased
}

// A SortCriterion is one sort criterion (RFC 5256, RFC 5957).
type SortCriterion struct {
	Key     string // ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM, DISPLAYTO
	Reverse bool
}

var sortKeys = map[string]bool{"ARRIVAL": true, "CC": true, "DATE": true, "FROM": true, "SIZE": true,
	"SUBJECT": true, "TO": true, "DISPLAYFROM": true, "DISPLAYTO": true}

// ReadSearch reads the arguments of SEARCH, after "SEARCH" (the SP is
// read here): [RETURN (...)] [CHARSET charset] keys; and the end of the
// command.
func (d *Decoder) ReadSearch() (*SearchArgs, error) {
	var a SearchArgs
	if err := d.SP(); err != nil {
		return nil, err
	}
	if err := d.searchReturn(&a.Return); err != nil {
		return nil, err
	}
	if d.acceptWord("CHARSET") {
		if err := d.SP(); err != nil {
			return nil, err
		}
		if err := d.charset(&a); err != nil {
			return nil, err
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
	}
	return &a, d.searchProgram(&a)
}

// ReadSort reads the arguments of SORT (RFC 5256, with ESORT's RETURN,
// RFC 5267), after "SORT": [RETURN (...)] (criteria) charset keys; and the
// end of the command.
func (d *Decoder) ReadSort() (*SearchArgs, error) {
	var a SearchArgs
	if err := d.SP(); err != nil {
		return nil, err
	}
	if err := d.searchReturn(&a.Return); err != nil {
		return nil, err
	}
	err := d.List(func() error {
		var c SortCriterion
		k, err := d.Keyword()
		if err != nil {
			return err
		}
		if k == "REVERSE" {
			c.Reverse = true
			if err := d.SP(); err != nil {
				return err
			}
			if k, err = d.Keyword(); err != nil {
				return err
			}
		}
		if !sortKeys[k] {
			return syntaxError("Unknown sort criterion %s", k)
		}
		c.Key = k
		a.Sort = append(a.Sort, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(a.Sort) == 0 {
		return nil, syntaxError("Empty sort criteria")
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if err := d.charset(&a); err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	return &a, d.searchProgram(&a)
}

// ReadThread reads the arguments of THREAD (RFC 5256), after "THREAD":
// algorithm charset keys; and the end of the command. The algorithm is
// returned as sent, upper-cased; the server checks that it offers it.
func (d *Decoder) ReadThread() (*SearchArgs, error) {
	var a SearchArgs
	var err error
	if err := d.SP(); err != nil {
		return nil, err
	}
	if a.Thread, err = d.Keyword(); err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if err := d.charset(&a); err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	return &a, d.searchProgram(&a)
}

func (d *Decoder) charset(a *SearchArgs) error {
	cs, err := d.AString()
	if err != nil {
		return err
	}
	a.Charset = upperString([]byte(cs))
	return nil
}

// acceptWord reads the upper-case keyword w if it comes next, in any case,
// followed by SP or the end of the line.
func (d *Decoder) acceptWord(w string) bool {
	if d.pos+len(w) > len(d.line) || d.atLiteral() {
		return false
	}
	for i := 0; i < len(w); i++ {
		if upper(d.line[d.pos+i]) != w[i] {
			return false
		}
	}
	if end := d.pos + len(w); end < len(d.line) && d.line[end] != ' ' {
		return false
	}
	d.pos += len(w)
	return true
}

// searchReturn reads [RETURN SP "(" options ")" SP].
func (d *Decoder) searchReturn(r *SearchReturn) error {
	if !d.acceptWord("RETURN") {
		return nil
	}
	r.Given = true
	if err := d.SP(); err != nil {
		return err
	}
	err := d.List(func() error {
		k, err := d.Keyword()
		if err != nil {
			return err
		}
		switch k {
		case "MIN":
			r.Min = true
		case "MAX":
			r.Max = true
		case "ALL":
			r.All = true
		case "COUNT":
			r.Count = true
		case "SAVE":
			r.Save = true
		case "UPDATE":
			r.Update = true
		case "CONTEXT":
			r.Context = true
		case "PARTIAL":
			if err := d.SP(); err != nil {
				return err
			}
			p, err := d.partialRange()
			r.Partial = p
			return err
		default:
			return syntaxError("Unknown RETURN option %s", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return d.SP()
}

// partialRange reads partial-range (RFC 9394): n:m or -n:-m.
func (d *Decoder) partialRange() (*PartialRange, error) {
	if err := d.token(); err != nil {
		return nil, err
	}
	neg := d.Accept('-')
	a, err := d.number(1<<31-1, true)
	if err != nil {
		return nil, err
	}
	if err := d.Expect(':'); err != nil {
		return nil, err
	}
	if neg != d.Accept('-') {
		return nil, syntaxError("Invalid partial range")
	}
	b, err := d.number(1<<31-1, true)
	if err != nil {
		return nil, err
	}
	p := &PartialRange{int32(a), int32(b)}
	if neg {
		p.First, p.Last = -p.First, -p.Last
	}
	return p, nil
}

// searchProgram reads search-key *(SP search-key) and the end.
func (d *Decoder) searchProgram(a *SearchArgs) error {
	a.Key.Kind = SearchAnd
	for {
		k, err := d.searchKey()
		if err != nil {
			return err
		}
		a.Key.Keys = append(a.Key.Keys, k)
		if !d.Accept(' ') {
			break
		}
	}
	return d.End()
}

func (d *Decoder) searchKey() (SearchKey, error) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > d.opts.MaxDepth {
		return SearchKey{}, syntaxError("Search keys nested too deep")
	}
	c, ok := d.peek()
	if !ok {
		return SearchKey{}, d.expected("search key")
	}
	switch {
	case c == '(':
		// List counts the level itself: the parenthesis is one level,
		// not two.
		d.depth--
		defer func() { d.depth++ }()
		k := SearchKey{Kind: SearchAnd}
		err := d.List(func() error {
			sub, err := d.searchKey()
			k.Keys = append(k.Keys, sub)
			return err
		})
		if err == nil && len(k.Keys) == 0 {
			err = syntaxError("Empty search key list")
		}
		return k, err
	case isDigit(c) || c == '*' || c == '$':
		s, err := d.SeqSet()
		return SearchKey{Kind: SearchSeqSet, Seq: s}, err
	}
	name, err := d.Keyword()
	if err != nil {
		return SearchKey{}, err
	}
	if k, ok := searchFlagKeys[name]; ok {
		return SearchKey{Kind: k}, nil
	}
	if err := d.SP(); err != nil {
		if name == "NOT" || name == "OR" || name == "UID" || name == "HEADER" || name == "KEYWORD" ||
			name == "UNKEYWORD" || name == "LARGER" || name == "SMALLER" || name == "MODSEQ" ||
			searchStringKeys[name] != 0 || searchDateKeys[name] != 0 {
			return SearchKey{}, err
		}
		return SearchKey{}, syntaxError("Unknown search key %s", name)
	}
	if k, ok := searchStringKeys[name]; ok {
		s, err := d.AString()
		return SearchKey{Kind: k, Text: s}, err
	}
	if k, ok := searchDateKeys[name]; ok {
		t, err := d.Date()
		return SearchKey{Kind: k, Date: t}, err
	}
	switch name {
	case "NOT":
		sub, err := d.searchKey()
		return SearchKey{Kind: SearchNot, Keys: []SearchKey{sub}}, err
	case "OR":
		k := SearchKey{Kind: SearchOr, Keys: make([]SearchKey, 2)}
		if k.Keys[0], err = d.searchKey(); err != nil {
			return k, err
		}
		if err := d.SP(); err != nil {
			return k, err
		}
		k.Keys[1], err = d.searchKey()
		return k, err
	case "UID":
		s, err := d.SeqSet()
		return SearchKey{Kind: SearchUID, Seq: s}, err
	case "HEADER":
		k := SearchKey{Kind: SearchHeader}
		if k.Field, err = d.AString(); err != nil {
			return k, err
		}
		if err := d.SP(); err != nil {
			return k, err
		}
		k.Text, err = d.AString()
		return k, err
	case "KEYWORD", "UNKEYWORD":
		k := SearchKey{Kind: SearchKeyword}
		if name == "UNKEYWORD" {
			k.Kind = SearchUnkeyword
		}
		k.Text, err = d.Flag(false)
		return k, err
	case "LARGER", "SMALLER":
		k := SearchKey{Kind: SearchLarger}
		if name == "SMALLER" {
			k.Kind = SearchSmaller
		}
		k.Num, err = d.number(1<<63-1, false)
		return k, err
	case "OLDER", "YOUNGER":
		k := SearchKey{Kind: SearchOlder}
		if name == "YOUNGER" {
			k.Kind = SearchYounger
		}
		k.Num, err = d.number(1<<32-1, true)
		return k, err
	case "EMAILID", "THREADID":
		k := SearchKey{Kind: SearchEmailID}
		if name == "THREADID" {
			k.Kind = SearchThreadID
		}
		k.Text, err = d.Atom()
		return k, err
	case "MODSEQ":
		k := SearchKey{Kind: SearchModSeq}
		if d.Peek('"') || d.atLiteral() {
			if k.Field, err = d.String(); err != nil {
				return k, err
			}
			if err := d.SP(); err != nil {
				return k, err
			}
			t, err := d.Keyword()
			if err != nil {
				return k, err
			}
			if t != "PRIV" && t != "SHARED" && t != "ALL" {
				return k, syntaxError("Invalid MODSEQ entry type")
			}
			k.EntryType = map[string]string{"PRIV": "priv", "SHARED": "shared", "ALL": "all"}[t]
			if err := d.SP(); err != nil {
				return k, err
			}
		}
		k.Num, err = d.ModSeq(true)
		return k, err
	}
	return SearchKey{}, syntaxError("Unknown search key %s", name)
}

// String returns k in search-key syntax, as a client writes it (strings
// quoted or, if they must be, as literals): for logs and round trips.
func (k SearchKey) String() string { return string(k.appendTo(nil, true)) }

func (k SearchKey) appendTo(b []byte, top bool) []byte {
	switch k.Kind {
	case SearchAnd:
		if !top {
			b = append(b, '(')
		}
		for i, sub := range k.Keys {
			if i > 0 {
				b = append(b, ' ')
			}
			b = sub.appendTo(b, false)
		}
		if !top {
			b = append(b, ')')
		}
		return b
	case SearchOr:
		b = append(b, "OR "...)
		b = k.Keys[0].appendTo(b, false)
		b = append(b, ' ')
		return k.Keys[1].appendTo(b, false)
	case SearchNot:
		b = append(b, "NOT "...)
		return k.Keys[0].appendTo(b, false)
	case SearchSeqSet:
		return k.Seq.AppendTo(b)
	case SearchUID:
		return k.Seq.AppendTo(append(b, "UID "...))
	}
	for name, kind := range searchFlagKeys {
		if kind == k.Kind {
			return append(b, name...)
		}
	}
	for name, kind := range searchStringKeys {
		if kind == k.Kind {
			return appendQuotedOrLiteral(append(append(b, name...), ' '), k.Text)
		}
	}
	for name, kind := range searchDateKeys {
		if kind == k.Kind {
			return AppendDate(append(append(b, name...), ' '), k.Date)
		}
	}
	switch k.Kind {
	case SearchHeader:
		b = appendQuotedOrLiteral(append(b, "HEADER "...), k.Field)
		return appendQuotedOrLiteral(append(b, ' '), k.Text)
	case SearchKeyword:
		return append(append(b, "KEYWORD "...), k.Text...)
	case SearchUnkeyword:
		return append(append(b, "UNKEYWORD "...), k.Text...)
	case SearchLarger:
		return strconv.AppendUint(append(b, "LARGER "...), k.Num, 10)
	case SearchSmaller:
		return strconv.AppendUint(append(b, "SMALLER "...), k.Num, 10)
	case SearchOlder:
		return strconv.AppendUint(append(b, "OLDER "...), k.Num, 10)
	case SearchYounger:
		return strconv.AppendUint(append(b, "YOUNGER "...), k.Num, 10)
	case SearchEmailID:
		return append(append(b, "EMAILID "...), k.Text...)
	case SearchThreadID:
		return append(append(b, "THREADID "...), k.Text...)
	case SearchModSeq:
		b = append(b, "MODSEQ "...)
		if k.Field != "" {
			b = appendQuotedOrLiteral(b, k.Field)
			b = append(append(append(b, ' '), k.EntryType...), ' ')
		}
		return strconv.AppendUint(b, k.Num, 10)
	}
	return b
}

func appendQuotedOrLiteral(b []byte, s string) []byte {
	if stringForm(s, false) == formLiteral {
		return appendAString(b, s)
	}
	return appendQuoted(b, s)
}
