package xmlrpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inetkit/inetkit/xmlrpc"
)

func TestClient_Call_roundTrip(t *testing.T) {
	c := xmlrpc.NewClient(newTestServer(t, echoServer(t)), nil)
	ctx := t.Context()
	note := "a note"
	when := time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)
	values := []any{
		0, 1, -1, math.MaxInt32, math.MinInt32, int64(math.MaxInt64), int64(math.MinInt64),
		new(big.Int).Lsh(big.NewInt(3), 80),
		true, false,
		"", "straße <&> ]]> \t\n\r\u00e9\U0001F600",
		0.0, -1.5, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1,
		when,
		[]byte{}, []byte{0, 1, 2, 255},
		[]any{}, []any{1, "a", []any{true}, nil},
		map[string]any{}, map[string]any{"a": 1, "": "empty name", "n": nil, "s": map[string]any{"x": []byte("y")}},
		nil,
	}
	for _, v := range values {
		t.Run(fmt.Sprintf("%T %.20v", v, v), func(t *testing.T) {
			var got any
			if err := c.Call(ctx, "echo", []any{v}, &got); err != nil {
				t.Fatalf("Call(echo, %v) = %v", v, err)
			}
			want := v
			switch n := v.(type) {
			case int64:
				want = int(n)
			}
			if diff := cmp.Diff(want, got, bigIntComparer); diff != "" {
				t.Errorf("Call(echo) mismatch (-want +got):\n%s", diff)
			}
		})
	}

	typed := []struct {
		method string
		arg    any
		reply  any
		want   any
	}{
		{"echo.int", int64(math.MaxInt64), new(int64), int64(math.MaxInt64)},
		{"echo.int", int8(-3), new(int16), int16(-3)},
		{"echo.bool", true, new(bool), true},
		{"echo.string", "x\r\ny", new(string), "x\r\ny"},
		{"echo.double", float32(0.5), new(float64), 0.5},
		{"echo.time", when, new(time.Time), when},
		{"echo.base64", []byte("b"), new([]byte), []byte("b")},
		{"echo.array", []int{1, 2}, new([]int), []int{1, 2}},
		{"echo.struct", map[string]int{"a": 1}, new(map[string]int), map[string]int{"a": 1}},
		{"echo.record", record{Name: "n", Count: 2, When: when, Tags: []string{"t"}, Note: &note}, new(record),
			record{Name: "n", Count: 2, When: when, Tags: []string{"t"}, Note: &note}},
		{"echo.record", map[string]any{"name": "only"}, new(record), record{Name: "only", Tags: []string{}}},
		{"add", []int{2, 3}, new(int), 5},
		{"sum", []float64{}, new(float64), 0.0},
		{"sum", []float64{1, 2, 3.5}, new(float64), 6.5},
		{"upper", "straße", new(string), "STRASSE"},
	}
	for _, tc := range typed {
		t.Run(tc.method, func(t *testing.T) {
			args := []any{tc.arg}
			if a, ok := tc.arg.([]int); ok && tc.method == "add" {
				args = []any{a[0], a[1]}
			}
			if a, ok := tc.arg.([]float64); ok {
				args = nil
				for _, f := range a {
					args = append(args, f)
				}
			}
			if err := c.Call(ctx, tc.method, args, tc.reply); err != nil {
				t.Fatalf("Call(%s, %v) = %v", tc.method, args, err)
			}
			got := reflectElem(tc.reply)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Call(%s) mismatch (-want +got):\n%s", tc.method, diff)
			}
		})
	}
}

// reflectElem returns what p, a pointer, points to.
func reflectElem(p any) any {
	switch p := p.(type) {
	case *int64:
		return *p
	case *int16:
		return *p
	case *int:
		return *p
	case *bool:
		return *p
	case *string:
		return *p
	case *float64:
		return *p
	case *time.Time:
		return *p
	case *[]byte:
		return *p
	case *[]int:
		return *p
	case *map[string]int:
		return *p
	case *record:
		return *p
	}
	panic(fmt.Sprintf("reflectElem: %T", p))
}

