"""Code every gridgov service shares, in three layers (README "Architecture"):

- ``gridgov_common.kernel``: pure Python, no runtime: area codes, roles and scopes, tokens,
  errors, languages, the work calendar, PII encryption and masking;
- ``gridgov_common.contract``: the bus and RPC contract (envelope, versioned payload
  schemas, samples, routing) and the labels people read for its codes;
- ``gridgov_common.platform``: the nameko/eventlet adapter: the service base, settings,
  database, reliable messaging and the outbox, HTTP, RPC, timers, metrics.

Each layer imports only the ones above it, and none imports a service or ``tools/``
(tests/unit/test_layers.py). Build and operations tools (the OpenAPI and AsyncAPI
generators, the bus-users CLI, the demo history plan) live in ``tools/``.
"""

import warnings

# nameko 2.14 runs on eventlet; eventlet's import-time deprecation notice says nothing
# an operator can act on, so it is not repeated in every service's and script's output.
warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
