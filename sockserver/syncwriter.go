package sockserver

import (
	"io"
	"sync"
)

// SyncWriter returns a writer that serialises the writes made to w from many
// goroutines, such as the connections of one server copying their traffic
// to a DebugWriter. Each Write reaches w whole.
func SyncWriter(w io.Writer) io.Writer { return &syncWriter{w: w} }

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
