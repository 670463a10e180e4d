package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// A ProtocolError reports input that is not XML-RPC: XML that is not
// well-formed, a document type declaration, an XML encoding other than
// UTF-8, a document that is not a methodCall or methodResponse, a value
// that does not parse, or one past the decoder's limits. [Unmarshal] and
// [Client] return one for such input, and a [Server] answers one with a
// fault of the same Code.
type ProtocolError struct {
	// Code is the fault code for the error: CodeParseError,
	// CodeUnsupportedEncoding or CodeInvalidXMLRPC.
	Code int
	// Msg describes the error.
	Msg string
}

func (e *ProtocolError) Error() string { return "xmlrpc: " + e.Msg }

func invalid(format string, args ...any) error {
	return &ProtocolError{Code: CodeInvalidXMLRPC, Msg: fmt.Sprintf(format, args...)}
}

// Unmarshal decodes data, one XML-RPC <value> element (an XML declaration,
// comments and white space around it are allowed), into the value that v
// points to, as the package documentation describes. v may point to an
// interface. Unmarshal accepts at most [DefaultMaxValues] values.
// This function doesn't perform I/O.
func Unmarshal(data []byte, v any) error {
	d := newDecoder(bytes.NewReader(data), DefaultMaxValues)
	x, err := d.document("value", func() (any, error) { return d.valueBody(0) })
	if err != nil {
		return err
	}
	return assignTo(v, x)
}

// A decoder reads XML-RPC documents from an xml.Decoder in strict mode,
// one token at a time.
type decoder struct {
	x         *xml.Decoder
	r         *errReader
	maxValues int
	values    int
}

var errEncoding = errors.New("xmlrpc: only UTF-8 documents are accepted")

// An errReader remembers the error of its reader, which encoding/xml
// returns as it is.
type errReader struct {
	r   io.Reader
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func newDecoder(r io.Reader, maxValues int) *decoder {
	er := &errReader{r: r}
	x := xml.NewDecoder(er)
	x.Strict = true
	x.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "us-ascii") || strings.EqualFold(charset, "ascii") {
			return input, nil // a subset of UTF-8
		}
		return nil, errEncoding
	}
	if maxValues <= 0 {
		maxValues = DefaultMaxValues
	}
	return &decoder{x: x, r: er, maxValues: maxValues}
}

// token returns the next start element, end element or character data,
// skipping comments and processing instructions. It refuses any directive:
// a document type declaration could define entities.
func (d *decoder) token() (xml.Token, error) {
	for {
		tok, err := d.x.Token()
		if err != nil {
			if errors.Is(err, errEncoding) {
				return nil, &ProtocolError{Code: CodeUnsupportedEncoding, Msg: "only UTF-8 documents are accepted"}
			}
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &ProtocolError{Code: CodeParseError, Msg: fmt.Sprintf("line %d: %s", se.Line, se.Msg)}
			}
			if err == io.EOF || d.r.err != nil && errors.Is(err, d.r.err) {
				return nil, err // end of input, or the reader's error
			}
			// encoding/xml's other errors (a bad XML declaration).
			return nil, &ProtocolError{Code: CodeParseError, Msg: strings.TrimPrefix(err.Error(), "xml: ")}
		}
		switch tok := tok.(type) {
		case xml.Directive:
			return nil, &ProtocolError{Code: CodeParseError, Msg: "document type declarations and other directives are not accepted"}
		case xml.StartElement, xml.EndElement, xml.CharData:
			return tok, nil
		}
	}
}

// next returns the next start or end element, skipping white space; other
// text is an error.
func (d *decoder) next() (xml.Token, error) {
	for {
		tok, err := d.token()
		if err != nil {
			if err == io.EOF {
				return nil, &ProtocolError{Code: CodeParseError, Msg: "unexpected end of document"}
			}
			return nil, err
		}
		if cd, ok := tok.(xml.CharData); ok {
			if len(bytes.TrimSpace(cd)) != 0 {
				return nil, invalid("unexpected text %.40q", cd)
			}
			continue
		}
		return tok, nil
	}
}

// start reads the start of element name.
func (d *decoder) start(name string) error {
	tok, err := d.next()
	if err != nil {
		return err
	}
	if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != name {
		return invalid("expected <%s>, found %s", name, describe(tok))
	}
	return nil
}

// end reads the end of the current element. (The xml.Decoder checks that
// it is the element's own.)
func (d *decoder) end() error {
	tok, err := d.next()
	if err != nil {
		return err
	}
	if _, ok := tok.(xml.EndElement); !ok {
		return invalid("unexpected %s", describe(tok))
	}
	return nil
}

