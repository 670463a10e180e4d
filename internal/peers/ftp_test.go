//go:build unix

package peers_test

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
)

// ftpGreeting reads the server's greeting on a new connection to addr
// and checks that it is a 220 holding want.
func ftpGreeting(t *testing.T, addr, want string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, clientTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(clientTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220") || !strings.Contains(line, want) {
		t.Fatalf("greeting = %q, %v; want a 220 with %q", line, err, want)
	}
}

// ftpLogin connects a client to addr, with AUTH TLS if tlsOn, and logs in.
func ftpLogin(t *testing.T, addr string, tlsOn bool, user, pass string) *ftp.Client {
	t.Helper()
	opts := &ftp.ClientOptions{Timeout: clientTimeout}
	dial := ftp.Dial
	if tlsOn {
		opts.TLSConfig = testcert.ClientConfig()
		dial = ftp.DialStartTLS
	}
	c, err := dial(testContext(t), addr, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if c.TLS() != tlsOn {
		t.Errorf("TLS() = %v; want %v", c.TLS(), tlsOn)
	}
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("Login(%q) = %v", user, err)
	}
	return c
}

// ftpNames lists dir with c and returns the names, sorted.
func ftpNames(t *testing.T, c *ftp.Client, dir string) []string {
	t.Helper()
	entries, err := c.List(dir)
	if err != nil {
		t.Fatalf("List(%q) = %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	return names
}

// vsftpd greets, lists a file put in its root, and, with TLS, requires
// it before the login.
func TestStartVsftpd(t *testing.T) {
	t.Parallel()
	for _, tlsOn := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "TLS"}[tlsOn], func(t *testing.T) {
			t.Parallel()
			v := peers.StartVsftpd(t, &peers.VsftpdOptions{TLS: tlsOn, Writable: "incoming"})
			if v.Writable != "incoming" || v.TLS != tlsOn {
				t.Errorf("Writable, TLS = %q, %v; want incoming, %v", v.Writable, v.TLS, tlsOn)
			}
			ftpGreeting(t, v.Addr, "vsFTPd")
			if err := os.WriteFile(filepath.Join(v.Root, "hello.txt"), []byte("hello"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tlsOn {
				c, err := ftp.Dial(testContext(t), v.Addr, &ftp.ClientOptions{Timeout: clientTimeout})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Login("anonymous", "x@"); err == nil {
					t.Error("an anonymous login without TLS was accepted")
				}
				c.Close()
			}
			c := ftpLogin(t, v.Addr, tlsOn, "anonymous", "x@")
			if got := ftpNames(t, c, ""); !slices.Equal(got, []string{"hello.txt", "incoming"}) {
				t.Errorf("the root lists %q; want hello.txt and incoming", got)
			}
			if err := c.Store("incoming/up.txt", strings.NewReader("up")); err != nil {
				t.Errorf("Store(incoming/up.txt) = %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(v.Root, v.Writable, "up.txt")); err != nil || string(b) != "up" {
				t.Errorf("the upload holds %q, %v; want up", b, err)
			}
			if err := c.Quit(); err != nil {
				t.Errorf("Quit() = %v", err)
			}
		})
	}
}

// pyftpdlib greets, lists a file put in its root to its user and to
// anonymous logins, lets the user write and not them, and drops the
// commands it is asked to.
func TestStartPyftpdlib(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts peers.PyftpdlibOptions
	}{
		{"plain", peers.PyftpdlibOptions{}},
		{"TLS", peers.PyftpdlibOptions{TLS: true}},
		{"old commands", peers.PyftpdlibOptions{Drop: []string{"EPSV", "EPRT", "MLST", "MLSD"}, Masquerade: "10.99.99.99"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := peers.StartPyftpdlib(t, &tc.opts)
			ftpGreeting(t, p.Addr, "pyftpdlib ready")
			if err := os.WriteFile(filepath.Join(p.Root, "hello.txt"), []byte("hello"), 0o644); err != nil {
				t.Fatal(err)
			}
			c := ftpLogin(t, p.Addr, tc.opts.TLS, p.User, p.Pass)
			_, mlst := c.Features()["MLST"]
			if want := tc.opts.Drop == nil; mlst != want {
				t.Errorf("FEAT has MLST: %v; want %v", mlst, want)
			}
			if got := ftpNames(t, c, ""); !slices.Equal(got, []string{"hello.txt"}) {
				t.Errorf("the root lists %q; want hello.txt", got)
			}
			if err := c.Store("up.txt", strings.NewReader("up")); err != nil {
				t.Errorf("Store(up.txt) = %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(p.Root, "up.txt")); err != nil || string(b) != "up" {
				t.Errorf("the upload holds %q, %v; want up", b, err)
			}
			if err := c.Quit(); err != nil {
				t.Errorf("Quit() = %v", err)
			}

			anon := ftpLogin(t, p.Addr, tc.opts.TLS, "anonymous", "x@")
			if got := ftpNames(t, anon, ""); !slices.Equal(got, []string{"hello.txt", "up.txt"}) {
				t.Errorf("the root lists %q to anonymous; want hello.txt and up.txt", got)
			}
			if err := anon.Store("anon.txt", strings.NewReader("x")); err == nil {
				t.Error("an anonymous Store was accepted")
			}
		})
	}
}
