package upper_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/cases"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/upper"
)

//go:generate python3 testdata/gen_golden.py

// appendTests are the table cases; fuzz_test.go seeds FuzzAppend with them.
var appendTests = []struct {
	name string
	in   string
	want string
}{
	{"empty", "", ""},
	{"ascii", "Hello, World! 123", "HELLO, WORLD! 123"},
	{"asciiLong", "the quick brown fox jumps over the lazy dog", "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG"},
	{"asciiBoundaries", "@AZ[`az{~\x7f", "@AZ[`AZ{~\x7f"},
	{"nul", "\x00nul\x00", "\x00NUL\x00"},
	{"sharpS", "straße", "STRASSE"},
	{"capitalSharpS", "ẞ", "ẞ"},
	{"ligatureFi", "ﬁ", "FI"},
	{"ligatureFfi", "oﬃce", "OFFICE"},
	{"ligatureSt", "ﬆ", "ST"},
	{"armenianLigature", "և", "ԵՒ"},
	{"nApostrophe", "ŉ", "ʼN"},
	{"jCaron", "ǰ", "J̌"},
	{"iotaDialytikaTonos", "ΐ", "\u0399\u0308\u0301"},
	{"upsilonDialytikaTonos", "ΰ", "\u03A5\u0308\u0301"},
	{"greek", "αβγ σς", "ΑΒΓ ΣΣ"},
	{"greekFinalSigma", "ὀδυσσεύς", "ὈΔΥΣΣΕΎΣ"},
	{"greekTonosKept", "άέή", "ΆΈΉ"},
	{"ypogegrammeni", "ᾳ ᾷ \u0345", "ΑΙ Α͂Ι Ι"},
	{"prosgegrammeni", "ᾀ", "ἈΙ"},
	{"micro", "µ", "Μ"},
	{"yDiaeresis", "ÿ", "Ÿ"},
	{"divisionSign", "×÷", "×÷"},
	{"dotlessI", "ı", "I"},
	{"dottedCapitalI", "İi", "İI"},
	{"cyrillic", "привет, мир", "ПРИВЕТ, МИР"},
	{"georgian", "ა", "Ა"},
	{"titlecaseDz", "ǅǆ", "ǄǄ"},
	{"romanNumeral", "ⅰⅻ", "ⅠⅫ"},
	{"circledLetter", "ⓐⓩ", "ⒶⓏ"},
	{"fullwidth", "ａｚ", "ＡＺ"},
	{"deseret", "𐐨𐑏", "𐐀𐐧"},
	{"adlam", "𞤢", "𞤀"},
	{"emoji", "😀x", "😀X"},
	{"cjk", "漢字abc", "漢字ABC"},
	{"replacementChar", "\uFFFDa", "\uFFFDA"},
	{"maxRune", "\U0010FFFFa", "\U0010FFFFA"},
	{"invalidBytes", "abc\xff\xfedef", "ABC\xff\xfeDEF"},
	{"truncatedAtEnd", "ab\xe4\xb8", "AB\xe4\xb8"},
	{"truncatedInMiddle", "\xe4\xb8x\xf0\x9f\x98y", "\xe4\xb8X\xf0\x9f\x98Y"},
	{"loneContinuation", "\x80a\xbfb", "\x80A\xbfB"},
	{"surrogateHigh", "\xed\xa0\x80a", "\xed\xa0\x80A"},
	{"surrogateLow", "a\xed\xbf\xbf", "A\xed\xbf\xbf"},
	{"surrogatePair", "\xed\xa0\xbd\xed\xb8\x80ß", "\xed\xa0\xbd\xed\xb8\x80SS"},
	{"overlong2", "\xc0\xafa\xc1\xbf", "\xc0\xafA\xc1\xbf"},
	{"overlong3", "\xe0\x80\xafb", "\xe0\x80\xafB"},
	{"overlong4", "\xf0\x80\x80\xafc", "\xf0\x80\x80\xafC"},
	{"aboveMaxRune", "\xf4\x90\x80\x80z", "\xf4\x90\x80\x80Z"},
	{"fiveByteForm", "\xf8\x88\x80\x80\x80é", "\xf8\x88\x80\x80\x80É"},
	{"invalidThenValid", "\xe4é\xe4\xb8\xadü", "\xe4É\xe4\xb8\xadÜ"},
	{"mixedLong", "Grüße aus München, ΚΑΛΗΜΈΡΑ κόσμε, straße ﬁx\xff!", "GRÜSSE AUS MÜNCHEN, ΚΑΛΗΜΈΡΑ ΚΌΣΜΕ, STRASSE FIX\xff!"},
}

