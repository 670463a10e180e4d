package prototest

import (
	"bytes"
	"sync"
)

// A Buffer is a bytes.Buffer safe for concurrent use: a server's log or
// debug output written from its connections' goroutines while a test reads
// it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
