"""Text messages (SMS): a sender protocol (Twilio Messaging, or a simulated outbox) and a queue whose sends happen outside any transaction."""
