"""Policy intake: read the insurer's file, validate rows, decide callbacks and deadlines, check phones."""