func TestAppend(t *testing.T) {
	for _, tc := range appendTests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			if got := upper.Append(nil, in); string(got) != tc.want {
				t.Errorf("Append(nil, %q) = %q; want %q", tc.in, got, tc.want)
			}
			if got := upper.Append([]byte("pre"), in); string(got) != "pre"+tc.want {
				t.Errorf("Append(%q, %q) = %q; want %q", "pre", tc.in, got, "pre"+tc.want)
			}
			if got := upper.Bytes(in); string(got) != tc.want {
				t.Errorf("Bytes(%q) = %q; want %q", tc.in, got, tc.want)
			}
			if got := upper.String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q; want %q", tc.in, got, tc.want)
			}
			var tr upper.Transformer
			if got := tr.Flush(tr.Append(nil, in)); string(got) != tc.want {
				t.Errorf("Transformer.Append+Flush(%q) = %q; want %q", tc.in, got, tc.want)
			}
			if len(tc.want) > upper.MaxExpansion*len(tc.in) {
				t.Errorf("len(%q) = %d > MaxExpansion*len(%q)", tc.want, len(tc.want), tc.in)
			}
		})
	}
}

func TestBytes_newSlice(t *testing.T) {
	in := []byte("abc")
	out := upper.Bytes(in)
	out[0] = 'x'
	if string(in) != "abc" {
		t.Errorf("Bytes(%q) shares memory with its input", "abc")
	}
}

func TestString_unchanged(t *testing.T) {
	s := "ALREADY UPPER 123"
	if n := testing.AllocsPerRun(100, func() { _ = upper.String(s) }); n != 0 {
		t.Errorf("String(%q) allocated %v times; want 0", s, n)
	}
}

// splitInputs are inputs for the Transformer split property: the table
// inputs plus sequences that straddle piece boundaries in every way.
func splitInputs() []string {
	ins := []string{
		"ΐ\xe4\xb8\xad\xe4\xb8ß\xf0\x9f\x98\x80\xf0\x9f\x98",
		"\xf0\x90\x90\xa8\xf0\x90\x90",
		"\xe4\xb8\xe4\xb8\xad\xe4",
		"\xed\xa0\x80\xe0\xa0\x80\xe0\x80",
		"\xf4\x8f\xbf\xbf\xf4\x90\x80\x80\xf4",
		"\xc3\xc3\xa4\xc3",
		"12345678ä12345678\xe4\xb8",
	}
	for _, tc := range appendTests {
		ins = append(ins, tc.in)
	}
	return ins
}

func transformPieces(pieces ...[]byte) []byte {
	var tr upper.Transformer
	var out []byte
	for _, p := range pieces {
		out = tr.Append(out, p)
	}
	return tr.Flush(out)
}

func TestTransformer_split(t *testing.T) {
	for _, in := range splitInputs() {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			p := []byte(in)
			want := string(upper.Append(nil, p))
			for i := 0; i <= len(p); i++ {
				for j := i; j <= len(p); j++ {
					got := transformPieces(p[:i], p[i:j], p[j:])
					if string(got) != want {
						t.Fatalf("Transformer over %q|%q|%q = %q; want %q", p[:i], p[i:j], p[j:], got, want)
					}
				}
			}
			var pieces [][]byte
			for i := range p {
				pieces = append(pieces, p[i:i+1], nil)
			}
			if got := transformPieces(pieces...); string(got) != want {
				t.Errorf("Transformer byte by byte over %q = %q; want %q", p, got, want)
			}
		})
	}
}

func TestTransformer_Reset(t *testing.T) {
	var tr upper.Transformer
	out := tr.Append(nil, []byte("a\xe4\xb8"))
	tr.Reset()
	out = tr.Flush(tr.Append(out, []byte("\xadb")))
	if want := "A\xadB"; string(out) != want {
		t.Errorf("Transformer after Reset = %q; want %q", out, want)
	}
}

