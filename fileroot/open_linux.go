package fileroot

import (
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	openDir = openDirLinux
	openBeneath = openBeneathLinux
	readBeneath = readBeneathLinux
}

// openDirLinux opens path as a directory and checks that it is the one r
// has open, so that a directory renamed or replaced between the two opens
// is never used.
func openDirLinux(r *os.Root, path string) *os.File {
	d, err := os.Open(path)
	if err != nil {
		return nil
	}
	di, err := d.Stat()
	ri, rerr := r.Stat(".")
	if err != nil || rerr != nil || !di.IsDir() || !os.SameFile(di, ri) {
		d.Close()
		return nil
	}
	return d
}

// beneath is how openBeneathLinux resolves a name: every component inside
// the directory (no "..", absolute name or absolute symbolic link out of
// it, as os.Root), and no magic links (/proc/self/fd/N and the like).
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// openBeneathLinux opens name below dir with openat2(2) (Linux 5.6) in one
// system call, where os.Root opens each component of the name in turn. The
// file comes from os.NewFile, which does not try to register a regular
// file with the network poller (os.Open does, and fails). Any error,
// including ENOSYS on an older kernel and EXDEV for a name that would
// leave dir, returns ok false, so that os.Root answers it with its own
// error.
func openBeneathLinux(dirFD int, dirName, name string) (*os.File, bool) {
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_LARGEFILE, Resolve: beneath}
	for {
		fd, err := unix.Openat2(dirFD, name, &how)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil || fd < 0:
			return nil, false
		}
		return os.NewFile(uintptr(fd), joinName(dirName, name)), true
	}
}

// joinName names a file as os.Root names the files it opens.
func joinName(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// readBeneathLinux reads the regular file name below dir whole into buf,
// if it fits, with openat2(2) (resolved as openBeneathLinux resolves it),
// fstat(2), pread(2) and close(2) on the bare descriptor. O_NONBLOCK keeps
// the open of a FIFO from waiting for a writer; it changes nothing for a
// regular file. A file of another kind, or larger than buf, is refused;
// any error returns ok and refused false.
func readBeneathLinux(dirFD int, name string, buf []byte) (n int, modTime time.Time, ok, refused bool) {
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_LARGEFILE | unix.O_NONBLOCK, Resolve: beneath}
	fd, err := unix.Openat2(dirFD, name, &how)
	for err == unix.EINTR {
		fd, err = unix.Openat2(dirFD, name, &how)
	}
	if err != nil || fd < 0 {
		return 0, time.Time{}, false, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0, time.Time{}, false, false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < 0 || st.Size > int64(len(buf)) {
		return 0, time.Time{}, false, true
	}
	size := int(st.Size)
	for n < size {
		m, err := unix.Pread(fd, buf[n:size], int64(n))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil || m <= 0:
			return 0, time.Time{}, false, true // an error, or the file shrank
		}
		n += m
	}
	return n, time.Unix(st.Mtim.Unix()), true, false
}
