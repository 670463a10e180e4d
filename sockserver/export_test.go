package sockserver

import "time"

// SetPacketWait makes s wait for datagrams on a UDP socket served in batches
// (on Linux) in one way: "blocked" in recvmmsg, or "polled". By default a
// server chooses.
func SetPacketWait(s *PacketServer, wait string) {
	switch wait {
	case "blocked":
		s.wait = waitBlocked
	case "polled":
		s.wait = waitPolled
	default:
		panic("SetPacketWait: unknown wait " + wait)
	}
}

// SetBlockedWakeup sets how long a wait blocked in recvmmsg lasts at most,
// before it looks whether its socket was closed by its owner.
func SetBlockedWakeup(s *PacketServer, d time.Duration) { s.wakeup = d }
