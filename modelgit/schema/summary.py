"""The card summary stored with a model: what ``model list`` filters on and ``model show`` prints.

It reads platform keys (``Training framework``, ``Job type``...) and hub keys (``library_name``,
``pipeline_tag``, ``model-index``...) alike into one shape, and tolerates wrong types because
it also runs on cards checked against a site's own schema. Pure: data in, data out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache
from typing import Any

from modelgit.schema.schemafile import default_schema, subschema
from modelgit.schema.wording import norm

__all__ = ["card_index"]


def _strings(value: Any) -> list[str]:
    """A string or list of strings as a list; anything else contributes nothing."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _unique(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for v in values:
        if v.casefold() not in seen:
            seen.add(v.casefold())
            out.append(v)
    return out


def _unique_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, metric), case-insensitively: a card that states a score both in
    its platform fields and in model-index shows it once, the platform figure first."""
    seen: set[tuple[str, str]] = set()
    out = []
    for row in rows:
        key = (str(row["dataset"]).casefold(), str(row["metric"]).casefold())
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = float(value.strip().rstrip("%"))
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


@cache
def _job_table() -> tuple[dict[str, str], tuple[str, ...]]:
    """Algorithm (normalised) -> Type, and the framework names, from the shipped schema."""
    schema = default_schema()
    props = schema.get("properties", {})
    algorithms: dict[str, str] = {}
    for branch in props.get("Job type", {}).get("allOf", []):
        job_type = subschema(branch, ["if", "properties", "Type", "const"])
        enum = subschema(branch, ["then", "properties", "Algorithm", "enum"]) or []
        for algorithm in enum:
            if algorithm != "others":
                algorithms.setdefault(norm(algorithm), f"{job_type}\x00{algorithm}")
    frameworks = tuple(subschema(props, ["Training framework", "items", "enum"]) or [])
    return algorithms, frameworks


def _task_from_hub_id(task_id: Any) -> tuple[str | None, str | None]:
    """'text-classification' -> ('Natural language processing', 'Text Classification')."""
    if not isinstance(task_id, str):
        return None, None
    found = _job_table()[0].get(norm(task_id))
    if found is None:
        return None, None
    job_type, algorithm = found.split("\x00")
    return job_type, algorithm


def card_index(data: dict[str, Any]) -> dict[str, Any]:
    """The card summary stored with the model and used by ``model list`` filters and
    ``model show``. Reads platform and hub keys alike and tolerates wrong types (it also
    runs on cards checked against a site's own schema), so it never raises.

    * frameworks: ``Training framework`` plus ``library_name`` (mapped to the platform's
      spelling when it names one, e.g. ``transformers`` -> ``Transformers``);
    * task_type / task_algorithm: ``Job type``; without it, derived from ``pipeline_tag`` or
      the first ``model-index`` task (``text-classification`` -> Natural language
      processing / Text Classification) so hub-style cards are found by ``--task`` too;
    * tags: ``Other tag`` and ``tags``; license: ``license``, else ``Open-source protocol``;
    * datasets: ``Training data`` names and ``datasets``;
    * performance: rows from ``Performance information`` and from ``model-index`` metrics.
    """
    if not isinstance(data, dict):
        data = {}
    framework_names = _job_table()[1]
    by_norm = {norm(f): f for f in framework_names}

    frameworks = _strings(data.get("Training framework"))
    library = data.get("library_name")
    if isinstance(library, str) and library.strip():
        frameworks.append(by_norm.get(norm(library), library))

    task_type: str | None = None
    task_algorithm: str | None = None
    job = data.get("Job type")
    if isinstance(job, dict):
        task_type = job.get("Type") if isinstance(job.get("Type"), str) else None
        task_algorithm = job.get("Algorithm") if isinstance(job.get("Algorithm"), str) else None
    if task_type is None and task_algorithm is None:
        task_type, task_algorithm = _task_from_hub_id(data.get("pipeline_tag"))
    raw_index = data.get("model-index")
    model_index = raw_index if isinstance(raw_index, list) else []
    results = [
        r
        for entry in model_index
        if isinstance(entry, dict) and isinstance(entry.get("results"), list)
        for r in entry["results"]
        if isinstance(r, dict)
    ]
    if task_type is None and task_algorithm is None:
        for result in results:
            task = result.get("task")
            if isinstance(task, dict):
                task_type, task_algorithm = _task_from_hub_id(task.get("type"))
                if task_type:
                    break

    datasets: list[str] = []
    performance: list[dict[str, Any]] = []
    for key in ("Training data", "Performance information"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else []:
            dataset = entry.get("Dataset") if isinstance(entry, dict) else None
            if not isinstance(dataset, dict):
                continue
            name = dataset.get("Name") if isinstance(dataset.get("Name"), str) else None
            if name and key == "Training data":
                datasets.append(name)
            metrics = dataset.get("Performance metric")
            if key == "Performance information" and name and isinstance(metrics, dict):
                for metric, value in metrics.items():
                    number = _number(value)
                    if number is not None and not isinstance(value, str):
                        performance.append({"dataset": name, "metric": metric, "value": number})
    datasets.extend(_strings(data.get("datasets")))
    for result in results:
        raw_dataset = result.get("dataset")
        dataset = raw_dataset if isinstance(raw_dataset, dict) else {}
        dataset_name = dataset.get("name") or dataset.get("type")
        raw_metrics = result.get("metrics")
        for metric in raw_metrics if isinstance(raw_metrics, list) else []:
            if not isinstance(metric, dict):
                continue
            metric_name = metric.get("name") or metric.get("type")
            number = _number(metric.get("value"))
            if (
                isinstance(dataset_name, str)
                and isinstance(metric_name, str)
                and number is not None
            ):
                performance.append(
                    {"dataset": dataset_name, "metric": metric_name, "value": number}
                )

    parameters = data.get("Number of parameters")
    if isinstance(parameters, bool) or not isinstance(parameters, int) or parameters < 0:
        parameters = None
    license_ = data.get("license") if isinstance(data.get("license"), str) else None
    if not license_ and isinstance(data.get("Open-source protocol"), str):
        license_ = data["Open-source protocol"]
    base_model = data.get("base_model")
    if not isinstance(base_model, str):
        base_model = _strings(base_model) or None

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and value.strip() else None

    return {
        "frameworks": _unique(frameworks),
        "task_type": task_type,
        "task_algorithm": task_algorithm,
        "tags": _unique([*_strings(data.get("Other tag")), *_strings(data.get("tags"))]),
        "license": license_ or None,
        "parameters": parameters,
        "datasets": _unique(datasets),
        "performance": _unique_rows(performance),
        "library_name": text("library_name"),
        "pipeline_tag": text("pipeline_tag"),
        "base_model": base_model,
        "industry": text("Industry"),
    }
