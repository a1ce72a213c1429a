"""The promotion gate: register a candidate generator and move the ``champion`` alias only when it wins.

Versions are compared only under the same evaluation protocol (metric, n_samples, real_stats
hash): an FID from 1,000 samples is not comparable with one from 10,000. Lower metric values win
(fid_fashion, kid_fashion, fid_inception). Aliases, never stages. Promoting a run that is already
registered changes nothing, so ``dvc repro promote`` can be rerun safely. Promotions of one model
take turns under a file lock beside the store, so two racing candidates never crown the worse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from fashiongan import tracking
from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.locks import file_lock

if TYPE_CHECKING:
    import keras

PROTOCOL_KEYS = ("n_samples", "real_stats_hash")


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of :func:`promote`; ``reason`` is one line for logs and metrics/promote.json."""

    promoted: bool
    reason: str
    model_name: str
    version: str | None
    run_id: str | None
    metric: str
    value: float | None
    champion_version: str | None = None
    champion_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The decision as plain data, for metrics/promote.json."""
        return asdict(self)


class Registration(Enum):
    """Where a run stands in the registry when the gate looks at it."""

    NEW = "not registered yet: register a version, then decide"
    UNDECIDED = "registered without a recorded decision (a promotion killed midway): decide it now"
    DECIDED = "registered and decided: report it and change nothing, unless forced"


def _protocol(metric: str, protocol: Mapping[str, Any]) -> dict[str, str]:
    """The comparison key, as strings (model version tags hold strings)."""
    missing = [k for k in PROTOCOL_KEYS if k not in protocol]
    if missing:
        raise FashionGanError(
            f"evaluation protocol lacks {', '.join(missing)} (got {sorted(protocol)}): rerun `dvc repro evaluate`"
        )
    return {"metric": metric, **{k: str(protocol[k]) for k in PROTOCOL_KEYS}}


def _version_tags(metric: str, value: float, metrics: Mapping[str, Any], protocol: Mapping[str, Any]) -> dict[str, str]:
    tags = {f"metric.{k}": str(v) for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    tags.update({f"protocol.{k}": str(v) for k, v in protocol.items() if not isinstance(v, dict | list)})
    tags.update({f"protocol.{k}": v for k, v in _protocol(metric, protocol).items()})
    tags[f"metric.{metric}"] = str(value)
    return tags


def _champion(name: str, alias: str) -> Any | None:
    """The version holding ``alias``, or None when the model or the alias does not exist yet."""
    try:
        return tracking.client().get_model_version_by_alias(name, alias)
    except tracking.MlflowException as exc:
        # a missing model is RESOURCE_DOES_NOT_EXIST; a missing alias is INVALID_PARAMETER_VALUE "... not found"
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in exc.message:
            return None
        raise


def _registration(name: str, run_id: str) -> tuple[Registration, str | None]:
    """The run's standing and its (first) registered version, if any.

    The decision tags are written last, after the aliases moved, so a version without them was
    registered by a promotion that did not finish.
    """
    versions = tracking.client().search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if not versions:
        return Registration.NEW, None
    version = str(min(int(v.version) for v in versions))
    decided = "promotion" in tracking.client().get_model_version(name, version).tags
    return (Registration.DECIDED if decided else Registration.UNDECIDED), version


def promote(
    params: Params, run_id: str, metrics: Mapping[str, Any], protocol: Mapping[str, Any], *, force: bool = False
) -> PromotionDecision:
    """Register the run's generator and make it champion if it beats the champion under the same protocol.

    The replaced champion keeps the ``previous`` alias. ``force`` skips the comparison (and the
    protocol check). A run already registered is reported, not registered again.
    """
    reg = params.registry
    metric = reg.metric
    if metric not in metrics:
        raise FashionGanError(
            f"registry.metric {metric} is not among the evaluation metrics ({', '.join(sorted(metrics))}): "
            "set evaluate options that compute it or change registry.metric"
        )
    value = float(metrics[metric])
    if not params.tracking.enabled:
        return PromotionDecision(False, "tracking disabled: nothing registered", reg.model_name, None, run_id or None, metric, value)
    tracking.activate(params)
    _protocol(metric, protocol)  # fail early on an incomplete protocol
    # Read champion -> compare -> move alias must not interleave with another promotion's, or the
    # worse of two racing candidates could end champion: one promotion at a time per model.
    with file_lock(tracking.registry_lock_path(reg.model_name)):
        return _promote_locked(params, run_id, metric, value, metrics, protocol, force=force)


def _promote_locked(
    params: Params, run_id: str, metric: str, value: float, metrics: Mapping[str, Any], protocol: Mapping[str, Any],
    *, force: bool,
) -> PromotionDecision:
    """:func:`promote` under the registry lock."""
    reg = params.registry
    client = tracking.client()
    champion = _champion(reg.model_name, reg.alias)
    champion_value = _tag_float(champion, f"metric.{metric}") if champion else None
    champion_version = str(champion.version) if champion else None

    state, existing = _registration(reg.model_name, run_id)
    if state is Registration.UNDECIDED and existing == champion_version:
        # Killed after the alias moved, before the decision was recorded: the promotion is complete.
        _record(params, run_id, existing, True, f"interrupted promotion completed: version {existing} holds alias {reg.alias}")
        state = Registration.DECIDED
    if state is Registration.DECIDED and (not force or existing == champion_version):
        # --force re-decides a decided version only when it does not hold the alias already.
        held = "holds" if existing == champion_version else "does not hold"
        return PromotionDecision(
            existing == champion_version,
            f"run {run_id} is already version {existing}, which {held} alias {reg.alias}; nothing changed",
            reg.model_name, existing, run_id, metric, value, champion_version, champion_value,
        )  # fmt: skip

    promoted, reason = _decide(reg.alias, metric, value, protocol, champion, champion_value, force=force)
    if state is Registration.NEW:
        version = _register(params, run_id, _version_tags(metric, value, metrics, protocol))
    else:  # registered earlier (forced again, or an interrupted promotion): tags describe this evaluation
        version = existing
        for key, tag in _version_tags(metric, value, metrics, protocol).items():
            client.set_model_version_tag(reg.model_name, version, key, tag)
    _describe(params, run_id, version, metric, value, protocol)
    if promoted:  # each alias move is atomic: champion always names a complete version, old or new
        if champion_version is not None and champion_version != version:
            client.set_registered_model_alias(reg.model_name, reg.previous_alias, champion_version)
        client.set_registered_model_alias(reg.model_name, reg.alias, version)
    _record(params, run_id, version, promoted, reason)
    return PromotionDecision(promoted, reason, reg.model_name, version, run_id, metric, value, champion_version, champion_value)


# What a version's page in the registry should answer without opening its run.
DESCRIBED_PARAMS = ("model.", "data.source", "data.max_images", "data.splits", "train.epochs", "train.steps_per_epoch", "train.hparams")


def _describe(params: Params, run_id: str, version: str, metric: str, value: float, protocol: Mapping[str, Any]) -> None:
    """Give the version a description (metric, protocol, params, data) and ``param.*`` / ``data.*`` tags from its run."""
    client, name = tracking.client(), params.registry.model_name
    run = client.get_run(run_id)
    shown = {k: v for k, v in sorted(run.data.params.items()) if k.startswith(DESCRIBED_PARAMS)}
    data = {k: v for k, v in sorted(run.data.tags.items()) if k.startswith("dataset.")}
    datasets = [f"{d.dataset.name} (digest {d.dataset.digest})" for d in run.inputs.dataset_inputs]
    scalar = {k: v for k, v in protocol.items() if not isinstance(v, dict | list)}
    lines = [
        f"{metric} = {value:.4g} (lower is better), scored under protocol "
        + ", ".join(f"{k}={v}" for k, v in sorted(scalar.items())) + ".",
        f"Trained by run {run_id}; data: {', '.join(datasets) or 'not recorded'}"
        + "".join(f"; {k}={v}" for k, v in data.items()) + ".",
        "Params: " + (", ".join(f"{k}={v}" for k, v in shown.items()) or "not recorded") + ".",
    ]
    client.update_model_version(name, version, description="\n\n".join(lines))
    for key, tag in {**{f"param.{k}": v for k, v in shown.items()}, **data}.items():
        client.set_model_version_tag(name, version, key, str(tag))


def _record(params: Params, run_id: str, version: str, promoted: bool, reason: str) -> None:
    """The decision on the version and its run; written last, it marks the promotion complete."""
    client, name = tracking.client(), params.registry.model_name
    client.set_model_version_tag(name, version, "promotion_reason", reason)
    client.set_model_version_tag(name, version, "promotion", "champion" if promoted else "rejected")
    client.set_tag(run_id, "registry.version", f"{name}/{version}")
    client.set_tag(run_id, "registry.promotion", "champion" if promoted else "rejected")


class ProtocolMismatch(FashionGanError):
    """The candidate and the champion were scored differently, so their FIDs cannot be ranked."""


def _decide(
    alias: str,
    metric: str,
    value: float,
    protocol: Mapping[str, Any],
    champion: Any | None,
    champion_value: float | None,
    *,
    force: bool,
) -> tuple[bool, str]:
    """Promote or not, and why; refuses (raises) when the comparison would be meaningless."""
    if force:
        return True, "forced"
    if not math.isfinite(value):
        raise FashionGanError(f"{metric}={value} cannot be ranked (training diverged?): retrain or pass --force")
    if champion is None:
        return True, f"first version with alias {alias}"
    wanted = _protocol(metric, protocol)
    held = {k: champion.tags.get(f"protocol.{k}") for k in wanted}
    if held != wanted:
        differs = ", ".join(f"{k} {held[k]} vs {v}" for k, v in wanted.items() if held[k] != v)
        raise ProtocolMismatch(
            f"{alias} version {champion.version} was evaluated under another protocol ({differs}): "
            "re-evaluate with the same evaluate params or pass --force"
        )
    if champion_value is None:
        raise FashionGanError(f"{alias} version {champion.version} has no metric.{metric} tag: pass --force to replace it")
    if value < champion_value:
        return True, f"{metric} {value:.4g} < {champion_value:.4g} of version {champion.version}"
    return False, f"{metric} {value:.4g} does not beat {champion_value:.4g} of version {champion.version}"


def _register(params: Params, run_id: str, tags: Mapping[str, str]) -> str:
    """Create a model version from the run's logged generator."""
    model_uri = tracking.generator_uri(run_id)
    if model_uri is None:
        raise FashionGanError(
            f"run {run_id} logged no generator model: set tracking.log_model true and rerun `dvc repro train`"
        )
    return tracking.register_model(model_uri, params.registry.model_name, tags=tags)


def _tag_float(version: Any, key: str) -> float | None:
    try:
        return float(version.tags[key])
    except (KeyError, TypeError, ValueError):
        return None


def champion_uri(params: Params) -> str:
    return f"models:/{params.registry.model_name}@{params.registry.alias}"


def load_champion(params: Params) -> keras.Model:
    """The generator holding the champion alias, as a Keras model."""
    reg = params.registry
    if not params.tracking.enabled:
        raise FashionGanError("tracking.enabled is false, so there is no registry: use models/generator.keras instead")
    tracking.activate(params)
    if _champion(reg.model_name, reg.alias) is None:
        raise FashionGanError(
            f"no version of {reg.model_name} has alias {reg.alias}: run `dvc repro promote` first"
        )
    return tracking.load_generator(champion_uri(params))
