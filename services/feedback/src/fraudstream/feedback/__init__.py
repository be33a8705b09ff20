"""Feedback service: stores alerts, serves analyst review, keeps the durable label log."""
