package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/inetkit/inetkit/store"
)

// maxRecipients caps the recipients of one message sent (RFC 5321 §4.5.3.1.8
// asks for at least 100).
const maxRecipients = 1000

// A sendRequest is the JSON body of POST /api/v1/send.
type sendRequest struct {
	From        string            `json:"from"`
	To          []string          `json:"to"`
	Cc          []string          `json:"cc"`
	Bcc         []string          `json:"bcc"`
	Subject     string            `json:"subject"`
	Text        string            `json:"text"`
	HTML        string            `json:"html"`
	Headers     map[string]string `json:"headers"`
	Attachments []sendAttachment  `json:"attachments"`
}

// A sendAttachment is a file of a sendRequest. With a ContentID it is an
// inline part (an image the HTML shows with "cid:").
type sendAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Content     string `json:"content"` // base64
	ContentID   string `json:"contentId"`
}

// A sendResult is the answer to POST /api/v1/send.
type sendResult struct {
	MessageID string  `json:"messageId"` // without <>
	IDs       []int64 `json:"ids"`       // the new messages the user may see
}

// structuralFields are the header fields a sendRequest's Headers cannot
// set: the message's structure and the fields made from its other members.
var structuralFields = []string{
	"Content-Type", "Content-Transfer-Encoding", "Mime-Version", "From", "To", "Cc", "Bcc", "Subject",
}

// apiSend answers POST /api/v1/send: a message delivered to the store, as
// SMTP would. The body is the message whole (its recipients are the to=
// query parameters, or else the addresses of its To, Cc and Bcc fields),
// or JSON {from, to, cc, bcc, subject, text, html, headers, attachments}
// made into a MIME message (see isJSON). A
// Date and a Message-ID are added when missing. It answers 201 with the
// Message-ID and the ids of the new messages.
func (s *Server) apiSend(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var msg []byte
	var rcpts []string
	if isJSON(r, body) {
		var req sendRequest
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err = decodeJSON(r, &req); err == nil {
			msg, rcpts, err = buildMessage(&req, time.Now())
		}
	} else {
		msg, rcpts, err = completeRaw(body, r.URL.Query()["to"], time.Now())
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if int64(len(msg)) > s.cfg.MaxMessageBytes {
		s.apiFail(w, r, &apiError{http.StatusRequestEntityTooLarge, "message too large"})
		return
	}
	if len(rcpts) > maxRecipients {
		s.apiFail(w, r, badRequest("at most %d recipients", maxRecipients))
		return
	}
	mid := messageIDOf(msg)
	ctx := r.Context()
	after, err := s.newestMessage(ctx)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.cfg.Store.Deliver(ctx, rcpts, msg, time.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = &apiError{http.StatusBadRequest, "no such recipient: " + strings.TrimPrefix(err.Error(), "store: ")}
		}
		s.apiFail(w, r, err)
		return
	}
	ids, err := s.findMessages(ctx, after, mid)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, &sendResult{MessageID: mid, IDs: ids})
}

// newestMessage returns the id of the newest message of the store, or 0.
func (s *Server) newestMessage(ctx context.Context) (int64, error) {
	page, err := s.cfg.Store.ListMessages(ctx, &store.MessageQuery{Limit: 1})
	if err != nil || len(page.Messages) == 0 {
		return 0, err
	}
	return page.Messages[0].ID, nil
}

// findMessages returns the ids of the messages with Message-ID mid stored
// after id after that the user of ctx may see, oldest first.
func (s *Server) findMessages(ctx context.Context, after int64, mid string) ([]int64, error) {
	ids := []int64{}
	q := &store.MessageQuery{AfterID: after, Limit: 1000}
	for {
		page, err := s.cfg.Store.ListMessages(ctx, q)
		if err != nil {
			return nil, err
		}
		if len(page.Messages) == 0 {
			slices.Sort(ids)
			return ids, nil
		}
		for _, m := range page.Messages {
			if m.MessageID == mid && mayAccess(ctx, m.Address) {
				ids = append(ids, m.ID)
			}
		}
		q.BeforeID = page.Messages[len(page.Messages)-1].ID
	}
}

// messageIDOf returns the Message-ID of msg, without <>.
func messageIDOf(msg []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(m.Header.Get("Message-Id")), "<>")
}

