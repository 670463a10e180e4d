package imapd

// A Server serves IMAP connections, delegating storage to Backend.
type Server struct {
	// Backend authenticates users and holds their mailboxes. It is
	// required.
	Backend Backend
}
