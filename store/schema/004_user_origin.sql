-- How a user without a password was made: 'login' by a login in any-login
-- mode, 'rcpt' by mail delivered to it, 'account' by AddUser. NULL for the
-- users made before this column. A user with a password is an account,
-- whatever made it.
ALTER TABLE users ADD COLUMN origin TEXT;
