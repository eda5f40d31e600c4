"""Deploy checks: diff.changed between two versions, req.<name> of a requirements file."""
