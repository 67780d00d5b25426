"""A callback task's lifecycle and holds: one transition table every front door goes through."""
