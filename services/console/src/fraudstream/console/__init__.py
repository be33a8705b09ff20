"""The analyst console: review queue, cases and model status in the browser."""
