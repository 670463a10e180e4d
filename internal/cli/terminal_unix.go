//go:build unix

package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// onResize calls f with the new window size at each SIGWINCH, until stop
// is called.
func (t *terminal) onResize(f func(width, height int)) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				if w, h := t.size(); w > 0 && h > 0 {
					f(w, h)
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
