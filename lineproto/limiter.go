package lineproto

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// A Counter applies the error-flood and failed-login limits of [Limits] to
// one connection. Its zero value allows everything; make one with
// NewCounter. A Counter is not safe for concurrent use.
type Counter struct {
	limits       Limits
	errors       int
	authFailures int
}

// NewCounter returns a Counter for limits, which must be resolved.
func NewCounter(limits Limits) Counter { return Counter{limits: limits} }

// A Verdict says what to do with an error reply: wait Delay before sending
// it, then, if Close is not ReasonNone, say the goodbye for Close and close
// the connection.
type Verdict struct {
	Delay time.Duration
	Close Reason
}

// Errors returns the number of error replies counted so far.
func (c *Counter) Errors() int { return c.errors }

// AuthFailures returns the number of failed logins counted so far.
func (c *Counter) AuthFailures() int { return c.authFailures }

// Error counts an error reply. Past SoftErrorLimit the reply waits
// ErrorDelay; at HardErrorLimit the connection closes after it.
func (c *Counter) Error() Verdict {
	c.errors++
	var v Verdict
	if soft := c.limits.SoftErrorLimit; soft > 0 && c.errors > soft {
		v.Delay = c.limits.ErrorDelay
	}
	if hard := c.limits.HardErrorLimit; hard > 0 && c.errors >= hard {
		v.Close = ReasonTooManyErrors
	}
	return v
}

// AuthFailure counts a failed login, which is also an error reply. The reply
// waits the longer of AuthFailureDelay and the error delay, never their sum;
// at MaxAuthFailures (or HardErrorLimit) the connection closes after it.
func (c *Counter) AuthFailure() Verdict {
	v := c.Error()
	v.Delay = max(v.Delay, c.limits.AuthFailureDelay)
	c.authFailures++
	if m := c.limits.MaxAuthFailures; m > 0 && c.authFailures >= m {
		v.Close = ReasonTooManyAuthFailures
	}
	return v
}

// Sleep waits for d, or until ctx is done, and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Defaults of an AuthLimiter's zero fields.
const (
	// DefaultAuthFreeFailures is the number of failed logins from one
	// address, or for one account, before the penalty starts.
	DefaultAuthFreeFailures = 3
	// DefaultAuthPenaltyWindow is how long failures are remembered after the
	// last one.
	DefaultAuthPenaltyWindow = 15 * time.Minute
	// DefaultAuthMaxEntries caps the addresses and accounts an AuthLimiter
	// remembers.
	DefaultAuthMaxEntries = 1 << 16
)

// An AuthLimiter counts failed logins per client address and per account,
// across connections and servers, so that reconnecting does not buy an
// attacker new tries: past FreeFailures failures, every login attempt from
// that address, or for that account, waits before its credentials are
// checked, Base for the first and twice as long for each further failure,
// up to Max (Dovecot's auth_penalty). The wait comes before the check, for
// right and wrong passwords alike, so that its length tells nothing about
// the password. IPv6 addresses are counted by /64 prefix.
//
// Its zero value is not ready: set Base and Max. An AuthLimiter is safe for
// concurrent use; one may serve several servers, so that failures over SMTP
// count for IMAP too.
type AuthLimiter struct {
	// Base is the wait of the first attempt past FreeFailures.
	Base time.Duration
	// Max caps the wait.
	Max time.Duration
	// FreeFailures is the number of failures before the penalty starts;
	// zero means DefaultAuthFreeFailures.
	FreeFailures int
	// Window is how long failures are remembered; zero means
	// DefaultAuthPenaltyWindow.
	Window time.Duration
	// MaxEntries caps the addresses and accounts remembered; zero means
	// DefaultAuthMaxEntries.
	MaxEntries int
	// Observe, if not nil, is called with the outcome of every login
	// reported to Failed or Succeeded, outside the limiter's lock: a feed
	// of the logins of every server that shares the limiter.
	Observe func(remote net.Addr, user string, ok bool)

	mu      sync.Mutex
	entries map[string]*penalty
}

