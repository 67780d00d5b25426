"""One call's life, whatever drives it (a webhook, a WebSocket, a test): start, answer, hand-off, status, finish."""
