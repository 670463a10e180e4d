package xmlrpc_test

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inetkit/inetkit/xmlrpc"
)

// bigIntComparer compares *big.Int values by value.
var bigIntComparer = cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })

func TestMarshal(t *testing.T) {
	type inner struct {
		X int `xmlrpc:"x"`
	}
	type record struct {
		Name    string `xmlrpc:"name"`
		Skipped int    `xmlrpc:"-"`
		Empty   string `xmlrpc:"empty,omitempty"`
		Plain   bool
		inner
		hidden int
	}
	big100 := new(big.Int).Lsh(big.NewInt(1), 100)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"int", 42, "<value><int>42</int></value>"},
		{"int32 min", int64(math.MinInt32), "<value><int>-2147483648</int></value>"},
		{"int32 max+1", int64(math.MaxInt32) + 1, "<value><i8>2147483648</i8></value>"},
		{"uint64 max", uint64(math.MaxUint64), "<value><biginteger>18446744073709551615</biginteger></value>"},
		{"big", big100, "<value><biginteger>1267650600228229401496703205376</biginteger></value>"},
		{"small big", big.NewInt(-7), "<value><int>-7</int></value>"},
		{"true", true, "<value><boolean>1</boolean></value>"},
		{"false", false, "<value><boolean>0</boolean></value>"},
		{"string", `a<b>&"c"` + "\r\n", "<value><string>a&lt;b&gt;&amp;\"c\"&#xD;\n</string></value>"},
		{"double", 1.5, "<value><double>1.5</double></value>"},
		{"double no exponent", 1e21, "<value><double>1000000000000000000000</double></value>"},
		{"float32", float32(0.1), "<value><double>0.1</double></value>"},
		{"base64", []byte("hello"), "<value><base64>aGVsbG8=</base64></value>"},
		{"time", time.Date(1998, 7, 17, 14, 8, 55, 999, time.UTC), "<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>"},
		{"time keeps its clock", time.Date(1998, 7, 17, 14, 8, 55, 0, time.FixedZone("X", 3600)), "<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>"},
		{"array", []any{1, "a"}, "<value><array><data><value><int>1</int></value><value><string>a</string></value></data></array></value>"},
		{"typed slice", []string{"a"}, "<value><array><data><value><string>a</string></value></data></array></value>"},
		{"nil slice", []int(nil), "<value><array><data></data></array></value>"},
		{"go array", [2]bool{true, false}, "<value><array><data><value><boolean>1</boolean></value><value><boolean>0</boolean></value></data></array></value>"},
		{"map sorted", map[string]int{"b": 2, "a": 1}, "<value><struct><member><name>a</name><value><int>1</int></value></member><member><name>b</name><value><int>2</int></value></member></struct></value>"},
		{"nil map", map[string]int(nil), "<value><struct></struct></value>"},
		{"struct", record{Name: "n", Skipped: 1, Plain: true, inner: inner{X: 3}, hidden: 4},
			"<value><struct><member><name>name</name><value><string>n</string></value></member><member><name>Plain</name><value><boolean>1</boolean></value></member><member><name>x</name><value><int>3</int></value></member></struct></value>"},
		{"nil", nil, "<value><nil/></value>"},
		{"nil pointer", (*int)(nil), "<value><nil/></value>"},
		{"pointer", new(7), "<value><int>7</int></value>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := xmlrpc.Marshal(tc.v)
			if err != nil || string(got) != tc.want {
				t.Errorf("Marshal(%#v) = %s, %v; want %s, nil", tc.v, got, err, tc.want)
			}
		})
	}
}

func TestMarshal_refused(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	var self any
	self = &self
	tests := []struct {
		name string
		v    any
	}{
		{"NaN", math.NaN()},
		{"Inf", math.Inf(1)},
		{"-Inf", float32(math.Inf(-1))},
		{"control char", "a\x00b"},
		{"invalid UTF-8", "a\xffb"},
		{"U+FFFE", "\uFFFE"},
		{"struct name", map[string]int{"\x01": 1}},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"negative year", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"int map keys", map[int]int{1: 1}},
		{"chan", make(chan int)},
		{"func", func() {}},
		{"complex", 1i},
		{"cyclic slice", cyclic},
		{"cyclic pointer", self},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := xmlrpc.Marshal(tc.v); err == nil {
				t.Errorf("Marshal(%v) = %s, nil; want an error", tc.name, got)
			}
		})
	}
}

