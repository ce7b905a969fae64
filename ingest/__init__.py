"""Document ingestion for retrieval-augmented generation: the domain logic.

Plain Python with no Dagster import. Importing this package first switches off
everything in the dependencies that would phone home or download at run time;
it must run before unstructured, presidio, tldextract or huggingface are imported.
"""

import os

_OFFLINE_ENVIRONMENT = {
    # Hugging Face: models load from installed packages or paths, never the hub.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # No per-model "Loading weights" progress bars in the run log.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    # unstructured's telemetry and its commercial notice.
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    # tldextract (used by Presidio's e-mail recogniser) fetches the public suffix
    # list on first use; an empty URL list makes it use its bundled snapshot.
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    # Tokenizers fork-safety warning noise; parallelism is set where it matters.
    "TOKENIZERS_PARALLELISM": "false",
}

for _name, _value in _OFFLINE_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
