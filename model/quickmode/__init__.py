"""Quick Mode as a transition system: expressions, state, profiles, actions."""