// startOrEnd reads the start of element name, returning true, or the end
// of the current element, returning false.
func (d *decoder) startOrEnd(name string) (bool, error) {
	tok, err := d.next()
	if err != nil {
		return false, err
	}
	switch tok := tok.(type) {
	case xml.StartElement:
		if tok.Name.Local == name {
			return true, nil
		}
	case xml.EndElement:
		return false, nil
	}
	return false, invalid("expected <%s>, found %s", name, describe(tok))
}

// text reads the character data of the current element up to its end.
func (d *decoder) text() (string, error) {
	var sb strings.Builder
	for {
		tok, err := d.token()
		if err != nil {
			if err == io.EOF {
				return "", &ProtocolError{Code: CodeParseError, Msg: "unexpected end of document"}
			}
			return "", err
		}
		switch tok := tok.(type) {
		case xml.CharData:
			sb.Write(tok)
		case xml.EndElement:
			return sb.String(), nil
		default:
			return "", invalid("unexpected %s in a text element", describe(tok))
		}
	}
}

func describe(tok xml.Token) string {
	switch tok := tok.(type) {
	case xml.StartElement:
		return "<" + tok.Name.Local + ">"
	case xml.EndElement:
		return "</" + tok.Name.Local + ">"
	}
	return "text"
}

// document reads a document whose root element is root, with body reading
// what is inside it and its end tag, and then the end of the document.
func (d *decoder) document(root string, body func() (any, error)) (any, error) {
	for {
		tok, err := d.token()
		if err == io.EOF {
			return nil, &ProtocolError{Code: CodeParseError, Msg: "no root element"}
		}
		if err != nil {
			return nil, err
		}
		if cd, ok := tok.(xml.CharData); ok {
			if len(bytes.TrimSpace(cd)) != 0 {
				return nil, &ProtocolError{Code: CodeParseError, Msg: "text before the root element"}
			}
			continue
		}
		if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != root {
			return nil, invalid("expected <%s>, found %s", root, describe(tok))
		}
		break
	}
	v, err := body()
	if err != nil {
		return nil, err
	}
	for {
		tok, err := d.token()
		if err == io.EOF {
			return v, nil
		}
		if err != nil {
			return nil, err
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) != 0 {
			return nil, invalid("unexpected %s after </%s>", describe(tok), root)
		}
	}
}

// valueBody reads what follows <value> up to and including </value>, for
// a value inside depth arrays and structs.
func (d *decoder) valueBody(depth int) (any, error) {
	d.values++
	if d.values > d.maxValues {
		return nil, invalid("more than %d values", d.maxValues)
	}
	var text []byte
	for {
		tok, err := d.token()
		if err != nil {
			if err == io.EOF {
				return nil, &ProtocolError{Code: CodeParseError, Msg: "unexpected end of document"}
			}
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.CharData:
			text = append(text, tok...)
		case xml.EndElement:
			return string(text), nil // a value without a type is a string
		case xml.StartElement:
			if len(bytes.TrimSpace(text)) != 0 {
				return nil, invalid("text %.40q before <%s>", text, tok.Name.Local)
			}
			v, err := d.typed(tok.Name.Local, depth)
			if err != nil {
				return nil, err
			}
			return v, d.end()
		}
	}
}

// typed reads the element of type name after its start tag, up to and
// including its end tag.
func (d *decoder) typed(name string, depth int) (any, error) {
	switch name {
	case "array":
		return d.array(depth)
	case "struct":
		return d.structMembers(depth)
	case "nil":
		return nil, d.end()
	}
	s, err := d.text()
	if err != nil {
		return nil, err
	}
	switch name {
	case "string":
		return s, nil
	case "int", "i4", "i8", "i1", "i2", "biginteger":
		return parseInt(name, s)
	case "boolean":
		switch strings.TrimSpace(s) {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, invalid("bad boolean %.40q", s)
	case "double", "float", "bigdecimal":
		return parseDouble(name, s)
	case "base64":
		return parseBase64(s)
	case "dateTime.iso8601":
		return parseTime(s)
	}
	return nil, invalid("unknown type <%s>", name)
}

func (d *decoder) array(depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, invalid("values nested more than %d arrays and structs deep", MaxDepth)
	}
	if err := d.start("data"); err != nil {
		return nil, err
	}
	a := []any{}
	for {
		more, err := d.startOrEnd("value")
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		v, err := d.valueBody(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	return a, d.end()
}

func (d *decoder) structMembers(depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, invalid("values nested more than %d arrays and structs deep", MaxDepth)
	}
	m := map[string]any{}
	for {
		more, err := d.startOrEnd("member")
		if err != nil {
			return nil, err
		}
		if !more {
			return m, nil
		}
		if err := d.start("name"); err != nil {
			return nil, err
		}
		name, err := d.text()
		if err != nil {
			return nil, err
		}
		if err := d.start("value"); err != nil {
			return nil, err
		}
		v, err := d.valueBody(depth + 1)
		if err != nil {
			return nil, err
		}
		m[name] = v // a later member of the same name wins, as in Python
		if err := d.end(); err != nil {
			return nil, err
		}
	}
}

// maxIntDigits bounds the length of an integer's text: big.Int's decimal
// parsing takes time quadratic in it.
const maxIntDigits = 1000

func parseInt(name, s string) (any, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return intValue(n), nil
	}
	if len(t) <= maxIntDigits && t != "" && strings.Trim(t[1:], "0123456789") == "" {
		if n, ok := new(big.Int).SetString(t, 10); ok {
			return n, nil
		}
	}
	return nil, invalid("bad %s %.40q", name, s)
}

