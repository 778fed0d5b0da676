"""Local stand-ins for the chat networks Gaung talks to, written from their public documentation.

Neither Telegram nor WhatsApp can be reached from the machines that build and test Gaung; the
emulators behave like them (limits, errors, webhooks) so tests, benchmarks and ``gaung demo``
exercise the same code that production runs against the real services.
"""
