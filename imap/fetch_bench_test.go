package imap_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fetchBenchMsg is a 10 KB message, as the store's benchmarks use: a
// usual header and 78-character lines.
var fetchBenchMsg = "From: Bench <bench@example.org>\r\n" +
	"To: rcpt@example.org\r\n" +
	"Subject: benchmark\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
	"Message-ID: <bench@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n" +
	"\r\n" +
	strings.Repeat(strings.Repeat("x", 78)+"\r\n", (10<<10)/80)

const (
	fetchBenchMessages = 100 // messages in the mailbox
	fetchBenchSessions = 10  // concurrent sessions, as the store's IMAP benchmark
)

// fetchBenchItems are what the benchmarks fetch: the whole message, the
// header fields a mail client lists a mailbox with (Thunderbird's), and
// the ENVELOPE and BODYSTRUCTURE other clients ask for.
var fetchBenchItems = []struct{ name, items string }{
	{"body", "BODY.PEEK[]"},
	{"headers", "UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]"},
	{"envelope", "UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE"},
}

// BenchmarkFetch fetches 10 KB messages from a MemBackend over loopback,
// from 10 concurrent sessions, one message per command and 100 per
// command. It reports messages per second; allocations are those of client
// and server together.
func BenchmarkFetch(b *testing.B) {
	for _, it := range fetchBenchItems {
		for _, batch := range []int{1, fetchBenchMessages} {
			b.Run(fmt.Sprintf("%s/%d-per-command", it.name, batch), func(b *testing.B) {
				s := newServer(b, nil)
				for range fetchBenchMessages {
					if err := s.be.Deliver("alice", []byte(fetchBenchMsg)); err != nil {
						b.Fatal(err)
					}
				}
				var left atomic.Int64
				left.Store(int64(b.N))
				conns := make([]net.Conn, fetchBenchSessions)
				readers := make([]*bufio.Reader, fetchBenchSessions)
				for i := range conns {
					conns[i], readers[i] = s.loggedIn(b)
					if out := fetchRun(b, conns[i], readers[i], "S EXAMINE INBOX"); !strings.Contains(out, "S OK") {
						b.Fatal(out)
					}
					conns[i].SetDeadline(time.Time{})
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(fetchBenchMsg)))
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for i := range conns {
					wg.Go(func() {
						if err := fetchBenchSession(conns[i], readers[i], it.items, batch, &left); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// fetchBenchSession fetches messages, batch per command, until left runs
// out, and checks that each command answered one FETCH per message.
func fetchBenchSession(c net.Conn, r *bufio.Reader, items string, batch int, left *atomic.Int64) error {
	uid := 0
	var cmd []byte
	for {
		k := 0
		cmd = append(cmd[:0], "F UID FETCH "...)
		for ; k < batch && left.Add(-1) >= 0; k++ {
			if k > 0 {
				cmd = append(cmd, ',')
			}
			cmd = strconv.AppendInt(cmd, int64(uid%fetchBenchMessages+1), 10)
			uid++
		}
		if k == 0 {
			return nil
		}
		cmd = append(cmd, " ("...)
		cmd = append(cmd, items...)
		cmd = append(cmd, ")\r\n"...)
		if _, err := c.Write(cmd); err != nil {
			return err
		}
		n, err := fetchBenchRead(r)
		if err != nil {
			return err
		}
		if n != k {
			return fmt.Errorf("%d FETCH responses to %q; want %d", n, cmd, k)
		}
	}
}

// fetchBenchRead reads the answer to a command tagged F, skipping
// literals, and returns how many FETCH responses it held.
func fetchBenchRead(r *bufio.Reader) (int, error) {
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return n, err
		}
		if bytes.HasPrefix(line, []byte("F ")) {
			if !bytes.HasPrefix(line, []byte("F OK")) {
				return n, fmt.Errorf("got %q", line)
			}
			return n, nil
		}
		if bytes.HasPrefix(line, []byte("* ")) && bytes.Contains(line, []byte(" FETCH (")) {
			n++
		}
		for {
			size, ok := fetchBenchLiteral(line)
			if !ok {
				break
			}
			if _, err := r.Discard(size); err != nil {
				return n, err
			}
			if line, err = r.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
				return n, err
			}
		}
	}
}

// fetchBenchLiteral returns the size of the literal that line announces.
func fetchBenchLiteral(line []byte) (int, bool) {
	line = bytes.TrimSuffix(line, []byte("}\r\n"))
	i := bytes.LastIndexByte(line, '{')
	if i < 0 || len(line) == i+1 {
		return 0, false
	}
	size, err := strconv.Atoi(string(line[i+1:]))
	return size, err == nil
}
