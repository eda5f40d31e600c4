"""Engine encodings: z3/SMT-LIB policies, negotiation, Quick Mode steps; index."""
