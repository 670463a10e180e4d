package fileroot

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the n octets of f at off
// to the disk, without waiting: an upload's data goes out while the rest
// arrives, and the fsync of Close finds little left to write.
func startWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
