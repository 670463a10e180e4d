//go:build !unix

package cli

// onResize does nothing where there is no SIGWINCH: the window size is the
// one sent at the start.
func (t *terminal) onResize(f func(width, height int)) (stop func()) { return func() {} }
