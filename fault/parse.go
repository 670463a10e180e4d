package fault

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// A ParseError is a mistake in a rule file: its line number and what is
// wrong.
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Err.Error() }

func (e *ParseError) Unwrap() error { return e.Err }

// maxLineBytes caps a line of a rule file.
const maxLineBytes = 4096

// Parse reads rules from r, one per line, as [ParseRule] describes them.
// Blank lines and lines starting with "#" are skipped. A mistake is a
// *ParseError naming its line; Parse stops at the first. The rules have no
// IDs: [Set.Add] gives them.
func Parse(r io.Reader) ([]Rule, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLineBytes)
	var rules []Rule
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		rule, err := ParseRule(line)
		if err != nil {
			return nil, &ParseError{Line: n, Err: err}
		}
		rules = append(rules, rule)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", maxLineBytes)
		}
		return nil, &ParseError{Line: n + 1, Err: err}
	}
	return rules, nil
}

// ParseRule parses one rule:
//
//	SERVICE MOMENT [WHO...] WHAT [HOW OFTEN...]
//
// SERVICE is smtp, pop3, imap, ftp, nntp, http, gopher, telnet, tcp or udp.
// MOMENT is connect, login, a command in upper case (MAIL, RCPT, DATA:
// SMTP's end of the message, RETR, FETCH, STOR, POST), data (an FTP data
// connection), datagram (udp), or an HTTP path prefix (/, /api/). Then come
// words and KEY=VALUE fields, in any order; a VALUE with spaces, quotes or
// "#" is written as a Go string literal ("451 4.3.0 try later"), and a "#"
// outside one starts a comment.
//
// Who (any client when none is given):
//
//	user=PATTERN     the login, a path.Match pattern, case-insensitive
//	client=ADDR      the client's address, or a prefix: 10.0.0.0/8
//	to=PATTERN       the recipient of smtp RCPT: *@fail.test
//
// What (exactly one):
//
//	reply=TEXT       reply TEXT, in the protocol's own form, instead; at
//	                 connect, refuse the connection with it
//	close[=TEXT]     say TEXT if given, then close the connection
//	reset            reset the connection (RST)
//	hang             answer nothing until the client gives up
//	delay=DURATION   wait, then go on as usual (with another fault: wait
//	                 before it)
//	trickle=N        send the reply at N bytes a second (with reply or
//	                 close: their text)
//	truncate=N       cut the connection N bytes into what the server sends
//	drop             udp: no reply
//	duplicate        udp: the reply twice
//	reorder          udp: the reply after the next one
//	disk-full        refuse the delivery as if the disk were full
//	store-error      fail the delivery as a transient store error
//
// How often (every match when none is given; together, all must hold):
//
//	prob=P           with probability P, 0 < P ≤ 1, drawn from the seed
//	every=N          the Nth match, the 2Nth, ...
//	first=N          the first N matches only
//	after=DURATION   only once the rule has been loaded this long
//	for=DURATION     only for this long (from after)
//
// This function doesn't perform I/O.
func ParseRule(line string) (Rule, error) {
	toks, err := tokenize(line)
	if err != nil {
		return Rule{}, err
	}
	if len(toks) < 2 || toks[0].hasValue || toks[1].hasValue {
		return Rule{}, errors.New("want SERVICE MOMENT and a fault")
	}
	r := Rule{Service: toks[0].key, Moment: toks[1].key}
	seen := make(map[string]bool)
	var kind Kind
	setKind := func(k Kind, tok string) error {
		if kind != 0 {
			return fmt.Errorf("%s: one fault per rule (%s already)", tok, kind)
		}
		kind = k
		return nil
	}
	for _, t := range toks[2:] {
		if seen[t.key] {
			return Rule{}, fmt.Errorf("%s given twice", t.key)
		}
		seen[t.key] = true
		if err := r.setField(t, setKind); err != nil {
			return Rule{}, err
		}
	}
	switch {
	case kind != 0:
		r.Kind = kind
	case r.Rate > 0:
		r.Kind = KindTrickle
	case seen["delay"]:
		r.Kind = KindDelay
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// A token is a word or a KEY=VALUE field of a rule.
type token struct {
	key, value string
	hasValue   bool
}

// words are the fields that take no value.
var words = map[string]Kind{
	"close":       KindClose,
	"reset":       KindReset,
	"hang":        KindHang,
	"drop":        KindDrop,
	"duplicate":   KindDuplicate,
	"reorder":     KindReorder,
	"disk-full":   KindDiskFull,
	"store-error": KindStoreError,
}

// setField sets the field of r that t gives.
func (r *Rule) setField(t token, setKind func(Kind, string) error) error {
	if k, ok := words[t.key]; ok {
		if t.hasValue && t.key != "close" {
			return fmt.Errorf("%s takes no value", t.key)
		}
		if t.hasValue {
			r.Text = t.value
		}
		return setKind(k, t.key)
	}
	if !t.hasValue {
		return fmt.Errorf("unknown word %q", t.key)
	}
	var err error
	v := t.value
	switch t.key {
	case "user":
		r.User, err = nonEmpty(v)
	case "to":
		r.Rcpt, err = nonEmpty(v)
	case "client":
		r.Client, err = parseClient(v)
	case "reply":
		r.Text = v
		err = setKind(KindReply, t.key)
	case "delay":
		r.Delay, err = positiveDuration(v)
	case "trickle":
		r.Rate, err = positiveInt(v)
	case "truncate":
		if r.Bytes, err = strconv.Atoi(v); err == nil && r.Bytes < 0 {
			err = errors.New("want a number of bytes ≥ 0")
		}
		if err == nil {
			err = setKind(KindTruncate, t.key)
		}
	case "prob":
		r.Probability, err = strconv.ParseFloat(v, 64)
		if err == nil && !(r.Probability > 0 && r.Probability <= 1) {
			err = errors.New("want 0 < prob ≤ 1")
		}
	case "every":
		r.Every, err = positiveInt(v)
	case "first":
		r.First, err = positiveInt(v)
	case "after":
		r.After, err = positiveDuration(v)
	case "for":
		r.For, err = positiveDuration(v)
	default:
		return fmt.Errorf("unknown field %q", t.key)
	}
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return fmt.Errorf("%s=%s: %w", t.key, strconv.Quote(v), err)
	}
	return nil
}

func nonEmpty(v string) (string, error) {
	if v == "" {
		return "", errors.New("empty")
	}
	return v, nil
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && n <= 0 {
		err = errors.New("want a number > 0")
	}
	return n, err
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err == nil && d <= 0 {
		err = errors.New("want a duration > 0, such as 2s")
	}
	return d, err
}

func parseClient(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, errors.New("want an address or a prefix such as 10.0.0.0/8")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("want an address or a prefix such as 10.0.0.0/8")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// tokenize splits a rule line into its tokens. A value may be a Go string
// literal; a "#" that starts a token starts a comment.
func tokenize(line string) ([]token, error) {
	var toks []token
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" || line[0] == '#' {
			return toks, nil
		}
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		eq := strings.IndexByte(line[:end], '=')
		if eq < 0 {
			if strings.ContainsAny(line[:end], `"`) {
				return nil, fmt.Errorf("unexpected quote in %q", line[:end])
			}
			toks = append(toks, token{key: line[:end]})
			line = line[end:]
			continue
		}
		key := line[:eq]
		if key == "" || strings.ContainsAny(key, `"#`) {
			return nil, fmt.Errorf("malformed field %q", line[:end])
		}
		rest := line[eq+1:]
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("%s: unterminated or malformed quoted value", key)
			}
			v, _ := strconv.Unquote(q)
			rest = rest[len(q):]
			if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				return nil, fmt.Errorf("%s: text after the closing quote", key)
			}
			toks = append(toks, token{key: key, value: v, hasValue: true})
			line = rest
			continue
		}
		vend := strings.IndexAny(rest, " \t")
		if vend < 0 {
			vend = len(rest)
		}
		v := rest[:vend]
		if strings.ContainsAny(v, `"#`) {
			return nil, fmt.Errorf("%s: a value with a quote or # must be quoted", key)
		}
		toks = append(toks, token{key: key, value: v, hasValue: true})
		line = rest[vend:]
	}
}

