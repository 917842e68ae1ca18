"""Pydantic models of the HTTP API and of every bus event."""
