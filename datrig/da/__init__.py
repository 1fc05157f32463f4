"""Domain-adaptation / decorrelation penalties, one module each, selected by name."""
