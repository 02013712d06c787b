"""tocsin: the daemon (HTTP, ingest, engine, store, scheduler, metrics, CLI)."""
