"""Design-space search: a space over config keys (space.py), its trials on Ray Tune (run.py)."""
