package sockserver

import "sync/atomic"

// Stats is a snapshot of a [Server]'s counters since it started.
type Stats struct {
	Accepted     int64 // connections accepted, including those rejected
	Rejected     int64 // connections refused by a limit or by Verify
	Active       int64 // connections open now
	BytesRead    int64
	BytesWritten int64
	Timeouts     int64 // connections ended by a read or write deadline
	Errors       int64 // handlers that returned an unexpected error
	Panics       int64 // handler panics recovered
	AcceptErrors int64 // temporary accept errors retried
}

type counters struct {
	accepted, rejected, active atomic.Int64
	bytesRead, bytesWritten    atomic.Int64
	timeouts, errors, panics   atomic.Int64
	acceptErrors               atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Accepted:     c.accepted.Load(),
		Rejected:     c.rejected.Load(),
		Active:       c.active.Load(),
		BytesRead:    c.bytesRead.Load(),
		BytesWritten: c.bytesWritten.Load(),
		Timeouts:     c.timeouts.Load(),
		Errors:       c.errors.Load(),
		Panics:       c.panics.Load(),
		AcceptErrors: c.acceptErrors.Load(),
	}
}

// PacketStats is a snapshot of a [PacketServer]'s counters since it started.
type PacketStats struct {
	Packets      int64 // datagrams received
	Replies      int64 // reply datagrams sent
	BytesRead    int64
	BytesWritten int64
	// Datagrams dropped without a reply, by reason.
	DroppedPort          int64 // from a reflection port or from the server itself
	DroppedRate          int64 // over the per-source or total rate limit
	DroppedAmplification int64 // replies over AmplificationFactor × request
	Errors               int64 // read and write errors
	Panics               int64 // handler panics recovered
}

type packetCounters struct {
	packets, replies, bytesRead, bytesWritten    atomic.Int64
	droppedPort, droppedRate, droppedAmp, errors atomic.Int64
	panics                                       atomic.Int64
}

func (c *packetCounters) snapshot() PacketStats {
	return PacketStats{
		Packets:              c.packets.Load(),
		Replies:              c.replies.Load(),
		BytesRead:            c.bytesRead.Load(),
		BytesWritten:         c.bytesWritten.Load(),
		DroppedPort:          c.droppedPort.Load(),
		DroppedRate:          c.droppedRate.Load(),
		DroppedAmplification: c.droppedAmp.Load(),
		Errors:               c.errors.Load(),
		Panics:               c.panics.Load(),
	}
}
