"""Ingest bridge: consumes transactions from Kafka, scores them, routes scores and alerts."""
