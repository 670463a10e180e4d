package smtptest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"io"
	"sync"

	"github.com/inetkit/inetkit/smtp"
)

// A Message is one message a Recorder received.
type Message struct {
	// Envelope is a copy of the envelope Deliver got.
	Envelope smtp.Envelope
	// Data is the message as delivered, with the Return-Path and Received
	// fields the server prepended.
	Data []byte
}

// Body returns the message as the client sent it: Data without the
// Return-Path and Received fields the server prepended.
func (m Message) Body() []byte {
	d := m.Data
	for {
		switch {
		case bytes.HasPrefix(d, []byte("Return-Path:")), bytes.HasPrefix(d, []byte("Received:")):
		default:
			return d
		}
		// Skip the field and its continuation lines.
		for {
			i := bytes.Index(d, []byte("\r\n"))
			if i < 0 {
				return nil
			}
			d = d[i+2:]
			if len(d) == 0 || (d[0] != ' ' && d[0] != '\t') {
				break
			}
		}
	}
}

// A Recorder is an smtp.Backend that keeps every message in memory. By
// default it accepts any login and any recipient; its zero value is ready
// to use. Its exported fields must
// be set before the Recorder is used; its methods are safe for concurrent
// use.
type Recorder struct {
	// Users, if not nil, maps user names to passwords; other logins fail
	// with smtp.ErrAuthFailed.
	Users map[string]string
	// RecipientFunc, if not nil, is called for every RCPT; an error
	// refuses the recipient.
	RecipientFunc func(rcpt string) error
	// DeliverFunc, if not nil, is called for every message before it is
	// recorded; an error refuses the message and nothing is recorded.
	DeliverFunc func(env *smtp.Envelope, data []byte) error
	// DiscardData makes the Recorder keep envelopes only, with a nil
	// Data, for benchmarks and load tests.
	DiscardData bool
	// CRAMMD5 makes the Recorder take AUTH CRAM-MD5 (smtp.BackendCRAMMD5),
	// checking digests against the passwords of Users.
	CRAMMD5 bool

	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced when a message arrives
}

var _ smtp.BackendCRAMMD5 = (*Recorder)(nil)

// NewRecorder returns a Recorder that accepts everything.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{})} }

// Login implements smtp.Backend.
func (r *Recorder) Login(_ context.Context, username, password string) error {
	if r.Users == nil {
		return nil
	}
	if p, ok := r.Users[username]; ok && p == password {
		return nil
	}
	return smtp.ErrAuthFailed
}

// CRAMMD5Available implements smtp.BackendCRAMMD5: it reports r.CRAMMD5.
func (r *Recorder) CRAMMD5Available(context.Context) bool { return r.CRAMMD5 }

// LoginCRAMMD5 implements smtp.BackendCRAMMD5: the digest must be the
// HMAC-MD5 of challenge keyed with username's password in Users, or
// anything if Users is nil.
func (r *Recorder) LoginCRAMMD5(_ context.Context, username, challenge, digest string) error {
	if r.Users == nil {
		return nil
	}
	p, ok := r.Users[username]
	if !ok {
		return smtp.ErrAuthFailed
	}
	m := hmac.New(md5.New, []byte(p))
	m.Write([]byte(challenge))
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(digest)) {
		return smtp.ErrAuthFailed
	}
	return nil
}

// CheckRecipient implements smtp.Backend.
func (r *Recorder) CheckRecipient(_ context.Context, _ *smtp.Envelope, rcpt string) error {
	if r.RecipientFunc != nil {
		return r.RecipientFunc(rcpt)
	}
	return nil
}

// Deliver implements smtp.Backend.
func (r *Recorder) Deliver(_ context.Context, env *smtp.Envelope, msg io.Reader) error {
	data, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	e := *env
	e.To = append([]string(nil), env.To...)
	if r.DeliverFunc != nil {
		if err := r.DeliverFunc(&e, data); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.DiscardData {
		data = nil
	}
	r.msgs = append(r.msgs, Message{Envelope: e, Data: data})
	if r.changed != nil {
		close(r.changed)
	}
	r.changed = make(chan struct{})
	return nil
}

// Messages returns the messages received so far, oldest first.
func (r *Recorder) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

// Wait waits until at least n messages have been received and returns
// them all, or returns ctx's error.
func (r *Recorder) Wait(ctx context.Context, n int) ([]Message, error) {
	for {
		r.mu.Lock()
		if len(r.msgs) >= n {
			msgs := append([]Message(nil), r.msgs...)
			r.mu.Unlock()
			return msgs, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
