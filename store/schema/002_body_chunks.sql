-- Message bodies are kept in pieces of at most 64 KiB, in offset order, so
-- that a message is read, and sent to a client, a piece at a time: a
-- connection holds one piece in memory, however large the message. The
-- pieces' ids are never reused (AUTOINCREMENT): a reader that listed the
-- pieces of a body can never read a piece of another body, even after the
-- body is deleted and its id given to a new one. The data of the bodies
-- stored before this migration is moved here by the store's code, and the
-- bodies.data column is then dropped (003_drop_body_data.sql).
CREATE TABLE body_chunks (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	body_id INTEGER NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,
	off     INTEGER NOT NULL,                -- offset of the piece in the body
	data    BLOB NOT NULL,
	UNIQUE (body_id, off)
);
