"""Data: readers for each data set's official layout, seeded degradations, the MATLAB resize.

Importing this package registers every source layout (the modules below register on import).
"""

from bench.data import hf_source, inpaint_sources, paired_sources, sid, sources  # noqa: F401  (registration)
