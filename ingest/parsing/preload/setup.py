"""The fork server's process, set up before anything is loaded into it.

- Numerical libraries get one thread unless told otherwise: threads do not survive
  a fork, and the worker parses one document at a time anyway.
- PyTorch is hidden from this process and so from the workers. spaCy's thinc imports
  it whenever it is installed, which costs each worker about 2 s and 0.7 GB of
  address space (counted against its memory cap), and no parser here uses it:
  there is no neural layout model, the NER model runs on thinc's NumPy ops, and
  the embedding model runs elsewhere.
- transformers is hidden too: nothing here uses it, and presidio would import it for nothing.
- polars is not imported: its thread pool would not survive the fork.

Never imported by the pipeline's own process, which needs both.
"""

import os
import sys

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
sys.modules.setdefault("torch", None)  # `import torch` now raises ImportError: thinc runs without it
# Loading a spaCy model imports every package that registers spaCy factories, presidio_analyzer among
# them, and presidio_analyzer imports transformers (about 2 s) for an engine unused here.
sys.modules.setdefault("transformers", None)
