"""IE tasks: prompts, answer parsing and grounding. Tasks see models only through the Backend protocol."""
