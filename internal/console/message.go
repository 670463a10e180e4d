package console

import (
	"errors"
	"io"
)

// A Part is one node of a message's MIME tree (RFC 2045, 2046).
type Part struct {
	ID          string `json:"id"`          // its path, as IMAP numbers parts: "1", "1.2"; "" for a one-part message's body... see parseMessage
	ContentType string `json:"contentType"` // lower case, without parameters
	Charset     string `json:"charset,omitempty"`
	Filename    string `json:"filename,omitempty"`
	Disposition string `json:"disposition,omitempty"` // "inline", "attachment" or ""
	ContentID   string `json:"contentId,omitempty"`   // without <>
	Size        int64  `json:"size"`                  // decoded size
	Parts       []Part `json:"parts,omitempty"`
}

// A HeaderField is one field of a header, its value as written (unfolded,
// not decoded).
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// A ParsedMessage is a message taken apart for the message view and the
// API: its header, its text and HTML bodies (decoded to UTF-8), its MIME tree,
// and the parts a user downloads (attachments and inline parts).
type ParsedMessage struct {
	Header      []HeaderField `json:"headers"`
	Text        string        `json:"text"`
	HTML        string        `json:"html"`
	Root        Part          `json:"mime"`
	Attachments []Part        `json:"attachments"`
	Inline      []Part        `json:"inline"`
}

var errTODO = errors.New("console: not implemented yet")

// parseMessage parses the message r. TODO(api helper).
func parseMessage(r io.Reader) (*ParsedMessage, error) { return nil, errTODO }

// openPart returns the decoded content of part id of the message r (a part
// ID of ParsedMessage.Root, or a Content-ID given as "cid:ID"), with the
// part's description. TODO(api helper).
func openPart(r io.Reader, id string) (*Part, io.Reader, error) { return nil, nil, errTODO }