// newMessageID returns a new Message-ID field value, with <>.
func newMessageID() string {
	var b [12]byte
	rand.Read(b[:])
	return "<" + time.Now().UTC().Format("20060102150405") + "." + hex.EncodeToString(b[:]) + "@" + localHost() + ">"
}

// localHost returns the host name for Message-IDs: the system's if it is
// a plain name, else "localhost".
func localHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.Trim(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		return "localhost"
	}
	return h
}

// completeRaw checks a raw message, adds Date and Message-ID fields if it
// has none (RFC 5322 §3.6), and returns it with its recipients: to, or the
// addresses of its To, Cc and Bcc fields.
func completeRaw(msg []byte, to []string, now time.Time) ([]byte, []string, error) {
	msg = store.NormalizeCRLF(msg)
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, nil, badRequest("not a message: %v", err)
	}
	var rcpts []string
	if len(to) > 0 {
		for _, t := range to {
			list, err := mail.ParseAddressList(t)
			if err != nil {
				return nil, nil, badRequest("to: %v", err)
			}
			for _, a := range list {
				rcpts = append(rcpts, a.Address)
			}
		}
	} else {
		for _, f := range []string{"To", "Cc", "Bcc"} {
			for _, v := range m.Header[f] {
				list, err := mail.ParseAddressList(v)
				if err != nil {
					return nil, nil, badRequest("%s: %v", f, err)
				}
				for _, a := range list {
					rcpts = append(rcpts, a.Address)
				}
			}
		}
	}
	if len(rcpts) == 0 {
		return nil, nil, badRequest("no recipients: give to= or To, Cc or Bcc fields")
	}
	var add bytes.Buffer
	if m.Header.Get("Date") == "" {
		add.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	}
	if m.Header.Get("Message-Id") == "" {
		add.WriteString("Message-ID: " + newMessageID() + "\r\n")
	}
	if add.Len() > 0 {
		msg = append(add.Bytes(), msg...)
	}
	return msg, rcpts, nil
}

