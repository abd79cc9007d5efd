"""Pure domain rules of the dispatch service (P2.2, P5.3, P6.2).

The case state machine, the working-time calendar, triage rules, the escalation ladder and
the hash-chained electronic case file.  Nothing here imports nameko, the database or the
broker, so every rule is unit-tested alone and the service layer only moves data in and out.
"""
