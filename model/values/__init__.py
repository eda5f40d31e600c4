"""Model values: addresses, ports, protocols, transforms, packets, selectors, policies."""
