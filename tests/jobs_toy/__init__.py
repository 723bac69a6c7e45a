"""A job kind that exists only in the tests (`kind.py`); installed as an app in the workers the tests
start (tests/worker_settings.py), registered directly in the test process (tests/worker.py)."""
