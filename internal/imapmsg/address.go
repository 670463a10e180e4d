package imapmsg

// ParseAddressList parses an address-list header value (From, To, …) as
// RFC 5322 §3.4 and §4.4 (obsolete syntax) allow, for an ENVELOPE. Groups
// become a GroupStart address, the members and a GroupEnd address; a route
// is kept in Route; comments are skipped, except that a comment after an
// addr-spec with no display name becomes the name ("user@host (Name)").
// Display names keep encoded words as they are. Malformed input gives the
// best reading, never an error; a missing local part or domain is
// MISSING_MAILBOX or MISSING_DOMAIN, a broken angle address has host
// SYNTAX_ERROR and a broken route is INVALID_ROUTE, as in Dovecot. Input
// after the last address that can be read is ignored.
func ParseAddressList(s string) []Address {
	p := addrParser{l: lexer{b: s}}
	if !p.l.skip() {
		return nil
	}
	for {
		p.address()
		if p.l.peek() != ',' {
			break
		}
		p.l.i++
		if !p.l.skip() {
			break
		}
	}
	return p.out
}

type addrParser struct {
	l   lexer
	out []Address

	// The address being read.
	a                     Address
	hasMailbox, hasDomain bool
	invalid               bool
}

func (p *addrParser) reset() {
	p.a = Address{}
	p.hasMailbox, p.hasDomain, p.invalid = false, false, false
}

// addFixed appends the current address, filling what is missing.
func (p *addrParser) addFixed() {
	if !p.hasMailbox {
		p.a.Mailbox = "MISSING_MAILBOX"
	}
	if !p.hasDomain || p.a.Host == "" {
		p.a.Host = "MISSING_DOMAIN"
	}
	p.out = append(p.out, p.a)
	p.reset()
}

func (p *addrParser) address() {
	start := p.l.i
	if p.group() {
		return
	}
	p.l.i = start
	p.reset()
	p.mailbox()
}

// group reads display-name ":" [mailbox-list / CFWS] ";" and reports
// whether the input was a group.
func (p *addrParser) group() bool {
	name := p.l.phrase()
	if name == "" || p.l.peek() != ':' {
		return false
	}
	p.l.i++
	more := p.l.skip()
	p.out = append(p.out, Address{Mailbox: name, GroupStart: true})
	if more && p.l.peek() != ';' {
		for {
			p.reset()
			p.mailbox()
			if p.l.peek() != ',' {
				break
			}
			p.l.i++
			if !p.l.skip() {
				break
			}
		}
	}
	if p.l.peek() == ';' {
		p.l.i++
		p.l.skip()
	}
	p.out = append(p.out, Address{GroupEnd: true})
	p.reset()
	return true
}

func (p *addrParser) mailbox() {
	start := p.l.i
	if !p.nameAddr() {
		p.l.i = start
		p.reset()
		p.addrSpec()
		if p.invalid && p.a.Name == "" && p.hasMailbox && !p.hasDomain {
			p.a.Name, p.a.Mailbox, p.hasMailbox = p.a.Mailbox, "", false
		}
	}
	p.addFixed()
}

// nameAddr reads [display-name] angle-addr and reports whether the input
// was one.
func (p *addrParser) nameAddr() bool {
	name := p.l.phrase()
	if p.l.peek() != '<' {
		return false
	}
	p.a.Name = name
	if !p.angleAddr() {
		p.a.Host, p.hasDomain = "SYNTAX_ERROR", true
		p.invalid = true
		// Resynchronize after the broken address.
		for p.l.more() && p.l.peek() != ',' && p.l.peek() != ';' {
			if p.l.peek() == '>' {
				p.l.i++
				p.l.skip()
				break
			}
			p.l.i++
		}
	}
	return true
}

// angleAddr reads "<" [obs-route] addr-spec ">".
func (p *addrParser) angleAddr() bool {
	l := &p.l
	l.i++
	if !l.skip() {
		return false
	}
	if l.peek() == '@' {
		route, ok := p.route()
		if ok && l.peek() == ':' {
			l.i++
			p.a.Route = route
		} else {
			p.a.Route = "INVALID_ROUTE"
			if !l.more() {
				return false
			}
			if l.peek() == ':' {
				l.i++
			}
		}
		if !l.skip() {
			return false
		}
	}
	if l.peek() != '>' {
		mbox, ok := l.localPart()
		if !ok {
			return false
		}
		p.a.Mailbox, p.hasMailbox = mbox, true
		if l.peek() == '@' {
			d, ok := l.domain()
			if !ok {
				return false
			}
			p.a.Host, p.hasDomain = d, true
		}
	}
	if l.peek() != '>' {
		return false
	}
	l.i++
	l.skip()
	return true
}

// route reads obs-domain-list: "@" domain *(*(CFWS / ",") "@" domain).
func (p *addrParser) route() (string, bool) {
	l := &p.l
	var r []byte
	for l.peek() == '@' {
		d, ok := l.domain()
		if !ok {
			return "", false
		}
		if len(r) > 0 {
			r = append(r, ',')
		}
		r = append(r, '@')
		r = append(r, d...)
		for l.skip() && l.peek() == ',' {
			l.i++
		}
	}
	return string(r), true
}

// addrSpec reads local-part "@" domain, with a comment after it taken as
// the display name.
func (p *addrParser) addrSpec() {
	l := &p.l
	l.comment = l.comment[:0]
	quoted := l.peek() == '"'
	mbox, ok := l.localPart()
	if ok {
		p.a.Mailbox, p.hasMailbox = mbox, true
	}
	if !ok || !l.more() {
		p.invalid = true
	}
	hadDomain := false
	if l.peek() == '@' {
		hadDomain = true
		d, ok := l.domain()
		if ok {
			p.a.Host, p.hasDomain = d, true
		} else {
			p.invalid = true
		}
	}
	if len(l.comment) > 0 {
		p.a.Name = string(l.comment)
		return
	}
	if hadDomain {
		return
	}
	// A local part alone is a mailbox with no domain; followed by more
	// words it was a display name with no address.
	if rest := l.phrase(); rest != "" {
		p.a.Name = mbox + " " + rest
		if mbox == "" {
			p.a.Name = rest
		}
		p.a.Mailbox, p.hasMailbox = "", false
	} else if !quoted {
		p.hasDomain = true
	}
	p.invalid = true
}
