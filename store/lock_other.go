//go:build !unix

package store

func lockDir(dir string) (func(), error) { return func() {}, nil }
