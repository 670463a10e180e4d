package imapd

import (
	"bytes"
	"io"
	"strings"

	"golang.org/x/text/cases"

	"github.com/inetkit/inetkit/internal/imapmsg"
)

// fold returns s case-folded (Unicode full case folding), the form in
// which the text search keys compare: SEARCH is case-insensitive (RFC 9051
// §6.4.4), for all of Unicode as in Dovecot's i;unicode-casemap.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return cases.Fold().String(s)
		}
	}
	// ASCII, the usual case, folds to lower case.
	return strings.ToLower(s)
}

// msgText is a message read for the text search keys (RFC 9051 §6.4.4:
// BCC, BODY, CC, FROM, HEADER, SUBJECT, TEXT, TO). What the keys compare
// is worked out once per message, when a key first needs it: header
// values with their encoded words decoded (RFC 2047), address fields as
// their parsed addresses, and the text of the body parts decoded from
// their transfer encoding and charset.
type msgText struct {
	raw    []byte
	read   bool    // fields were read
	fields []field // of the message's header, once read
	body   *string // folded text of the body, once worked out
	header *string // folded text of the whole header, once worked out
}

// A field is a header field: its name, lower case, and its unfolded value
// as written.
type field struct {
	name, value string
	folded      *string // the value decoded and folded, once worked out
}

// newMsgText returns the message raw for the text keys; it keeps raw,
// which the caller must not change while it uses the result.
func newMsgText(raw []byte) *msgText {
	return &msgText{raw: raw}
}

// headerFields returns the fields of the message's header, read on first use.
func (t *msgText) headerFields() []field {
	if !t.read {
		t.read = true
		eachField(t.raw, func(name, value string) {
			t.fields = append(t.fields, field{name: strings.ToLower(name), value: value})
		})
	}
	return t.fields
}

// decoded returns f's value decoded and folded, each run of whitespace
// made one space: a value folded over lines matches as it reads.
func (f *field) decoded() string {
	if f.folded == nil {
		s := fold(strings.Join(strings.Fields(decodeHeader(f.value)), " "))
		f.folded = &s
	}
	return *f.folded
}

// matchHeader reports whether a field name (lower case) of the header holds
// needle (folded), or, for an empty needle, whether there is such a field
// (RFC 9051 §6.4.4 HEADER). An address field also matches on its
// addresses as matchAddresses reads them.
func (t *msgText) matchHeader(name, needle string) bool {
	fields := t.headerFields()
	for i := range fields {
		f := &fields[i]
		if f.name != name {
			continue
		}
		if needle == "" || strings.Contains(f.decoded(), needle) {
			return true
		}
		if isAddressField(name) && strings.Contains(addressText(f.value), needle) {
			return true
		}
	}
	return false
}

func isAddressField(name string) bool {
	switch name {
	case "from", "to", "cc", "bcc", "sender", "reply-to", "resent-from", "resent-to", "resent-cc", "resent-bcc":
		return true
	}
	return false
}

// matchAddresses reports whether an address field name (lower case) holds
// needle (folded) in its addresses: each written as "Name <user@host>"
// with the display name decoded, groups as "group: members;", so that
// comments, quoting and folding in the field do not matter, as in
// Dovecot. An empty needle matches a message that has the field.
func (t *msgText) matchAddresses(name, needle string) bool {
	fields := t.headerFields()
	for i := range fields {
		f := &fields[i]
		if f.name == name && (needle == "" || strings.Contains(addressText(f.value), needle)) {
			return true
		}
	}
	return false
}

// addressText returns the address-list value as matchAddresses compares
// it, folded.
func addressText(value string) string {
	var b strings.Builder
	sep := ""
	for _, a := range imapmsg.ParseAddressList(value) {
		switch {
		case a.GroupStart:
			b.WriteString(sep + decodeHeader(a.Mailbox) + ": ")
			sep = ""
			continue
		case a.GroupEnd:
			b.WriteString(";")
			sep = ", "
			continue
		}
		b.WriteString(sep)
		sep = ", "
		spec := addrSpec(&a)
		if a.Name != "" {
			b.WriteString(decodeHeader(a.Name) + " <" + spec + ">")
		} else {
			b.WriteString(spec)
		}
	}
	return fold(b.String())
}

// matchBody reports whether the body of the message holds needle (folded):
// the text of its text parts, decoded (RFC 9051 §6.4.4 BODY), and the
// headers and text parts of the messages it attaches.
func (t *msgText) matchBody(needle string) bool {
	if t.body == nil {
		root := imapmsg.Parse(t.raw)
		var b strings.Builder
		t.appendBody(&b, root)
		s := fold(b.String())
		t.body = &s
	}
	return strings.Contains(*t.body, needle)
}

// matchText reports whether the header or the body holds needle (TEXT).
func (t *msgText) matchText(needle string) bool {
	if t.header == nil {
		var b strings.Builder
		fields := t.headerFields()
		for i := range fields {
			f := &fields[i]
			b.WriteString(f.name + ": " + f.decoded() + "\n")
		}
		s := b.String()
		t.header = &s
	}
	return strings.Contains(*t.header, needle) || t.matchBody(needle)
}

// appendBody appends to b the searchable text of part p: the decoded text
// of a text part; the parts of a multipart; the header and body of an
// attached message. Other parts (images, applications) are not text and
// are not searched, as in Dovecot.
func (t *msgText) appendBody(b *strings.Builder, p *imapmsg.Part) {
	switch p.Kind {
	case imapmsg.KindMultipart:
		for _, sub := range p.Parts {
			t.appendBody(b, sub)
		}
	case imapmsg.KindMessage:
		if m := p.Message; m != nil {
			eachField(t.raw[m.Start:m.BodyStart], func(name, value string) {
				b.WriteString(name + ": " + decodeHeader(value) + "\n")
			})
			t.appendBody(b, m)
		}
	case imapmsg.KindText:
		b.WriteString(partText(t.raw[p.BodyStart:p.End], p))
		b.WriteByte('\n')
	}
}

// partText returns the body of text part p decoded from its transfer
// encoding and its charset to UTF-8. An unknown encoding or charset leaves
// the octets as they are; what is not UTF-8 then becomes U+FFFD.
func partText(body []byte, p *imapmsg.Part) string {
	enc := ""
	if p.Encoding != nil {
		enc = *p.Encoding
	}
	if dec, err := imapmsg.Decode(nil, body, enc); err == nil {
		body = dec
	}
	cs := ""
	for _, prm := range p.Params {
		if strings.EqualFold(prm.Name, "charset") {
			cs = prm.Value
		}
	}
	if e := lookupCharset(cs); e != nil && cs != "" {
		if out, err := io.ReadAll(e.NewDecoder().Reader(bytes.NewReader(body))); err == nil {
			body = out
		}
	}
	return strings.ToValidUTF8(string(body), "\uFFFD")
}
