// Package xmlrpc implements XML-RPC (http://xmlrpc.com/spec.md), client and
// server, with the extensions that Python's xmlrpc.client speaks, so that
// either side interoperates with Python's xmlrpc.client.ServerProxy and
// xmlrpc.server.SimpleXMLRPCServer:
//
//   - the XML-RPC specification: int/i4, boolean, string, double,
//     dateTime.iso8601, base64, struct and array values, and faults;
//   - <i8> for 64-bit integers, and <nil/> (the "nil" extension,
//     http://ontosys.com/xml-rpc/extensions.php); the decoder also accepts
//     what Python's unmarshaller accepts: <i1>, <i2>, <biginteger>, <float>,
//     <bigdecimal>, and the namespaced <ex:nil/> and <ex:i8> of Apache XML-RPC;
//   - system.multicall, as Eric Kidd proposed it
//     (http://mirrors.talideon.com/articles/multicall.html), with Python's
//     results: a one-element array for a call that succeeded, a fault
//     struct for one that failed;
//   - the introspection methods system.listMethods, system.methodHelp and
//     system.methodSignature
//     (http://xmlrpc-c.sourceforge.net/introspection.html);
//   - the fault codes of the "specification for fault code interoperability"
//     (http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php), which
//     Python names in xmlrpc.client.
//
// Use [NewClient] for the client side, and a [Server] (an [http.Handler]) with
// functions added by [Server.Register] for the server side. [Marshal] and
// [Unmarshal] convert between Go values and one <value> element.
//
// # Types
//
// Go values are encoded as follows:
//
//   - bool: <boolean>;
//   - signed and unsigned integers and *big.Int: <int> when the value fits
//     in 32 bits, as the specification requires, otherwise <i8> when it fits
//     in 64 bits, otherwise <biginteger> (Python decodes all three; a peer
//     that only knows the specification refuses the last two);
//   - float32, float64: <double> in decimal point notation; NaN and the
//     infinities have no representation and are refused;
//   - string: <string>, with &, < and > escaped (and carriage returns as
//     character references, so that they survive); a string that is not
//     valid UTF-8 or holds a character that XML 1.0 forbids (most C0
//     controls) is refused;
//   - []byte: <base64>;
//   - time.Time: <dateTime.iso8601> in Python's form, 20060102T15:04:05, of
//     the time's own clock reading: the format has no time zone, so convert
//     a time to the zone the peer expects first;
//   - slices and arrays: <array> (a nil slice is an empty array);
//   - maps with string keys: <struct> (a nil map is an empty struct);
//   - structs: <struct> with one member per exported field, named by the
//     field's `xmlrpc:"name"` tag or else the field name; `xmlrpc:"-"`
//     omits a field and `xmlrpc:",omitempty"` omits a zero one; the fields
//     of an embedded struct without a tag are members of the outer struct;
//   - a nil pointer or interface: <nil/>; pointers and interfaces otherwise
//     encode what they point to.
//
// Decoded into an interface value (such as the *any reply of
// [Client.Call]), an XML-RPC value becomes: boolean → bool; int, i4, i1,
// i2, i8 and biginteger → int, whatever the tag (int64 for a value that
// does not fit where int is 32 bits; *big.Int for one that does not fit in
// 64 bits, which Python accepts in any integer tag too); double, float
// and bigdecimal → float64 (bigdecimal is rounded); string, or a <value>
// without a type → string; base64 → []byte; dateTime.iso8601 → time.Time in
// UTC; array → []any; struct → map[string]any; nil → nil. Decoded into a
// typed Go value, the value must fit: integers into any integer type that
// holds them, or a float; double into a float; array into a slice, or an
// array of the same length; struct into a map with string keys or a struct
// (members without a field are ignored); nil sets the Go value to its zero
// value. The decoder accepts dateTime.iso8601 in Python's form, in the
// dashed form 2006-01-02T15:04:05, and in RFC 3339 form with a zone (the
// time is then converted to UTC), all without fractions of a second.
//
// # Limits
//
// The decoder reads XML with encoding/xml in strict mode and refuses any
// document type declaration (<!DOCTYPE …>), so neither internal entities
// (the "billion laughs") nor external ones are ever expanded. It refuses
// values nested more than [MaxDepth] arrays and structs deep, and
// documents of more values than MaxValues of the [Server] or [Client]
// ([DefaultMaxValues] for [Unmarshal]). A Server reads at most
// MaxRequestBytes of a request, a Client at most MaxResponseBytes of a
// response.
package xmlrpc

import (
	"fmt"
	"time"
)

// Fault codes of the specification for fault code interoperability
// (http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php), with the
// names Python's xmlrpc.client gives them.
const (
	// CodeParseError is the fault for a request that is not well-formed XML
	// (or holds a document type declaration).
	CodeParseError = -32700
	// CodeUnsupportedEncoding is the fault for an XML encoding other than UTF-8.
	CodeUnsupportedEncoding = -32701
	// CodeInvalidXMLRPC is the fault for well-formed XML that is not an
	// XML-RPC methodCall, or a forbidden call (system.multicall inside
	// system.multicall).
	CodeInvalidXMLRPC = -32600
	// CodeMethodNotFound is the fault for a call to a method that is not
	// registered.
	CodeMethodNotFound = -32601
	// CodeInvalidParams is the fault for parameters that do not fit the
	// method: too few, too many, or of the wrong type.
	CodeInvalidParams = -32602
	// CodeInternalError is the fault for a method that panicked or returned
	// a result that cannot be encoded.
	CodeInternalError = -32603
	// CodeApplicationError is the fault code a [Server] sends for a
	// registered function that returned an error other than a *Fault.
	// Python's SimpleXMLRPCServer sends 1 too for an exception.
	CodeApplicationError = 1
)

// MaxDepth is how deeply arrays and structs may nest, in values both
// encoded and decoded. A deeper value is refused.
const MaxDepth = 64

// DefaultMaxValues is the number of values (every <value> element, nested
// ones included) that a [Server] accepts in a request and a [Client] in a
// response when their MaxValues is zero.
const DefaultMaxValues = 100_000

// DefaultClientTimeout bounds a call (sending the request and reading the
// whole response) when ClientOptions.Timeout is zero.
const DefaultClientTimeout = time.Minute

// A Fault is an XML-RPC fault response: the error of a failed call, with the
// faultCode and faultString members of the spec's <fault> struct. It is
// Python's xmlrpc.client.Fault. [Client.Call] returns one for every fault
// the server sends, and a function registered with [Server.Register] returns
// one to choose the fault that the server sends.
//
// The type is named after the specification's term rather than following
// Go's XxxError convention, as Python's is.
type Fault struct {
	Code   int    // faultCode
	String string // faultString
}

func (f *Fault) Error() string {
	return fmt.Sprintf("xmlrpc: fault %d: %s", f.Code, f.String)
}
