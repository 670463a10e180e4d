package telnet_test

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/telnet"
)

// The server's first requests, to a client that does not answer them.
const serverHello = "\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\xff\xfd\x1f\xff\xfd\x27"

// dialUpper connects a raw client to an upper server and reads to the first
// prompt; the client answers no request, so the server stays in line mode.
func dialUpper(t *testing.T) *rawConn {
	t.Helper()
	s := newUpperServer(t, func(srv *telnet.Server) { srv.NegotiateTimeout = 50 * time.Millisecond })
	rc := dialRaw(t, s.Addr)
	if got := rc.readUntil("hello\r\n> "); got != serverHello+"hello\r\n> " {
		t.Fatalf("greeting %q; want %q", got, serverHello+"hello\r\n> ")
	}
	return rc
}

// TestConn_L1IACEscaping: 0xFF as data is IAC IAC both ways.
func TestConn_L1IACEscaping(t *testing.T) {
	rc := dialUpper(t)
	rc.send("a\xff\xffb\r\n")
	if got := rc.readUntil("> "); got != "A\xff\xffB\r\n> " {
		t.Errorf("reply %q; want %q", got, "A\xff\xffB\r\n> ")
	}
}

// TestConn_L2SplitIAC: a command split across reads is one command.
func TestConn_L2SplitIAC(t *testing.T) {
	rc := dialUpper(t)
	rc.send("\xff")
	time.Sleep(50 * time.Millisecond)
	rc.send("\xfb\x01") // WILL ECHO: a server does not let the client echo
	if got := rc.readUntil("\xff\xfe\x01"); got != "\xff\xfe\x01" {
		t.Errorf("reply %q; want DONT ECHO alone", got)
	}
	rc.send("\xff")
	time.Sleep(50 * time.Millisecond)
	rc.send("\xfd\x01") // DO ECHO: the server's offer accepted, in pieces
	rc.send("ab\r")
	time.Sleep(50 * time.Millisecond)
	rc.send("\n")
	if got := rc.readUntil("AB\r\n> "); got != "ab\r\nAB\r\n> " {
		t.Errorf("reply %q; want the echo, then AB", got)
	}
}

