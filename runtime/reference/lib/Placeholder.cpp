// Replaced by the reference implementation.
