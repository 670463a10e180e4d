package upper

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// MaxExpansion is the largest factor by which the output of [Append],
// [Bytes], [String] or [Transformer.Append] can exceed its input in bytes
// (3: U+0390 and U+03B0 map 2 bytes to 6).
const MaxExpansion = 3

// Append appends the uppercase of p to dst and returns the extended slice.
//
// The result is what Python 3 computes as
// p.decode('utf-8', 'surrogateescape').upper().encode('utf-8', 'surrogateescape'):
// every valid UTF-8 sequence is replaced by its full Unicode uppercase mapping
// (including the unconditional SpecialCasing mappings, so "ß" becomes "SS"),
// code point by code point and without regard to context or language, and
// every byte that is not part of a valid UTF-8 sequence (including encoded
// surrogates, overlong forms and values above U+10FFFF) is copied unchanged.
//
// Append does not allocate if dst has room for len(p) more bytes and p is
// ASCII, or for [MaxExpansion]*len(p) more bytes (after the first call with
// non-ASCII input, which builds a 23 KB table in about 0.2 ms).
// Append is safe for concurrent use. This function doesn't perform I/O.
func Append(dst, p []byte) []byte {
	dst = slices.Grow(dst, len(p))
	// ASCII, 16 bytes at a time, then 8, into the room just made.
	n := len(dst)
	out := dst[n : n+len(p)]
	i := 0
	for ; len(p)-i >= 16; i += 16 {
		w0 := binary.LittleEndian.Uint64(p[i:])
		w1 := binary.LittleEndian.Uint64(p[i+8:])
		if (w0|w1)&hiBits != 0 {
			break
		}
		binary.LittleEndian.PutUint64(out[i:], upperWord(w0))
		binary.LittleEndian.PutUint64(out[i+8:], upperWord(w1))
	}
	for ; len(p)-i >= 8; i += 8 {
		w := binary.LittleEndian.Uint64(p[i:])
		if w&hiBits != 0 {
			return appendSlow(dst[:n+i], p[i:])
		}
		binary.LittleEndian.PutUint64(out[i:], upperWord(w))
	}
	dst, p = dst[:n+i], p[i:]
	for i, c := range p {
		if c >= utf8.RuneSelf {
			return appendSlow(dst, p[i:])
		}
		dst = append(dst, upperByte(c))
	}
	return dst
}

// Bytes returns the uppercase of p, as [Append] computes it, in a new slice.
// This function doesn't perform I/O.
func Bytes(p []byte) []byte {
	return Append(make([]byte, 0, len(p)), p)
}

