package nntptest_test

import (
	"testing"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
)

func TestSpool_TestBackend(t *testing.T) {
	nntptest.TestBackend(t, func(t *testing.T) nntp.Backend {
		return nntptest.NewSpool("alice", "secret", "misc.test", "alt.test")
	})
}

func TestServer(t *testing.T) {
	for _, mode := range []string{"plain", "tls", "starttls"} {
		t.Run(mode, func(t *testing.T) {
			s := nntptest.NewUnstartedServer(nntptest.NewSpool("alice", "secret", "misc.test"))
			switch mode {
			case "plain":
				s.Start()
			case "tls":
				s.StartTLS()
			default:
				s.StartSTARTTLS()
			}
			defer s.Close()
			c, err := s.Client(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login("alice", "secret"); err != nil {
				t.Fatalf("Login: %v", err)
			}
			g, err := c.Group("misc.test")
			if err != nil || g.Count != 0 {
				t.Fatalf("Group = %+v, %v", g, err)
			}
			if err := c.Quit(); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})
	}
}

func TestServer_closeTwice(t *testing.T) {
	s := nntptest.NewServer(nntptest.NewSpool("alice", "secret"))
	s.Close()
	s.Close()
}
