"""Reading datrig's HDF5 files: schema, validation, splits and column-wise loading."""
