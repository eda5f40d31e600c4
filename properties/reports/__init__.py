"""Reports: check report text, SARIF, traffic summary, progress display."""
