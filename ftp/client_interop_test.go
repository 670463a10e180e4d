//go:build unix

package ftp_test

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/peers"
)

// exerciseClient runs every transfer and file command of c in the
// directory "pub" of a server whose root is files, checking what the
// server did there (put writes a file of it): Store, StoreAt to resume it, Size, ModTime,
// Retrieve whole and from an offset, Append, a Retrieve closed early
// (ABOR), MakeDir, Rename, List, NameList, Stat of a file and of a
// directory, a negative reply, Delete and RemoveDir.
func exerciseClient(t *testing.T, c *ftp.Client, files fs.FS, put func(name string, data []byte) error) {
	t.Helper()
	const pub = "pub"
	if err := c.ChangeDir("pub"); err != nil {
		t.Fatalf("ChangeDir(pub) = %v", err)
	}
	if dir, err := c.CurrentDir(); err != nil || dir != "/pub" {
		t.Errorf("CurrentDir() = %q, %v; want /pub", dir, err)
	}

	data := clientTestData(300_000)
	if err := c.Store("f.bin", bytes.NewReader(data[:100_000])); err != nil {
		t.Fatalf("Store() = %v", err)
	}
	clientCheckFile(t, files, path.Join(pub, "f.bin"), data[:100_000])
	if err := c.StoreAt("f.bin", bytes.NewReader(data[100_000:]), 100_000); err != nil {
		t.Fatalf("StoreAt() = %v", err)
	}
	clientCheckFile(t, files, path.Join(pub, "f.bin"), data)
	if n, err := c.Size("f.bin"); err != nil || n != int64(len(data)) {
		t.Errorf("Size() = %d, %v; want %d", n, err, len(data))
	}
	fi, err := fs.Stat(files, path.Join(pub, "f.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if mt, err := c.ModTime("f.bin"); err != nil || !mt.Equal(fi.ModTime().UTC().Truncate(time.Second)) || mt.Location() != time.UTC {
		t.Errorf("ModTime() = %v, %v; want %v in UTC", mt, err, fi.ModTime().UTC().Truncate(time.Second))
	}
	if got := clientRetrieveAll(t, c, "f.bin", 0); !bytes.Equal(got, data) {
		t.Errorf("Retrieve() read %d bytes; want the %d stored", len(got), len(data))
	}
	if got := clientRetrieveAll(t, c, "f.bin", 12345); !bytes.Equal(got, data[12345:]) {
		t.Errorf("Retrieve(12345) read %d bytes; want the %d after the offset", len(got), len(data)-12345)
	}
	if err := c.Append("f.bin", strings.NewReader("tail")); err != nil {
		t.Fatalf("Append() = %v", err)
	}
	data = append(data, "tail"...)
	clientCheckFile(t, files, path.Join(pub, "f.bin"), data)

	// A file larger than the socket buffers keeps the server writing when
	// the client stops reading.
	if err := put(path.Join(pub, "big.bin"), clientTestData(8<<20)); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retrieve("big.bin", 0)
	if err != nil {
		t.Fatalf("Retrieve(big.bin) = %v", err)
	}
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatalf("Retrieve(big.bin): read: %v", err)
	}
	if err := c.Noop(); err == nil {
		t.Errorf("Noop() with a Retrieve open = nil; want an error")
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() before EOF = %v; want nil (aborted)", err)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("Noop() after the abort = %v", err)
	}
	if err := c.Delete("big.bin"); err != nil {
		t.Errorf("Delete(big.bin) = %v", err)
	}

	if err := c.MakeDir("sub dir"); err != nil {
		t.Fatalf("MakeDir() = %v", err)
	}
	if err := c.Rename("f.bin", "sub dir/g.bin"); err != nil {
		t.Fatalf("Rename() = %v", err)
	}
	clientCheckFile(t, files, path.Join(pub, "sub dir", "g.bin"), data)
	entries, err := c.List("")
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	if len(entries) != 1 || entries[0].Name != "sub dir" || entries[0].Type != ftp.EntryDir {
		t.Errorf("List() = %+v; want the directory \"sub dir\" alone", entries)
	}
	entries, err = c.List("sub dir")
	if err != nil {
		t.Fatalf("List(sub dir) = %v", err)
	}
	if len(entries) != 1 || entries[0].Name != "g.bin" || entries[0].Type != ftp.EntryFile || entries[0].Size != int64(len(data)) ||
		entries[0].ModTime.IsZero() {
		t.Errorf("List(sub dir) = %+v; want g.bin, a file of %d bytes with a time", entries, len(data))
	}
	names, err := c.NameList("sub dir")
	if err != nil || len(names) != 1 || (names[0] != "g.bin" && names[0] != "sub dir/g.bin") {
		t.Errorf("NameList(sub dir) = %q, %v; want g.bin", names, err)
	}
	if e, err := c.Stat("sub dir/g.bin"); err != nil || e.Name != "g.bin" || e.Type != ftp.EntryFile || e.Size != int64(len(data)) {
		t.Errorf("Stat(sub dir/g.bin) = %+v, %v; want g.bin, a file of %d bytes", e, err, len(data))
	}
	if e, err := c.Stat("sub dir"); err != nil || e.Type != ftp.EntryDir || e.Name != "sub dir" {
		t.Errorf("Stat(sub dir) = %+v, %v; want the directory", e, err)
	}
	if dir, err := c.CurrentDir(); err != nil || dir != "/pub" {
		t.Errorf("CurrentDir() after Stat = %q, %v; want /pub", dir, err)
	}
	if _, err := c.Retrieve("missing", 0); clientErrCode(err) != 550 {
		t.Errorf("Retrieve(missing) = %v; want a 550 *ftp.Error", err)
	}
	if _, err := c.Stat("missing"); clientErrCode(err) != 550 {
		t.Errorf("Stat(missing) = %v; want a 550 *ftp.Error", err)
	}
	if err := c.Delete("sub dir/g.bin"); err != nil {
		t.Errorf("Delete() = %v", err)
	}
	if err := c.RemoveDir("sub dir"); err != nil {
		t.Errorf("RemoveDir() = %v", err)
	}
	if ls, err := fs.ReadDir(files, pub); err != nil || len(ls) != 0 {
		t.Errorf("pub holds %v, %v after Delete and RemoveDir; want nothing", ls, err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit() = %v", err)
	}
}

// TestClientInterop_pyftpdlib runs the client against pyftpdlib, with
// MLSD, passive (EPSV) and active (EPRT), in clear and over TLS.
func TestClientInterop_pyftpdlib(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tls    bool
		active bool
	}{
		{"passive", false, false},
		{"active", false, true},
		{"TLS passive", true, false},
		{"TLS active", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := peers.StartPyftpdlib(t, &peers.PyftpdlibOptions{TLS: tc.tls})
			if err := os.Mkdir(filepath.Join(p.Root, "pub"), 0o755); err != nil {
				t.Fatal(err)
			}
			c := dialClient(t, p.Addr, ftp.ClientOptions{Active: tc.active}, tc.tls, p.User, p.Pass)
			if c.TLS() != tc.tls {
				t.Errorf("TLS() = %v; want %v", c.TLS(), tc.tls)
			}
			if _, ok := c.Features()["MLST"]; !ok {
				t.Errorf("Features() = %v; want MLST", c.Features())
			}
			exerciseClient(t, c, os.DirFS(p.Root), diskPut(p.Root))
		})
	}
}

