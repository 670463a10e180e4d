package xmlrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
)

// DefaultMaxRequestBytes is the largest request body a [Server] reads when
// its MaxRequestBytes is zero.
const DefaultMaxRequestBytes = 1 << 20

// A Server is an XML-RPC server: an [http.Handler] that answers methodCall
// documents POSTed to it by calling the Go functions added with
// [Server.Register], as Python's SimpleXMLRPCServer calls the functions
// added with register_function. Mount it on any path.
//
// The introspection methods system.listMethods, system.methodHelp and
// system.methodSignature, and system.multicall, are built in.
//
// The zero value is a server with only the built-in methods. Fields must
// not be changed once the Server serves; Register may be called at any
// time. A Server is safe for concurrent use.
type Server struct {
	// MaxRequestBytes is the largest request body read. A longer one is
	// answered with HTTP status 413 (Content Too Large) and no fault: the
	// document was not read. Zero means DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// MaxValues is how many values (every <value> element, nested ones
	// included) a request may hold; a request with more gets a fault
	// CodeInvalidXMLRPC. Zero means DefaultMaxValues.
	MaxValues int
	// Logger receives the errors of registered functions, their panics, and
	// results that cannot be encoded. Nil means slog.Default().
	Logger *slog.Logger

	once    sync.Once
	mu      sync.RWMutex
	methods map[string]*method
}

// NewServer returns a Server with the default limits and only the
// built-in methods. It is the same as new(Server).
func NewServer() *Server { return new(Server) }

// A method is a registered function.
type method struct {
	fn        reflect.Value
	help      string
	hasCtx    bool           // the first parameter is a context.Context
	in        []reflect.Type // the other parameters; the last is a slice if variadic
	variadic  bool
	hasErr    bool // the second result is an error
	signature any  // for system.methodSignature: [][]string, or "undef"
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

// Register adds fn as method name, with help as its system.methodHelp
// text. fn is a function, reflected as net/rpc and Python's
// register_function do:
//
//   - its first parameter may be a context.Context, which receives the
//     request's context;
//   - its other parameters receive the call's params, in order, decoded as
//     [Unmarshal] does; a variadic function receives the params after its
//     fixed ones in its last parameter;
//   - it returns a result (which is encoded as [Marshal] does), or a result
//     and an error.
//
// A call with the wrong number of params or params that do not fit gets a
// fault CodeInvalidParams. If fn returns a non-nil error, the result is
// ignored and the call gets a fault: the *Fault in the error's chain if
// there is one, otherwise fault CodeApplicationError (1) with the error's
// text, as Python's server sends for an exception. If fn panics, the panic
// is logged and the call gets fault CodeInternalError.
//
// The signature that system.methodSignature reports is derived from fn's
// parameter and result types; it is the string "undef" when one of them is
// an interface type or fn is variadic (the value the introspection
// specification gives for an unknown signature).
//
// Register returns an error if name is empty or already registered
// (system.* included), or fn does not have the shape above.
func (s *Server) Register(name string, fn any, help string) error {
	s.init()
	m, err := newMethod(fn, help)
	if err != nil {
		return fmt.Errorf("xmlrpc: register %q: %w", name, err)
	}
	return s.add(name, m)
}

func (s *Server) add(name string, m *method) error {
	if name == "" {
		return errors.New("xmlrpc: register: empty method name")
	}
	var buf bytes.Buffer
	if err := writeText(&buf, name); err != nil {
		return fmt.Errorf("xmlrpc: register %q: the name is not XML text", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.methods[name] != nil {
		return fmt.Errorf("xmlrpc: register %q: already registered", name)
	}
	s.methods[name] = m
	return nil
}

func newMethod(fn any, help string) (*method, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("%T is not a function", fn)
	}
	t := v.Type()
	m := &method{fn: v, help: help, variadic: t.IsVariadic()}
	for i := range t.NumIn() {
		if i == 0 && t.In(0) == contextType {
			m.hasCtx = true
			continue
		}
		m.in = append(m.in, t.In(i))
	}
	switch {
	case t.NumOut() == 1 && t.Out(0) != errorType:
	case t.NumOut() == 2 && t.Out(1) == errorType:
		m.hasErr = true
	default:
		return nil, fmt.Errorf("%s does not return (result) or (result, error)", t)
	}
	m.signature = "undef"
	if !m.variadic {
		sig := []string{}
		for _, pt := range append([]reflect.Type{t.Out(0)}, m.in...) {
			name, ok := xmlrpcType(pt)
			if !ok {
				return m, nil
			}
			sig = append(sig, name)
		}
		m.signature = [][]string{sig}
	}
	return m, nil
}

// xmlrpcType returns the XML-RPC type that values of Go type t are encoded
// as, if there is one.
func xmlrpcType(t reflect.Type) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return "dateTime.iso8601", true
	case bigIntType:
		return "int", true
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean", true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "int", true
	case reflect.Float32, reflect.Float64:
		return "double", true
	case reflect.String:
		return "string", true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64", true
		}
		return "array", true
	case reflect.Array:
		return "array", true
	case reflect.Map, reflect.Struct:
		return "struct", true
	}
	return "", false
}

