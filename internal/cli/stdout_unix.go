//go:build unix

package cli

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// watchClosed calls closed, once, if w is the write end of a pipe whose
// reader goes away (the head of "inetkit imap idle URL | head -n1"), so
// that a command waiting for something to print stops now rather than at
// its next write. The returned stop ends the watch. For any other writer it
// does nothing.
func watchClosed(w io.Writer, closed func()) (stop func()) {
	f, ok := w.(*os.File)
	if !ok {
		return func() {}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return func() {}
	}
	var fd int32 = -1
	if sc, err := f.SyscallConn(); err == nil {
		sc.Control(func(u uintptr) { fd = int32(u) })
	}
	r, wake, err := os.Pipe()
	if err != nil || fd < 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// With no events asked for, poll reports only POLLERR and POLLHUP:
		// on the write end of a pipe, that its reader has gone.
		fds := []unix.PollFd{{Fd: fd}, {Fd: int32(r.Fd()), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil || fds[1].Revents != 0: // stop was called
				return
			case fds[0].Revents != 0:
				closed()
				return
			}
		}
	}()
	return func() {
		wake.Close()
		<-done
		r.Close()
	}
}
