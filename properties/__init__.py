"""qmcheck properties: the property catalogue, the engines' checks, reports and the command line."""
