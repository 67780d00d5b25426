"""Result notifications: the outbox's events POSTed, signed, to the core system (README "Result notifications")."""
