"""The qmcheck model: policies, traffic selectors, transforms and the Quick Mode exchange."""

__version__ = "0.1.0"