// String returns the uppercase of s, as [Append] computes it. If s has no
// byte to change, String returns s itself without allocating.
// This function doesn't perform I/O.
func String(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && !isLowerASCII(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	// The view of s is only read, and buf is not retained or modified after
	// it becomes the result, as strings.Builder.String does.
	p := unsafe.Slice(unsafe.StringData(s), len(s))
	buf := make([]byte, i, len(s)+8)
	copy(buf, s[:i])
	buf = Append(buf, p[i:])
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// A Transformer uppercases a byte stream that arrives in pieces, giving the
// same result as [Append] over the whole stream: an incomplete UTF-8 sequence
// at the end of one piece is held until the next piece completes it (or
// proves it invalid, in which case the held bytes pass through unchanged).
// The zero value is ready to use. A Transformer is not safe for concurrent use.
type Transformer struct {
	held [utf8.UTFMax - 1]byte // a valid but incomplete UTF-8 prefix
	n    uint8                 // len of the held prefix
}

// Append appends the uppercase of p, preceded by any held bytes, to dst,
// holding back an incomplete UTF-8 sequence at the end, and returns the
// extended slice. Call [Transformer.Flush] after the last piece.
// This method doesn't perform I/O.
func (t *Transformer) Append(dst, p []byte) []byte {
	if t.n > 0 {
		// Complete (or refute) the held prefix with the first bytes of p.
		var buf [utf8.UTFMax]byte
		n := copy(buf[:], t.held[:t.n])
		k := copy(buf[n:], p)
		q := buf[:n+k]
		if !utf8.FullRune(q) {
			// Still a valid prefix: p was too short to decide. len(q) < UTFMax.
			t.n = uint8(copy(t.held[:], q))
			return dst
		}
		t.n = 0
		if _, size := utf8.DecodeRune(q); size > 1 {
			dst = Append(dst, q[:size])
			p = p[size-n:]
		} else {
			// The lead byte is invalid here, and the rest of the held bytes
			// are continuation bytes, which are invalid on their own.
			dst = append(dst, q[:n]...)
		}
	}
	// Hold an incomplete sequence at the end of p. Only the last
	// non-continuation byte among the last UTFMax-1 bytes can start one.
	for j := len(p) - 1; j >= 0 && j >= len(p)-(utf8.UTFMax-1); j-- {
		if utf8.RuneStart(p[j]) {
			if !utf8.FullRune(p[j:]) {
				t.n = uint8(copy(t.held[:], p[j:]))
				p = p[:j]
			}
			break
		}
	}
	return Append(dst, p)
}

// Flush appends the held bytes to dst unchanged (an incomplete sequence is
// invalid UTF-8), resets t, and returns the extended slice.
// This method doesn't perform I/O.
func (t *Transformer) Flush(dst []byte) []byte {
	dst = append(dst, t.held[:t.n]...)
	t.n = 0
	return dst
}

// Reset discards the held bytes.
func (t *Transformer) Reset() {
	t.n = 0
}

const (
	loBits = 0x0101010101010101
	hiBits = 0x8080808080808080
)

// upperWord uppercases the 8 ASCII bytes in w, which has no byte >= 0x80.
// Adding 0x80-'a' (or 0x80-'z'-1) to a byte below 0x80 sets its top bit
// exactly when it is >= 'a' (or > 'z') and never carries into the next byte;
// the top bits of the lowercase letters, shifted to 0x20, flip their case.
func upperWord(w uint64) uint64 {
	geA := w + loBits*(0x80-'a')
	gtZ := w + loBits*(0x80-'z'-1)
	return w ^ (geA&^gtZ&hiBits)>>2
}

func isLowerASCII(c byte) bool { return c-'a' < 26 }

func upperByte(c byte) byte {
	if isLowerASCII(c) {
		c -= 'a' - 'A'
	}
	return c
}

// appendSlow is Append for input that has a non-ASCII byte.
func appendSlow(dst, p []byte) []byte {
	tab := upperTable()
	for len(p) > 0 {
		c := p[0]
		if c < utf8.RuneSelf {
			if len(p) >= 8 {
				if w := binary.LittleEndian.Uint64(p); w&hiBits == 0 {
					dst = binary.LittleEndian.AppendUint64(dst, upperWord(w))
					p = p[8:]
					continue
				}
			}
			dst = append(dst, upperByte(c))
			p = p[1:]
			continue
		}
		var r rune
		var size int
		if c >= 0xC2 && c < 0xE0 && len(p) >= 2 && p[1]&0xC0 == 0x80 {
			// Valid 2-byte sequence (C0 and C1 would be overlong), decoded
			// here as DecodeRune is not inlined.
			r, size = rune(c&0x1F)<<6|rune(p[1]&0x3F), 2
		} else if r, size = utf8.DecodeRune(p); size == 1 {
			dst = append(dst, c) // invalid: passes through
			p = p[1:]
			continue
		}
		if s := tab.lookup(r); s != nil {
			dst = append(dst, s...)
		} else {
			dst = append(dst, p[:size]...)
		}
		p = p[size:]
	}
	return dst
}

// blockBits is log2 of the number of runes in a second-stage block.
const blockBits = 7

// A mapping is the UTF-8 encoding of the uppercase of one rune:
// n bytes in b. The longest is 6 bytes (U+0390 → U+0399 U+0308 U+0301).
type mapping struct {
	n uint8
	b [7]byte
}

// A table maps the non-ASCII runes that change when uppercased to their
// uppercase, in two stages: stage1[r>>blockBits] selects a block of
// stage2, whose entry for r indexes mappings; block 0 and mapping 0 mean
// "maps to itself". With Unicode 15.0 that is 1499 runes in 41 blocks,
// about 23 KB.
type table struct {
	stage1   []uint8  // r>>blockBits → block, for r <= maxRune
	stage2   []uint16 // block<<blockBits | r&(1<<blockBits-1) → index into mappings
	mappings []mapping
}

// lookup returns the UTF-8 uppercase of r, or nil if r maps to itself.
func (t *table) lookup(r rune) []byte {
	i := int(r >> blockBits)
	if i >= len(t.stage1) {
		return nil
	}
	k := t.stage2[int(t.stage1[i])<<blockBits|int(r&(1<<blockBits-1))]
	if k == 0 {
		return nil
	}
	m := &t.mappings[k]
	return m.b[:m.n]
}

// upperTable builds the table once, on first use, in about 0.2 ms with
// 50 KB of allocations. It holds what cases.Upper(language.Und) does to
// each rune alone: that caser applies no context-dependent rules (those
// are for lt, tr, az and el only), so per rune it equals Python's
// str.upper, which is per code point. A cases.Caser is not safe for concurrent use; the
// table is.
//
// Only runes with a case property are tried: a rune whose uppercase
// mapping differs from itself is Cased in Unicode terms (Lowercase,
// Uppercase or Lt, the first two including Other_Lowercase and
// Other_Uppercase): about 5,000 runes. Trying all 1,112,064 runes
// gives the same table but takes over 100 times as long (36 ms); the
// golden test checks every code point against Python.
//
// x/text v0.44.0 on Go 1.26 uses Unicode 15.0.0; Python 3.11 uses Unicode
// 14.0.0. Their uppercase mappings are identical for every code point
// (Unicode 15.0 added no case pairs), so no override is needed. On Go 1.27
// x/text switches to Unicode 17.0.0 tables, which add case pairs that
// Python 3.11 does not know; the golden test would show them.
var upperTable = sync.OnceValue(func() *table {
	caser := cases.Upper(language.Und)
	var maxCandidate rune
	for _, rt := range caseTables {
		if n := len(rt.R32); n > 0 {
			maxCandidate = max(maxCandidate, rune(rt.R32[n-1].Hi))
		} else if n := len(rt.R16); n > 0 {
			maxCandidate = max(maxCandidate, rune(rt.R16[n-1].Hi))
		}
	}
	t := &table{
		stage1:   make([]uint8, maxCandidate>>blockBits+1),
		stage2:   make([]uint16, 1<<blockBits), // block 0: all zero
		mappings: make([]mapping, 1, 1600),     // mapping 0: unused
	}
	var src [utf8.UTFMax]byte
	var up [32]byte
	add := func(r rune) {
		if r < utf8.RuneSelf {
			return
		}
		n := utf8.EncodeRune(src[:], r)
		caser.Reset()
		nUp, _, err := caser.Transform(up[:], src[:n], true)
		if err != nil || nUp > len(mapping{}.b) || len(t.mappings) > 0xFFFF {
			panic(fmt.Sprintf("upper: cannot tabulate uppercase of %U: %v", r, err))
		}
		if string(up[:nUp]) == string(src[:n]) {
			return
		}
		i := r >> blockBits
		if t.stage1[i] == 0 {
			if len(t.stage2)>>blockBits > 0xFF {
				panic("upper: uppercase table has too many blocks")
			}
			t.stage1[i] = uint8(len(t.stage2) >> blockBits)
			t.stage2 = append(t.stage2, make([]uint16, 1<<blockBits)...)
		}
		m := mapping{n: uint8(nUp)}
		copy(m.b[:], up[:nUp])
		t.stage2[int(t.stage1[i])<<blockBits|int(r&(1<<blockBits-1))] = uint16(len(t.mappings))
		t.mappings = append(t.mappings, m)
	}
	// The general categories Ll, Lu, Lt and the Other_* properties are
	// disjoint, so no rune is tried twice (if one were, the second mapping
	// would replace the first, wasting 8 bytes).
	for _, rt := range caseTables {
		for _, rg := range rt.R16 {
			for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
				add(r)
			}
		}
		for _, rg := range rt.R32 {
			for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
				add(r)
			}
		}
	}
	last := len(t.stage1) - 1
	for last >= 0 && t.stage1[last] == 0 {
		last--
	}
	t.stage1 = t.stage1[:last+1]
	return t
})

// caseTables hold every rune that is Cased in Unicode terms.
var caseTables = []*unicode.RangeTable{unicode.Lower, unicode.Upper, unicode.Title, unicode.Other_Lowercase, unicode.Other_Uppercase}
