package upper_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"

	"github.com/inetkit/inetkit/upper"
)

// referenceUpper is the slow, obvious form of upper.Append: it decodes p
// rune by rune and asks a fresh x/text Caser for each valid rune.
func referenceUpper(p []byte) []byte {
	caser := cases.Upper(language.Und)
	var out []byte
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size == 1 {
			out = append(out, p[0])
		} else {
			out = append(out, caser.String(string(r))...)
		}
		p = p[size:]
	}
	return out
}

// hasValidNonASCII reports whether p has a valid UTF-8 sequence for a
// rune >= utf8.RuneSelf.
func hasValidNonASCII(p []byte) bool {
	for len(p) > 0 {
		_, size := utf8.DecodeRune(p)
		if size > 1 { // only a valid sequence decodes to more than one byte
			return true
		}
		p = p[size:]
	}
	return false
}

func FuzzAppend(f *testing.F) {
	for i, tc := range appendTests {
		f.Add([]byte(tc.in), uint16(i))
	}
	for i, in := range splitInputs() {
		f.Add([]byte(in), uint16(len(in)-i))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		whole := upper.Append(nil, in)

		if len(whole) > upper.MaxExpansion*len(in) {
			t.Errorf("len(Append(nil, %q)) = %d > %d*%d", in, len(whole), upper.MaxExpansion, len(in))
		}
		if got := upper.Append([]byte("pre"), in); string(got) != "pre"+string(whole) {
			t.Errorf("Append(%q, %q) = %q; want the prefix, then %q", "pre", in, got, whole)
		}
		if got := upper.Bytes(in); !bytes.Equal(got, whole) {
			t.Errorf("Bytes(%q) = %q; Append gives %q", in, got, whole)
		}
		if got := upper.String(string(in)); got != string(whole) {
			t.Errorf("String(%q) = %q; Append gives %q", in, got, whole)
		}
		if want := referenceUpper(in); !bytes.Equal(whole, want) {
			t.Errorf("Append(nil, %q) = %q; per-rune x/text gives %q", in, whole, want)
		}

		k := int(split) % (len(in) + 1)
		if got := transformPieces(in[:k], in[k:]); !bytes.Equal(got, whole) {
			t.Errorf("Transformer over %q|%q = %q; Append over the whole = %q", in[:k], in[k:], got, whole)
		}
		var pieces [][]byte
		size := int(split)%7 + 1
		for p := in; len(p) > 0; {
			n := min(size, len(p))
			pieces = append(pieces, p[:n])
			p = p[n:]
		}
		if got := transformPieces(pieces...); !bytes.Equal(got, whole) {
			t.Errorf("Transformer over %d-byte pieces of %q = %q; Append over the whole = %q", size, in, got, whole)
		}

		if utf8.Valid(in) && !utf8.Valid(whole) {
			t.Errorf("Append(nil, %q) = %q is not valid UTF-8", in, whole)
		}
		if !hasValidNonASCII(in) {
			// Only ASCII and invalid bytes: ASCII letters are uppercased,
			// every other byte passes through unchanged.
			want := make([]byte, len(in))
			for i, c := range in {
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				}
				want[i] = c
			}
			if !bytes.Equal(whole, want) {
				t.Errorf("Append(nil, %q) = %q; want %q (no valid non-ASCII rune)", in, whole, want)
			}
			if utf8.Valid(in) {
				if want := bytes.ToUpper(in); !bytes.Equal(whole, want) {
					t.Errorf("Append(nil, %q) = %q; bytes.ToUpper gives %q", in, whole, want)
				}
			}
		}
	})
}
