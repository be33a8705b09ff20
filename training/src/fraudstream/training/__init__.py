"""Offline pipeline: PaySim data, features, training, evaluation; public API in `.api`."""
