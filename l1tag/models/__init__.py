"""QKeras taggers: SAL-T, Linformer, Transformer, ParT-style (pair bias) and Deep Sets, with their cost counters."""
