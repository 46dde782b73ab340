"""``depot demo``: the main job on a fresh machine, with a bundled real dataset and no network."""
