package imapmsg_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

// A server parses a message once, keeps the tree, and answers FETCH from
// it and from the stored octets.
func Example() {
	msg := []byte(strings.ReplaceAll(`From: Alice <alice@example.org>
To: undisclosed-recipients:;
Subject: Hello
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

Hi.
--b
Content-Type: text/html; charset=utf-8

<p>Hi.</p>
--b--
`, "\n", "\r\n"))
	root := imapmsg.Parse(msg)

	var out strings.Builder
	e := imapwire.NewEncoder(bufio.NewWriter(&out))
	e.Atom("* 1 FETCH (ENVELOPE ")
	imapmsg.WriteEnvelope(e, root.Envelope)
	e.Atom(" BODY ")
	imapmsg.WriteBodyStructure(e, root, false)
	e.Atom(" BODY[2] ")
	r, _ := root.Section(imapwire.Section{Part: []uint32{2}})
	e.Literal(strings.NewReader(string(msg[r.Offset:r.Offset+r.Length])), r.Length)
	e.Atom(")")
	e.CRLF()
	e.Flush()
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// * 1 FETCH (ENVELOPE (NIL "Hello" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL) BODY (("text" "plain" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3 0)("text" "html" ("charset" "utf-8") NIL NIL "7BIT" 10 0) "alternative") BODY[2] {10}
	// <p>Hi.</p>)
}
