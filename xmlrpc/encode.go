package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Marshal returns the XML-RPC encoding of v as one <value> element, as the
// package documentation describes. It refuses values that XML-RPC cannot
// represent: NaN, infinities, strings that are not XML text, times outside
// years 0 to 9999, maps whose keys are not strings, channels, functions,
// complex numbers, and values nested deeper than [MaxDepth].
// This function doesn't perform I/O.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeValue(buf *bytes.Buffer, v any) error {
	e := encoder{buf: buf}
	return e.value(reflect.ValueOf(v), 0, 0)
}

type encoder struct {
	buf *bytes.Buffer
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	bigIntType = reflect.TypeFor[big.Int]()
	errDepth   = fmt.Errorf("xmlrpc: value nested more than %d arrays and structs deep", MaxDepth)
)

// value writes v as a <value> element. depth counts the arrays and structs
// around v, ptrs the pointers and interfaces followed in a row to reach it
// (a cycle of pointers alone is caught by ptrs, one through arrays or
// structs by depth).
func (e *encoder) value(v reflect.Value, depth, ptrs int) error {
	if !v.IsValid() {
		e.buf.WriteString("<value><nil/></value>")
		return nil
	}
	t := v.Type()
	switch t {
	case timeType:
		return e.time(v.Interface().(time.Time))
	case bigIntType:
		n := v.Interface().(big.Int)
		return e.bigInt(&n)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.buf.WriteString("<value><nil/></value>")
			return nil
		}
		if ptrs >= MaxDepth {
			return errDepth
		}
		return e.value(v.Elem(), depth, ptrs+1)
	case reflect.Bool:
		if v.Bool() {
			e.buf.WriteString("<value><boolean>1</boolean></value>")
		} else {
			e.buf.WriteString("<value><boolean>0</boolean></value>")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := v.Uint(); u <= math.MaxInt64 {
			e.int(int64(u))
		} else {
			return e.bigInt(new(big.Int).SetUint64(u))
		}
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("xmlrpc: cannot encode %v: XML-RPC has no NaN or infinity", f)
		}
		e.buf.WriteString("<value><double>")
		e.buf.WriteString(strconv.FormatFloat(f, 'f', -1, t.Bits()))
		e.buf.WriteString("</double></value>")
	case reflect.String:
		e.buf.WriteString("<value><string>")
		if err := writeText(e.buf, v.String()); err != nil {
			return err
		}
		e.buf.WriteString("</string></value>")
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			e.buf.WriteString("<value><base64>")
			e.buf.WriteString(base64.StdEncoding.EncodeToString(v.Bytes()))
			e.buf.WriteString("</base64></value>")
			return nil
		}
		return e.array(v, depth)
	case reflect.Array:
		return e.array(v, depth)
	case reflect.Map:
		return e.mapStruct(v, depth)
	case reflect.Struct:
		return e.structStruct(v, depth)
	default:
		return fmt.Errorf("xmlrpc: cannot encode a value of type %s", t)
	}
	return nil
}

func (e *encoder) int(n int64) {
	tag := "int"
	if n < math.MinInt32 || n > math.MaxInt32 {
		tag = "i8"
	}
	fmt.Fprintf(e.buf, "<value><%s>%d</%s></value>", tag, n, tag)
}

func (e *encoder) bigInt(n *big.Int) error {
	if n.IsInt64() {
		e.int(n.Int64())
		return nil
	}
	fmt.Fprintf(e.buf, "<value><biginteger>%s</biginteger></value>", n.String())
	return nil
}

// iso8601 is the layout of dateTime.iso8601 that Python writes and reads.
const iso8601 = "20060102T15:04:05"

func (e *encoder) time(t time.Time) error {
	if y := t.Year(); y < 0 || y > 9999 {
		return fmt.Errorf("xmlrpc: cannot encode time %v: the year is not 0 to 9999", t)
	}
	e.buf.WriteString("<value><dateTime.iso8601>")
	e.buf.WriteString(t.Format(iso8601))
	e.buf.WriteString("</dateTime.iso8601></value>")
	return nil
}

func (e *encoder) array(v reflect.Value, depth int) error {
	if depth >= MaxDepth {
		return errDepth
	}
	e.buf.WriteString("<value><array><data>")
	for i := range v.Len() {
		if err := e.value(v.Index(i), depth+1, 0); err != nil {
			return err
		}
	}
	e.buf.WriteString("</data></array></value>")
	return nil
}

