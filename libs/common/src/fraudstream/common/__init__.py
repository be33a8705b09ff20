"""Runtime shared by the fraudstream services: settings, logging, gRPC wiring, errors."""
