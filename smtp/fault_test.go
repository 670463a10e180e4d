package smtp_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

// faultServer starts a server recording into a Recorder, with the rules.
func faultServer(t *testing.T, rules ...string) (*smtptest.Server, *smtptest.Recorder, *fault.Set) {
	t.Helper()
	rec := smtptest.NewRecorder()
	set := fault.MustParseSet(1, rules...)
	s := smtptest.NewUnstartedServer(rec)
	s.Config.Faults = set
	s.Config.IdleTimeout = 500 * time.Millisecond
	s.Start()
	t.Cleanup(s.Close)
	return s, rec, set
}

// send sends one message from a@client.test to the recipients with a new
// client, and returns the error of the first command that failed.
func send(t *testing.T, s *smtptest.Server, to ...string) error {
	t.Helper()
	c, err := s.Client(&smtp.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail("a@client.test", nil); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	w.Write([]byte("Subject: hi\r\n\r\nhello\r\n"))
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func smtpCode(err error) int {
	var e *smtp.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestServer_faults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule      string
		to        string
		check     func(t *testing.T, err error)
		delivered int // messages delivered by the send
	}{
		{`smtp RCPT to=*@fail.test reply="550 5.1.1 no such user"`, "b@fail.test", func(t *testing.T, err error) {
			if smtpCode(err) != 550 {
				t.Errorf("send = %v; want 550", err)
			}
		}, 0},
		{`smtp DATA reply="451 4.3.0 try later"`, "b@x.test", func(t *testing.T, err error) {
			var e *smtp.Error
			if !errors.As(err, &e) || e.Code != 451 || e.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) || e.Message != "try later" {
				t.Errorf("send = %v; want 451 4.3.0 try later", err)
			}
		}, 0},
		{`smtp DATA disk-full`, "b@x.test", func(t *testing.T, err error) {
			var e *smtp.Error
			if !errors.As(err, &e) || e.Code != 452 || e.EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) {
				t.Errorf("send = %v; want 452 4.3.1", err)
			}
		}, 0},
		{`smtp DATA store-error`, "b@x.test", func(t *testing.T, err error) {
			if smtpCode(err) != 451 {
				t.Errorf("send = %v; want 451", err)
			}
		}, 0},
		{`smtp DATA reset`, "b@x.test", func(t *testing.T, err error) {
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("send = %v; want ECONNRESET", err)
			}
		}, 0},
		{`smtp MAIL close="421 4.3.2 going away"`, "b@x.test", func(t *testing.T, err error) {
			if smtpCode(err) != 421 {
				t.Errorf("send = %v; want 421", err)
			}
		}, 0},
		{`smtp connect reply="554 5.3.2 not now"`, "b@x.test", func(t *testing.T, err error) {
			if err == nil || !strings.Contains(err.Error(), "554") {
				t.Errorf("send = %v; want the 554 greeting", err)
			}
		}, 0},
		{`smtp DATA delay=200ms`, "b@x.test", func(t *testing.T, err error) {
			if err != nil {
				t.Errorf("send = %v; want it delivered, late", err)
			}
		}, 1},
		{`smtp DATA hang`, "b@x.test", func(t *testing.T, err error) {
			if err == nil {
				t.Errorf("send = nil; want the connection to end unanswered")
			}
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			s, rec, set := faultServer(t, tc.rule+" client=127.0.0.1 first=1")
			start := time.Now()
			tc.check(t, send(t, s, tc.to))
			if strings.Contains(tc.rule, "delay") && time.Since(start) < 200*time.Millisecond {
				t.Errorf("send took %v; want the delay", time.Since(start))
			}
			if n := len(rec.Messages()); n != tc.delivered {
				t.Errorf("%d messages delivered; want %d", n, tc.delivered)
			}
			// A retry (first=1) goes through: the client that retries a
			// temporary failure gets its message delivered, once.
			if err := send(t, s, "b@x.test"); err != nil {
				t.Errorf("retry: send = %v", err)
			}
			if n := len(rec.Messages()); n != tc.delivered+1 {
				t.Errorf("%d messages delivered after the retry; want %d", n, tc.delivered+1)
			}
			if st := set.Rules()[0]; st.Fired != 1 {
				t.Errorf("rule fired %d times; want 1", st.Fired)
			}
			if st := s.Config.Stats(); st.Errors != 0 {
				t.Errorf("Stats().Errors = %d; want faults not counted", st.Errors)
			}
		})
	}
}

func TestServer_faultRcptOnlyMatching(t *testing.T) {
	t.Parallel()
	s, rec, _ := faultServer(t, `smtp RCPT to=*@fail.test reply="550 5.1.1 no such user"`)
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Hello("client.test")
	c.Mail("a@client.test", nil)
	if err := c.Rcpt("x@FAIL.test"); smtpCode(err) != 550 {
		t.Errorf("Rcpt(x@FAIL.test) = %v; want 550", err)
	}
	if err := c.Rcpt("y@ok.test"); err != nil {
		t.Errorf("Rcpt(y@ok.test) = %v; want it accepted", err)
	}
	w, _ := c.Data()
	w.Write([]byte("Subject: hi\r\n\r\nhello\r\n"))
	if err := w.Close(); err != nil {
		t.Fatalf("Data = %v", err)
	}
	msgs := rec.Messages()
	if len(msgs) != 1 || len(msgs[0].Envelope.To) != 1 || msgs[0].Envelope.To[0] != "y@ok.test" {
		t.Errorf("delivered %+v; want one message to y@ok.test only", msgs)
	}
}

const smtplibFaultScript = `
import smtplib, sys
port = int(sys.argv[1])
msg = "Subject: hi\r\n\r\nhello\r\n"
def attempt(to):
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    try:
        s.sendmail("a@py.test", to, msg)
        print("sent")
    except smtplib.SMTPRecipientsRefused as e:
        print("refused", {k: v[0] for k, v in e.recipients.items()})
    except smtplib.SMTPDataError as e:
        print("data error", e.smtp_code, e.smtp_error.decode())
    finally:
        try:
            s.quit()
        except smtplib.SMTPServerDisconnected:
            pass
attempt(["b@fail.test"])
attempt(["b@ok.test"])
attempt(["b@ok.test"])
`

// TestInterop_smtplibFaults: Python's smtplib raises SMTPRecipientsRefused
// for a refused recipient and SMTPDataError(451) for a 451 at the end of
// DATA, and its retry is delivered.
func TestInterop_smtplibFaults(t *testing.T) {
	t.Parallel()
	python := peers.Need(t, "python3")
	s, rec, _ := faultServer(t,
		`smtp RCPT to=*@fail.test reply="550 5.1.1 no such user"`,
		`smtp DATA reply="451 4.3.0 try later" first=1`,
	)
	_, port, _ := strings.Cut(s.Addr, ":")
	var stderr bytes.Buffer
	cmd := exec.Command(python, "-c", smtplibFaultScript, port)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("smtplib: %v\n%s", err, stderr.Bytes())
	}
	want := "refused {'b@fail.test': 550}\ndata error 451 4.3.0 try later\nsent\n"
	if string(out) != want {
		t.Errorf("smtplib said\n%s\nwant\n%s", out, want)
	}
	if msgs, err := rec.Wait(context.Background(), 1); err != nil || len(msgs) != 1 {
		t.Errorf("delivered %d messages, %v; want the retry only", len(msgs), err)
	}
}
