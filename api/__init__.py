"""The core system's REST API under /api/v1 (issue 20): policies in through the intake, callback status and the
results feed out, API keys with scopes and a rate limit, every call audited."""
