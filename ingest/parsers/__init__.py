"""Parsers by media type."""