func TestUnmarshal(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"int", "<value><int>42</int></value>", 42},
		{"i4", "<value><i4> -7 </i4></value>", -7},
		{"i1", "<value><i1>1</i1></value>", 1},
		{"i2", "<value><i2>+2</i2></value>", 2},
		{"i8", "<value><i8>9223372036854775807</i8></value>", math.MaxInt64},
		{"biginteger small", "<value><biginteger>5</biginteger></value>", 5},
		{"biginteger", "<value><biginteger>-1267650600228229401496703205376</biginteger></value>", new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 100))},
		{"boolean", "<value><boolean>1</boolean></value>", true},
		{"string", "<value><string>a &amp; &lt;b&gt; &#233; &#xD;</string></value>", "a & <b> é \r"},
		{"untyped", "<value> a b </value>", " a b "},
		{"empty", "<value></value>", ""},
		{"self-closing", "<value/>", ""},
		{"empty string", "<value><string/></value>", ""},
		{"double", "<value><double>-1.25</double></value>", -1.25},
		{"double exponent", "<value><double>1e3</double></value>", 1000.0},
		{"float", "<value><float>2</float></value>", 2.0},
		{"bigdecimal", "<value><bigdecimal>0.1</bigdecimal></value>", 0.1},
		{"base64", "<value><base64>\naGVs\nbG8=\n</base64></value>", []byte("hello")},
		{"base64 no padding", "<value><base64>aGVsbG8</base64></value>", []byte("hello")},
		{"dateTime", "<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>", time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC)},
		{"dateTime dashed", "<value><dateTime.iso8601>1998-07-17T14:08:55</dateTime.iso8601></value>", time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC)},
		{"dateTime zone", "<value><dateTime.iso8601>1998-07-17T14:08:55+02:00</dateTime.iso8601></value>", time.Date(1998, 7, 17, 12, 8, 55, 0, time.UTC)},
		{"nil", "<value><nil/></value>", nil},
		{"ex:nil", `<value xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"><ex:nil/></value>`, nil},
		{"array", "<value><array><data><value>a</value><value><int>1</int></value></data></array></value>", []any{"a", 1}},
		{"empty array", "<value><array><data/></array></value>", []any{}},
		{"struct", "<value><struct><member><name>a</name><value><int>1</int></value></member><member><name>a</name><value>last</value></member><member><name>b</name><value/></member></struct></value>",
			map[string]any{"a": "last", "b": ""}},
		{"whitespace and comments", "<?xml version=\"1.0\" encoding=\"us-ascii\"?>\n<!-- c -->\n<value>\n <int>1</int><!-- c -->\n</value>\n", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			if err := xmlrpc.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatalf("Unmarshal(%s) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, bigIntComparer); diff != "" {
				t.Errorf("Unmarshal(%s) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestUnmarshal_invalid(t *testing.T) {
	deep := strings.Repeat("<value><array><data>", 100) + strings.Repeat("</data></array></value>", 100)
	tests := []struct {
		name string
		in   string
		code int
	}{
		{"not XML", "<value>", xmlrpc.CodeParseError},
		{"mismatched", "<value><int>1</i4></value>", xmlrpc.CodeParseError},
		{"unknown entity", "<value>&lol;</value>", xmlrpc.CodeParseError},
		{"doctype", `<?xml version="1.0"?><!DOCTYPE value [<!ENTITY a "b">]><value>&a;</value>`, xmlrpc.CodeParseError},
		{"latin1", `<?xml version="1.0" encoding="ISO-8859-1"?><value>a</value>`, xmlrpc.CodeUnsupportedEncoding},
		{"invalid UTF-8", "<value>\xff</value>", xmlrpc.CodeParseError},
		{"control char", "<value>\x01</value>", xmlrpc.CodeParseError},
		{"bad int", "<value><int>1.5</int></value>", xmlrpc.CodeInvalidXMLRPC},
		{"huge int", "<value><int>" + strings.Repeat("9", 1001) + "</int></value>", xmlrpc.CodeInvalidXMLRPC},
		{"bad boolean", "<value><boolean>true</boolean></value>", xmlrpc.CodeInvalidXMLRPC},
		{"NaN", "<value><double>nan</double></value>", xmlrpc.CodeInvalidXMLRPC},
		{"infinite", "<value><double>1e999</double></value>", xmlrpc.CodeInvalidXMLRPC},
		{"hex float", "<value><double>0x1p3</double></value>", xmlrpc.CodeInvalidXMLRPC},
		{"bad base64", "<value><base64>!!</base64></value>", xmlrpc.CodeInvalidXMLRPC},
		{"bad time", "<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>", xmlrpc.CodeInvalidXMLRPC},
		{"fractional seconds", "<value><dateTime.iso8601>1998-07-17T14:08:55.5</dateTime.iso8601></value>", xmlrpc.CodeInvalidXMLRPC},
		{"unknown type", "<value><object/></value>", xmlrpc.CodeInvalidXMLRPC},
		{"text and type", "<value>a<int>1</int></value>", xmlrpc.CodeInvalidXMLRPC},
		{"two types", "<value><int>1</int><int>2</int></value>", xmlrpc.CodeInvalidXMLRPC},
		{"array without data", "<value><array><value>1</value></array></value>", xmlrpc.CodeInvalidXMLRPC},
		{"member without name", "<value><struct><member><value>1</value></member></struct></value>", xmlrpc.CodeInvalidXMLRPC},
		{"element in string", "<value><string>a<b/></string></value>", xmlrpc.CodeInvalidXMLRPC},
		{"wrong root", "<params/>", xmlrpc.CodeInvalidXMLRPC},
		{"two roots", "<value/><value/>", xmlrpc.CodeInvalidXMLRPC},
		{"too deep", deep, xmlrpc.CodeInvalidXMLRPC},
		{"too many values", "<value><array><data>" + strings.Repeat("<value/>", xmlrpc.DefaultMaxValues) + "</data></array></value>", xmlrpc.CodeInvalidXMLRPC},
		{"empty", "", xmlrpc.CodeParseError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			err := xmlrpc.Unmarshal([]byte(tc.in), &got)
			pe, ok := errors.AsType[*xmlrpc.ProtocolError](err)
			if !ok || pe.Code != tc.code {
				t.Errorf("Unmarshal(%.80s) = %v; want a *ProtocolError with code %d", tc.in, err, tc.code)
			}
		})
	}
}

func TestUnmarshal_typed(t *testing.T) {
	type inner struct {
		X int `xmlrpc:"x"`
	}
	type record struct {
		Name  string            `xmlrpc:"name"`
		Tags  []string          `xmlrpc:"tags"`
		When  time.Time         `xmlrpc:"when"`
		Data  []byte            `xmlrpc:"data"`
		Ptr   *float64          `xmlrpc:"ptr"`
		Map   map[string]uint16 `xmlrpc:"map"`
		Big   *big.Int          `xmlrpc:"big"`
		Pair  [2]int8           `xmlrpc:"pair"`
		Any   any               `xmlrpc:"any"`
		Float float32           `xmlrpc:"float"`
		inner
	}
	in := `<value><struct>
<member><name>name</name><value>n</value></member>
<member><name>tags</name><value><array><data><value>a</value><value><string>b</string></value></data></array></value></member>
<member><name>when</name><value><dateTime.iso8601>20200102T03:04:05</dateTime.iso8601></value></member>
<member><name>data</name><value><base64>AQI=</base64></value></member>
<member><name>ptr</name><value><double>2.5</double></value></member>
<member><name>map</name><value><struct><member><name>k</name><value><int>65535</int></value></member></struct></value></member>
<member><name>big</name><value><i8>12345678901</i8></value></member>
<member><name>pair</name><value><array><data><value><int>-128</int></value><value><int>127</int></value></data></array></value></member>
<member><name>any</name><value><nil/></value></member>
<member><name>float</name><value><int>3</int></value></member>
<member><name>x</name><value><int>9</int></value></member>
<member><name>unknown</name><value><int>9</int></value></member>
</struct></value>`
	var got record
	if err := xmlrpc.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := record{
		Name: "n", Tags: []string{"a", "b"}, When: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
		Data: []byte{1, 2}, Ptr: new(2.5), Map: map[string]uint16{"k": 65535},
		Big: big.NewInt(12345678901), Pair: [2]int8{-128, 127}, Float: 3, inner: inner{X: 9},
	}
	if diff := cmp.Diff(want, got, bigIntComparer, cmp.AllowUnexported(record{})); diff != "" {
		t.Errorf("Unmarshal mismatch (-want +got):\n%s", diff)
	}
}

func TestUnmarshal_typeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		v    any
	}{
		{"string into int", "<value>1</value>", new(int)},
		{"overflow int8", "<value><int>128</int></value>", new(int8)},
		{"negative uint", "<value><int>-1</int></value>", new(uint)},
		{"double into int", "<value><double>1</double></value>", new(int)},
		{"float32 overflow", "<value><double>1e300</double></value>", new(float32)},
		{"array length", "<value><array><data><value/></data></array></value>", new([2]string)},
		{"element", "<value><array><data><value><int>1</int></value></data></array></value>", new([]string)},
		{"struct into slice", "<value><struct/></value>", new([]int)},
		{"int map keys", "<value><struct/></value>", new(map[int]int)},
		{"not a pointer", "<value/>", ""},
		{"nil pointer", "<value/>", (*string)(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := xmlrpc.Unmarshal([]byte(tc.in), tc.v)
			if _, ok := errors.AsType[*xmlrpc.TypeError](err); !ok {
				t.Errorf("Unmarshal(%s, %T) = %v; want a *TypeError", tc.in, tc.v, err)
			}
		})
	}
}