// TestClientInterop_pyftpdlibOldCommands runs the client against a
// pyftpdlib without EPSV, EPRT and MLST/MLSD, whose 227 announces a
// private address that is not its own (a server behind NAT): the client
// falls back on PASV, PORT and LIST, and connects to the control
// connection's address instead of the one announced.
func TestClientInterop_pyftpdlibOldCommands(t *testing.T) {
	t.Parallel()
	for _, active := range []bool{false, true} {
		name := "passive"
		if active {
			name = "active"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := peers.StartPyftpdlib(t, &peers.PyftpdlibOptions{Drop: []string{"EPSV", "EPRT", "MLST", "MLSD"}, Masquerade: "10.99.99.99"})
			if err := os.Mkdir(filepath.Join(p.Root, "pub"), 0o755); err != nil {
				t.Fatal(err)
			}
			c := dialClient(t, p.Addr, ftp.ClientOptions{Active: active}, false, p.User, p.Pass)
			if _, ok := c.Features()["MLST"]; ok {
				t.Errorf("Features() = %v; want no MLST", c.Features())
			}
			exerciseClient(t, c, os.DirFS(p.Root), diskPut(p.Root))
		})
	}
}

// TestClientInterop_vsftpd runs the client against vsftpd, which has no
// MLSD (the client parses LIST) and, over TLS, requires data connections
// to resume the control connection's session (require_ssl_reuse).
func TestClientInterop_vsftpd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tls    bool
		active bool
	}{
		{"passive", false, false},
		{"active", false, true},
		{"TLS passive", true, false},
		{"TLS active", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := peers.StartVsftpd(t, &peers.VsftpdOptions{TLS: tc.tls})
			c := dialClient(t, v.Addr, ftp.ClientOptions{Active: tc.active}, tc.tls, "anonymous", "guest@")
			feat := c.Features()
			if _, ok := feat["EPSV"]; !ok {
				t.Errorf("Features() = %v; want EPSV", feat)
			}
			if c.TLS() != tc.tls {
				t.Errorf("TLS() = %v; want %v", c.TLS(), tc.tls)
			}
			exerciseClient(t, c, os.DirFS(v.Root), diskPut(v.Root))
		})
	}
}

// diskPut returns a function that writes a file under root.
func diskPut(root string) func(name string, data []byte) error {
	return func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), data, 0o644)
	}
}
