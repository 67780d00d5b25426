"""IVR: the Flask app factory and the Twilio voice webhooks that run a flow over a call (issue 5)."""