type penalty struct {
	failures int
	last     time.Time
}

// NewAuthLimiter returns an AuthLimiter whose waits start at base and double
// up to 16 times base.
func NewAuthLimiter(base time.Duration) *AuthLimiter {
	return &AuthLimiter{Base: base, Max: 16 * base}
}

func addrKey(remote net.Addr) string {
	ap, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return "addr " + remote.String()
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "addr " + p.String()
	}
	return "addr " + a.String()
}

func userKey(user string) string { return "user " + strings.ToLower(user) }

func (a *AuthLimiter) keys(remote net.Addr, user string) []string {
	k := make([]string, 0, 2)
	if remote != nil {
		k = append(k, addrKey(remote))
	}
	if user != "" {
		k = append(k, userKey(user))
	}
	return k
}

// Delay returns how long an attempt from remote to log in as user must wait
// before its credentials are checked. remote may be nil, user empty.
func (a *AuthLimiter) Delay(remote net.Addr, user string) time.Duration {
	if a == nil {
		return 0
	}
	free := a.FreeFailures
	if free <= 0 {
		free = DefaultAuthFreeFailures
	}
	window := a.window()
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var d time.Duration
	for _, k := range a.keys(remote, user) {
		p := a.entries[k]
		if p == nil || now.Sub(p.last) > window || p.failures < free {
			continue
		}
		w := a.Base
		for i := free; i < p.failures && w < a.Max; i++ {
			w *= 2
		}
		d = max(d, min(w, a.Max))
	}
	return d
}

// Wait sleeps for Delay(remote, user), or until ctx is done, and returns
// ctx.Err().
func (a *AuthLimiter) Wait(ctx context.Context, remote net.Addr, user string) error {
	return Sleep(ctx, a.Delay(remote, user))
}

func (a *AuthLimiter) window() time.Duration {
	if a.Window > 0 {
		return a.Window
	}
	return DefaultAuthPenaltyWindow
}

// Failed records a failed login from remote as user.
func (a *AuthLimiter) Failed(remote net.Addr, user string) {
	if a == nil {
		return
	}
	if a.Observe != nil {
		defer a.Observe(remote, user, false)
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == nil {
		a.entries = make(map[string]*penalty)
	}
	for _, k := range a.keys(remote, user) {
		p := a.entries[k]
		if p == nil {
			a.makeRoom(now)
			p = &penalty{}
			a.entries[k] = p
		} else if now.Sub(p.last) > a.window() {
			p.failures = 0
		}
		p.failures++
		p.last = now
	}
}

// Succeeded records a successful login from remote as user: both are
// forgiven.
func (a *AuthLimiter) Succeeded(remote net.Addr, user string) {
	if a == nil {
		return
	}
	if a.Observe != nil {
		defer a.Observe(remote, user, true)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.keys(remote, user) {
		delete(a.entries, k)
	}
}

// makeRoom keeps the number of entries under MaxEntries: it drops the
// expired ones, and if that is not enough, the oldest half. The caller holds
// a.mu.
func (a *AuthLimiter) makeRoom(now time.Time) {
	limit := a.MaxEntries
	if limit <= 0 {
		limit = DefaultAuthMaxEntries
	}
	if len(a.entries) < limit {
		return
	}
	var newest, oldest time.Time
	for k, p := range a.entries {
		if now.Sub(p.last) > a.window() {
			delete(a.entries, k)
			continue
		}
		if oldest.IsZero() || p.last.Before(oldest) {
			oldest = p.last
		}
		if p.last.After(newest) {
			newest = p.last
		}
	}
	if len(a.entries) < limit {
		return
	}
	mid := oldest.Add(newest.Sub(oldest) / 2)
	for k, p := range a.entries {
		if !p.last.After(mid) {
			delete(a.entries, k)
		}
	}
}

// Len returns the number of addresses and accounts a remembers.
func (a *AuthLimiter) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}
