"""Prometheus metrics shared by every service; all names start with ``gridgov_``.

Labels are bounded sets (service, route pattern, method, status): never a person,
a case number or a raw path.
"""

from prometheus_client import Counter, Histogram

PREFIX = "gridgov_"

HTTP_REQUESTS = Counter(
    f"{PREFIX}http_requests", "HTTP requests handled",
    ["service", "route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    f"{PREFIX}http_request_seconds", "HTTP request handling time",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
