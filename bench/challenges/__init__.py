"""Challenge tracks: score formulas, track definitions (``tasks/tracks/*.yaml``) and reruns."""
