"""Model code shared by training and serving: features, bundle, ensemble, linear, detectors."""
