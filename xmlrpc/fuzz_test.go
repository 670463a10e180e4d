package xmlrpc_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/inetkit/inetkit/xmlrpc"
)

// decodeSeeds are values from the specification's examples and Python's
// extensions.
var decodeSeeds = []string{
	"<value><i4>41</i4></value>",
	"<value><int>-12</int></value>",
	"<value><i8>-9223372036854775808</i8></value>",
	"<value><biginteger>123456789012345678901234567890</biginteger></value>",
	"<value><boolean>1</boolean></value>",
	"<value><string>South Dakota &amp; &lt;x&gt; &#xD;</string></value>",
	"<value>untyped</value>",
	"<value><double>-12.214</double></value>",
	"<value><bigdecimal>1.25</bigdecimal></value>",
	"<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>",
	"<value><dateTime.iso8601>0000-01-01T00:00:00+01:00</dateTime.iso8601></value>",
	"<value><base64>eW91IGNhbid0IHJlYWQgdGhpcyE=</base64></value>",
	"<value><nil/></value>",
	`<value xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"><ex:nil/></value>`,
	"<value><struct><member><name>lowerBound</name><value><i4>18</i4></value></member><member><name>upperBound</name><value><i4>139</i4></value></member></struct></value>",
	"<value><array><data><value><i4>12</i4></value><value><string>Egypt</string></value><value><boolean>0</boolean></value><value><i4>-31</i4></value></data></array></value>",
	`<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "b">]><value>&a;</value>`,
}

// FuzzDecode checks that Unmarshal never panics, and that whatever it
// decodes Marshal encodes, to the same value again.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := xmlrpc.Unmarshal(data, &v); err != nil {
			return
		}
		enc, err := xmlrpc.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v) of Unmarshal(%q) = %v", v, data, err)
		}
		var v2 any
		if err := xmlrpc.Unmarshal(enc, &v2); err != nil {
			t.Fatalf("Unmarshal(%s) of Marshal(%#v) = %v", enc, v, err)
		}
		if diff := cmp.Diff(v, v2, bigIntComparer); diff != "" {
			t.Fatalf("value changed after Marshal and Unmarshal of %q (-first +second):\n%s", data, diff)
		}
	})
}

// roundTripperFunc is an http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzRequest checks that a Server answers any request body without
// panicking, with status 200 and a methodResponse that a Client reads
// (a result or a fault), or 413 for a body over MaxRequestBytes.
func FuzzRequest(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte("<methodCall><methodName>echo</methodName><params><param>" + s + "</param></params></methodCall>"))
	}
	f.Add([]byte("<methodCall><methodName>add</methodName><params><param><value><int>1</int></value></param><param><value><i4>2</i4></value></param></params></methodCall>"))
	f.Add([]byte(`<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data><value><struct><member><name>methodName</name><value>upper</value></member><member><name>params</name><value><array><data><value>a</value></data></array></value></member></struct></value></data></array></value></param></params></methodCall>`))
	f.Add([]byte("<methodCall><methodName>system.methodSignature</methodName><params><param><value>echo.record</value></param></params></methodCall>"))
	f.Add([]byte("<methodCall><methodName>panic</methodName></methodCall>"))
	s := echoServer(f)
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	const maxBytes = 1 << 16
	s.MaxRequestBytes = maxBytes
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		resp := rec.Result()
		if resp.StatusCode == http.StatusRequestEntityTooLarge && len(body) > maxBytes {
			return
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d for %q", resp.StatusCode, body)
		}
		c := xmlrpc.NewClient("http://xmlrpc.test/", &xmlrpc.ClientOptions{HTTPClient: &http.Client{
			Transport: roundTripperFunc(func(*http.Request) (*http.Response, error) { return resp, nil }),
		}})
		var reply any
		err := c.Call(t.Context(), "m", nil, &reply)
		if _, ok := errors.AsType[*xmlrpc.Fault](err); err != nil && !ok {
			t.Fatalf("the response to %q is neither a result nor a fault: %v\n%s", body, err, rec.Body.Bytes())
		}
	})
}
