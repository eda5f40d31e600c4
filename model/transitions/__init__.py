"""Generic finite transition systems: variables, guarded actions with read/write sets, symmetry."""
