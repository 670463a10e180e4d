// Package gopher implements the Internet Gopher protocol (RFC 1436), its
// URLs (RFC 4266), and the conventions of today's Gopher servers: info lines
// (type "i"), links to the web as "h" items with "URL:" selectors,
// gophermap files and the caps.txt capabilities file.
//
// The server side follows net/http: a [Handler] answers a [Request] through
// a [ResponseWriter]; [HandlerFunc], [ServeMux] and [FileServer] are the
// usual helpers, [MenuWriter] writes menus and [Error] writes an error
// item. [Server] runs handlers on TCP connections, one request per
// connection, with the timeouts and connection limits of inetkit's other
// servers.
//
// The client side is [Get], [Client], [ParseURL] and [ParseMenu]. Package
// gophertest runs a Server in process, for tests.
//
// # Wire format
//
// A client connects, sends a selector (at most 255 octets, RFC 1436 §2),
// optionally followed by a TAB and a search string (type 7 items) and by a
// further TAB and Gopher+ fields, then CRLF. The server answers and closes
// the connection. A menu is a sequence of lines, each an item type octet,
// the display string, then TAB-separated selector, host and port, each line
// ending in CRLF, and the menu ends with a line holding only "." (RFC 1436
// §3.8). Files are sent as they are, text files included: this package
// neither dot-stuffs text files nor ends them with a "." line, as
// gophernicus does and today's clients (curl, lynx) expect; unlike
// gophernicus, it does not turn LF line endings into CRLF either.
// Response.Text undoes the RFC 1436 form for servers that still send it.
package gopher

import (
	"strconv"
	"strings"
)

// MaxSelectorBytes is the longest selector a Server accepts: RFC 1436 §2
// limits selector strings to 255 characters.
const MaxSelectorBytes = 255

// DefaultPort is the Gopher port (RFC 1436 §2, RFC 4266 §2.1).
const DefaultPort = 70

// A Type is the type of a menu item: one octet, the first of its menu line
// (RFC 1436 §3.8).
type Type byte

// The item types of RFC 1436 §3.8, and the types servers and clients have
// added since, which this package also uses (g, I, h, i, s, d).
const (
	TypeText     Type = '0' // a text file
	TypeMenu     Type = '1' // a menu (directory)
	TypeCSO      Type = '2' // a CSO phone-book server
	TypeError    Type = '3' // an error
	TypeBinHex   Type = '4' // a BinHexed Macintosh file
	TypeDOS      Type = '5' // a DOS binary archive (zip, tar.gz and the like)
	TypeUUEncode Type = '6' // a UNIX uuencoded file
	TypeSearch   Type = '7' // an index-search server
	TypeTelnet   Type = '8' // a Telnet session
	TypeBinary   Type = '9' // a binary file
	TypeMirror   Type = '+' // a redundant server
	TypeTN3270   Type = 'T' // a tn3270 session
	TypeGIF      Type = 'g' // a GIF image
	TypeImage    Type = 'I' // an image other than GIF
	TypeHTML     Type = 'h' // an HTML page, or a web link with a "URL:" selector
	TypeInfo     Type = 'i' // an informational line, not a link
	TypeSound    Type = 's' // a sound file
	TypeDocument Type = 'd' // a document (PDF, PostScript)
)

var typeNames = map[Type]string{
	TypeText: "text", TypeMenu: "menu", TypeCSO: "cso", TypeError: "error",
	TypeBinHex: "binhex", TypeDOS: "dos", TypeUUEncode: "uuencode",
	TypeSearch: "search", TypeTelnet: "telnet", TypeBinary: "binary",
	TypeMirror: "mirror", TypeTN3270: "tn3270", TypeGIF: "gif",
	TypeImage: "image", TypeHTML: "html", TypeInfo: "info", TypeSound: "sound",
	TypeDocument: "document",
}

// String returns the type's name, "menu", or its octet quoted for types
// this package does not know.
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return strconv.QuoteRune(rune(t))
}

// IsMenu reports whether an item of type t answers with a menu: a menu or
// a search.
func (t Type) IsMenu() bool { return t == TypeMenu || t == TypeSearch }

// An Item is one line of a menu: a link to a resource on a Gopher server,
// an info line (TypeInfo) or an error (TypeError).
type Item struct {
	Type     Type
	Display  string // the text the user sees
	Selector string // what the client sends to fetch it
	Host     string
	Port     int
}

// String returns the item as a menu line, without its line ending. TAB,
// CR, LF and the other control characters of each field (and of the type)
// are replaced by spaces, so the result is always one line of four TAB-separated fields.
// This function doesn't perform I/O.
func (it Item) String() string {
	var b strings.Builder
	if t := byte(it.Type); t < 0x20 || t == 0x7f {
		b.WriteByte(' ')
	} else {
		b.WriteByte(t)
	}
	b.WriteString(clean(it.Display))
	b.WriteByte('\t')
	b.WriteString(clean(it.Selector))
	b.WriteByte('\t')
	b.WriteString(clean(it.Host))
	b.WriteByte('\t')
	b.WriteString(strconv.Itoa(it.Port))
	return b.String()
}

// WebURL returns the web address of an item whose selector follows the
// "URL:" convention ("hTitle\tURL:https://example.org/"), and whether it
// does.
func (it Item) WebURL() (string, bool) {
	if rest, ok := strings.CutPrefix(it.Selector, "URL:"); ok && rest != "" {
		return rest, true
	}
	return "", false
}

// URL returns the item's address: its web address for a "URL:" selector,
// otherwise a gopher URL (RFC 4266). Info and error lines have none: URL
// returns "" for them.
func (it Item) URL() string {
	if it.Type == TypeInfo || it.Type == TypeError {
		return ""
	}
	if u, ok := it.WebURL(); ok {
		return u
	}
	return (&URL{Host: joinHostPort(it.Host, it.Port), Type: it.Type, Selector: it.Selector}).String()
}

// clean replaces control characters (TAB, CR, LF, NUL and the others below
// 0x20, and DEL) with spaces.
func clean(s string) string {
	if !hasControl(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// unsafeField reports whether s cannot be a field of a menu line or a
// request: it holds TAB, CR, LF or NUL.
func unsafeField(s string) bool { return strings.ContainsAny(s, "\t\r\n\x00") }
