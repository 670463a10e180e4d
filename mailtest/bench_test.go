package mailtest_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/mailtest"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/smtp"
)

// benchSessions is the number of concurrent sessions of every benchmark.
const benchSessions = 10

// benchMsg is a 10 KB message: a short header and 78-character lines.
var benchMsg = "From: bench@example.org\r\nTo: rcpt@example.org\r\nSubject: benchmark\r\n\r\n" +
	strings.Repeat(strings.Repeat("x", 78)+"\r\n", (10<<10)/80)

// heapSampler records the largest HeapInuse seen while it runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	peak uint64
}

// sampleHeap starts a heapSampler that reads the heap every 10 ms.
func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			h.peak = max(h.peak, ms.HeapInuse)
			select {
			case <-tick.C:
			case <-h.stop:
				return
			}
		}
	}()
	return h
}

// report stops the sampler and reports the peak in MB.
func (h *heapSampler) report(b *testing.B) {
	close(h.stop)
	<-h.done
	b.ReportMetric(float64(h.peak)/1e6, "peak-heap-MB")
}

// runSessions runs n sessions of f at once, each taking work from a shared
// count of b.N operations, and reports operations per second.
func runSessions(b *testing.B, unit string, f func(session int, next func() bool) error) {
	var left atomic.Int64
	left.Store(int64(b.N))
	next := func() bool { return left.Add(-1) >= 0 }
	heap := sampleHeap()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range benchSessions {
		wg.Go(func() {
			if err := f(i, next); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	heap.report(b)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
}

// BenchmarkSMTPIngest sends 10 KB messages over 10 concurrent SMTP
// sessions into the real store (WAL, synchronous=FULL, group commit): each
// message is acknowledged only once it is durable. It reports msgs/s, MB/s
// of message text, the peak heap in use during the ingest, and allocations
// of client and server together.
func BenchmarkSMTPIngest(b *testing.B) {
	for _, mode := range []string{"plain", "starttls"} {
		b.Run(mode, func(b *testing.B) {
			s := mailtest.NewServer(b)
			ctx := context.Background()
			msg := []byte(benchMsg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			runSessions(b, "msgs/s", func(_ int, next func() bool) error {
				opts := &smtp.ClientOptions{TLSConfig: s.TLSConfig()}
				dial := smtp.Dial
				if mode == "starttls" {
					dial = smtp.DialStartTLS
				}
				c, err := dial(ctx, s.SMTPAddr, opts)
				if err != nil {
					return err
				}
				defer c.Close()
				for next() {
					if err := sendOne(c, "bench@example.org", "rcpt@example.org", msg); err != nil {
						return err
					}
				}
				return c.Quit()
			})
			var n int
			if err := s.Store.DB().QueryRow(`SELECT count(*) FROM messages`).Scan(&n); err != nil || n != b.N {
				b.Errorf("%d messages stored, %v; want %d", n, err, b.N)
			}
		})
	}
}

// retrievalMessages is the number of messages each user of the retrieval
// benchmarks holds; sessions read them round and round.
const retrievalMessages = 100

// retrievalServer returns a server where users u0..u9@example.org hold
// retrievalMessages messages of 10 KB each.
func retrievalServer(b *testing.B) *mailtest.Server {
	s := mailtest.NewServer(b)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range benchSessions {
		wg.Go(func() {
			for range retrievalMessages {
				if err := s.Store.Deliver(ctx, []string{benchUser(i)}, []byte(benchMsg), time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return s
}

func benchUser(i int) string { return fmt.Sprintf("u%d@example.org", i) }

// BenchmarkPOP3Retrieve reads 10 KB messages with RETR over 10 concurrent
// POP3 sessions (one per user: a maildrop takes one session at a time). It
// reports msgs/s and MB/s.
func BenchmarkPOP3Retrieve(b *testing.B) {
	s := retrievalServer(b)
	ctx := context.Background()
	b.SetBytes(int64(len(benchMsg)))
	b.ReportAllocs()
	runSessions(b, "msgs/s", func(i int, next func() bool) error {
		c, err := pop3.Dial(ctx, s.POP3Addr, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Login(benchUser(i), "x"); err != nil {
			return err
		}
		for n := 0; next(); n++ {
			rc, err := c.Retrieve(n%retrievalMessages + 1)
			if err != nil {
				return err
			}
			got, err := io.Copy(io.Discard, rc)
			if err != nil {
				return err
			}
			if err := rc.Close(); err != nil {
				return err
			}
			if got != int64(len(benchMsg)) {
				return fmt.Errorf("RETR: %d bytes; want %d", got, len(benchMsg))
			}
		}
		return c.Quit()
	})
}

// BenchmarkIMAPFetch reads 10 KB messages with UID FETCH BODY.PEEK[] over
// 10 concurrent IMAP sessions, one message per command and 100 per command.
// It reports msgs/s and MB/s.
func BenchmarkIMAPFetch(b *testing.B) {
	for _, batch := range []int{1, retrievalMessages} {
		b.Run(fmt.Sprintf("%d-per-command", batch), func(b *testing.B) {
			s := retrievalServer(b)
			ctx := context.Background()
			b.SetBytes(int64(len(benchMsg)))
			b.ReportAllocs()
			runSessions(b, "msgs/s", func(i int, next func() bool) error {
				c, err := inetimap.Dial(ctx, s.IMAPAddr, nil)
				if err != nil {
					return err
				}
				defer c.Close()
				if err := c.Login(benchUser(i), "x").Wait(); err != nil {
					return err
				}
				if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
					return err
				}
				section := &imap.FetchItemBodySection{Peek: true}
				opts := &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}
				uid := 0
				for {
					var set imap.UIDSet
					k := 0
					for ; k < batch && next(); k++ {
						set.AddNum(imap.UID(uid%retrievalMessages + 1))
						uid++
					}
					if k == 0 {
						break
					}
					if err := fetchDiscard(c, set, opts, section); err != nil {
						return err
					}
				}
				return c.Logout().Wait()
			})
		})
	}
}

// fetchDiscard fetches set, reading each body to the end without keeping
// it, and checks the sizes.
func fetchDiscard(c *imapclient.Client, set imap.UIDSet, opts *imap.FetchOptions, section *imap.FetchItemBodySection) error {
	cmd := c.Fetch(set, opts)
	defer cmd.Close()
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok {
				n, err := io.Copy(io.Discard, body.Literal)
				if err != nil {
					return err
				}
				if n != int64(len(benchMsg)) {
					return fmt.Errorf("FETCH: %d bytes; want %d", n, len(benchMsg))
				}
			}
		}
	}
	return cmd.Close()
}

// BenchmarkStoreDeliver calls Store.Deliver with 10 KB messages from 10
// goroutines, without SMTP: the ceiling the store puts on
// BenchmarkSMTPIngest.
func BenchmarkStoreDeliver(b *testing.B) {
	s := mailtest.NewServer(b)
	ctx := context.Background()
	msg := []byte(benchMsg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	runSessions(b, "msgs/s", func(_ int, next func() bool) error {
		for next() {
			if err := s.Store.Deliver(ctx, []string{"rcpt@example.org"}, msg, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
}