// String returns r in the format of [ParseRule], which parses it back to
// r (without its ID).
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Service)
	b.WriteByte(' ')
	b.WriteString(r.Moment)
	field := func(key, value string) {
		b.WriteString(" " + key + "=" + quoteValue(value))
	}
	if r.User != "" {
		field("user", r.User)
	}
	if r.Client.IsValid() {
		if r.Client.IsSingleIP() {
			field("client", r.Client.Addr().String())
		} else {
			field("client", r.Client.String())
		}
	}
	if r.Rcpt != "" {
		field("to", r.Rcpt)
	}
	switch r.Kind {
	case KindReply:
		b.WriteString(" reply=" + strconv.Quote(r.Text))
	case KindClose:
		b.WriteString(" close")
		if r.Text != "" {
			b.WriteString("=" + strconv.Quote(r.Text))
		}
	case KindTruncate:
		field("truncate", strconv.Itoa(r.Bytes))
	case KindDelay, KindTrickle:
	default:
		b.WriteString(" " + r.Kind.String())
	}
	if r.Delay != 0 {
		field("delay", r.Delay.String())
	}
	if r.Rate != 0 {
		field("trickle", strconv.Itoa(r.Rate))
	}
	if r.Probability != 0 {
		field("prob", strconv.FormatFloat(r.Probability, 'g', -1, 64))
	}
	if r.Every != 0 {
		field("every", strconv.Itoa(r.Every))
	}
	if r.First != 0 {
		field("first", strconv.Itoa(r.First))
	}
	if r.After != 0 {
		field("after", r.After.String())
	}
	if r.For != 0 {
		field("for", r.For.String())
	}
	return b.String()
}

// quoteValue returns v as a value of a field: as it is, or quoted if it
// must be.
func quoteValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"#\\") || strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c >= 0x7f }) {
		return strconv.Quote(v)
	}
	return v
}
