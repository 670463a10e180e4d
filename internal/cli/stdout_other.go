//go:build !unix

package cli

import "io"

// watchClosed does nothing here: a closed stdout is noticed at the next
// write.
func watchClosed(io.Writer, func()) (stop func()) { return func() {} }
