"""Teachers: sources (hub, checkpoint, in-project training), profile, soft-label cache, similarity."""
