package xmlrpc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/xmlrpc"
)

// ExampleServer serves the tutorial's upper function over XML-RPC, as
// Python's SimpleXMLRPCServer with register_function does. A real server
// would mount it with http.Handle("/RPC2", s) and http.ListenAndServe.
func ExampleServer() {
	s := xmlrpc.NewServer()
	if err := s.Register("upper", upper.String, "upper(s) => s in upper case"); err != nil {
		log.Fatal(err)
	}
	if err := s.Register("div", func(a, b int) (int, error) {
		if b == 0 {
			return 0, &xmlrpc.Fault{Code: 2, String: "division by zero"}
		}
		return a / b, nil
	}, "div(a, b) => a / b"); err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()

	c := xmlrpc.NewClient(ts.URL, nil)
	var out string
	if err := c.Call(context.Background(), "upper", []any{"straße"}, &out); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	err := c.Call(context.Background(), "div", []any{1, 0}, nil)
	if f, ok := errors.AsType[*xmlrpc.Fault](err); ok {
		fmt.Println(f.Code, f.String)
	}
	var sig any
	if err := c.Call(context.Background(), "system.methodSignature", []any{"div"}, &sig); err != nil {
		log.Fatal(err)
	}
	fmt.Println(sig)
	// Output:
	// STRASSE
	// 2 division by zero
	// [[int int int]]
}

// ExampleClient calls a server's methods, decoding a struct result into a
// Go struct.
func ExampleClient() {
	type point struct {
		X int `xmlrpc:"x"`
		Y int `xmlrpc:"y"`
	}
	s := xmlrpc.NewServer()
	if err := s.Register("flip", func(p point) point { return point{p.Y, p.X} }, ""); err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()

	// As xmlrpc.client.ServerProxy("http://127.0.0.1:8000/RPC2") in Python.
	c := xmlrpc.NewClient(ts.URL+"/RPC2", nil)
	var p point
	if err := c.Call(context.Background(), "flip", []any{point{X: 1, Y: 2}}, &p); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", p)

	// A result of unknown shape decodes into an any.
	var v any
	if err := c.Call(context.Background(), "flip", []any{map[string]int{"x": 3, "y": 4}}, &v); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	// Output:
	// {X:2 Y:1}
	// map[x:4 y:3]
}

// ExampleClient_Multicall makes three calls in one request with
// system.multicall, as Python's xmlrpc.client.MultiCall does.
func ExampleClient_Multicall() {
	s := xmlrpc.NewServer()
	if err := s.Register("upper", upper.String, ""); err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()

	c := xmlrpc.NewClient(ts.URL, nil)
	results, err := c.Multicall(context.Background(), []xmlrpc.Call{
		{Method: "upper", Args: []any{"a"}},
		{Method: "lower", Args: []any{"B"}},
		{Method: "upper", Args: []any{"c"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.Value, r.Err)
	}
	// Output:
	// A <nil>
	// <nil> xmlrpc: fault -32601: method "lower" not found
	// C <nil>
}

// ExampleMarshal shows the XML-RPC encoding of Go values.
func ExampleMarshal() {
	b, err := xmlrpc.Marshal(map[string]any{"n": 1 << 40, "ok": true, "none": nil})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output:
	// <value><struct><member><name>n</name><value><i8>1099511627776</i8></value></member><member><name>none</name><value><nil/></value></member><member><name>ok</name><value><boolean>1</boolean></value></member></struct></value>
}
