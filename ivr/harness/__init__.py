"""The simulated call harness: plays Twilio toward the real webhooks (signed requests, TwiML interpreted
as Twilio does) with a scripted caller (a persona). Used by tests, `huifang simulate` and the demo."""
