"""The platform adapter: how a gridgov service runs on nameko, eventlet, RabbitMQ and
PostgreSQL (the service base, typed settings, database, reliable consumption, the outbox,
HTTP, RPC, timers, metrics and logs).

It may use the kernel and the contract; services use it through their own
``dependencies.py``/``service.py``. It imports no service and nothing under ``tools/``.
"""
