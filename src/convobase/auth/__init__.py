"""Sign-up, login, sessions, the current principal, passwords."""
