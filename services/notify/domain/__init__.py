"""Pure rules of the notify service (P5.2.7, P5.3.5, P5.4.5, P6.2).

What an incoming message means as a notification (``causes``: who, which template, which
channels, the once-key), who a (role, scope) recipient is and which subscriptions reach it
(``requests``), and the zh-CN/en texts (``templates``).  Nothing here imports nameko, the
database or the broker: ``accepting`` stores what these decide, ``sending`` delivers it.
"""
