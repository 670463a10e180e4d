package pop3test

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/inetkit/inetkit/pop3"
)

// A Maildrop is an in-memory pop3.Backend holding the maildrop of one user.
// It implements pop3.BackendAPOP, with the password as the shared secret.
// A session locks the maildrop: a second Login while one is open fails with
// pop3.ErrInUse. A Maildrop is safe for concurrent use.
type Maildrop struct {
	user, pass string

	mu      sync.Mutex
	msgs    []message
	nextUID int
	locked  bool
}

type message struct {
	uid  string
	data string
}

var _ pop3.BackendAPOP = (*Maildrop)(nil)

// NewMaildrop returns a Maildrop for user, with password pass, holding msgs
// in order. Bare LFs in the messages are turned into CRLF, as a message
// arriving by SMTP has them.
func NewMaildrop(user, pass string, msgs ...string) *Maildrop {
	m := &Maildrop{user: user, pass: pass}
	for _, msg := range msgs {
		m.Add(msg)
	}
	return m
}

// Add appends msg to the maildrop, with bare LFs turned into CRLF, and a
// new unique-id. Sessions already open do not see it.
func (m *Maildrop) Add(msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextUID++
	m.msgs = append(m.msgs, message{uid: "uid-" + strconv.Itoa(m.nextUID), data: crlf(msg)})
}

func crlf(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			if b.Len() == 0 {
				return s // no LF at all: no copy
			}
			b.WriteString(s)
			return b.String()
		}
		if i > 0 && s[i-1] == '\r' {
			b.WriteString(s[:i+1])
		} else {
			b.WriteString(s[:i])
			b.WriteString("\r\n")
		}
		s = s[i+1:]
	}
}

// Messages returns the messages in the maildrop, in order.
func (m *Maildrop) Messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.msgs))
	for i, msg := range m.msgs {
		out[i] = msg.data
	}
	return out
}

// Locked reports whether a session holds the maildrop.
func (m *Maildrop) Locked() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.locked
}

// Login implements pop3.Backend.
func (m *Maildrop) Login(ctx context.Context, user, pass string) (pop3.Session, error) {
	ok := subtle.ConstantTimeCompare([]byte(user), []byte(m.user)) &
		subtle.ConstantTimeCompare([]byte(pass), []byte(m.pass))
	if ok != 1 {
		return nil, pop3.ErrAuthFailed
	}
	return m.lock()
}

// LoginAPOP implements pop3.BackendAPOP.
func (m *Maildrop) LoginAPOP(ctx context.Context, user, timestamp, digest string) (pop3.Session, error) {
	sum := md5.Sum([]byte(timestamp + m.pass))
	want := hex.EncodeToString(sum[:])
	ok := subtle.ConstantTimeCompare([]byte(user), []byte(m.user)) &
		subtle.ConstantTimeCompare([]byte(digest), []byte(want))
	if ok != 1 || timestamp == "" {
		return nil, pop3.ErrAuthFailed
	}
	return m.lock()
}

func (m *Maildrop) lock() (pop3.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked {
		return nil, pop3.ErrInUse
	}
	m.locked = true
	s := &session{m: m, msgs: make([]message, len(m.msgs))}
	copy(s.msgs, m.msgs)
	s.list = make([]pop3.MessageInfo, len(s.msgs))
	for i, msg := range s.msgs {
		s.list[i] = pop3.MessageInfo{Size: int64(len(msg.data)), UID: msg.uid}
	}
	return s, nil
}

// session is the view of a Maildrop fixed at Login.
type session struct {
	m      *Maildrop
	msgs   []message
	list   []pop3.MessageInfo
	closed bool
}

var _ pop3.Session = (*session)(nil)

func (s *session) List(ctx context.Context) ([]pop3.MessageInfo, error) {
	return s.list, nil
}

func (s *session) Open(ctx context.Context, n int) (io.ReadCloser, error) {
	if n < 1 || n > len(s.msgs) {
		return nil, &pop3.Error{Message: "no such message"}
	}
	return io.NopCloser(strings.NewReader(s.msgs[n-1].data)), nil
}

func (s *session) Commit(ctx context.Context, deleted []int) error {
	gone := make(map[string]bool, len(deleted))
	for _, n := range deleted {
		if n < 1 || n > len(s.msgs) {
			return &pop3.Error{Message: "no such message " + strconv.Itoa(n)}
		}
		gone[s.msgs[n-1].uid] = true
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	kept := s.m.msgs[:0]
	for _, msg := range s.m.msgs {
		if !gone[msg.uid] {
			kept = append(kept, msg)
		}
	}
	clear(s.m.msgs[len(kept):])
	s.m.msgs = kept
	return nil
}

func (s *session) Close() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.m.locked = false
	}
	return nil
}
