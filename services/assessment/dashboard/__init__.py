"""The district operations centre dashboard (P6.2), served by the assessment service.

``routes.DashboardRoutes`` is a mixin of nameko ``http`` entrypoints; the data comes from
plain modules (``rabbit``, ``health``, ``gather``) through the ``sources`` dependencies.
See docs/DASHBOARD.md.
"""
