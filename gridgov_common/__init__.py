"""Shared building blocks of every gridgov service: config, database, bus, HTTP, auth."""

import warnings

# nameko 2.14 runs on eventlet; eventlet's import-time deprecation notice says nothing
# an operator can act on, so it is not repeated in every service's and script's output.
warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
