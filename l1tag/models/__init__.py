"""QKeras taggers: SAL-T, Linformer, Transformer and Deep Sets, with their cost counters."""
