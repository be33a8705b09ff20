"""Learner service: online updates from labels, guarded promotion, snapshots to scorers."""
