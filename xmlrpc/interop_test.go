package xmlrpc_test

import (
	"bufio"
	"context"
	"errors"
	"math"
	"math/big"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/xmlrpc"
)

// pythonClient calls an echoServer with Python's xmlrpc.client.ServerProxy:
// argv[1] is the server's URL. It prints "ok" when every check passed.
const pythonClient = `
import sys, datetime, xmlrpc.client as xc
p = xc.ServerProxy(sys.argv[1], allow_none=True, use_builtin_types=True)
assert p.upper('straße') == 'STRASSE'
values = [0, -5, 2**31 - 1, -2**31, True, False, '', 'a<&>]]> \n\t é \U0001F600',
          1.5, -0.25, 1e300, 5e-324, b'', b'\x00\xff', datetime.datetime(2024, 2, 29, 23, 59, 59),
          [], [1, 'a', [True, None]], {}, {'a': 1, 'n': None, 's': {'b': b'x'}}, None]
for v in values:
    got = p.echo(v)
    assert got == v and type(got) is type(v), (v, got)
# Python writes a carriage return as it is, which XML reads as a line feed
# (XML 1.0 section 2.11): Python's own server does the same.
assert p.echo('a\rb\r\nc') == 'a\nb\nc'
assert p.echo.int(2**31 - 1) == 2**31 - 1
assert p.echo.bool(True) is True
assert p.echo.double(0.1) == 0.1
assert p.echo.time(datetime.datetime(1, 1, 1)) == datetime.datetime(1, 1, 1)
assert p.echo.base64(b'\x01') == b'\x01'
assert p.echo.array([1, 2]) == [1, 2]
assert p.echo.struct({'k': 'v'}) == {'k': 'v'}
r = {'name': 'n', 'count': 2, 'when': datetime.datetime(2000, 1, 1), 'tags': ['t'], 'note': None}
assert p.echo.record(r) == r, p.echo.record(r)
assert p.add(2, 3) == 5
assert p.sum() == 0 and p.sum(1, 2, 3.5) == 6.5
assert p.big() == 2**40 and p.huge() == 2**100
for call, code in [(lambda: p.nope(), -32601), (lambda: p.add(1), -32602), (lambda: p.add(1, 'x'), -32602),
                   (lambda: p.fault(4, 'x'), 4), (lambda: p.fail('it broke'), 1), (lambda: p.panic(), -32603)]:
    try:
        call()
        raise AssertionError('no fault')
    except xc.Fault as f:
        assert f.faultCode == code, (code, f)
try:
    p.fault(4, 'x')
except xc.Fault as f:
    assert f.faultString == 'x'
mc = xc.MultiCall(p)
mc.upper('straße')
mc.add(1, 2)
mc.echo(None)
mc.fault(4, 'x')
res = mc()
assert res[0] == 'STRASSE' and res[1] == 3 and res[2] is None
try:
    res[3]
    raise AssertionError('no fault')
except xc.Fault as f:
    assert (f.faultCode, f.faultString) == (4, 'x')
names = p.system.listMethods()
assert 'upper' in names and 'system.multicall' in names, names
assert p.system.methodHelp('add') == 'add(a, b) => a + b'
assert p.system.methodSignature('add') == [['int', 'int', 'int']]
assert p.system.methodSignature('echo') == 'undef'
print('ok')
`

// TestServer_pythonClient runs Python's xmlrpc.client against a Server.
func TestServer_pythonClient(t *testing.T) {
	python := peers.Need(t, "python3")
	s := echoServer(t)
	if err := s.Register("big", func() int64 { return 1 << 40 }, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("huge", func() *big.Int { return new(big.Int).Lsh(big.NewInt(1), 100) }, ""); err != nil {
		t.Fatal(err)
	}
	url := newTestServer(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", pythonClient, url).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python3 client: %v\n%s", err, out)
	}
}

// pythonServer is Python's SimpleXMLRPCServer on a free loopback port,
// which it prints.
const pythonServer = `
import datetime, xmlrpc.client as xc
from xmlrpc.server import SimpleXMLRPCServer
s = SimpleXMLRPCServer(('127.0.0.1', 0), allow_none=True, use_builtin_types=True, logRequests=False)
s.register_introspection_functions()
s.register_multicall_functions()
s.register_function(lambda v: v, 'echo')
s.register_function(lambda s: s.upper(), 'upper')
def fault():
    """fault() raises Fault(4, 'x')"""
    raise xc.Fault(4, 'x')
s.register_function(fault, 'fault')
s.register_function(lambda: 2**40, 'big')
s.register_function(lambda: {'int': 42, 'bool': True, 'string': 'straße <&>', 'double': 1.5,
                             'datetime': datetime.datetime(1998, 7, 17, 14, 8, 55), 'bytes': b'\x00\xff',
                             'array': [1, 'a'], 'struct': {'k': 'v'}, 'nil': None}, 'kinds')
print(s.server_address[1], flush=True)
s.serve_forever()
`

// startPythonServer starts pythonServer and returns its URL.
func startPythonServer(t *testing.T) string {
	t.Helper()
	python := peers.Need(t, "python3")
	cmd := exec.Command(python, "-c", pythonServer)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		port <- strings.TrimSpace(line)
	}()
	select {
	case p := <-port:
		if p == "" {
			t.Fatalf("python3 server did not start: %s", stderr.String())
		}
		return "http://127.0.0.1:" + p + "/RPC2"
	case <-time.After(30 * time.Second):
		t.Fatalf("python3 server did not print its port: %s", stderr.String())
	}
	return ""
}

