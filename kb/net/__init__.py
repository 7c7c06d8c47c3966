"""Outbound-HTTP safety shared by the crawler and webhook delivery: address checks, pinned
connections, TLS."""
