"""Pure domain rules of the registry: codes, identity, personal data, geometry, staff.

Nothing here imports nameko or touches the database, so every rule can be unit-tested
in isolation and reused by scripts, benchmarks and the demo data generator.
"""