// init adds the built-in methods.
func (s *Server) init() {
	s.once.Do(func() {
		s.methods = map[string]*method{}
		builtin := func(name string, fn any, help string, sig ...string) {
			m, err := newMethod(fn, help)
			if err == nil {
				m.signature = [][]string{sig}
				err = s.add(name, m)
			}
			if err != nil {
				panic(err)
			}
		}
		builtin("system.listMethods", s.listMethods,
			"system.listMethods() => [name, ...]\n\nReturns the names of the methods the server has.",
			"array")
		builtin("system.methodHelp", s.methodHelp,
			"system.methodHelp(name) => string\n\nReturns the documentation of a method.",
			"string", "string")
		builtin("system.methodSignature", s.methodSignature,
			"system.methodSignature(name) => [[result type, param type, ...], ...] or \"undef\"\n\n"+
				"Returns the signatures of a method, or \"undef\" if they are not known.",
			"array", "string")
		builtin("system.multicall", s.multicall,
			"system.multicall([{'methodName': name, 'params': [param, ...]}, ...]) => [[result] or {'faultCode': code, 'faultString': text}, ...]\n\n"+
				"Calls several methods in one request, in order. system.multicall cannot call itself.",
			"array", "array")
	})
}

func (s *Server) lookup(name string) *method {
	s.init()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.methods[name]
}

