"""The HTTP API (FastAPI): ingest, events, health. OpenAPI at /api/docs."""
