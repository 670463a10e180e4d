package xmlrpc

import (
	"fmt"
	"math/big"
	"reflect"
	"time"
)

// A TypeError reports a decoded XML-RPC value that does not fit the Go
// value it is decoded into, or a Go value that is not a non-nil pointer.
type TypeError struct {
	Value string       // the XML-RPC type of the value: "int", "string", …
	Type  reflect.Type // the Go type it does not fit
	Path  string       // where, as in "[2].name"; "" for the value itself
}

func (e *TypeError) Error() string {
	at := ""
	if e.Path != "" {
		at = " at " + e.Path
	}
	if e.Type == nil {
		return "xmlrpc: cannot decode " + e.Value + " into a nil value"
	}
	return fmt.Sprintf("xmlrpc: cannot decode %s%s into Go type %s", e.Value, at, e.Type)
}

// assignTo stores x, a decoded value, in what v points to.
func assignTo(v any, x any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &TypeError{Value: typeName(x), Type: reflect.TypeOf(v)}
	}
	return assign(rv.Elem(), x, "")
}

// typeName returns the XML-RPC name of the type of x, a decoded value.
func typeName(x any) string {
	switch x.(type) {
	case nil:
		return "nil"
	case bool:
		return "boolean"
	case int, int64, *big.Int:
		return "int"
	case float64:
		return "double"
	case string:
		return "string"
	case []byte:
		return "base64"
	case time.Time:
		return "dateTime.iso8601"
	case []any:
		return "array"
	case map[string]any:
		return "struct"
	}
	return fmt.Sprintf("%T", x)
}

// assign stores x, a decoded value, in dst, which is settable.
func assign(dst reflect.Value, x any, path string) error {
	t := dst.Type()
	mismatch := func() error { return &TypeError{Value: typeName(x), Type: t, Path: path} }
	if x == nil {
		dst.SetZero()
		return nil
	}
	if t.Kind() == reflect.Interface {
		xv := reflect.ValueOf(x)
		if !xv.Type().AssignableTo(t) {
			return mismatch()
		}
		dst.Set(xv)
		return nil
	}
	if t.Kind() == reflect.Pointer {
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		return assign(dst.Elem(), x, path)
	}
	switch t {
	case timeType:
		tm, ok := x.(time.Time)
		if !ok {
			return mismatch()
		}
		dst.Set(reflect.ValueOf(tm))
		return nil
	case bigIntType:
		n, ok := bigOf(x)
		if !ok {
			return mismatch()
		}
		dst.Set(reflect.ValueOf(n).Elem())
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b, ok := x.(bool)
		if !ok {
			return mismatch()
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := bigOf(x)
		if !ok || !n.IsInt64() || dst.OverflowInt(n.Int64()) {
			return mismatch()
		}
		dst.SetInt(n.Int64())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := bigOf(x)
		if !ok || !n.IsUint64() || dst.OverflowUint(n.Uint64()) {
			return mismatch()
		}
		dst.SetUint(n.Uint64())
	case reflect.Float32, reflect.Float64:
		var f float64
		if xf, ok := x.(float64); ok {
			f = xf
		} else if n, ok := bigOf(x); ok {
			f, _ = new(big.Float).SetInt(n).Float64()
		} else {
			return mismatch()
		}
		if dst.OverflowFloat(f) {
			return mismatch()
		}
		dst.SetFloat(f)
	case reflect.String:
		s, ok := x.(string)
		if !ok {
			return mismatch()
		}
		dst.SetString(s)
	case reflect.Slice:
		if b, ok := x.([]byte); ok && t.Elem().Kind() == reflect.Uint8 {
			dst.SetBytes(append(make([]byte, 0, len(b)), b...))
			return nil
		}
		a, ok := x.([]any)
		if !ok {
			return mismatch()
		}
		s := reflect.MakeSlice(t, len(a), len(a))
		for i, e := range a {
			if err := assign(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(s)
	case reflect.Array:
		a, ok := x.([]any)
		if !ok || len(a) != dst.Len() {
			return mismatch()
		}
		for i, e := range a {
			if err := assign(dst.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := x.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return mismatch()
		}
		if dst.IsNil() {
			dst.Set(reflect.MakeMapWithSize(t, len(m)))
		}
		for k, e := range m {
			ev := reflect.New(t.Elem()).Elem()
			if err := assign(ev, e, path+"."+k); err != nil {
				return err
			}
			dst.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
	case reflect.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			return mismatch()
		}
		for _, f := range fieldsOf(t) {
			if e, ok := m[f.name]; ok {
				if err := assign(dst.FieldByIndex(f.index), e, path+"."+f.name); err != nil {
					return err
				}
			}
		}
	default:
		return mismatch()
	}
	return nil
}

// bigOf returns x, a decoded value, as a big.Int if it is an integer.
func bigOf(x any) (*big.Int, bool) {
	switch n := x.(type) {
	case int:
		return big.NewInt(int64(n)), true
	case int64:
		return big.NewInt(n), true
	case *big.Int:
		return n, true
	}
	return nil, false
}
