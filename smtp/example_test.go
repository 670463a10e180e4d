package smtp_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

func ExampleServer() {
	rec := smtptest.NewRecorder() // any smtp.Backend, such as a store
	srv := &smtp.Server{
		Domain:  "mx.example.org",
		Backend: rec,
		// Loopback only: no TLS, so allow AUTH in plaintext.
		InsecureAuth: true,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)

	res, err := smtp.SendMail(context.Background(), l.Addr().String(), nil,
		"alice@example.org", []string{"bob@example.org"}, strings.NewReader("Subject: hi\n\nHello, Bob.\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Reply)
	msgs, _ := rec.Wait(context.Background(), 1)
	fmt.Printf("%s -> %v: %q\n", msgs[0].Envelope.From, msgs[0].Envelope.To, msgs[0].Body())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	// Output:
	// 250 2.0.0 OK: queued
	// alice@example.org -> [bob@example.org]: "Subject: hi\r\n\r\nHello, Bob.\r\n"
}

func ExampleClient() {
	s := smtptest.NewServer(smtptest.NewRecorder())
	defer s.Close()

	c, err := smtp.Dial(context.Background(), s.Addr, &smtp.ClientOptions{LocalName: "client.example"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("alice@example.org", nil); err != nil {
		log.Fatal(err)
	}
	if err := c.Rcpt("bob@example.org"); err != nil {
		log.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(w, "Subject: hi\n\n.A line starting with a dot.\n")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Reply())
	if err := c.Quit(); err != nil {
		log.Fatal(err)
	}
	// Output: 250 2.0.0 OK: queued
}

func ExampleSendMail() {
	rec := smtptest.NewRecorder()
	rec.RecipientFunc = func(rcpt string) error {
		if rcpt != "bob@example.org" {
			return smtp.ErrNoSuchMailbox
		}
		return nil
	}
	s := smtptest.NewServer(rec)
	defer s.Close()

	res, err := smtp.SendMail(context.Background(), s.Addr, nil,
		"alice@example.org", []string{"bob@example.org", "nobody@example.org"}, strings.NewReader("Subject: hi\n\nhello\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted:", res.Accepted)
	for rcpt, e := range res.Refused {
		fmt.Println("refused:", rcpt, e.Code, e.Message)
	}
	fmt.Println(res.Reply)
	// Output:
	// accepted: [bob@example.org]
	// refused: nobody@example.org 550 No such mailbox here
	// 250 2.0.0 OK: queued
}

// BenchmarkServer_ingest sends 10 KB messages over 10 concurrent sessions
// to a Recorder and reports messages per second.
func BenchmarkServer_ingest(b *testing.B) {
	rec := smtptest.NewRecorder()
	rec.DiscardData = true
	s := smtptest.NewServer(rec)
	defer s.Close()
	body := strings.Repeat(strings.Repeat("x", 78)+"\r\n", 10<<10/80)
	var left atomic.Int64
	left.Store(int64(b.N))
	const sessions = 10
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range sessions {
		wg.Go(func() {
			c, err := s.Client(nil)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			for left.Add(-1) >= 0 {
				if err := c.Mail("a@example.org", nil); err != nil {
					b.Error(err)
					return
				}
				if err := c.Rcpt("b@example.org"); err != nil {
					b.Error(err)
					return
				}
				w, err := c.Data()
				if err != nil {
					b.Error(err)
					return
				}
				w.Write([]byte(body))
				if err := w.Close(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	if n := len(rec.Messages()); n != b.N {
		b.Errorf("%d messages recorded, want %d", n, b.N)
	}
}
