package smtptest_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

func ExampleRecorder() {
	rec := smtptest.NewRecorder()
	s := smtptest.NewServer(rec)
	defer s.Close()

	go smtp.SendMail(context.Background(), s.Addr, nil, "a@example.org", []string{"b@example.org"}, strings.NewReader("Subject: x\n\nbody\n"))

	msgs, err := rec.Wait(context.Background(), 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v %q\n", msgs[0].Envelope.To, msgs[0].Body())
	// Output: [b@example.org] "Subject: x\r\n\r\nbody\r\n"
}

func ExampleServer_StartTLS() {
	s := smtptest.NewUnstartedServer(smtptest.NewRecorder())
	s.StartTLS() // implicit TLS, as on port 465
	defer s.Close()

	c, err := s.Client(nil) // dials with TLS, trusting the test certificate
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	starttls, _ := c.Extension("STARTTLS")
	fmt.Println(c.TLS(), starttls)
	// Output: true false
}

func ExampleServer_StartSTARTTLS() {
	s := smtptest.NewUnstartedServer(smtptest.NewRecorder())
	s.Config.InsecureAuth = false // AUTH only after STARTTLS
	s.StartSTARTTLS()
	defer s.Close()

	c, err := s.Client(nil) // dials with STARTTLS, trusting the test certificate
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ok, mechs := c.Extension("AUTH")
	fmt.Println(c.TLS(), ok, mechs)
	// Output: true true PLAIN LOGIN
}
