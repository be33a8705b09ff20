"""Scorer service: scores transaction batches with the model ensemble over gRPC."""
