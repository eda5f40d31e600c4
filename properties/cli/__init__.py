"""The qmcheck command line: one module per command, shared options."""
