package store

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/imap"
)

// imapBenchMessages is the size of the mailbox of BenchmarkIMAPBackend100k.
const imapBenchMessages = 100_000

// imapBenchStore makes a store with imapBenchMessages messages in alice's INBOX:
// distinct messages of about 400 octets, but every 1000th, of 10 KB. It
// returns the store and the UIDs of the 10 KB messages.
func imapBenchStore(b *testing.B) (*Store, []uint32) {
	b.Helper()
	ctx := context.Background()
	st, err := Open(b.TempDir(), &Options{PasswordCost: 4})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.AddUser(ctx, "alice@example.org", "secret"); err != nil {
		b.Fatal(err)
	}
	big := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n", 10<<10/78)
	var bigUIDs []uint32
	for start := 0; start < imapBenchMessages; start += 10_000 {
		err := st.write(ctx, func(tx *wtx) error {
			var mbox int64
			if err := tx.QueryRowContext(ctx, `SELECT id FROM mailboxes WHERE name = 'INBOX'`).Scan(&mbox); err != nil {
				return err
			}
			for i := start; i < start+10_000; i++ {
				body := "short body\r\n"
				if i%1000 == 0 {
					body = big
				}
				msg := []byte(fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: alice@example.org\r\nSubject: Re: message %d\r\n"+
					"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <m%d@example.org>\r\nReferences: <m%d@example.org>\r\n\r\n%s",
					i%977, i%977, i%5000, i, i/2, body))
				bodyID, err := st.insertMailBodyTx(ctx, tx, msg, parseMessageMeta(msg))
				if err != nil {
					return err
				}
				uid, _, err := appendTx(ctx, tx, st, mbox, bodyID, int64(len(msg)), time.Unix(int64(1e9+i), 0), nil)
				if err != nil {
					return err
				}
				if i%1000 == 0 {
					bigUIDs = append(bigUIDs, uid)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return st, bigUIDs
}

// cpuTime returns the CPU time the process has used: on a loaded machine
// it says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per iteration since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkIMAPBackend100k measures IMAPBackend on a mailbox of 100,000
// messages: a SELECT (Open and the first Poll), a Poll with nothing new,
// SortData of every message (SortDataFirst: computed, as for the bodies
// stored before migration 009; SortData: read), a STORE of a flag on every
// message, and a Fetch of 100 messages of 10 KB read whole. cpu-ms/op is
// the process's CPU time, steadier than the wall clock on a busy machine.
func BenchmarkIMAPBackend100k(b *testing.B) {
	st, bigUIDs := imapBenchStore(b)
	ctx := context.Background()
	u, err := st.IMAPBackend().Login(ctx, "alice@example.org", "secret")
	if err != nil {
		b.Fatal(err)
	}
	defer u.Close()
	all := make([]uint32, imapBenchMessages)
	for i := range all {
		all[i] = uint32(i + 1)
	}
	b.Run("OpenPoll", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			mb, err := u.Open(ctx, "INBOX", false)
			if err != nil {
				b.Fatal(err)
			}
			ch, err := mb.Poll(ctx)
			if err != nil || len(ch.Messages) != imapBenchMessages {
				b.Fatalf("Poll: %v", err)
			}
			mb.Close()
		}
	})
	mb, err := u.Open(ctx, "INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	if _, err := mb.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("PollIdle", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			if _, err := mb.Poll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SortDataFirst", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			b.StopTimer()
			if _, err := st.db.Exec(`UPDATE bodies SET sort_subject = NULL`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if d, err := mb.SortData(ctx, all); err != nil || len(d) != imapBenchMessages {
				b.Fatalf("SortData: %d, %v", len(d), err)
			}
		}
	})
	b.Run("SortData", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			if d, err := mb.SortData(ctx, all); err != nil || len(d) != imapBenchMessages {
				b.Fatalf("SortData: %d, %v", len(d), err)
			}
		}
	})
	b.Run("StoreAll", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		op := imap.StoreAdd
		for b.Loop() {
			changed, _, err := mb.Store(ctx, all, op, []string{`\Seen`}, 0)
			if err != nil || len(changed) != imapBenchMessages {
				b.Fatalf("Store: %d changed, %v", len(changed), err)
			}
			op = imap.StoreAdd + imap.StoreRemove - op
		}
	})
	b.Run("Fetch100x10KB", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		var n int64
		for b.Loop() {
			n = 0
			err := mb.Fetch(ctx, bigUIDs, func(m *imap.Message) error {
				k, err := io.Copy(io.Discard, io.NewSectionReader(m.Body, 0, m.Size))
				n += k
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(n)
	})
}
