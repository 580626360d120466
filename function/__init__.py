"""function-platform: a Crossplane composition function for the platform catalogue."""
