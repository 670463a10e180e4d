// Package ftp implements the File Transfer Protocol, client and server:
//
//   - RFC 959: FTP (USER, PASS, ACCT, CWD, CDUP, PWD, LIST, NLST, RETR, STOR,
//     APPE, STOU, DELE, MKD, RMD, RNFR, RNTO, TYPE, MODE, STRU, SYST, STAT,
//     NOOP, ABOR, HELP, SITE, QUIT, ALLO, PORT, PASV);
//   - RFC 2428: EPSV and EPRT, for IPv6 and NAT;
//   - RFC 2389: FEAT and OPTS;
//   - RFC 2640: UTF-8 path names;
//   - RFC 3659: SIZE, MDTM, REST STREAM, MLST and MLSD;
//   - RFC 4217: FTP over TLS (AUTH TLS, PBSZ, PROT), and implicit TLS.
//
// Use [Dial], [DialTLS], [DialStartTLS] or [NewClient] for the client side,
// and a [Server] with a [Backend] for the server side. Package ftptest runs a
// Server in process for tests, over a temporary or in-memory file tree.
//
// The server defends itself as RFC 2577 asks: a data connection goes only to
// the address of the control connection and never to a port below 1024 (no
// FTP bounce), a passive data connection is accepted only from that address,
// and path names never leave the tree the Backend gives (see package
// fileroot).
package ftp

import (
	"context"
	"io/fs"
	"strconv"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/sockserver"
)

// A Backend authenticates users and gives each the file tree they see.
// Its methods are called concurrently from many connections.
type Backend interface {
	// Login checks user and pass and returns the file tree of the session.
	// The names "anonymous" and "ftp" are anonymous logins (RFC 1635): pass
	// is then the e-mail address the client offers, or anything. A tree that
	// implements WriteFS may be written; any other is read-only, and the
	// server refuses uploads and changes with 550. Login returns
	// ErrAuthFailed when the credentials are wrong or the login is not
	// allowed; a returned *Error is sent to the client as it is, and any
	// other error is logged and answered "421".
	Login(ctx context.Context, user, pass string) (fs.FS, error)
}

// BackendFunc is an adapter to allow the use of an ordinary function as a
// Backend.
type BackendFunc func(ctx context.Context, user, pass string) (fs.FS, error)

// Login calls f(ctx, user, pass).
func (f BackendFunc) Login(ctx context.Context, user, pass string) (fs.FS, error) {
	return f(ctx, user, pass)
}

// WriteFS is a file tree that can be written: a [fileroot.FS] is one. Names
// are those of [fs.ValidPath]; Create's upload becomes visible only when its
// Close succeeds, so that no client ever sees part of a file.
type WriteFS interface {
	fs.FS
	Create(name string) (fileroot.Upload, error)
	Mkdir(name string) error
	Remove(name string) error
	Rename(oldname, newname string) error
}

var (
	_ Backend = BackendFunc(nil)
	_ WriteFS = fileroot.FS(nil)
)

// Error is a negative FTP reply: a 4xx (transient) or 5xx (permanent)
// code and its text. A Backend returns one to choose the reply; the client
// returns one for every negative reply.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string {
	return "ftp: " + strconv.Itoa(e.Code) + " " + e.Message
}

// Temporary reports whether the condition is transient: a 4xx reply
// (RFC 959 §4.2).
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

var (
	// ErrAuthFailed is the reply to wrong credentials (RFC 959 §4.2).
	ErrAuthFailed = &Error{Code: 530, Message: "Login incorrect."}
	// ErrServerClosed is returned by Serve, ServeTLS, ListenAndServe and
	// ListenAndServeTLS after Shutdown or Close. It is
	// sockserver.ErrServerClosed: every server of this module returns the
	// same value.
	ErrServerClosed = sockserver.ErrServerClosed
)

// IsAnonymous reports whether user names an anonymous login, "anonymous"
// or "ftp" in any case (RFC 1635).
func IsAnonymous(user string) bool {
	return equalFold(user, "anonymous") || equalFold(user, "ftp")
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// An Entry is one file of a listing, as the client reads it from MLSD
// (RFC 3659 §7) or, from servers without it, parsed from LIST.
type Entry struct {
	Name    string
	Type    EntryType
	Size    int64     // -1 when unknown
	ModTime time.Time // zero when unknown; UTC from MLSD
	// Facts holds every MLSx fact as sent, by lower-case name ("perm",
	// "unique", "unix.mode", ...); nil for an entry parsed from LIST.
	Facts map[string]string
}

// EntryType is the type of an Entry.
type EntryType int

// The types of an Entry. MLSD's "cdir" and "pdir" (the directory itself
// and its parent) are not returned as entries.
const (
	EntryFile EntryType = iota
	EntryDir
	EntryLink
	EntryOther
)

var entryTypeNames = [...]string{EntryFile: "file", EntryDir: "dir", EntryLink: "link", EntryOther: "other"}

// String returns "file", "dir", "link" or "other".
func (t EntryType) String() string {
	if t >= 0 && int(t) < len(entryTypeNames) {
		return entryTypeNames[t]
	}
	return "EntryType(" + strconv.Itoa(int(t)) + ")"
}
