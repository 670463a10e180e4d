package xmlrpc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/xmlrpc"
)

// newTestServer starts h on a loopback port and returns its URL, closed
// by t's cleanup.
func newTestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// echoServer returns a Server with the tutorial's upper and an echo
// function for every type.
func echoServer(t testing.TB) *xmlrpc.Server {
	t.Helper()
	s := xmlrpc.NewServer()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("upper", upper.String, "upper(s) => s in upper case, as Python's str.upper"))
	must(s.Register("echo", func(v any) any { return v }, "echo(v) => v"))
	must(s.Register("echo.int", func(n int64) int64 { return n }, ""))
	must(s.Register("echo.bool", func(b bool) bool { return b }, ""))
	must(s.Register("echo.string", func(s string) string { return s }, ""))
	must(s.Register("echo.double", func(f float64) float64 { return f }, ""))
	must(s.Register("echo.time", func(t time.Time) time.Time { return t }, ""))
	must(s.Register("echo.base64", func(b []byte) []byte { return b }, ""))
	must(s.Register("echo.array", func(a []any) []any { return a }, ""))
	must(s.Register("echo.struct", func(m map[string]any) map[string]any { return m }, ""))
	must(s.Register("echo.record", func(r record) record { return r }, ""))
	must(s.Register("add", func(ctx context.Context, a, b int) (int, error) {
		if ctx == nil {
			return 0, errors.New("no context")
		}
		return a + b, nil
	}, "add(a, b) => a + b"))
	must(s.Register("sum", func(ns ...float64) float64 {
		var sum float64
		for _, n := range ns {
			sum += n
		}
		return sum
	}, ""))
	must(s.Register("fail", func(msg string) (bool, error) { return false, errors.New(msg) }, ""))
	must(s.Register("fault", func(code int, msg string) (bool, error) {
		return false, &xmlrpc.Fault{Code: code, String: msg}
	}, ""))
	must(s.Register("panic", func() bool { panic("boom") }, ""))
	must(s.Register("nan", func() float64 { return nan }, ""))
	return s
}

var nan = func() float64 { var z float64; return z / z }()

// record is a Go struct as an XML-RPC struct.
type record struct {
	Name  string    `xmlrpc:"name"`
	Count int       `xmlrpc:"count"`
	When  time.Time `xmlrpc:"when"`
	Tags  []string  `xmlrpc:"tags"`
	Note  *string   `xmlrpc:"note"`
}

// post sends body to url and returns the response status and body.
func post(t testing.TB, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
