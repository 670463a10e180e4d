package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/inetkit/inetkit/xmlrpc"
)

// isXMLRPCURL reports whether raw is an xmlrpc:// or xmlrpcs:// URL.
func isXMLRPCURL(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	return ok && (strings.EqualFold(scheme, "xmlrpc") || strings.EqualFold(scheme, "xmlrpcs"))
}

// xmlrpcSendOptions are the options of send xmlrpc://.
type xmlrpcSendOptions struct {
	raw    string   // the URL as given, its password hidden, for messages
	url    *httpURL // http(s), with the path /RPC2 when the URL has none
	method string
	args   []any
	json   bool
}

// parseXMLRPC reads `send URL METHOD ARG...`: xmlrpc:// is http://,
// xmlrpcs:// https://, and a URL without a path calls /RPC2, as Python's
// ServerProxy does.
func (o *sendOptions) parseXMLRPC(args []string) error {
	raw := args[0]
	scheme, rest, _ := strings.Cut(raw, "://")
	httpScheme := cond(strings.EqualFold(scheme, "xmlrpcs"), "https", "http")
	u, err := parseHTTPURL(httpScheme+"://"+rest, &webFlags{})
	if err != nil {
		return usagef("bad URL %q", redactRaw(raw))
	}
	if u.u.Path == "/" && !strings.HasSuffix(rest, "/") {
		u.u.Path = xmlrpcPath
	}
	x := &o.xmlrpc
	x.raw, x.url, x.method = redactRaw(raw), u, args[1]
	if x.method == "" {
		return usagef("send %s: the METHOD is empty", redactRaw(raw))
	}
	for _, a := range args[2:] {
		x.args = append(x.args, xmlrpcArg(a))
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return nil
}

// xmlrpcArg types a command-line argument: a JSON literal (42, -1.5,
// true, null, "text", [1,2], {"a":1}) is that value, integers as integers;
// anything else is a string.
func xmlrpcArg(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	if _, err := dec.Token(); err != io.EOF {
		return s
	}
	return fromJSON(v)
}

// fromJSON turns json.Numbers into int64 where they are integers, else
// float64, through arrays and objects.
func fromJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		if n, ok := new(big.Int).SetString(string(v), 10); ok {
			return n
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = fromJSON(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = fromJSON(v[k])
		}
	}
	return v
}

// runSendXMLRPC calls the method and prints its result.
func runSendXMLRPC(ctx context.Context, e *env, o *sendOptions) error {
	x := &o.xmlrpc
	err := sendXMLRPC(ctx, e, o)
	if err == nil {
		return nil
	}
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return fmt.Errorf("send %s: fault %d: %s", x.raw, f.Code, oneLine(f.String))
	}
	msg := ftpErrorLine(httpError(err, x.url, &o.smtp.tls))
	return fmt.Errorf("send %s: %s", x.raw, strings.TrimPrefix(msg, "xmlrpc: "))
}

func sendXMLRPC(ctx context.Context, e *env, o *sendOptions) error {
	x := &o.xmlrpc
	hc, err := newHTTPClient(x.url.u, &o.smtp.tls, o.timeout, followRedirects)
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	copts := &xmlrpc.ClientOptions{HTTPClient: hc, Timeout: o.timeout}
	if x.url.hasUser {
		copts.Username, copts.Password = x.url.user, x.url.pass
	}
	var result any
	if err := xmlrpc.NewClient(x.url.u.String(), copts).Call(ctx, x.method, x.args, &result); err != nil {
		return err
	}
	var out string
	if x.json {
		b, err := json.Marshal(toJSON(result))
		if err != nil {
			return err
		}
		out = string(b)
	} else {
		out = pyStr(result)
	}
	_, err = io.WriteString(e.stdout, out+"\n")
	return err
}

// toJSON makes an XML-RPC result JSON-friendly: []byte stays base64 (as
// encoding/json writes it), times are RFC 3339, big integers numbers.
func toJSON(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.Format(time.RFC3339)
	case *big.Int:
		return json.Number(v.String())
	case []any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = toJSON(v[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k := range v {
			out[k] = toJSON(v[k])
		}
		return out
	}
	return v
}

// pyStr writes v as Python's print() shows the value xmlrpc.client
// returns: a string as it is, anything else as its repr.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	pyRepr(&b, v)
	return b.String()
}

// pyRepr writes v as Python's repr() does: None, True, 42, 1.5, 'text',
// [1, 'a'], {'a': 1} (keys sorted; Python keeps the server's order),
// b'\x00', and an XML-RPC dateTime as xmlrpc.client.DateTime shows it.
func pyRepr(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		b.WriteString(cond(v, "True", "False"))
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case *big.Int:
		b.WriteString(v.String())
	case float64:
		b.WriteString(pyFloat(v))
	case string:
		b.WriteString(pyQuote(v))
	case []byte:
		b.WriteString(pyBytes(v))
	case time.Time:
		fmt.Fprintf(b, "<DateTime '%s'>", v.Format("20060102T15:04:05"))
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyRepr(b, x)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyQuote(k))
			b.WriteString(": ")
			pyRepr(b, v[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%v", v)
	}
}

// pyFloat is Python's repr of a float: the shortest form that reads back,
// with ".0" for a whole number, and exponents below 1e-4 and from 1e16.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyQuote is Python's repr of a str: in single quotes unless it holds a
// single quote and no double one, with \\, \n, \r, \t and \xNN (\uNNNN)
// for what is not printable.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b bytes.Buffer
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x100 && !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r != ' ':
			if r > 0xffff {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyBytes is Python's repr of bytes: b'...' with printable ASCII as it is.
func pyBytes(p []byte) string {
	var b strings.Builder
	b.WriteString("b'")
	for _, c := range p {
		switch {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