func (s *Server) listMethods() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.methods))
	for name := range s.methods {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (s *Server) methodHelp(name string) (string, error) {
	m := s.lookup(name)
	if m == nil {
		return "", notFound(name)
	}
	return m.help, nil
}

func (s *Server) methodSignature(name string) (any, error) {
	m := s.lookup(name)
	if m == nil {
		return nil, notFound(name)
	}
	return m.signature, nil
}

func notFound(name string) *Fault {
	return &Fault{Code: CodeMethodNotFound, String: "method " + strconv.Quote(name) + " not found"}
}

// multicall is system.multicall. Its results are as Python's
// SimpleXMLRPCDispatcher.system_multicall gives them: a one-element array
// holding the result of each call that succeeded, and a struct with
// faultCode and faultString for each that failed.
func (s *Server) multicall(ctx context.Context, calls []any) []any {
	results := make([]any, len(calls))
	for i, c := range calls {
		res, err := s.multicallOne(ctx, c)
		if err != nil {
			f := s.fault(err)
			results[i] = map[string]any{"faultCode": f.Code, "faultString": f.String}
		} else {
			results[i] = []any{res}
		}
	}
	return results
}

func (s *Server) multicallOne(ctx context.Context, c any) (any, error) {
	st, ok := c.(map[string]any)
	if !ok {
		return nil, &Fault{Code: CodeInvalidParams, String: "a system.multicall call is not a struct"}
	}
	name, ok := st["methodName"].(string)
	if !ok {
		return nil, &Fault{Code: CodeInvalidParams, String: "a system.multicall call has no string methodName"}
	}
	params, ok := st["params"].([]any)
	if !ok {
		return nil, &Fault{Code: CodeInvalidParams, String: "a system.multicall call has no array params"}
	}
	if name == "system.multicall" {
		return nil, &Fault{Code: CodeInvalidXMLRPC, String: "recursive system.multicall forbidden"}
	}
	return s.call(ctx, name, params)
}

// call calls method name with params.
func (s *Server) call(ctx context.Context, name string, params []any) (result any, err error) {
	m := s.lookup(name)
	if m == nil {
		return nil, notFound(name)
	}
	n := len(m.in)
	if m.variadic {
		n--
	}
	if len(params) < n || len(params) > n && !m.variadic {
		return nil, &Fault{Code: CodeInvalidParams,
			String: fmt.Sprintf("method %q takes %d params, not %d", name, n, len(params))}
	}
	args := make([]reflect.Value, 0, len(params)+1)
	if m.hasCtx {
		args = append(args, reflect.ValueOf(ctx))
	}
	for i, p := range params {
		var t reflect.Type
		if i < n {
			t = m.in[i]
		} else {
			t = m.in[n].Elem()
		}
		v := reflect.New(t).Elem()
		if err := assign(v, p, ""); err != nil {
			return nil, &Fault{Code: CodeInvalidParams,
				String: fmt.Sprintf("method %q param %d: %v", name, i+1, err)}
		}
		args = append(args, v)
	}
	defer func() {
		if p := recover(); p != nil {
			s.logger().Error("xmlrpc: method panicked", "method", name, "panic", p, "stack", string(debug.Stack()))
			result, err = nil, &Fault{Code: CodeInternalError, String: "internal error"}
		}
	}()
	out := m.fn.Call(args)
	if m.hasErr && !out[1].IsNil() {
		err := out[1].Interface().(error)
		s.logger().Debug("xmlrpc: method returned an error", "method", name, "err", err)
		return nil, err
	}
	return out[0].Interface(), nil
}

// fault returns the fault for err, an error of a call.
func (s *Server) fault(err error) *Fault {
	if f, ok := errors.AsType[*Fault](err); ok {
		return f
	}
	if pe, ok := errors.AsType[*ProtocolError](err); ok {
		return &Fault{Code: pe.Code, String: pe.Msg}
	}
	return &Fault{Code: CodeApplicationError, String: err.Error()}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ServeHTTP answers an XML-RPC request: a POST whose body is a methodCall
// document. Other methods get HTTP status 405, and a body longer than
// MaxRequestBytes status 413. Every call gets status 200 with a
// methodResponse document (text/xml): the result, or a fault for a
// request that is not XML-RPC (CodeParseError, CodeUnsupportedEncoding,
// CodeInvalidXMLRPC), an unknown method (CodeMethodNotFound), params that
// do not fit (CodeInvalidParams), or a function's error.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "XML-RPC requests are POSTed", http.StatusMethodNotAllowed)
		return
	}
	maxBytes := s.MaxRequestBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxRequestBytes
	}
	d := newDecoder(http.MaxBytesReader(w, r.Body, maxBytes), s.MaxValues)
	name, params, err := d.call()
	var result any
	if err == nil {
		result, err = s.call(r.Context(), name, params)
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		http.Error(w, "request larger than "+strconv.FormatInt(maxBytes, 10)+" bytes", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil && d.r.err != nil && errors.Is(err, d.r.err) {
		// The body could not be read: the client is gone or broken.
		s.logger().Debug("xmlrpc: reading the request", "err", err)
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if err != nil {
		encodeFault(&buf, s.fault(err))
	} else if err := encodeResponse(&buf, result); err != nil {
		s.logger().Error("xmlrpc: cannot encode a result", "method", name, "err", err)
		buf.Reset()
		encodeFault(&buf, &Fault{Code: CodeInternalError, String: "the result cannot be encoded"})
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

var _ http.Handler = (*Server)(nil)
