// Replaced by the runtime implementation.
