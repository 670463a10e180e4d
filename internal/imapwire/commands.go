package imapwire

import (
	"time"
)

// StoreArgs are the arguments of STORE and UID STORE (RFC 9051 §6.4.6,
// RFC 7162 §3.1.3).
type StoreArgs struct {
	Seq SeqSet
	// UnchangedSince is the UNCHANGEDSINCE modifier, if Conditional.
	UnchangedSince uint64
	Conditional    bool
	Op             byte // '+' (add), '-' (remove) or 0 (replace)
	Silent         bool // .SILENT
	Flags          []string
}

// ReadStore reads the arguments of STORE, after "STORE" SP, and the end of
// the command.
func (d *Decoder) ReadStore() (*StoreArgs, error) {
	var a StoreArgs
	var err error
	if a.Seq, err = d.SeqSet(); err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if d.Peek('(') {
		err := d.List(func() error {
			k, err := d.Keyword()
			if err != nil {
				return err
			}
			if k != "UNCHANGEDSINCE" {
				return syntaxError("Unknown STORE modifier %s", k)
			}
			if err := d.SP(); err != nil {
				return err
			}
			a.Conditional = true
			a.UnchangedSince, err = d.ModSeq(true)
			return err
		})
		if err != nil {
			return nil, err
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
	}
	if d.Accept('+') {
		a.Op = '+'
	} else if d.Accept('-') {
		a.Op = '-'
	}
	k, err := d.Keyword()
	if err != nil {
		return nil, err
	}
	switch k {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	default:
		return nil, syntaxError("Expected FLAGS, got %s", k)
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if d.Peek('(') {
		if a.Flags, err = d.Flags(false); err != nil {
			return nil, err
		}
	} else {
		for {
			f, err := d.Flag(false)
			if err != nil {
				return nil, err
			}
			a.Flags = append(a.Flags, f)
			if !d.Accept(' ') {
				break
			}
		}
	}
	return &a, d.End()
}

// An AppendMessage is one message of APPEND (RFC 9051 §6.3.12), of
// MULTIAPPEND (RFC 3502) or of CATENATE (RFC 4469).
type AppendMessage struct {
	Flags []string  // nil if none were given
	Date  time.Time // zero if none was given
	// Body is the message, to be read before the decoder is used again;
	// nil for CATENATE, whose parts ReadCatenatePart returns.
	Body *LiteralReader
}

// A CatenatePart is one part of CATENATE (RFC 4469): a URL or a TEXT
// literal, to be read before the decoder is used again.
type CatenatePart struct {
	URL  string
	Text *LiteralReader
}

// ReadAppendMessage reads the next message of APPEND, after the mailbox
// (the SP before it is read here), up to and including its literal's
// announcement, sending a continuation request for it if it is
// synchronizing. It returns nil at the end of the command, which it reads,
// after the first message (MULTIAPPEND: more than one may come). A message
// larger than MaxMessageBytes is a NO [TOOBIG] *CommandError.
func (d *Decoder) ReadAppendMessage() (*AppendMessage, error) {
	first := !d.appendStarted
	if err := d.finishBody(); err != nil {
		return nil, err
	}
	if d.inCatenate {
		return nil, syntaxError("CATENATE parts not read")
	}
	if d.utf8Paren {
		d.utf8Paren = false
		if err := d.Expect(')'); err != nil {
			return nil, err
		}
	}
	d.appendStarted = true
	if !first && d.AtEnd() {
		d.appendStarted = false
		return nil, d.End()
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	var m AppendMessage
	var err error
	if d.Peek('(') {
		if m.Flags, err = d.Flags(false); err != nil {
			return nil, err
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
	}
	if d.Peek('"') {
		if m.Date, err = d.DateTime(); err != nil {
			return nil, err
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
	}
	if err := d.token(); err != nil {
		return nil, err
	}
	if d.acceptWord("CATENATE") {
		if err := d.SP(); err != nil {
			return nil, err
		}
		if err := d.Expect('('); err != nil {
			return nil, err
		}
		d.catParts = 0
		d.inCatenate = true
		return &m, nil
	}
	if d.acceptWord("UTF8") {
		// RFC 6855 §4: "UTF8" SP "(" literal8 ")", a message with UTF-8
		// header fields; the ")" is read with what follows the literal.
		if err := d.SP(); err != nil {
			return nil, err
		}
		if err := d.Expect('('); err != nil {
			return nil, err
		}
		d.utf8Paren = true
	}
	m.Body, err = d.streamLiteral(true)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadCatenatePart reads the next part of a CATENATE message; it returns
// nil after the last, at the closing parenthesis.
func (d *Decoder) ReadCatenatePart() (*CatenatePart, error) {
	if err := d.finishBody(); err != nil {
		return nil, err
	}
	if !d.inCatenate {
		return nil, syntaxError("Not in CATENATE")
	}
	if d.catParts > 0 {
		if d.Accept(')') {
			d.inCatenate = false
			return nil, nil
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
	}
	d.catParts++
	k, err := d.Keyword()
	if err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	switch k {
	case "URL":
		u, err := d.AString()
		return &CatenatePart{URL: u}, err
	case "TEXT":
		if err := d.token(); err != nil {
			return nil, err
		}
		lr, err := d.streamLiteral(true)
		if err != nil {
			return nil, err
		}
		return &CatenatePart{Text: lr}, nil
	}
	return nil, syntaxError("Unknown CATENATE part %s", k)
}

// ListArgs are the arguments of LIST (RFC 9051 §6.3.9, LIST-EXTENDED
// RFC 5258, LIST-STATUS RFC 5819) and LSUB (RFC 3501 §6.3.9).
type ListArgs struct {
	Select    []string // selection options, upper-cased
	Reference string
	Patterns  []string // one, or several with LIST-EXTENDED
	Return    []string // return options but STATUS, upper-cased
	// Status holds the items of RETURN (STATUS (...)), upper-cased; nil
	// if not given.
	Status []string
	// Extended is whether the command used LIST-EXTENDED syntax: then the
	// answer's form follows RFC 5258 (an empty pattern is not special).
	Extended bool
}

// ReadList reads the arguments of LIST (lsub: LSUB, with no extended
// syntax), after "LIST" SP, and the end of the command. Patterns that
// are not valid modified UTF-7 are returned as sent.
func (d *Decoder) ReadList(lsub bool) (*ListArgs, error) {
	var a ListArgs
	var err error
	if !lsub && d.Peek('(') {
		a.Extended = true
		if a.Select, err = d.keywordList(); err != nil {
			return nil, err
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
	}
	if a.Reference, err = d.ListMailbox(); err != nil {
		return nil, err
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	if !lsub && d.Peek('(') {
		a.Extended = true
		err = d.List(func() error {
			p, err := d.ListMailbox()
			a.Patterns = append(a.Patterns, p)
			return err
		})
		if err == nil && len(a.Patterns) == 0 {
			err = syntaxError("Empty pattern list")
		}
	} else {
		var p string
		p, err = d.ListMailbox()
		a.Patterns = []string{p}
	}
	if err != nil {
		return nil, err
	}
	if !lsub && d.Accept(' ') {
		a.Extended = true
		if !d.acceptWord("RETURN") {
			return nil, d.expected("RETURN")
		}
		if err := d.SP(); err != nil {
			return nil, err
		}
		a.Return = []string{}
		err := d.List(func() error {
			k, err := d.Keyword()
			if err != nil {
				return err
			}
			if k == "STATUS" {
				if err := d.SP(); err != nil {
					return err
				}
				a.Status, err = d.statusItems()
				return err
			}
			a.Return = append(a.Return, k)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return &a, d.End()
}

func (d *Decoder) keywordList() ([]string, error) {
	l := []string{}
	err := d.List(func() error {
		k, err := d.Keyword()
		l = append(l, k)
		return err
	})
	return l, err
}

// StatusItems are the status-att of RFC 9051 §6.3.11 and its extensions
// (RECENT of RFC 3501, HIGHESTMODSEQ of RFC 7162, SIZE of RFC 8438,
// APPENDLIMIT of RFC 7889, MAILBOXID of RFC 8474).
var statusItems = map[string]bool{"MESSAGES": true, "RECENT": true, "UIDNEXT": true, "UIDVALIDITY": true,
	"UNSEEN": true, "DELETED": true, "SIZE": true, "HIGHESTMODSEQ": true, "APPENDLIMIT": true, "MAILBOXID": true}

func (d *Decoder) statusItems() ([]string, error) {
	l := []string{}
	err := d.List(func() error {
		k, err := d.Keyword()
		if err == nil && !statusItems[k] {
			err = syntaxError("Unknown STATUS item %s", k)
		}
		l = append(l, k)
		return err
	})
	return l, err
}

// ReadStatus reads the arguments of STATUS, after "STATUS" SP: a mailbox
// and a list of items, upper-cased and known; and the end of the command.
// An empty list is accepted.
func (d *Decoder) ReadStatus() (mailbox string, items []string, err error) {
	if mailbox, err = d.Mailbox(); err != nil {
		return "", nil, err
	}
	if err := d.SP(); err != nil {
		return "", nil, err
	}
	if items, err = d.statusItems(); err != nil {
		return "", nil, err
	}
	return mailbox, items, d.End()
}

// SelectArgs are the arguments of SELECT and EXAMINE (RFC 9051 §6.3.2,
// with RFC 7162's CONDSTORE and QRESYNC parameters).
type SelectArgs struct {
	Mailbox   string
	CondStore bool
	QResync   *QResyncArgs
}

// QResyncArgs are the QRESYNC select parameter (RFC 7162 §3.2.5).
type QResyncArgs struct {
	UIDValidity uint32
	ModSeq      uint64
	KnownUIDs   SeqSet // empty if not given
	// KnownSeqs and KnownSeqUIDs are the seq-match-data, empty if not given.
	KnownSeqs, KnownSeqUIDs SeqSet
}

// ReadSelect reads the arguments of SELECT or EXAMINE, after the command
// name and SP, and the end of the command.
func (d *Decoder) ReadSelect() (*SelectArgs, error) {
	var a SelectArgs
	var err error
	if a.Mailbox, err = d.Mailbox(); err != nil {
		return nil, err
	}
	if d.Accept(' ') {
		err := d.List(func() error {
			k, err := d.Keyword()
			if err != nil {
				return err
			}
			switch k {
			case "CONDSTORE":
				a.CondStore = true
				return nil
			case "QRESYNC":
				if err := d.SP(); err != nil {
					return err
				}
				q := &QResyncArgs{}
				a.QResync = q
				return d.List(func() error {
					if q.UIDValidity != 0 {
						return syntaxError("Invalid QRESYNC parameter")
					}
					var err error
					if q.UIDValidity, err = d.NzNumber(); err != nil {
						return err
					}
					if err := d.SP(); err != nil {
						return err
					}
					if q.ModSeq, err = d.ModSeq(false); err != nil {
						return err
					}
					if d.Accept(' ') && !d.Peek('(') {
						if q.KnownUIDs, err = d.SeqSet(); err != nil {
							return err
						}
						if !d.Accept(' ') {
							return nil
						}
					}
					if d.Peek('(') {
						return d.List(func() error {
							if len(q.KnownSeqs.Ranges) > 0 {
								return syntaxError("Invalid QRESYNC seq-match-data")
							}
							if q.KnownSeqs, err = d.SeqSet(); err != nil {
								return err
							}
							if err := d.SP(); err != nil {
								return err
							}
							q.KnownSeqUIDs, err = d.SeqSet()
							return err
						})
					}
					return nil
				})
			}
			return syntaxError("Unknown SELECT parameter %s", k)
		})
		if err != nil {
			return nil, err
		}
	}
	return &a, d.End()
}

// An ArgKind is the kind of a generic argument.
type ArgKind int

// The kinds of generic arguments.
const (
	ArgAtom   ArgKind = iota + 1 // an atom, number, NIL or the like, as sent
	ArgString                    // a quoted string or literal
	ArgList                      // a parenthesized list
)

// An Arg is a generic argument, for commands whose arguments are read
// without knowing their grammar: ID (RFC 2971), NOTIFY (RFC 5465),
// extensions.
type Arg struct {
	Kind  ArgKind
	Value string // of ArgAtom, ArgString
	List  []Arg  // of ArgList
}

// Args reads the rest of the command as generic arguments, separated by
// SP, and the end of the command. An atom here is any run of octets
// other than SP, parentheses, quote and CTL, a bracketed part of it
// ("BODY[HEADER.FIELDS (From)]") included.
func (d *Decoder) Args() ([]Arg, error) {
	var args []Arg
	if d.AtEnd() {
		return args, d.End()
	}
	if err := d.SP(); err != nil {
		return nil, err
	}
	for {
		a, err := d.arg()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if !d.Accept(' ') {
			break
		}
	}
	return args, d.End()
}

func (d *Decoder) arg() (Arg, error) {
	if err := d.token(); err != nil {
		return Arg{}, err
	}
	switch {
	case d.atLiteral():
		s, err := d.literal(true)
		return Arg{Kind: ArgString, Value: s}, err
	case d.Peek('"'):
		s, err := d.quoted()
		return Arg{Kind: ArgString, Value: s}, err
	case d.Peek('('):
		a := Arg{Kind: ArgList, List: []Arg{}}
		err := d.List(func() error {
			sub, err := d.arg()
			a.List = append(a.List, sub)
			return err
		})
		return a, err
	}
	i, depth := d.pos, 0
	for ; i < len(d.line) && !(d.lit.ok && i >= d.lit.start); i++ {
		c := d.line[i]
		if c == '[' {
			depth++
		} else if c == ']' && depth > 0 {
			depth--
		} else if depth == 0 && (c == ' ' || c == '(' || c == ')' || c == '"') || c < 0x20 || c == 0x7f {
			break
		}
	}
	if i == d.pos || depth > 0 {
		return Arg{}, d.expected("argument")
	}
	a := Arg{Kind: ArgAtom, Value: string(d.line[d.pos:i])}
	d.pos = i
	return a, nil
}
