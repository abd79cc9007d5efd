"""Shared building blocks of every gridgov service: config, database, bus, HTTP, auth."""
