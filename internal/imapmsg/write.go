package imapmsg

import (
	"strings"

	"github.com/inetkit/inetkit/internal/imapwire"
)

// WriteEnvelope writes env as an ENVELOPE (RFC 3501 §7.4.2), without the
// item name: the parenthesized list of date, subject, from, sender,
// reply-to, to, cc, bcc, in-reply-to and message-id. Sender and reply-to
// default to from. A nil env is an envelope of NILs.
func WriteEnvelope(e *imapwire.Encoder, env *Envelope) {
	e.Special('(')
	if env == nil {
		env = &Envelope{}
	}
	nstring(e, env.Date)
	e.SP()
	if env.Subject == nil {
		e.NIL()
	} else {
		e.String(humanize(*env.Subject))
	}
	for _, l := range [][]Address{env.From, or(env.Sender, env.From), or(env.ReplyTo, env.From), env.To, env.Cc, env.Bcc} {
		e.SP()
		writeAddresses(e, l)
	}
	e.SP()
	nstring(e, env.InReplyTo)
	e.SP()
	nstring(e, env.MessageID)
	e.Special(')')
}

func or(a, b []Address) []Address {
	if a != nil {
		return a
	}
	return b
}

func nstring(e *imapwire.Encoder, s *string) {
	if s == nil {
		e.NIL()
		return
	}
	e.String(*s)
}

func nonEmpty(e *imapwire.Encoder, s string) {
	e.NString(s, s != "")
}

func writeAddresses(e *imapwire.Encoder, l []Address) {
	if len(l) == 0 {
		e.NIL()
		return
	}
	e.Special('(')
	for _, a := range l {
		switch {
		case a.GroupEnd:
			e.Atom("(NIL NIL NIL NIL)")
			continue
		case a.GroupStart:
			e.Atom("(NIL NIL ").String(a.Mailbox).Atom(" NIL)")
			continue
		}
		e.Special('(')
		nonEmpty(e, humanize(a.Name))
		e.SP()
		nonEmpty(e, a.Route)
		e.SP().String(a.Mailbox).SP().String(a.Host).Special(')')
	}
	e.Special(')')
}

// WriteBodyStructure writes p as a BODYSTRUCTURE (extended is set) or a
// BODY (RFC 3501 §7.4.2, RFC 9051 §7.5.2), without the item name.
// Type, subtype, parameters and encoding are as written in the message;
// what the message leaves out is written as RFC 2045 defines it:
// "TEXT" "PLAIN", ("CHARSET" "US-ASCII") for a text part, "7BIT".
func WriteBodyStructure(e *imapwire.Encoder, p *Part, extended bool) {
	e.Special('(')
	writeBody(e, p, extended)
	e.Special(')')
}

func writeBody(e *imapwire.Encoder, p *Part, extended bool) {
	if p.Kind == KindMultipart {
		if len(p.Parts) == 0 {
			// A multipart must have a part: write an empty text/plain
			// one, as Dovecot does.
			e.Atom(`("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0`)
			if extended {
				e.Atom(" NIL NIL NIL NIL")
			}
			e.Special(')')
		}
		for _, c := range p.Parts {
			WriteBodyStructure(e, c, extended)
		}
		e.SP().String(p.Subtype)
		if extended {
			e.SP()
			writeParams(e, p.Params, false)
			writeExtension(e, p)
		}
		return
	}
	text := false
	switch {
	case p.Kind == KindMessage:
		if p.Type == "" {
			e.Atom(`"MESSAGE" "RFC822"`)
		} else {
			e.String(p.Type).SP().String(p.Subtype)
		}
	case p.Kind == KindTruncated:
		e.Atom(`"APPLICATION" "OCTET-STREAM"`)
	case p.Type == "":
		text = true
		e.Atom(`"TEXT" "PLAIN"`)
	default:
		text = p.Kind == KindText
		e.String(p.Type).SP().String(p.Subtype)
	}
	e.SP()
	writeParams(e, p.Params, text)
	e.SP()
	nstring(e, p.ID)
	e.SP()
	nstring(e, p.Description)
	e.SP()
	if p.Encoding != nil {
		e.String(*p.Encoding)
	} else {
		e.Atom(`"7BIT"`)
	}
	e.SP().Uint(uint64(p.End - p.BodyStart))
	switch {
	case text:
		e.SP().Uint(uint64(p.Lines))
	case p.Kind == KindMessage:
		e.SP()
		WriteEnvelope(e, p.Message.Envelope)
		e.SP()
		WriteBodyStructure(e, p.Message, extended)
		e.SP().Uint(uint64(p.Lines))
	}
	if extended {
		e.SP()
		nstring(e, p.MD5)
		writeExtension(e, p)
	}
}

// writeParams writes a body-fld-param; a text part gets a charset
// parameter if it has none.
func writeParams(e *imapwire.Encoder, ps []Param, text bool) {
	charset := !text
	for _, p := range ps {
		if strings.EqualFold(p.Name, "charset") {
			charset = true
		}
	}
	if len(ps) == 0 && charset {
		e.NIL()
		return
	}
	e.Special('(')
	for i, p := range ps {
		if i > 0 {
			e.SP()
		}
		e.String(p.Name).SP().String(p.Value)
	}
	if !charset {
		if len(ps) > 0 {
			e.SP()
		}
		e.Atom(`"CHARSET" "US-ASCII"`)
	}
	e.Special(')')
}

// writeExtension writes the disposition, language and location of
// body-ext-1part and body-ext-mpart.
func writeExtension(e *imapwire.Encoder, p *Part) {
	e.SP()
	if p.Disposition == nil {
		e.NIL()
	} else {
		e.Special('(').String(*p.Disposition).SP()
		writeParams(e, p.DispositionParams, false)
		e.Special(')')
	}
	e.SP()
	if len(p.Language) == 0 {
		e.NIL()
	} else {
		e.Special('(')
		for i, l := range p.Language {
			if i > 0 {
				e.SP()
			}
			e.String(l)
		}
		e.Special(')')
	}
	e.SP()
	nstring(e, p.Location)
}
