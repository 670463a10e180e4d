package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/web"
)

// wrapped hides the ResponseWriter's io.ReaderFrom, as a logging or
// compressing middleware does, which turns sendfile(2) off.
type wrapped struct{ http.ResponseWriter }

// BenchmarkGet256MiB downloads a 256 MiB file over loopback: through a
// Server with sendfile, through a Server behind a wrapping middleware
// (plain copies), and through a bare net/http server.
func BenchmarkGet256MiB(b *testing.B) {
	const size = 256 << 20
	root, dir := newRoot(b)
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, zeroes{}, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	fsrv := newFileServer(root)
	get := func(b *testing.B, url string) {
		b.SetBytes(size)
		c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		cpu0 := cpuTime()
		for b.Loop() {
			resp, err := c.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != size {
				b.Fatalf("got %d bytes, %v", n, err)
			}
		}
		// Client and server share the process: the difference between
		// the cases is the server's.
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N)*(1<<30)/size, "cpu-ms/GiB")
	}
	b.Run("Server/sendfile", func(b *testing.B) {
		srv, base := startServer(b, nil, fsrv)
		get(b, base+"/big.bin")
		if web.SendfileBytes(srv) == 0 {
			b.Error("sendfile unused")
		}
	})
	b.Run("Server/wrapped", func(b *testing.B) {
		_, base := startServer(b, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fsrv.ServeHTTP(wrapped{w}, r)
		}))
		get(b, base+"/big.bin")
	})
	b.Run("net-http", func(b *testing.B) {
		ts := httptest.NewServer(fsrv)
		defer ts.Close()
		get(b, ts.URL+"/big.bin")
	})
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// zeroes is an endless reader of non-sparse bytes.
type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}
