-- Users: one per mail address. password_hash is NULL for a user made by the
-- "any login" mode of a loopback-only server (any password is accepted then).
CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	address       TEXT NOT NULL UNIQUE,      -- lower case
	password_hash TEXT,
	created       INTEGER NOT NULL           -- unix seconds
);

-- Mailboxes of a user. uid_next and uid_validity follow RFC 9051 §2.3.1.1.
CREATE TABLE mailboxes (
	id           INTEGER PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name         TEXT NOT NULL,              -- full name, "/"-separated, INBOX upper case
	uid_validity INTEGER NOT NULL,
	uid_next     INTEGER NOT NULL DEFAULT 1,
	special_use  TEXT NOT NULL DEFAULT '',   -- "\Sent", "\Trash", ... or ''
	subscribed   INTEGER NOT NULL DEFAULT 1,
	UNIQUE (user_id, name)
);

-- Message bodies, shared by the copies of one delivery (several recipients,
-- IMAP COPY). A body is deleted with the last message that refers to it.
CREATE TABLE bodies (
	id   INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);

CREATE TABLE messages (
	id            INTEGER PRIMARY KEY,
	mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           INTEGER NOT NULL,
	body_id       INTEGER NOT NULL REFERENCES bodies(id),
	size          INTEGER NOT NULL,
	internal_date INTEGER NOT NULL,          -- unix nanoseconds
	UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_body ON messages(body_id);

CREATE TABLE flags (
	message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	flag       TEXT NOT NULL,                -- as the client spelt it; system flags canonical
	PRIMARY KEY (message_id, flag)
) WITHOUT ROWID;

CREATE TRIGGER bodies_gc AFTER DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM messages WHERE body_id = OLD.body_id)
BEGIN
	DELETE FROM bodies WHERE id = OLD.body_id;
END;
