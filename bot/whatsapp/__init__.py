"""WhatsApp through Meta's Cloud API: the sender and the webhook (pywa stays in here)."""