func TestAppend_allocs(t *testing.T) {
	ascii := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 30)
	mixed := []byte(strings.Repeat("Grüße, ΐ κόσμε, straße ﬁx\xff! ", 30))
	dst := make([]byte, 0, upper.MaxExpansion*len(mixed))
	var tr upper.Transformer
	tests := []struct {
		name string
		f    func()
	}{
		{"asciiAppend", func() { dst = upper.Append(dst[:0], ascii) }},
		{"asciiTransformer", func() { dst = tr.Append(dst[:0], ascii) }},
		{"mixedAppend", func() { dst = upper.Append(dst[:0], mixed) }},
		{"mixedTransformer", func() { dst = tr.Flush(tr.Append(dst[:0], mixed[:len(mixed)-3])) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tc.f); n != 0 {
				t.Errorf("%s allocated %v times; want 0", tc.name, n)
			}
		})
	}
}

func TestAppend_concurrent(t *testing.T) {
	const in, want = "Grüße ὀδυσσεύς ﬁ", "GRÜSSE ὈΔΥΣΣΕΎΣ FI"
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if got := upper.String(in); got != want {
					errs <- got
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Errorf("String(%q) = %q; want %q", in, got, want)
	}
}

// readGolden reads testdata/upper.golden, which gen_golden.py writes from
// Python's str.upper.
func readGolden(t testing.TB) (version string, m map[rune]string) {
	t.Helper()
	f, err := os.Open("testdata/upper.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m = make(map[rune]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "# unidata_version "); ok {
			version = v
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			t.Fatalf("upper.golden: bad line %q", line)
		}
		var rs []rune
		for _, f := range fields {
			r, err := strconv.ParseUint(f, 16, 32)
			if err != nil {
				t.Fatalf("upper.golden: bad line %q: %v", line, err)
			}
			rs = append(rs, rune(r))
		}
		m[rs[0]] = string(rs[1:])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if version == "" || len(m) == 0 {
		t.Fatalf("upper.golden: no version header or no mappings")
	}
	return version, m
}

func TestString_golden(t *testing.T) {
	version, golden := readGolden(t)
	var bad []string
	maxRatio := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue // surrogates: see TestAppend_surrogates
		}
		in := string(r)
		want, ok := golden[r]
		if !ok {
			want = in
		}
		got := upper.String(in)
		if got != want {
			bad = append(bad, fmt.Sprintf("%U: got %+q, want %+q", r, got, want))
		}
		if ratio := (len(got) + len(in) - 1) / len(in); ratio > maxRatio {
			maxRatio = ratio
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d code points differ from Python (Unicode %s; x/text cases uses Unicode %s):\n%s",
			len(bad), version, cases.UnicodeVersion, strings.Join(bad[:min(len(bad), 50)], "\n"))
	}
	if maxRatio != upper.MaxExpansion {
		t.Errorf("largest expansion over all code points = %d; want MaxExpansion = %d", maxRatio, upper.MaxExpansion)
	}
}

func TestAppend_surrogates(t *testing.T) {
	for r := rune(0xD800); r <= 0xDFFF; r++ {
		in := []byte{0xE0 | byte(r>>12), 0x80 | byte(r>>6&0x3F), 0x80 | byte(r&0x3F), 'a'}
		want := append(in[:3:3], 'A')
		if got := upper.Append(nil, in); !bytes.Equal(got, want) {
			t.Fatalf("Append(nil, %q) = %q; want %q", in, got, want)
		}
	}
}

// pythonUpper reads length-prefixed inputs from stdin and writes the
// length-prefixed surrogateescape uppercase of each to stdout.
const pythonUpper = `
import struct, sys
data = sys.stdin.buffer.read()
out = []
i = 0
while i < len(data):
    (n,) = struct.unpack(">I", data[i:i+4])
    s = data[i+4:i+4+n]
    i += 4 + n
    u = s.decode("utf-8", "surrogateescape").upper().encode("utf-8", "surrogateescape")
    out.append(struct.pack(">I", len(u)))
    out.append(u)
sys.stdout.buffer.write(b"".join(out))
`