// TestClient_pythonServer runs a Client against Python's SimpleXMLRPCServer.
func TestClient_pythonServer(t *testing.T) {
	c := xmlrpc.NewClient(startPythonServer(t), &xmlrpc.ClientOptions{Timeout: 30 * time.Second})
	ctx := t.Context()

	var s string
	if err := c.Call(ctx, "upper", []any{"straße"}, &s); err != nil || s != "STRASSE" {
		t.Errorf("Call(upper, straße) = %q, %v; want STRASSE", s, err)
	}

	when := time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)
	for _, v := range []any{
		0, math.MaxInt32, math.MinInt32, true, false, "", "a<&>]]> \n\t é \U0001F600",
		1.5, math.MaxFloat64, math.SmallestNonzeroFloat64, []byte{}, []byte{0, 255}, when,
		[]any{}, []any{1, "a", []any{nil}}, map[string]any{}, map[string]any{"a": 1, "n": nil}, nil,
	} {
		var got any
		if err := c.Call(ctx, "echo", []any{v}, &got); err != nil {
			t.Errorf("Call(echo, %v) = %v", v, err)
			continue
		}
		if diff := cmp.Diff(v, got); diff != "" {
			t.Errorf("Call(echo) mismatch (-want +got):\n%s", diff)
		}
	}
	// Python reads the carriage return that Marshal writes as a character
	// reference, but writes it back as it is, which XML reads as a line
	// feed (XML 1.0 §2.11).
	if err := c.Call(ctx, "echo", []any{"a\rb"}, &s); err != nil || s != "a\nb" {
		t.Errorf("Call(echo, a\\rb) = %q, %v; want a\\nb", s, err)
	}

	var r record
	note := "n"
	want := record{Name: "x", Count: 3, When: when, Tags: []string{"a"}, Note: &note}
	if err := c.Call(ctx, "echo", []any{want}, &r); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("Call(echo, record) mismatch (-want +got):\n%s", diff)
	}

	// Python decodes <i8> but cannot send an int outside 32 bits: its
	// marshaller raises OverflowError, which its server sends as fault 1.
	var n int64
	err := c.Call(ctx, "echo", []any{int64(1) << 40}, &n)
	if f, ok := errors.AsType[*xmlrpc.Fault](err); !ok || f.Code != 1 || !strings.Contains(f.String, "OverflowError") {
		t.Errorf("Call(echo, 1<<40) = %v; want fault 1 OverflowError", err)
	}

	var kinds struct {
		Int      int               `xmlrpc:"int"`
		Bool     bool              `xmlrpc:"bool"`
		String   string            `xmlrpc:"string"`
		Double   float64           `xmlrpc:"double"`
		DateTime time.Time         `xmlrpc:"datetime"`
		Bytes    []byte            `xmlrpc:"bytes"`
		Array    []any             `xmlrpc:"array"`
		Struct   map[string]string `xmlrpc:"struct"`
		Nil      *int              `xmlrpc:"nil"`
	}
	if err := c.Call(ctx, "kinds", nil, &kinds); err != nil {
		t.Fatal(err)
	}
	if kinds.Int != 42 || !kinds.Bool || kinds.String != "straße <&>" || kinds.Double != 1.5 ||
		!kinds.DateTime.Equal(time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC)) || string(kinds.Bytes) != "\x00\xff" ||
		!cmp.Equal(kinds.Array, []any{1, "a"}) || kinds.Struct["k"] != "v" || kinds.Nil != nil {
		t.Errorf("Call(kinds) = %+v", kinds)
	}

	err = c.Call(ctx, "fault", nil, nil)
	if f, ok := errors.AsType[*xmlrpc.Fault](err); !ok || f.Code != 4 || f.String != "x" {
		t.Errorf("Call(fault) = %v; want fault 4 x", err)
	}

	results, err := c.Multicall(ctx, []xmlrpc.Call{
		{Method: "upper", Args: []any{"straße"}},
		{Method: "echo", Args: []any{nil}},
		{Method: "fault"},
		{Method: "nope"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 || results[0].Value != "STRASSE" || results[0].Err != nil || results[1].Value != nil || results[1].Err != nil {
		t.Errorf("Multicall = %+v", results)
	}
	if f, ok := errors.AsType[*xmlrpc.Fault](results[2].Err); !ok || f.Code != 4 {
		t.Errorf("Multicall fault = %+v; want fault 4", results[2])
	}
	if _, ok := errors.AsType[*xmlrpc.Fault](results[3].Err); !ok {
		t.Errorf("Multicall of an unknown method = %+v; want a fault", results[3])
	}

	var names []string
	if err := c.Call(ctx, "system.listMethods", nil, &names); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"echo", "upper", "fault", "system.multicall", "system.methodHelp"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("system.listMethods = %v; want %s in it", names, want)
		}
	}
	var help string
	if err := c.Call(ctx, "system.methodHelp", []any{"fault"}, &help); err != nil || help != "fault() raises Fault(4, 'x')" {
		t.Errorf("system.methodHelp(fault) = %q, %v", help, err)
	}
}
