"""The one schema for ``params.yaml``: a pydantic section per stage, its defaults, ranges and rules.

Reading a file into it, with one-line errors, is :mod:`fashiongan.params_file`'s job.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


# Keys that were replaced: an old params.yaml fails naming the key that took over.
REPLACED_KEYS = {
    "train.mixed_precision": "train.precision (mixed_precision: true is precision: mixed_float16)",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataParams(_Section):
    """Where the images come from and which of them are used."""

    source: str = Field(
        "auto",
        description="auto | official | sample | path to a local mirror folder laid out like the official files",
    )
    splits: list[Literal["train", "test"]] = Field(
        default_factory=lambda: ["train"],
        description="official splits to train on; test images are held out for evaluation unless listed",
        min_length=1,
    )
    classes: list[int] | None = Field(None, description="keep only these class ids (0-9); null keeps all")
    max_images: int | None = Field(None, ge=1, description="cap on training images after shuffling; null uses all")
    seed: int = Field(42, ge=0, description="seed of the deterministic shuffle")
    timeout_s: float = Field(30.0, gt=0, description="network timeout per download attempt, seconds")
    retries: int = Field(3, ge=1, le=10, description="download attempts per URL, with exponential backoff")

    @field_validator("classes")
    @classmethod
    def _classes_in_range(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            bad = [c for c in value if not 0 <= c <= 9]
            if bad or not value:
                raise ValueError(f"class ids must be a non-empty list within 0..9, got {value}")
        return value

    @field_validator("splits")
    @classmethod
    def _unique_splits(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"splits must not repeat, got {value}")
        return value

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source must be auto, official, sample or a mirror folder path")
        return value


class ModelParams(_Section):
    """Architecture: a reference preset plus the two searched knobs and the ablation switches.

    ``null`` means "what the preset's reference write-up used".
    """

    preset: Literal["compact", "tutorial", "modern"] = Field(
        "modern",
        description="compact / tutorial reproduce the reference write-ups; modern adds EMA, TTUR and DiffAugment, "
        "with spectral norm, hinge loss, cutout and resize-convolutions as switches (README: Models and training)",
    )
    first_layer_width: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="channels of the generator's first (Dense) layer and filters of the discriminator's "
        "first Conv2D; null = preset reference (compact 128/64, tutorial 256/64, modern 128/64)",
    )
    dropout: float | None = Field(
        None, ge=0.0, lt=1.0, description="discriminator dropout after each conv block; null = preset (compact 0, tutorial 0.3, modern 0)"
    )
    batchnorm: bool = Field(True, description="BatchNorm in the generator (and the compact discriminator)")
    d_output: Literal["linear", "sigmoid", "sigmoid_as_logits"] = Field(
        "linear",
        description="discriminator output: linear logits; sigmoid = probabilities with BCE on probabilities; "
        "sigmoid_as_logits = sigmoid output fed to a from-logits loss (reproduces the ln 2 stall)",
    )
    generator_depth: Literal[2, 4] = Field(2, description="number of upsampling blocks in the generator")
    leaky_slope: float | None = Field(None, ge=0.0, lt=1.0, description="LeakyReLU negative slope; null = preset (0.2 / 0.3)")
    latent_dim: int | None = Field(
        None, ge=1, le=1024, description="noise size; null = preset (compact 128, tutorial 100, modern 128)"
    )
    spectral_norm: bool | None = Field(
        None, description="spectral normalisation on every discriminator layer; null = preset (off; a modern switch)"
    )
    upsampling: Literal["transposed", "nearest", "bilinear"] | None = Field(
        None,
        description="generator upsampling: strided Conv2DTranspose (null = this, every preset), or resize + Conv2D "
        "(modern only; trains at 0.57x the images/s on a 2-core CPU)",
    )


class TrainParams(_Section):
    """Optimisation, checkpoints and the failure detectors."""

    hparams: Literal["sweep", "params"] = Field(
        "sweep",
        description="sweep: model.dropout and model.first_layer_width come from sweeps/best.json; params: from this file",
    )
    epochs: int = Field(5, ge=1, description="training epochs")
    batch_size: int = Field(256, ge=1, description="images per step (drop_remainder)")
    steps_per_epoch: int | None = Field(
        None,
        ge=1,
        description="generator steps per epoch (scores, grids and checkpoints come per epoch); "
        "null = one pass over the training images. Set, it makes the budget independent of the data size",
    )
    seed: int = Field(42, ge=0, description="keras.utils.set_random_seed")
    backend: Literal["tensorflow", "jax", "torch"] = Field(
        "tensorflow",
        description="Keras backend of every stage (wins over KERAS_BACKEND): tensorflow is the fastest on CPU; "
        "jax or torch where TensorFlow is absent (GPU machines)",
    )
    deterministic: bool = Field(False, description="enable TF op determinism (slower; TensorFlow only)")
    loss: Literal["nonsaturating", "hinge"] | None = Field(
        None, description="GAN loss; null = preset (nonsaturating; hinge is a modern switch); hinge needs d_output linear"
    )
    ema_decay: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="decay of the generator's weight average used for samples, scores and the saved model "
        "(0 = off); null = preset (modern 0.999, others 0)",
    )
    diffaugment: Literal["off", "translation", "cutout", "translation,cutout"] | None = Field(
        None,
        description="DiffAugment before the discriminator: off, translation, cutout or translation,cutout "
        "(true = translation,cutout); null = preset (modern translation)",
    )

    @field_validator("diffaugment", mode="before")
    @classmethod
    def _policy_from_bool(cls, value: Any) -> Any:
        """``true``/``false`` (the switch's earlier form) mean the paper's policy and off."""
        if isinstance(value, bool):
            return "translation,cutout" if value else "off"
        return value
    g_learning_rate: float | None = Field(
        None, gt=0, lt=1, description="generator Adam learning rate; null = preset (2e-4)"
    )
    d_learning_rate: float | None = Field(
        None, gt=0, lt=1, description="discriminator Adam learning rate; null = preset (modern 4e-4 = TTUR, others 2e-4)"
    )
    beta_1: float | None = Field(None, ge=0, lt=1, description="Adam beta_1 for both optimizers; null = preset (0.5)")
    beta_2: float | None = Field(None, ge=0, lt=1, description="Adam beta_2 for both optimizers; null = preset (0.999)")
    jit_compile: bool | Literal["auto"] = Field(
        "auto",
        description="TensorFlow: compile the train step with XLA; auto = on a GPU, and on a CPU only where "
        "TensorFlow's oneDNN kernels are off (XLA 1.55x a plain graph for modern on a 2-core Xeon without them; "
        "0.5x with them on an AVX-512 AMD EPYC; benchmarks/train_throughput.py); torch: torch.compile (auto = off); "
        "JAX always compiles it with XLA",
    )
    precision: Literal["float32", "bfloat16", "mixed_float16"] = Field(
        "float32",
        description="float32; bfloat16: Keras mixed_bfloat16 where the hardware computes it (a GPU, or a CPU with "
        "AVX512_BF16 or AMX), else float32 with a warning; mixed_float16: float16 with loss scaling, GPU only "
        "(float32 with a warning on CPU). Output layers stay float32",
    )
    log_system_metrics: bool = Field(
        False, description="MLflow system metrics (CPU, memory, disk, network; GPU with nvidia-ml-py) beside each run's curves"
    )
    checkpoint_every: int = Field(1, ge=1, description="save a resumable checkpoint every N epochs")
    eval_every: int = Field(1, ge=0, description="compute fid_fashion every N epochs (0 = never during training)")
    eval_samples: int = Field(1000, ge=2, description="generated images for the in-training fid_fashion")
    grid_size: int = Field(4, ge=1, le=16, description="fixed-noise sample grid is grid_size x grid_size")
    stall_patience: int = Field(
        5, ge=1, description="epochs g_loss sits at ln 2 (or the discriminator is saturated) before training stops as stalled"
    )
    stall_tolerance: float = Field(0.005, gt=0, description="distance of g_loss from ln 2 that counts as stalled")
    stall_saturation: float = Field(
        0.01, gt=0, lt=0.5, description="d_fake at or below this and d_real at or above 1 minus this: a saturated discriminator, stalled"
    )
    divergence_bound: float = Field(100.0, gt=0, description="|loss| above this (or NaN/inf) stops training as diverged")
    fid_rise_patience: int = Field(
        3, ge=0, description="consecutive scored epochs of rising fid_fashion that stop training as diverged (0 = off)"
    )
    fid_rise_margin: float = Field(0.05, ge=0, description="relative FID rise that counts (smaller rises are sampling noise)")
    collapse_min_classes: int = Field(3, ge=0, le=10, description="stop when fewer classes are covered (0 = detector off)")
    collapse_patience: int = Field(2, ge=1, description="consecutive scored epochs below collapse_min_classes before stopping")
    collapse_warmup_images: int = Field(
        20000, ge=0, description="epochs ending within this many training images seen are not checked for collapse"
    )


class ClassifierParams(_Section):
    """The Fashion-MNIST classifier whose features define fid_fashion."""

    epochs: int = Field(8, ge=1, description="classifier training epochs")
    batch_size: int = Field(128, ge=1, description="classifier batch size")
    learning_rate: float = Field(1e-3, gt=0, lt=1, description="Adam learning rate")
    seed: int = Field(0, ge=0, description="classifier seed")


class EvaluateParams(_Section):
    """Evaluation protocol; every FID is logged beside its sample count and real set."""

    n_samples: int = Field(2000, ge=2, description="generated images per evaluation")
    real_split: Literal["train", "test"] = Field("test", description="real images compared against")
    batch_size: int = Field(500, ge=1, description="generation and feature-extraction batch")
    inception: bool = Field(False, description="also compute the standard Inception FID (slow on CPU)")
    inception_samples: int = Field(500, ge=2, description="generated and real images for fid_inception")
    kid_subsets: int = Field(10, ge=1, description="KID subsets")
    kid_subset_size: int = Field(500, ge=2, description="images per KID subset")
    coverage_threshold: float = Field(0.02, gt=0, lt=1, description="share of samples a class needs to count as covered")
    pr_k: int = Field(3, ge=1, description="k for precision/recall (Kynkaanniemi et al. 2019)")
    seed: int = Field(1234, ge=0, description="latent seed for evaluation samples")
    classifier: ClassifierParams = Field(default_factory=ClassifierParams)


class SearchParams(_Section):
    """Hyperparameter search over model.dropout and model.first_layer_width."""

    backend: Literal["optuna", "keras_tuner", "grid"] = Field("optuna", description="search backend")
    n_trials: int = Field(4, ge=1, description="total trials of the study (not per invocation)")
    epochs: int = Field(2, ge=1, description="epochs per trial")
    max_images: int | None = Field(6000, ge=1, description="training images per trial (null = all)")
    metric: Literal["fid_fashion", "kid_fashion"] = Field("fid_fashion", description="objective, minimised")
    n_samples: int = Field(1000, ge=2, description="generated images for each trial's FID")
    report_every: int = Field(1, ge=1, description="report the intermediate FID every N epochs for pruning")
    dropout_low: float = Field(0.0, ge=0, lt=1, description="dropout search range, low end")
    dropout_high: float = Field(0.6, ge=0, lt=1, description="dropout search range, high end")
    width_low: int = Field(32, ge=1, description="first-layer width range (log scale), low end")
    width_high: int = Field(512, ge=1, description="first-layer width range (log scale), high end")
    grid_dropout: list[float] = Field(default_factory=lambda: [0.1, 0.3, 0.5], description="grid backend dropouts")
    grid_width: list[int] = Field(default_factory=lambda: [64, 128, 256], description="grid backend widths")
    pruner: Literal["median", "hyperband", "none"] = Field("median", description="Optuna pruner")
    seed: int = Field(7, ge=0, description="sampler seed")
    storage: str | None = Field(None, description="Optuna storage URL; null = sqlite:///sweeps/optuna.db")
    study_name: str = Field(
        "fashiongan",
        min_length=1,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="study name (resume key)",  # pattern: it names a folder under sweeps/
    )
    workers: int = Field(1, ge=1, le=64, description="worker processes on this machine")
    heartbeat_s: int = Field(60, ge=1, description="Optuna heartbeat; a trial silent for 2x this is retried")
    trial_timeout_s: int | None = Field(
        None, ge=1, description="a trial running longer ends FAILED with the reason and its heartbeat stops; null = no limit"
    )
    confirm_top_k: int = Field(0, ge=0, description="after the search, retrain the k best trials with new seeds (0 = off)")
    confirm_seeds: int = Field(2, ge=1, description="new training and sampling seeds per confirmed trial")

    @model_validator(mode="after")
    def _ranges(self) -> "SearchParams":
        if self.dropout_low > self.dropout_high:
            raise ValueError(f"dropout_low {self.dropout_low} must be <= dropout_high {self.dropout_high}")
        if self.width_low > self.width_high:
            raise ValueError(f"width_low {self.width_low} must be <= width_high {self.width_high}")
        if any(not 0 <= d < 1 for d in self.grid_dropout):
            raise ValueError(f"grid_dropout values must be in [0, 1), got {self.grid_dropout}")
        if any(w < 1 for w in self.grid_width):
            raise ValueError(f"grid_width values must be >= 1, got {self.grid_width}")
        return self


class TrackingParams(_Section):
    """MLflow tracking store and experiment."""

    uri: str | None = Field(None, description="tracking URI; null = $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db")
    experiment: str = Field("fashiongan", min_length=1, description="experiment for train/evaluate runs")
    sweep_experiment: str = Field("fashiongan-sweeps", min_length=1, description="experiment for sweeps")
    enabled: bool = Field(True, description="log to MLflow at all")
    log_model: bool = Field(True, description="log the generator as an MLflow model")
    timeout_s: float = Field(5.0, gt=0, description="how long to wait for a remote tracking server before failing")
    busy_retries: int = Field(
        3, ge=0, le=100, description="retries of a write to a local SQLite store that stayed locked by another writer (20 s each)"
    )


class RegistryParams(_Section):
    """Model registry promotion gate."""

    model_name: str = Field("fashion-dcgan", min_length=1, description="registered model name")
    alias: str = Field("champion", min_length=1, description="alias of the best version")
    previous_alias: str = Field("previous", min_length=1, description="alias kept on the replaced champion")
    metric: Literal["fid_fashion", "kid_fashion", "fid_inception"] = Field("fid_fashion", description="metric compared, lower wins")


class Params(_Section):
    """All of params.yaml."""

    data: DataParams = Field(default_factory=DataParams)
    model: ModelParams = Field(default_factory=ModelParams)
    train: TrainParams = Field(default_factory=TrainParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    search: SearchParams = Field(default_factory=SearchParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)
    registry: RegistryParams = Field(default_factory=RegistryParams)

    @model_validator(mode="after")
    def _compatible(self) -> "Params":
        if self.train.loss == "hinge" and self.model.d_output != "linear":
            raise ValueError(f"train.loss=hinge needs model.d_output=linear (logits), got {self.model.d_output!r}")
        if self.model.upsampling not in (None, "transposed") and self.model.preset != "modern":
            raise ValueError(
                f"model.upsampling={self.model.upsampling!r} exists only for model.preset=modern; "
                "compact and tutorial keep their write-ups' transposed convolutions"
            )
        return self

    def flat(self) -> dict[str, Any]:
        """Dotted keys (``model.dropout``) for MLflow and reports."""
        return flatten(self.model_dump(mode="json"))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