// buildMessage makes the MIME message of a sendRequest: text and HTML as
// multipart/alternative, inline parts (with a Content-ID) beside them in a
// multipart/related, attachments around all in a multipart/mixed.
func buildMessage(req *sendRequest, now time.Time) ([]byte, []string, error) {
	from, err := mail.ParseAddress(req.From)
	if err != nil {
		return nil, nil, badRequest("from: %v", err)
	}
	var rcpts []string
	var b bytes.Buffer
	b.WriteString("From: " + from.String() + "\r\n")
	for _, f := range []struct {
		name  string
		list  []string
		write bool
	}{{"To", req.To, true}, {"Cc", req.Cc, true}, {"Bcc", req.Bcc, false}} {
		var out []string
		for _, v := range f.list {
			a, err := mail.ParseAddress(v)
			if err != nil {
				return nil, nil, badRequest("%s: %v", strings.ToLower(f.name), err)
			}
			rcpts = append(rcpts, a.Address)
			out = append(out, a.String())
		}
		if f.write && len(out) > 0 {
			b.WriteString(f.name + ": " + strings.Join(out, ", ") + "\r\n")
		}
	}
	if len(rcpts) == 0 {
		return nil, nil, badRequest("to, cc or bcc: at least one recipient is required")
	}
	if strings.ContainsAny(req.Subject, "\r\n") {
		return nil, nil, badRequest("subject: cannot hold line breaks")
	}
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", req.Subject) + "\r\n")
	extra := map[string]string{}
	for name, v := range req.Headers {
		if !validFieldName(name) || strings.ContainsAny(v, "\r\n\x00") {
			return nil, nil, badRequest("headers: invalid field %q", name)
		}
		name = textproto.CanonicalMIMEHeaderKey(name)
		if slices.Contains(structuralFields, name) {
			return nil, nil, badRequest("headers: %s is made from the other members", name)
		}
		extra[name] = v
	}
	if extra["Date"] == "" {
		extra["Date"] = now.Format(time.RFC1123Z)
	}
	if extra["Message-Id"] == "" {
		extra["Message-Id"] = newMessageID()
	}
	for _, name := range slices.Sorted(maps.Keys(extra)) {
		field := name
		if name == "Message-Id" {
			field = "Message-ID"
		}
		b.WriteString(field + ": " + mime.QEncoding.Encode("utf-8", extra[name]) + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\n")

	var inline, attached []mimePart
	for i, a := range req.Attachments {
		data, err := base64.StdEncoding.DecodeString(a.Content)
		if err != nil {
			return nil, nil, badRequest("attachments[%d].content: not base64: %v", i, err)
		}
		p, err := attachmentPart(&a, data)
		if err != nil {
			return nil, nil, badRequest("attachments[%d]: %v", i, err)
		}
		if a.ContentID != "" {
			inline = append(inline, p)
		} else {
			attached = append(attached, p)
		}
	}
	var body mimePart
	switch {
	case req.Text != "" && req.HTML != "":
		body = multipartOf("alternative", textPart("plain", req.Text), textPart("html", req.HTML))
	case req.HTML != "":
		body = textPart("html", req.HTML)
	default:
		body = textPart("plain", req.Text)
	}
	if len(inline) > 0 {
		body = multipartOf("related", append([]mimePart{body}, inline...)...)
	}
	if len(attached) > 0 {
		body = multipartOf("mixed", append([]mimePart{body}, attached...)...)
	}
	for _, k := range slices.Sorted(maps.Keys(body.header)) {
		for _, v := range body.header[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	b.Write(body.body)
	return b.Bytes(), rcpts, nil
}

// validFieldName reports whether name is a header field name (RFC 5322
// §2.2: printable ASCII but the colon).
func validFieldName(name string) bool {
	if name == "" || len(name) > 76 {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// A mimePart is a MIME entity being built: its header and its encoded
// body.
type mimePart struct {
	header textproto.MIMEHeader
	body   []byte
}

// textPart is a text/SUBTYPE part in UTF-8, quoted-printable.
func textPart(subtype, text string) mimePart {
	var b bytes.Buffer
	qp := quotedprintable.NewWriter(&b)
	qp.Write(store.NormalizeCRLF([]byte(text)))
	qp.Close()
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "text/"+subtype+"; charset=utf-8")
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	return mimePart{h, b.Bytes()}
}

// attachmentPart is a file in base64.
func attachmentPart(a *sendAttachment, data []byte) (mimePart, error) {
	ct := a.ContentType
	if ct == "" {
		ct = mime.TypeByExtension(strings.ToLower(pathExt(a.Filename)))
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return mimePart{}, errors.New("contentType: " + err.Error())
	}
	h := textproto.MIMEHeader{}
	disp := "attachment"
	if a.ContentID != "" {
		if strings.ContainsAny(a.ContentID, "<>\r\n \t") {
			return mimePart{}, errors.New("contentId: cannot hold <, >, spaces or line breaks")
		}
		disp = "inline"
		h.Set("Content-Id", "<"+a.ContentID+">")
	}
	dparams := map[string]string{}
	if name := cleanFilename(a.Filename); name != "" {
		dparams["filename"] = name
		params["name"] = name
	}
	h.Set("Content-Type", mime.FormatMediaType(mt, params))
	h.Set("Content-Disposition", mime.FormatMediaType(disp, dparams))
	h.Set("Content-Transfer-Encoding", "base64")
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return mimePart{h, b.Bytes()}, nil
}

// pathExt returns the extension of a file name, with its dot.
func pathExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i:]
	}
	return ""
}

// multipartOf is a multipart/SUBTYPE of parts.
func multipartOf(subtype string, parts ...mimePart) mimePart {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		w, _ := mw.CreatePart(p.header)
		w.Write(p.body)
	}
	mw.Close()
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", mime.FormatMediaType("multipart/"+subtype, map[string]string{"boundary": mw.Boundary()}))
	return mimePart{h, b.Bytes()}
}

// encodeAddressList encodes the display names of an address list that is
// not ASCII (RFC 2047); a list that does not parse is left as it is.
func encodeAddressList(v string) string {
	list, err := mail.ParseAddressList(v)
	if err != nil {
		return v
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.String()
	}
	return strings.Join(out, ", ")
}

// writeTextBody writes the MIME fields and the body of a text/plain UTF-8
// article: 8bit unless a line is too long for it, then quoted-printable.
func writeTextBody(b *bytes.Buffer, text string) {
	body := store.NormalizeCRLF([]byte(text))
	long := false
	for line := range bytes.SplitSeq(body, []byte("\r\n")) {
		if len(line) > 998 {
			long = true
		}
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")
	if long {
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		qp := quotedprintable.NewWriter(b)
		qp.Write(body)
		qp.Close()
		return
	}
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n\r\n")
	b.Write(body)
}
