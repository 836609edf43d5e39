"""Editor features over standard LSP: inline completion (fill-in-the-middle) on the
documents the editor syncs, and its acceptance stats."""
