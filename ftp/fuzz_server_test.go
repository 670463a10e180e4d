package ftp

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
)

// FuzzParseCommand checks the command-line parser: no panic, a verb
// without spaces in upper case, Telnet commands gone, and a line without
// IAC parsed as it is.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"NOOP", "RETR a b.txt", "\xff\xf4\xff\xf2ABOR", "\xff\xfb\x01NO\xff\xfe\x03OP",
		"MKD a\xff\xffb", "\xff\xfa\x18\x01\xff\xf0USER x", "\xff", "  pwd", "OPTS MLST type;size;", "ı", "ſtat",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, arg := parseCommand(line)
		if strings.Contains(verb, " ") || strings.ContainsAny(verb, "abcdefghijklmnopqrstuvwxyz") {
			t.Errorf("parseCommand(%q) verb %q", line, verb)
		}
		if !bytes.Contains(line, []byte{0xff}) {
			want := strings.TrimLeft(string(line), " ")
			if got := verb + " " + arg; !strings.EqualFold(strings.TrimSuffix(got, " "), strings.TrimSuffix(want, " ")) && !strings.EqualFold(got, want) {
				t.Errorf("parseCommand(%q) = %q, %q", line, verb, arg)
			}
		}
		if s := stripTelnet(line); len(s) > len(line) {
			t.Errorf("stripTelnet(%q) grew to %q", line, s)
		}
	})
}

// FuzzResolvePath checks path resolution: a name is always an fs.ValidPath
// without "..", inside the root, and the absolute path is "/" + name.
func FuzzResolvePath(f *testing.F) {
	for _, s := range [][2]string{
		{"/", "../../etc/passwd"}, {"/a", ".."}, {"/a/b", "../../../x"}, {"/", "/etc/passwd"},
		{"/", "a\x00b"}, {"/", "a/./b//c/"}, {"/d", "a\\..\\b"}, {"/", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cwd, p string) {
		cwdAbs, _, ok := resolvePath("/", cwd)
		if !ok {
			return
		}
		abs, name, ok := resolvePath(cwdAbs, p)
		if !ok {
			return
		}
		if !fs.ValidPath(name) {
			t.Fatalf("resolvePath(%q, %q) name %q not valid", cwdAbs, p, name)
		}
		for elem := range strings.SplitSeq(name, "/") {
			if elem == ".." {
				t.Fatalf("resolvePath(%q, %q) name %q has ..", cwdAbs, p, name)
			}
		}
		if (name == "." && abs != "/") || (name != "." && abs != "/"+name) {
			t.Fatalf("resolvePath(%q, %q) = %q, %q", cwdAbs, p, abs, name)
		}
		if strings.ContainsAny(name, "\x00\r\n") {
			t.Fatalf("resolvePath(%q, %q) name %q has a control character", cwdAbs, p, name)
		}
	})
}

// FuzzServerSession feeds arbitrary input to a logged-in session over
// net.Pipe: no panic, and the session ends when the client has quit.
func FuzzServerSession(f *testing.F) {
	for _, s := range []string{
		"PWD\r\nCWD ..\r\nMKD a\r\nCWD a\r\nSTOR x\r\n",
		"PASV\r\nEPSV\r\nEPSV ALL\r\nPORT 127,0,0,1,4,1\r\nEPRT |1|127.0.0.1|1025|\r\nLIST\r\n",
		"RNFR a\r\nRNTO b\r\nDELE b\r\nRMD a\r\nREST 5\r\nRETR nope\r\n",
		"\xff\xf4\xff\xf2ABOR\r\nSTAT\r\nSTAT /\r\nMLST\r\nFEAT\r\nOPTS MLST size;\r\n",
		"GET / HTTP/1.1\r\n", "REIN\r\nUSER anonymous\r\nPASS x\r\n", strings.Repeat("X", 5000),
		"AUTH TLS\r\nPBSZ 0\r\nPROT P\r\nTYPE A\r\nTYPE I\r\nSIZE x\r\nMDTM x\r\n",
	} {
		f.Add([]byte(s))
	}
	mem := fileroot.NewMemFS()
	mem.Mkdir("d")
	u, _ := mem.Create("d/f")
	io.WriteString(u, "data")
	u.Close()
	s := &Server{
		Backend: BackendFunc(func(ctx context.Context, user, pass string) (fs.FS, error) {
			if pass == "secret" {
				return mem, nil
			}
			return nil, ErrAuthFailed
		}),
		InsecureAuth: true,
		DataTimeout:  100 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	}
	s.IdleTimeout = 2 * time.Second
	s.CommandTimeout = 2 * time.Second
	s.WriteTimeout = 2 * time.Second
	s.AuthFailureDelay = -1
	s.ErrorDelay = -1
	f.Fuzz(func(t *testing.T, input []byte) {
		client, server := net.Pipe()
		defer client.Close()
		done := make(chan error, 1)
		go func() { done <- s.ServeConn(context.Background(), server) }()
		go io.Copy(io.Discard, client)
		go func() {
			io.WriteString(client, "USER alice\r\nPASS secret\r\n")
			client.Write(input)
			io.WriteString(client, "\r\nQUIT\r\n")
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("session did not end after QUIT; input %q", input)
		}
	})
}