func TestClient_Call_faults(t *testing.T) {
	var logs bytes.Buffer
	s := echoServer(t)
	s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := xmlrpc.NewClient(newTestServer(t, s), nil)
	tests := []struct {
		name   string
		method string
		args   []any
		code   int
		text   string
	}{
		{"not found", "nope", nil, xmlrpc.CodeMethodNotFound, `method "nope" not found`},
		{"too few", "add", []any{1}, xmlrpc.CodeInvalidParams, `method "add" takes 2 params, not 1`},
		{"too many", "add", []any{1, 2, 3}, xmlrpc.CodeInvalidParams, `method "add" takes 2 params, not 3`},
		{"wrong type", "add", []any{1, "2"}, xmlrpc.CodeInvalidParams, `method "add" param 2: xmlrpc: cannot decode string into Go type int`},
		{"wrong variadic type", "sum", []any{1, "x"}, xmlrpc.CodeInvalidParams, `method "sum" param 2: xmlrpc: cannot decode string into Go type float64`},
		{"error", "fail", []any{"it broke"}, xmlrpc.CodeApplicationError, "it broke"},
		{"fault", "fault", []any{4, "x"}, 4, "x"},
		{"panic", "panic", nil, xmlrpc.CodeInternalError, "internal error"},
		{"unencodable result", "nan", nil, xmlrpc.CodeInternalError, "the result cannot be encoded"},
		{"help of unknown", "system.methodHelp", []any{"nope"}, xmlrpc.CodeMethodNotFound, `method "nope" not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var reply any
			err := c.Call(t.Context(), tc.method, tc.args, &reply)
			f, ok := errors.AsType[*xmlrpc.Fault](err)
			if !ok || f.Code != tc.code || f.String != tc.text {
				t.Errorf("Call(%s, %v) = %v; want fault %d %q", tc.method, tc.args, err, tc.code, tc.text)
			}
		})
	}
	for _, want := range []string{"method panicked", "panic=boom", "cannot encode a result"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, logs.String())
		}
	}
}

func TestClient_Call_typeError(t *testing.T) {
	c := xmlrpc.NewClient(newTestServer(t, echoServer(t)), nil)
	var n int
	err := c.Call(t.Context(), "echo", []any{"x"}, &n)
	if _, ok := errors.AsType[*xmlrpc.TypeError](err); !ok {
		t.Errorf("Call(echo, x) into *int = %v; want a *TypeError", err)
	}
	if err := c.Call(t.Context(), "echo", []any{"x"}, nil); err != nil {
		t.Errorf("Call(echo, x) with a nil reply = %v", err)
	}
}

func TestClient_Multicall(t *testing.T) {
	c := xmlrpc.NewClient(newTestServer(t, echoServer(t)), nil)
	var sum int
	var wrong int
	results, err := c.Multicall(t.Context(), []xmlrpc.Call{
		{Method: "add", Args: []any{1, 2}, Reply: &sum},
		{Method: "upper", Args: []any{"straße"}},
		{Method: "fault", Args: []any{4, "x"}},
		{Method: "nope"},
		{Method: "system.multicall", Args: []any{[]any{}}},
		{Method: "echo", Args: []any{"s"}, Reply: &wrong},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 6 {
		t.Fatalf("Multicall returned %d results; want 6", len(results))
	}
	if results[0].Value != 3 || results[0].Err != nil || sum != 3 {
		t.Errorf("results[0] = %+v, sum %d; want 3", results[0], sum)
	}
	if results[1].Value != "STRASSE" || results[1].Err != nil {
		t.Errorf("results[1] = %+v; want STRASSE", results[1])
	}
	for i, code := range map[int]int{2: 4, 3: xmlrpc.CodeMethodNotFound, 4: xmlrpc.CodeInvalidXMLRPC} {
		if f, ok := errors.AsType[*xmlrpc.Fault](results[i].Err); !ok || f.Code != code {
			t.Errorf("results[%d] = %+v; want fault %d", i, results[i], code)
		}
	}
	if _, ok := errors.AsType[*xmlrpc.TypeError](results[5].Err); !ok || results[5].Value != "s" {
		t.Errorf("results[5] = %+v; want value s and a *TypeError", results[5])
	}
}

func TestServer_multicallWire(t *testing.T) {
	// The shape Python's SimpleXMLRPCDispatcher.system_multicall gives.
	url := newTestServer(t, echoServer(t))
	status, body := post(t, url, `<methodCall><methodName>system.multicall</methodName><params><param><value><array><data>
<value><struct><member><name>methodName</name><value>upper</value></member><member><name>params</name><value><array><data><value>a</value></data></array></value></member></struct></value>
<value><struct><member><name>methodName</name><value>nope</value></member><member><name>params</name><value><array><data/></array></value></member></struct></value>
<value><int>1</int></value>
</data></array></value></param></params></methodCall>`)
	want := `<?xml version="1.0"?>
<methodResponse><params><param><value><array><data>` +
		`<value><array><data><value><string>A</string></value></data></array></value>` +
		`<value><struct><member><name>faultCode</name><value><int>-32601</int></value></member><member><name>faultString</name><value><string>method "nope" not found</string></value></member></struct></value>` +
		`<value><struct><member><name>faultCode</name><value><int>-32602</int></value></member><member><name>faultString</name><value><string>a system.multicall call is not a struct</string></value></member></struct></value>` +
		`</data></array></value></param></params></methodResponse>
`
	if status != http.StatusOK || body != want {
		t.Errorf("POST system.multicall = %d\n%s\nwant 200\n%s", status, body, want)
	}
}

func TestServer_introspection(t *testing.T) {
	s := xmlrpc.NewServer()
	if err := s.Register("add", func(a, b int) int { return a + b }, "add(a, b) => a + b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("kinds", func(context.Context, bool, float64, string, time.Time, []byte, []int, map[string]any, *record, [2]int, uint8) (*big.Int, error) {
		return nil, nil
	}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("any", func(v any) any { return v }, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("variadic", func(v ...int) int { return 0 }, ""); err != nil {
		t.Fatal(err)
	}
	c := xmlrpc.NewClient(newTestServer(t, s), nil)
	ctx := t.Context()

	var names []string
	if err := c.Call(ctx, "system.listMethods", nil, &names); err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"add", "any", "kinds", "system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall", "variadic"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("system.listMethods mismatch (-want +got):\n%s", diff)
	}

	var help string
	if err := c.Call(ctx, "system.methodHelp", []any{"add"}, &help); err != nil || help != "add(a, b) => a + b" {
		t.Errorf("system.methodHelp(add) = %q, %v", help, err)
	}

	sigs := map[string]any{
		"add":                []any{[]any{"int", "int", "int"}},
		"kinds":              []any{[]any{"int", "boolean", "double", "string", "dateTime.iso8601", "base64", "array", "struct", "struct", "array", "int"}},
		"any":                "undef",
		"variadic":           "undef",
		"system.listMethods": []any{[]any{"array"}},
		"system.methodHelp":  []any{[]any{"string", "string"}},
		"system.multicall":   []any{[]any{"array", "array"}},
	}
	for name, want := range sigs {
		var got any
		if err := c.Call(ctx, "system.methodSignature", []any{name}, &got); err != nil {
			t.Fatalf("system.methodSignature(%s) = %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("system.methodSignature(%s) mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestServer_Register_errors(t *testing.T) {
	var s xmlrpc.Server // the zero value is ready
	tests := []struct {
		name, method string
		fn           any
	}{
		{"empty name", "", func() int { return 0 }},
		{"builtin", "system.listMethods", func() int { return 0 }},
		{"not a function", "f", 1},
		{"nil function", "f", (func() int)(nil)},
		{"no result", "f", func() {}},
		{"only error", "f", func() error { return nil }},
		{"second not error", "f", func() (int, int) { return 0, 0 }},
		{"three results", "f", func() (int, int, error) { return 0, 0, nil }},
		{"name not XML", "a\x00", func() int { return 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Register(tc.method, tc.fn, ""); err == nil {
				t.Errorf("Register(%q, %T) = nil; want an error", tc.method, tc.fn)
			}
		})
	}
	if err := s.Register("f", func() int { return 1 }, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("f", func() int { return 2 }, ""); err == nil {
		t.Error("Register(f) twice = nil; want an error")
	}
}

func TestServer_ServeHTTP(t *testing.T) {
	s := echoServer(t)
	s.MaxRequestBytes = 4096
	s.MaxValues = 100
	url := newTestServer(t, s)

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET = %d, Allow %q; want 405, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}

	status, _ := post(t, url, "<methodCall><methodName>echo</methodName><params><param><value>"+strings.Repeat("a", 4096)+"</value></param></params></methodCall>")
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of more than MaxRequestBytes = %d; want 413", status)
	}

	resp, err = http.Post(url, "text/xml", strings.NewReader("<methodCall><methodName>upper</methodName><params><param><value>a</value></param></params></methodCall>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/xml") {
		t.Errorf("POST upper = %d, Content-Type %q; want 200, text/xml", resp.StatusCode, ct)
	}

	nested := func(n int) string {
		return strings.Repeat("<value><array><data>", n) + strings.Repeat("</data></array></value>", n)
	}
	call := func(params string) string {
		return "<methodCall><methodName>echo</methodName><params><param>" + params + "</param></params></methodCall>"
	}
	faults := []struct {
		name string
		body string
		code int
	}{
		{"not XML", "hello", xmlrpc.CodeParseError},
		{"empty", "", xmlrpc.CodeParseError},
		{"truncated", "<methodCall><methodName>echo", xmlrpc.CodeParseError},
		{"billion laughs", `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<methodCall><methodName>echo</methodName><params><param><value>&lol2;</value></param></params></methodCall>`, xmlrpc.CodeParseError},
		{"external entity", `<?xml version="1.0"?>
<!DOCTYPE methodCall [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>echo</methodName><params><param><value>&xxe;</value></param></params></methodCall>`, xmlrpc.CodeParseError},
		{"external DTD", `<?xml version="1.0"?><!DOCTYPE methodCall SYSTEM "http://127.0.0.1:1/x.dtd"><methodCall><methodName>echo</methodName></methodCall>`, xmlrpc.CodeParseError},
		{"undeclared entity", call("<value>&xxe;</value>"), xmlrpc.CodeParseError},
		{"latin1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + call("<value>a</value>"), xmlrpc.CodeUnsupportedEncoding},
		{"100 arrays deep", call(nested(100)), xmlrpc.CodeInvalidXMLRPC},
		{"more than MaxValues", call("<value><array><data>" + strings.Repeat("<value/>", 100) + "</data></array></value>"), xmlrpc.CodeInvalidXMLRPC},
		{"not a methodCall", "<methodResponse/>", xmlrpc.CodeInvalidXMLRPC},
		{"no methodName", "<methodCall><params/></methodCall>", xmlrpc.CodeInvalidXMLRPC},
		{"param without value", call(""), xmlrpc.CodeInvalidXMLRPC},
		{"trailing element", "<methodCall><methodName>echo</methodName></methodCall><x/>", xmlrpc.CodeInvalidXMLRPC},
		{"no params", "<methodCall><methodName>echo</methodName></methodCall>", xmlrpc.CodeInvalidParams},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, url, tc.body)
			var v any
			err := xmlrpc.Unmarshal([]byte(faultValue(body)), &v)
			m, _ := v.(map[string]any)
			if status != http.StatusOK || err != nil || m["faultCode"] != tc.code {
				t.Errorf("POST %.60q = %d %s; want 200 and fault %d", tc.body, status, body, tc.code)
			}
		})
	}

	// 63 arrays inside a param's value are accepted (MaxDepth is 64).
	if status, body := post(t, url, call(nested(xmlrpc.MaxDepth))); status != http.StatusOK || strings.Contains(body, "<fault>") {
		t.Errorf("POST of %d nested arrays = %d %s; want a result", xmlrpc.MaxDepth, status, body)
	}
}

// faultValue returns the <value> element of a fault response.
func faultValue(body string) string {
	_, v, ok := strings.Cut(body, "<fault>")
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, "</fault>")
	return v
}

func TestClient_errors(t *testing.T) {
	ctx := t.Context()
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<methodResponse><params><param><value>%s</value></param></params></methodResponse>", strings.Repeat("a", 2000))
	})
	mux.HandleFunc("/many", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<methodResponse><params><param><value><array><data>%s</data></array></value></param></params></methodResponse>", strings.Repeat("<value/>", 20))
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") })
	mux.HandleFunc("/twoparams", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<methodResponse><params><param><value/></param><param><value/></param></params></methodResponse>")
	})
	mux.HandleFunc("/badfault", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<methodResponse><fault><value><struct><member><name>faultCode</name><value>x</value></member></struct></value></fault></methodResponse>")
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		fmt.Fprintf(w, "<methodResponse><params><param><value>%s:%s</value></param></params></methodResponse>", user, pass)
	})
	stop := make(chan struct{})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	ts := newTestServer(t, mux)
	t.Cleanup(func() { close(stop) }) // before the server's Close

	var s string
	err := xmlrpc.NewClient(ts+"/nothere", nil).Call(ctx, "m", nil, &s)
	if se, ok := errors.AsType[*xmlrpc.StatusError](err); !ok || se.StatusCode != http.StatusNotFound {
		t.Errorf("Call to a 404 = %v; want a *StatusError 404", err)
	}
	err = xmlrpc.NewClient(ts+"/big", &xmlrpc.ClientOptions{MaxResponseBytes: 1000}).Call(ctx, "m", nil, &s)
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("Call with a response over MaxResponseBytes = %v; want an error", err)
	}
	if err := xmlrpc.NewClient(ts+"/big", nil).Call(ctx, "m", nil, &s); err != nil || len(s) != 2000 {
		t.Errorf("Call(/big) = %d bytes, %v", len(s), err)
	}
	err = xmlrpc.NewClient(ts+"/many", &xmlrpc.ClientOptions{MaxValues: 20}).Call(ctx, "m", nil, nil)
	if _, ok := errors.AsType[*xmlrpc.ProtocolError](err); !ok {
		t.Errorf("Call with more than MaxValues values = %v; want a *ProtocolError", err)
	}
	for _, path := range []string{"/garbage", "/twoparams", "/badfault"} {
		err = xmlrpc.NewClient(ts+path, nil).Call(ctx, "m", nil, nil)
		if _, ok := errors.AsType[*xmlrpc.ProtocolError](err); !ok {
			t.Errorf("Call(%s) = %v; want a *ProtocolError", path, err)
		}
	}
	authURL := strings.Replace(ts, "http://", "http://u%3A1:p%40ss@", 1) + "/auth"
	if err := xmlrpc.NewClient(authURL, nil).Call(ctx, "m", nil, &s); err != nil || s != "u:1:p@ss" {
		t.Errorf("Call with credentials in the URL = %q, %v; want u:1:p@ss", s, err)
	}
	opts := &xmlrpc.ClientOptions{Username: "alice", Password: "secret"}
	if err := xmlrpc.NewClient(authURL, opts).Call(ctx, "m", nil, &s); err != nil || s != "alice:secret" {
		t.Errorf("Call with Username and Password = %q, %v; want alice:secret", s, err)
	}
	err = xmlrpc.NewClient(ts+"/slow", &xmlrpc.ClientOptions{Timeout: 50 * time.Millisecond}).Call(ctx, "m", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call past Timeout = %v; want context.DeadlineExceeded", err)
	}
	if err := xmlrpc.NewClient(ts, nil).Call(ctx, "m", []any{math.NaN()}, nil); err == nil {
		t.Error("Call with a NaN argument = nil; want an error")
	}
}

func TestServer_concurrent(t *testing.T) {
	s := echoServer(t)
	c := xmlrpc.NewClient(newTestServer(t, s), nil)
	errs := make(chan error, 16)
	for i := range 8 {
		go func() {
			var sum int
			err := c.Call(t.Context(), "add", []any{i, 1}, &sum)
			if err == nil && sum != i+1 {
				err = fmt.Errorf("add(%d, 1) = %d", i, sum)
			}
			errs <- err
		}()
		go func() {
			errs <- s.Register(fmt.Sprintf("f%d", i), func() int { return i }, "")
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	var names []string
	if err := c.Call(t.Context(), "system.listMethods", nil, &names); err != nil || !strings.Contains(strings.Join(names, " "), "f7") {
		t.Errorf("system.listMethods = %v, %v; want f7 in it", names, err)
	}
}