// pythonCorpus returns n deterministic pseudo-random inputs mixing ASCII,
// cased and arbitrary runes, invalid bytes, truncated sequences, encoded
// surrogates, overlong forms and values above U+10FFFF.
func pythonCorpus(n int, cased []rune) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	randRune := func() rune {
		for {
			if r := rng.Int32N(utf8.MaxRune + 1); utf8.ValidRune(r) {
				return r
			}
		}
	}
	corpus := make([][]byte, n)
	for i := range corpus {
		var b []byte
		for range rng.IntN(40) {
			switch rng.IntN(10) {
			case 0, 1:
				for range rng.IntN(20) {
					b = append(b, byte(rng.IntN(utf8.RuneSelf)))
				}
			case 2, 3, 4:
				b = utf8.AppendRune(b, cased[rng.IntN(len(cased))])
			case 5:
				b = utf8.AppendRune(b, randRune())
			case 6:
				b = append(b, byte(0x80+rng.IntN(0x80)))
			case 7:
				r := cased[rng.IntN(len(cased))]
				if rng.IntN(2) == 0 {
					r = randRune()
				}
				e := utf8.AppendRune(nil, r)
				if len(e) > 1 {
					e = e[:1+rng.IntN(len(e)-1)]
				}
				b = append(b, e...)
			case 8:
				r := 0xD800 + rng.IntN(0x800)
				b = append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
			case 9:
				forms := [][]byte{
					{0xC0, 0x80}, {0xC1, 0xBF}, {0xE0, 0x80, 0x80}, {0xE0, 0x9F, 0xBF},
					{0xF0, 0x80, 0x80, 0x80}, {0xF0, 0x8F, 0xBF, 0xBF},
					{0xF4, 0x90, 0x80, 0x80}, {0xF5, 0x80, 0x80, 0x80}, {0xFF},
				}
				b = append(b, forms[rng.IntN(len(forms))]...)
			}
		}
		corpus[i] = b
	}
	return corpus
}

func TestAppend_python(t *testing.T) {
	python := peers.Need(t, "python3")
	_, golden := readGolden(t)
	var cased []rune
	for r := range golden {
		cased = append(cased, r)
	}
	slices.Sort(cased)
	corpus := pythonCorpus(2000, cased)

	var stdin bytes.Buffer
	for _, in := range corpus {
		stdin.Write(binary.BigEndian.AppendUint32(nil, uint32(len(in))))
		stdin.Write(in)
	}
	cmd := exec.CommandContext(t.Context(), python, "-I", "-c", pythonUpper)
	cmd.Stdin = &stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.Bytes())
	}

	r := bytes.NewReader(out)
	for i, in := range corpus {
		var n uint32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			t.Fatalf("reading python output %d of %d: %v", i, len(corpus), err)
		}
		want := make([]byte, n)
		if _, err := io.ReadFull(r, want); err != nil {
			t.Fatalf("reading python output %d of %d: %v", i, len(corpus), err)
		}
		if got := upper.Append(nil, in); !bytes.Equal(got, want) {
			t.Errorf("Append(nil, %q) = %q; python3 says %q", in, got, want)
		}
	}
	if r.Len() != 0 {
		t.Errorf("python3 wrote %d bytes more than expected", r.Len())
	}
}

var benchInputs = []struct {
	name string
	in   []byte
}{
	{"ascii", bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog; 0123456789!\n"), 72)},
	{"asciiUpper", bytes.Repeat([]byte("THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG; 0123456789!\n"), 72)},
	{"mixed", bytes.Repeat([]byte("Grüße aus München! Καλημέρα κόσμε, привет мир, straße ﬁx ŉ ΐ.\n"), 48)},
	{"cyrillic", bytes.Repeat([]byte("съешь же ещё этих мягких французских булок, да выпей чаю\n"), 40)},
	{"cjk", bytes.Repeat([]byte("我能吞下玻璃而不伤身体。私はガラスを食べられます。\n"), 56)},
	{"invalid", bytes.Repeat([]byte("\xff\xfe\x80\xed\xa0\x80\xc0\xaf\xe4\xb8abc"), 256)},
}

func BenchmarkAppend(b *testing.B) {
	for _, bc := range benchInputs {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, upper.MaxExpansion*len(bc.in))
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				dst = upper.Append(dst[:0], bc.in)
			}
		})
	}
}

func BenchmarkString(b *testing.B) {
	for _, bc := range benchInputs {
		b.Run(bc.name, func(b *testing.B) {
			s := string(bc.in)
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			for b.Loop() {
				_ = upper.String(s)
			}
		})
	}
}

func BenchmarkTransformer(b *testing.B) {
	for _, bc := range benchInputs {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, upper.MaxExpansion*len(bc.in))
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			var tr upper.Transformer
			for b.Loop() {
				dst = dst[:0]
				for p := bc.in; len(p) > 0; {
					n := min(len(p), 509) // odd size: splits sequences
					dst = tr.Append(dst, p[:n])
					p = p[n:]
				}
				dst = tr.Flush(dst)
			}
		})
	}
}