// TestConn_L3UnterminatedSB: 10 MB of an unterminated sub-negotiation is
// discarded without the buffer growing, and the session goes on.
func TestConn_L3UnterminatedSB(t *testing.T) {
	rc := dialUpper(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rc.send("\xff\xfa\x18")
	chunk := bytes.Repeat([]byte("A"), 64<<10)
	for range 160 {
		if _, err := rc.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	rc.send("\xff\xf0hi\r\n")
	if got := rc.readUntil("> "); got != "HI\r\n> " {
		t.Errorf("reply %q; want HI", got)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 4<<20 {
		t.Errorf("heap grew by %d bytes for a 10 MB sub-negotiation", grew)
	}
}

// TestConn_L4NoLoop: requests for the state an option is in get no answer,
// and a client that mirrors every request ends negotiating quickly.
func TestConn_L4NoLoop(t *testing.T) {
	rc := dialUpper(t)
	rc.send(strings.Repeat("\xff\xfe\xc8", 10000)) // DONT 200, off already
	rc.send("\xff\xfd\x01")                        // DO ECHO: on
	rc.send(strings.Repeat("\xff\xfd\x01", 10000)) // DO ECHO, on already
	rc.send(strings.Repeat("\xff\xfc\x18", 10))    // WONT TTYPE: refused once, then off already
	got, eof := rc.readFor(500 * time.Millisecond)
	if eof {
		t.Fatal("connection closed")
	}
	if got != "" {
		t.Errorf("server answered %q; want nothing", got)
	}

	// The mirroring client: WILL x for DO x and so on.
	rc = dialRawServer(t)
	mirror := map[byte]byte{telnet.DO: telnet.WILL, telnet.DONT: telnet.WONT, telnet.WILL: telnet.DO, telnet.WONT: telnet.DONT}
	var total int
	for round := 0; ; round++ {
		got, _ := rc.readFor(300 * time.Millisecond)
		cmds := commands(got)
		if len(cmds) == 0 {
			break
		}
		total += len(cmds)
		if round > 5 || total > 3*5 {
			t.Fatalf("negotiation goes on: round %d, %d commands", round, total)
		}
		var reply []byte
		for _, c := range cmds {
			if m, ok := mirror[c[1]]; ok {
				reply = append(reply, telnet.IAC, m, c[2])
			}
		}
		rc.send(string(reply))
	}
}

// dialRawServer connects a raw client to an upper server that waits long
// for negotiation, without reading the greeting.
func dialRawServer(t *testing.T) *rawConn {
	s := newUpperServer(t, func(srv *telnet.Server) { srv.NegotiateTimeout = 2 * time.Second })
	return dialRaw(t, s.Addr)
}

// commands returns the three-octet negotiation commands in s.
func commands(s string) [][]byte {
	var out [][]byte
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == telnet.IAC && b[i+1] >= telnet.WILL && b[i+1] <= telnet.DONT {
			out = append(out, b[i:i+3])
			i += 2
		}
	}
	return out
}

// TestConn_L5UnknownOption: DO 200 gets one WONT 200.
func TestConn_L5UnknownOption(t *testing.T) {
	rc := dialUpper(t)
	rc.send("\xff\xfd\xc8")
	got, _ := rc.readFor(300 * time.Millisecond)
	if got != "\xff\xfc\xc8" {
		t.Errorf("reply %q; want WONT 200", got)
	}
	rc.send("\xff\xfb\xc8") // WILL 200
	got, _ = rc.readFor(300 * time.Millisecond)
	if got != "\xff\xfe\xc8" {
		t.Errorf("reply %q; want DONT 200", got)
	}
	rc.send("\xff\xfb\x22") // WILL LINEMODE: always refused
	got, _ = rc.readFor(300 * time.Millisecond)
	if got != "\xff\xfe\x22" {
		t.Errorf("reply %q; want DONT LINEMODE", got)
	}
}

// TestConn_L6NewEnviron: NEW-ENVIRON is parsed and reported, nothing more.
func TestConn_L6NewEnviron(t *testing.T) {
	got := make(chan []telnet.EnvVar, 1)
	s := newUpperServer(t, func(srv *telnet.Server) {
		srv.NegotiateTimeout = 2 * time.Second
		srv.Handler = telnet.HandlerFunc(func(ctx context.Context, c *telnet.Conn) {
			got <- c.Environ()
			upperHandler(ctx, c)
		})
	})
	rc := dialRaw(t, s.Addr)
	rc.readUntil(serverHello)
	// Refuse all but NEW-ENVIRON; accept ECHO and SGA.
	rc.send("\xff\xfd\x01\xff\xfd\x03\xff\xfc\x18\xff\xfc\x1f\xff\xfb\x27")
	rc.readUntil("\xff\xfa\x27\x01\xff\xf0") // SB NEW-ENVIRON SEND
	rc.send("\xff\xfa\x27\x00\x00USER\x01-f root\x03X\x02\x01Y\x01v\xff\xf0")
	env := <-got
	want := []telnet.EnvVar{{Name: "USER", Value: "-f root", Defined: true}, {Name: "X\x01Y", Value: "v", User: true, Defined: true}}
	if len(env) != 2 || env[0] != want[0] || env[1] != want[1] {
		t.Errorf("Environ() = %+v; want %+v", env, want)
	}
	if g := rc.readUntil("> "); g != "hello\r\n> " {
		t.Errorf("after NEW-ENVIRON: %q", g)
	}
}

// TestConn_L7CR: CR NUL, CR LF and a bare CR each end one line.
func TestConn_L7CR(t *testing.T) {
	rc := dialUpper(t)
	for _, in := range []string{"ls\r\x00", "ls\r\n", "ls\r", "ls\n"} {
		rc.send(in)
		if got := rc.readUntil("> "); got != "LS\r\n> " {
			t.Errorf("%q: reply %q; want %q", in, got, "LS\r\n> ")
		}
	}
	rc.send("pwd\r\n")
	if got := rc.readUntil("> "); got != "PWD\r\n> " {
		t.Errorf("after the bare CR: %q; want no empty line", got)
	}
}

// TestConn_L8Commands: AYT is answered visibly; IP and BRK interrupt the
// line; the others do no harm.
func TestConn_L8Commands(t *testing.T) {
	rc := dialUpper(t)
	rc.send("\xff\xf6")
	if got := rc.readUntil("yes]\r\n"); got != "\r\n[inetkit: yes]\r\n" {
		t.Errorf("AYT: %q", got)
	}
	for _, cmd := range []string{"\xff\xf4", "\xff\xf3"} {
		rc.send("abc" + cmd)
		if got := rc.readUntil("> "); got != "^C\r\n> " {
			t.Errorf("%q: %q; want ^C and a new prompt", cmd, got)
		}
	}
	rc.send("ab\xff\xf7c\xff\xf1\xff\xf9\xff\xf2\xff\xf5d\r\n") // EC, NOP, GA, DM, AO
	if got := rc.readUntil("> "); got != "ACD\r\n> " {
		t.Errorf("after EC: %q; want ACD", got)
	}
	rc.send("xyz\xff\xf8ok\r\n") // EL
	if got := rc.readUntil("> "); got != "OK\r\n> " {
		t.Errorf("after EL: %q; want OK", got)
	}
}
