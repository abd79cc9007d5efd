"""The pure kernel: rules and values every service shares, with no runtime.

Nothing here imports nameko, eventlet, an AMQP client, a web server or a database
driver, nor the contract or the platform: it is plain Python (and SQLAlchemy expressions
for scope filters), tested in tests/unit in seconds.
"""
