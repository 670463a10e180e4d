package imapd

// compressAvailable is whether COMPRESS=DEFLATE (RFC 4978) is offered.
const compressAvailable = false