// intValue returns n as an int, or as an int64 where int is 32 bits and n
// does not fit.
func intValue(n int64) any {
	if n >= math.MinInt && n <= math.MaxInt {
		return int(n)
	}
	return n
}

func parseDouble(name, s string) (any, error) {
	t := strings.TrimSpace(s)
	if t == "" || strings.Trim(t, "+-.0123456789eE") != "" {
		return nil, invalid("bad %s %.40q", name, s)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, invalid("bad %s %.40q", name, s)
	}
	return f, nil
}

func parseBase64(s string) (any, error) {
	t := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(t)
	}
	if err != nil {
		return nil, invalid("bad base64: %v", err)
	}
	return b, nil
}

// timeLayouts are the forms of dateTime.iso8601 accepted: Python's, the
// dashed one, and the dashed one with a zone.
var timeLayouts = []string{iso8601, "2006-01-02T15:04:05", time.RFC3339}

func parseTime(s string) (any, error) {
	t := strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		tm, err := time.Parse(layout, t)
		if err != nil || tm.Nanosecond() != 0 {
			continue
		}
		if tm = tm.UTC(); tm.Year() < 0 || tm.Year() > 9999 {
			break // a zone moved it out of what Marshal writes
		}
		return tm, nil
	}
	return nil, invalid("bad dateTime.iso8601 %.40q", s)
}

// call reads a methodCall document.
func (d *decoder) call() (method string, params []any, err error) {
	_, err = d.document("methodCall", func() (any, error) {
		if err := d.start("methodName"); err != nil {
			return nil, err
		}
		if method, err = d.text(); err != nil {
			return nil, err
		}
		more, err := d.startOrEnd("params")
		if err != nil || !more {
			return nil, err
		}
		if params, err = d.params(); err != nil {
			return nil, err
		}
		return nil, d.end()
	})
	return method, params, err
}

// params reads the <param> elements after <params> up to and including
// </params>.
func (d *decoder) params() ([]any, error) {
	params := []any{}
	for {
		more, err := d.startOrEnd("param")
		if err != nil {
			return nil, err
		}
		if !more {
			return params, nil
		}
		if err := d.start("value"); err != nil {
			return nil, err
		}
		v, err := d.valueBody(0)
		if err != nil {
			return nil, err
		}
		params = append(params, v)
		if err := d.end(); err != nil {
			return nil, err
		}
	}
}

// response reads a methodResponse document: its one param, or its fault as
// a *Fault. An empty params element is a nil result.
func (d *decoder) response() (any, error) {
	var fault *Fault
	v, err := d.document("methodResponse", func() (any, error) {
		tok, err := d.next()
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		switch {
		case ok && se.Name.Local == "params":
			params, err := d.params()
			if err != nil {
				return nil, err
			}
			if len(params) > 1 {
				return nil, invalid("a response with %d params", len(params))
			}
			if len(params) == 0 {
				return nil, d.end()
			}
			return params[0], d.end()
		case ok && se.Name.Local == "fault":
			if err := d.start("value"); err != nil {
				return nil, err
			}
			v, err := d.valueBody(0)
			if err != nil {
				return nil, err
			}
			if fault, err = faultOf(v); err != nil {
				return nil, err
			}
			if err := d.end(); err != nil { // </fault>
				return nil, err
			}
			return nil, d.end()
		}
		return nil, invalid("expected <params> or <fault>, found %s", describe(tok))
	})
	if err != nil {
		return nil, err
	}
	if fault != nil {
		return nil, fault
	}
	return v, nil
}

// faultOf returns the Fault that v, a fault's value, describes.
func faultOf(v any) (*Fault, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("a fault that is not a struct")
	}
	code, ok := m["faultCode"].(int)
	if !ok {
		return nil, invalid("a fault without an int faultCode")
	}
	s, ok := m["faultString"].(string)
	if !ok {
		return nil, invalid("a fault without a string faultString")
	}
	return &Fault{Code: code, String: s}, nil
}
