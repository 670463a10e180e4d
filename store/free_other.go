//go:build !(linux || darwin || freebsd || openbsd || netbsd)

package store

func freeBytes(dir string) (int64, bool) { return 0, false }
