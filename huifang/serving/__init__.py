"""Production serving: gunicorn from our settings, health and readiness, Prometheus metrics, request logs with
personal data masked, security headers. `huifang serve` (huifang.serving.command) puts them together."""
