"""`make bench`: tocsin's ingest throughput, latency, paging latency and memory, beside a real Alertmanager.

Run with ``python -m tests.bench --help``. Not collected by pytest (``norecursedirs``); ``tests/test_bench.py``
runs it once with tiny parameters to check that the harness itself works.
"""
