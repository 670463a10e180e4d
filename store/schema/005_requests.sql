-- Requests from another process (inetkit mail rm, inetkit user remove) to
-- the server that holds the data directory's lock: the server carries them
-- out, so that its IMAP sessions hear of the change, and writes the outcome
-- back for the requester to read and delete.
CREATE TABLE requests (
	id      INTEGER PRIMARY KEY,
	op      TEXT NOT NULL,               -- "delete", "remove-user"
	args    TEXT NOT NULL,               -- JSON
	created INTEGER NOT NULL,            -- unix seconds
	done    INTEGER NOT NULL DEFAULT 0,
	result  TEXT                         -- JSON outcome, once done
);
