package ftp

import (
	"io/fs"
	"path"
	"strings"

	"github.com/inetkit/inetkit/lineproto"
)

// Telnet commands that may appear on the control connection (RFC 854):
// RFC 959 §4.1.3 has the client send IAC IP and IAC DM (Synch) before ABOR.
const (
	telnetIAC  = 0xff
	telnetDONT = 0xfe
	telnetWILL = 0xfb
	telnetSB   = 0xfa
	telnetSE   = 0xf0
)

// stripTelnet returns line without its Telnet commands: IAC IAC is a data
// octet 0xFF, IAC WILL/WONT/DO/DONT drops the option octet too, a
// subnegotiation IAC SB ... IAC SE is dropped whole, and IAC with any other
// octet (IP, DM, AO, ...) is dropped.
func stripTelnet(line []byte) []byte {
	if !containsIAC(line) {
		return line
	}
	out := make([]byte, 0, len(line))
	for i := 0; i < len(line); i++ {
		b := line[i]
		if b != telnetIAC {
			out = append(out, b)
			continue
		}
		if i+1 >= len(line) {
			break
		}
		i++
		switch cmd := line[i]; {
		case cmd == telnetIAC:
			out = append(out, telnetIAC)
		case cmd >= telnetWILL && cmd <= telnetDONT:
			i++ // the option
		case cmd == telnetSB:
			for i+1 < len(line) && !(line[i] == telnetIAC && line[i+1] == telnetSE) {
				i++
			}
			i++
		}
	}
	return out
}

func containsIAC(b []byte) bool {
	for _, c := range b {
		if c == telnetIAC {
			return true
		}
	}
	return false
}

// parseCommand splits a command line, Telnet commands removed, into its
// verb, in upper case, and its argument: what follows the first space
// (RFC 959 §5.3.1), spaces kept, since path names may contain them.
// Leading spaces before the verb are skipped.
func parseCommand(line []byte) (verb, arg string) {
	s := strings.TrimLeft(string(stripTelnet(line)), " ")
	verb, arg, _ = strings.Cut(s, " ")
	return lineproto.UpperASCII(verb), arg
}

// resolvePath resolves the client's path p against the current directory
// cwd (a cleaned absolute path such as "/a/b"): an absolute path starts at
// the virtual root, a relative one at cwd, and ".." never climbs above "/".
// It returns the absolute path, for replies, and the fs.ValidPath name of
// the file in the tree ("." for the root). ok is false for a path with a
// control character (NUL, CR, LF), which no file may have.
func resolvePath(cwd, p string) (abs, name string, ok bool) {
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return "", "", false
		}
	}
	if !strings.HasPrefix(p, "/") {
		p = cwd + "/" + p
	}
	abs = path.Clean("/" + p)
	name = strings.TrimPrefix(abs, "/")
	if name == "" {
		name = "."
	}
	if !fs.ValidPath(name) {
		return "", "", false
	}
	return abs, name, true
}

// quotePath quotes an absolute path for a 257 reply: in double quotes, each
// double quote in it doubled (RFC 959 Appendix II).
func quotePath(p string) string {
	return `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
}

// hasGlob reports whether s has a glob metacharacter of path.Match.
func hasGlob(s string) bool { return strings.ContainsAny(s, "*?[") }
