"""The core system's side of huifang: the outbox of integration events (events), the results feed (feed)."""
