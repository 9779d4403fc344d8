"""The bottom layer: infrastructure every app may use (database helpers, Redis, crypto, hosts, DRF glue, domain
events, enqueue-by-name, live publishing). Imports Django, DRF, Channels, Celery and Redis, never our packages."""
