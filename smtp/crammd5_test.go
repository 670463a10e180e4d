package smtp_test

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	netsmtp "net/smtp"
	"regexp"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

func cramMD5Response(user, pass, challenge string) string {
	m := hmac.New(md5.New, []byte(pass))
	m.Write([]byte(challenge))
	return base64.StdEncoding.EncodeToString([]byte(user + " " + hex.EncodeToString(m.Sum(nil))))
}

// A Backend that implements BackendCRAMMD5 gets AUTH CRAM-MD5 (RFC 2195):
// offered in EHLO, a fresh challenge each time, the digest checked by the
// Backend, failures counted as failed logins.
func TestServer_authCRAMMD5(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "secret"}
	rec.CRAMMD5 = true
	s, _ := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: EHLO x")
	if ehlo := readReply(t, r); !strings.Contains(strings.Join(ehlo, "\n"), "250-AUTH PLAIN LOGIN CRAM-MD5\n") {
		t.Errorf("EHLO reply %q; want AUTH PLAIN LOGIN CRAM-MD5", ehlo)
	}
	challengeRE := regexp.MustCompile(`^<[0-9a-f]+\.[0-9]+@smtptest\.local>$`)
	challenge := func() string {
		t.Helper()
		prototest.Run(t, c, r, "C: AUTH CRAM-MD5")
		l := readReply(t, r)
		ch, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(l[0], "334 "))
		if !strings.HasPrefix(l[0], "334 ") || err != nil || !challengeRE.Match(ch) {
			t.Fatalf("AUTH CRAM-MD5 = %q (%q, %v); want 334 and a challenge like <id.time@domain>", l, ch, err)
		}
		return string(ch)
	}
	ch1 := challenge()
	prototest.Run(t, c, r, "C: "+cramMD5Response("user", "wrong", ch1)+"\nS: 535 5.7.8 *")
	ch2 := challenge()
	if ch2 == ch1 {
		t.Errorf("the same challenge twice: %q", ch1)
	}
	prototest.Run(t, c, r, "C: "+base64.StdEncoding.EncodeToString([]byte("user not-a-digest"))+"\nS: 535 5.7.8 *")
	prototest.Run(t, c, r, "C: AUTH CRAM-MD5 "+base64.StdEncoding.EncodeToString([]byte("user 0123"))+"\nS: 501 5.5.2 *")
	ch3 := challenge()
	prototest.Run(t, c, r, "C: "+cramMD5Response("user", "secret", ch3)+`
S: 235 2.0.0 *
C: MAIL FROM:<a@x>
S: 250 *
C: RCPT TO:<b@x>
S: 250 *
C: DATA
S: 354 *
C: Subject: cram
C:
C: hi
C: .
S: 250 *`)
	if msgs := waitMessages(t, rec, 1); msgs[0].Envelope.AuthUser != "user" {
		t.Errorf("AuthUser = %q; want user", msgs[0].Envelope.AuthUser)
	}
}

// A Backend whose CRAMMD5Available is false neither offers nor takes the
// mechanism.
func TestServer_authCRAMMD5Unavailable(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: EHLO x")
	if ehlo := strings.Join(readReply(t, r), "\n"); !strings.Contains(ehlo, "250-AUTH PLAIN LOGIN\n") {
		t.Errorf("EHLO reply %q; want AUTH PLAIN LOGIN only", ehlo)
	}
	prototest.Run(t, c, r, "C: AUTH CRAM-MD5\nS: 504 5.7.4 *")
}

// Go's own net/smtp client logs in with CRAM-MD5.
func TestServer_authCRAMMD5NetSMTP(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"alice@example.org": "pw"}
	rec.CRAMMD5 = true
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.InsecureAuth = true })
	// net/smtp quits after a failed AUTH: one connection for each try.
	for _, tc := range []struct{ pass, want string }{{"wrong", "535 "}, {"pw", ""}} {
		cl, err := netsmtp.Dial(s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.Hello("client.example"); err != nil {
			t.Fatal(err)
		}
		if ok, mechs := cl.Extension("AUTH"); !ok || !strings.Contains(mechs, "CRAM-MD5") {
			t.Fatalf("AUTH extension %v %q; want CRAM-MD5", ok, mechs)
		}
		err = cl.Auth(netsmtp.CRAMMD5Auth("alice@example.org", tc.pass))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("Auth(CRAM-MD5, %q) = %v; want %q", tc.pass, err, tc.want)
		}
	}
}