func (e *encoder) member(name string, v reflect.Value, depth int) error {
	e.buf.WriteString("<member><name>")
	if err := writeText(e.buf, name); err != nil {
		return err
	}
	e.buf.WriteString("</name>")
	if err := e.value(v, depth+1, 0); err != nil {
		return err
	}
	e.buf.WriteString("</member>")
	return nil
}

func (e *encoder) mapStruct(v reflect.Value, depth int) error {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		return fmt.Errorf("xmlrpc: cannot encode a value of type %s: struct member names are strings", t)
	}
	if depth >= MaxDepth {
		return errDepth
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	e.buf.WriteString("<value><struct>")
	for _, k := range keys {
		if err := e.member(k.String(), v.MapIndex(k), depth); err != nil {
			return err
		}
	}
	e.buf.WriteString("</struct></value>")
	return nil
}

func (e *encoder) structStruct(v reflect.Value, depth int) error {
	if depth >= MaxDepth {
		return errDepth
	}
	e.buf.WriteString("<value><struct>")
	for _, f := range fieldsOf(v.Type()) {
		fv := v.FieldByIndex(f.index)
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		if err := e.member(f.name, fv, depth); err != nil {
			return err
		}
	}
	e.buf.WriteString("</struct></value>")
	return nil
}

// A field is an exported struct field that is a struct member.
type field struct {
	name      string
	index     []int
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type → []field

// fieldsOf returns the members of struct type t: its exported fields, named
// by their xmlrpc tag, with the fields of untagged embedded structs (not
// pointers to structs) in their place. The first field with a name wins.
func fieldsOf(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag, hasTag := sf.Tag.Lookup("xmlrpc")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(slices.Clip(index), i)
			if sf.Anonymous && !hasTag && sf.Type.Kind() == reflect.Struct && depth < MaxDepth {
				walk(sf.Type, idx, depth+1)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			fs = append(fs, field{name: name, index: idx, omitEmpty: opts == "omitempty"})
		}
	}
	walk(t, nil, 0)
	fieldCache.Store(t, fs)
	return fs
}

// writeText writes s as XML character data, escaping &, < and > as Python
// does, and carriage returns as a character reference, which XML parsers
// keep (a literal one is read as a line feed).
func writeText(buf *bytes.Buffer, s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("xmlrpc: cannot encode string %q: not UTF-8", s)
		}
		if !isXMLChar(r) {
			return fmt.Errorf("xmlrpc: cannot encode string %q: %U is not allowed in XML", s, r)
		}
		switch r {
		case '&':
			buf.WriteString("&amp;")
		case '<':
			buf.WriteString("&lt;")
		case '>':
			buf.WriteString("&gt;")
		case '\r':
			buf.WriteString("&#xD;")
		default:
			buf.WriteString(s[i : i+size])
		}
		i += size
	}
	return nil
}

// isXMLChar reports whether r is a Char of XML 1.0 (§2.2).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// encodeCall writes a methodCall document.
func encodeCall(buf *bytes.Buffer, method string, args []any) error {
	buf.WriteString(`<?xml version="1.0"?>` + "\n<methodCall><methodName>")
	if err := writeText(buf, method); err != nil {
		return err
	}
	buf.WriteString("</methodName><params>")
	for _, a := range args {
		buf.WriteString("<param>")
		if err := encodeValue(buf, a); err != nil {
			return err
		}
		buf.WriteString("</param>")
	}
	buf.WriteString("</params></methodCall>\n")
	return nil
}

// encodeResponse writes a methodResponse document with one param.
func encodeResponse(buf *bytes.Buffer, v any) error {
	buf.WriteString(`<?xml version="1.0"?>` + "\n<methodResponse><params><param>")
	if err := encodeValue(buf, v); err != nil {
		return err
	}
	buf.WriteString("</param></params></methodResponse>\n")
	return nil
}

// encodeFault writes a methodResponse document with a fault. A faultString
// that is not XML text is written with its offending characters replaced.
func encodeFault(buf *bytes.Buffer, f *Fault) {
	s := strings.Map(func(r rune) rune {
		if !isXMLChar(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(f.String, "\uFFFD"))
	buf.WriteString(`<?xml version="1.0"?>` + "\n<methodResponse><fault>")
	err := encodeValue(buf, map[string]any{"faultCode": f.Code, "faultString": s})
	if err != nil {
		panic(errors.New("xmlrpc: cannot encode a sanitised fault: " + err.Error()))
	}
	buf.WriteString("</fault></methodResponse>\n")
}
