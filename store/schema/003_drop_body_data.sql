-- A body's data is in body_chunks (002_body_chunks.sql); a row of bodies
-- only names a body, shared by the messages that refer to it.
ALTER TABLE bodies DROP COLUMN data;
