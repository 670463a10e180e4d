//go:build !linux

package sockserver

import "net"

// serveBatches serves pc in batches where the system allows it; here it does
// not, and Serve reads one datagram at a time.
func (s *PacketServer) serveBatches(net.PacketConn, int, uint16) (bool, error) {
	return false, nil
}
