"""Device calibration: measure a real GPU (or import a microbenchmark) into a device profile
whose measured efficiencies replace the datasheet-derived estimates for that chip."""
