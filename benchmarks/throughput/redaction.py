"""Throughput of the redaction step on its own: characters a second through the pipeline's `Redactor`
(two worker processes forked from the fork server that holds the NER model, as the `parse_and_redact`
step runs it) on document prose (the benchmark corpus's text) and on PII-dense text (the labelled
sentences of the PII evaluation: names, addresses, phone numbers and card numbers in every line)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

TARGET_CHARACTERS_PER_SECOND = 50_000
DEFAULT_DENSE_SAMPLES = 3000
DENSE_SEED = 42  # the evaluation's default set: a seed tuned on, which is fine for timing
WARM_UP_CHARACTERS = 100_000  # enough for two workers: the fork server starts and loads the models
CPU_SAMPLE_CHARACTERS = 200_000


def dense_texts(samples: int = DEFAULT_DENSE_SAMPLES, seed: int = DENSE_SEED) -> list[str]:
    """The PII evaluation's texts (presidio-evaluator's templates, their case variants, the hand cases)."""
    from benchmarks.pii_eval import build_dataset

    return [item.text for item in build_dataset(samples, seed)]


def measure_redaction(prose: Sequence[str], dense: Sequence[str], log: Callable[[str], None]) -> dict:
    """Characters a second through `Redactor.detect` on each set, after a warm-up that starts the
    workers' fork server (model loading is not counted: a run pays it once, beside the parsers).

    Beside each wall-clock figure, characters per CPU second of the detector in this process (on at
    most CPU_SAMPLE_CHARACTERS of the set): what one worker does with a core to itself, so that a
    figure taken while other work shares the machine can be read."""
    from ingest.pii.redact import PiiDetector, Redactor

    redactor = Redactor()
    warm_up = _leading(prose, WARM_UP_CHARACTERS)
    started = time.perf_counter()
    redactor.detect(warm_up)
    result: dict = {"workers": redactor.workers, "warm_up_seconds": round(time.perf_counter() - started, 3)}
    for name, texts in (("prose", prose), ("dense", dense)):
        characters = sum(len(text) for text in texts)
        log(f"redaction: {name}, {len(texts):,} texts, {characters:,} characters")
        started = time.perf_counter()
        findings = redactor.detect(list(texts))
        seconds = time.perf_counter() - started
        result[name] = {"texts": len(texts), "characters": characters, "seconds": round(seconds, 3),
                        "findings": sum(len(found) for found in findings),
                        "characters_per_second": round(characters / seconds) if seconds else None}
    detector = PiiDetector(redactor.policy)
    detector.detect(warm_up[:1])
    for name, texts in (("prose", prose), ("dense", dense)):
        sample = _leading(texts, CPU_SAMPLE_CHARACTERS)
        characters = sum(len(text) for text in sample)
        started = time.process_time()
        detector.detect(sample)
        cpu = time.process_time() - started
        result[name]["characters_per_cpu_second"] = round(characters / cpu) if cpu else None
    return result


def _leading(texts: Sequence[str], characters: int) -> list[str]:
    """The first texts, up to about `characters` characters."""
    picked, size = [], 0
    for text in texts:
        if size >= characters:
            break
        picked.append(text)
        size += len(text)
    return picked
