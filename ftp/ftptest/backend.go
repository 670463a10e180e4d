package ftptest

import (
	"context"
	"crypto/subtle"
	"io/fs"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
)

// NewBackend returns a Backend over the file tree fsys with one account,
// user with password pass, which gets fsys itself (writable if fsys is an
// [ftp.WriteFS], such as a [fileroot.MemFS] or a [fileroot.Root]), and
// anonymous logins ("anonymous" or "ftp", with any password), which get
// fsys read-only ([fileroot.ReadOnly]). Any other login fails with
// [ftp.ErrAuthFailed]. The Backend is safe for concurrent use if fsys is.
func NewBackend(fsys fs.FS, user, pass string) ftp.Backend {
	return &backend{fsys: fsys, user: user, pass: pass}
}

type backend struct {
	fsys       fs.FS
	user, pass string
}

func (be *backend) Login(_ context.Context, user, pass string) (fs.FS, error) {
	if ftp.IsAnonymous(user) {
		return fileroot.ReadOnly(be.fsys), nil
	}
	// Both compared in full, so that timing tells nothing.
	u := subtle.ConstantTimeCompare([]byte(user), []byte(be.user))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(be.pass))
	if u&p != 1 {
		return nil, ftp.ErrAuthFailed
	}
	return be.fsys, nil
}
