package telnet

import (
	"bytes"
	"fmt"
	"testing"
)

// decodeAll decodes src in chunks of the given sizes (cycled), with an
// output buffer of outCap, and returns the data and the tokens as text.
func decodeAll(src []byte, chunks []int, outCap int, binary bool) (data []byte, toks []string) {
	var d decoder
	d.binary = binary
	out := make([]byte, 0, outCap)
	for i, ci := 0, 0; i < len(src); ci++ {
		n := len(src) - i
		if len(chunks) > 0 {
			n = min(max(chunks[ci%len(chunks)], 1), n)
		}
		piece := src[i : i+n]
		i += n
		for len(piece) > 0 {
			var tok token
			var ok bool
			var k int
			out, k, tok, ok = d.decode(out[:0], piece)
			piece = piece[k:]
			data = append(data, out...)
			if ok {
				toks = append(toks, fmt.Sprintf("%d/%d/%d/%q/%v@%d", tok.kind, tok.cmd, tok.opt, tok.data, tok.overflow, len(data)))
			}
		}
		if cap(d.sb) > MaxSubnegotiationBytes+64 {
			panic(fmt.Sprintf("sub-negotiation buffer grew to %d", cap(d.sb)))
		}
	}
	return data, toks
}

func TestDecoder(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		binary bool
		data   string
		toks   []string
	}{
		{"plain", "hello\r\n", false, "hello\r\n", nil},
		{"IAC IAC", "a\xff\xffb", false, "a\xffb", nil},
		{"CR NUL", "ls\r\x00x", false, "ls\rx", nil},
		{"CR NUL binary", "ls\r\x00x", true, "ls\r\x00x", nil},
		{"bare CR", "ls\r", false, "ls\r", nil},
		{"WILL ECHO", "a\xff\xfb\x01b", false, "ab", []string{"2/251/1/\"\"/false@1"}},
		{"AYT", "\xff\xf6", false, "", []string{"1/246/0/\"\"/false@0"}},
		{"SB NAWS with IAC", "\xff\xfa\x1f\x00\xff\xff\x00\x18\xff\xf0", false, "", []string{"3/0/31/\"\\x00\\xff\\x00\\x18\"/false@0"}},
		{"SB aborted by command", "\xff\xfa\x18xx\xff\xf6z", false, "z", []string{"1/246/0/\"\"/false@0"}},
		{"stray SE", "\xff\xf0", false, "", []string{"1/240/0/\"\"/false@0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, toks := decodeAll([]byte(tc.in), nil, 64, tc.binary)
			if string(data) != tc.data || fmt.Sprint(toks) != fmt.Sprint(tc.toks) {
				t.Errorf("decode(%q) = %q %v; want %q %v", tc.in, data, toks, tc.data, tc.toks)
			}
		})
	}
}

// TestDecoder_L3 sends an unterminated sub-negotiation of 10 MB: nothing
// grows past the cap, and it is reported as overflowed when it ends.
func TestDecoder_L3(t *testing.T) {
	src := append([]byte("\xff\xfa\x18"), bytes.Repeat([]byte("A"), 10<<20)...)
	src = append(src, "\xff\xf0ok"...)
	data, toks := decodeAll(src, []int{4096}, 512, false)
	if string(data) != "ok" || len(toks) != 1 || toks[0] != "3/0/24/\"\"/true@0" {
		t.Errorf("got %q %v", data, toks)
	}
}

func TestEncoder(t *testing.T) {
	tests := []struct {
		in     []string
		binary bool
		want   string
	}{
		{[]string{"a\nb"}, false, "a\r\nb"},
		{[]string{"a\r\nb"}, false, "a\r\nb"},
		{[]string{"a\rb"}, false, "a\r\x00b"},
		{[]string{"a\r", "\nb"}, false, "a\r\nb"},
		{[]string{"a\r", "b"}, false, "a\r\x00b"},
		{[]string{"\xff"}, false, "\xff\xff"},
		{[]string{"a\n\r\xff"}, true, "a\n\r\xff\xff"},
	}
	for _, tc := range tests {
		var e encoder
		var got []byte
		for _, p := range tc.in {
			got = e.encode(got, []byte(p), tc.binary)
		}
		if string(got) != tc.want {
			t.Errorf("encode(%q, binary %v) = %q; want %q", tc.in, tc.binary, got, tc.want)
		}
	}
}

// FuzzDecoder checks the decoder on any input: no panic, bounded memory,
// and the same data and tokens whatever the chunking of the input and the
// size of the output buffer. In BINARY mode, what the encoder writes
// decodes back to itself.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{"hello\r\n", "a\xff\xffb", "\xff\xfb\x01\xff", "\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0", "ls\r\x00", "\xff\xfa\x18\x00VT100\xff\xf0", "\xff\xfa\x27\x00\x00USER\x01-f root\xff\xf0"} {
		f.Add([]byte(s), uint8(3), uint8(7), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, c1, c2 uint8, binary bool) {
		whole, wholeToks := decodeAll(in, nil, 4096, binary)
		split, splitToks := decodeAll(in, []int{int(c1) + 1, int(c2) + 1}, int(c1%5)+1, binary)
		if !bytes.Equal(whole, split) || fmt.Sprint(wholeToks) != fmt.Sprint(splitToks) {
			t.Fatalf("chunking changes the result: %q %v vs %q %v", whole, wholeToks, split, splitToks)
		}
		var e encoder
		enc := e.encode(nil, in, true)
		back, toks := decodeAll(enc, []int{int(c1) + 1}, 16, true)
		if !bytes.Equal(back, in) || len(toks) != 0 {
			t.Fatalf("round trip %q -> %q -> %q %v", in, enc, back, toks)
		}
	})
}

// FuzzSubnegotiation feeds any sub-negotiation to a server Conn and a client
// Conn: no panic, and what they keep stays bounded.
func FuzzSubnegotiation(f *testing.F) {
	f.Add(byte(24), []byte("\x00VT100"))
	f.Add(byte(31), []byte("\x00\x50\x00\x18"))
	f.Add(byte(39), []byte("\x00\x00USER\x01-f root\x03X\x02\x01Y"))
	f.Add(byte(39), []byte("\x02\x00A\x01\x02"))
	f.Add(byte(24), []byte("\x01"))
	f.Fuzz(func(t *testing.T, opt byte, data []byte) {
		if len(data) > MaxSubnegotiationBytes {
			data = data[:MaxSubnegotiationBytes]
		}
		for _, server := range []bool{true, false} {
			c := NewConn(discardConn{}, &Config{Server: server, Remote: []Option{OptionTerminalType, OptionNAWS, OptionNewEnviron}})
			c.him[opt].state = QYes
			c.us[opt].state = QYes
			if err := c.subnegotiation(Option(opt), data); err != nil {
				t.Fatal(err)
			}
			if len(c.TerminalType()) > maxTerminalType {
				t.Fatalf("terminal type %q", c.TerminalType())
			}
			n := 0
			for _, v := range c.Environ() {
				n += len(v.Name) + len(v.Value)
			}
			if n > len(data) {
				t.Fatalf("environ holds %d octets from %d", n, len(data))
			}
		}
	})
}
