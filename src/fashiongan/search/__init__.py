"""Hyperparameter sweeps over ``model.dropout`` and ``model.first_layer_width``, one job per module.

The tutorial's author tried dropout {0.1, 0.3, 0.5} x width {64, 128, 256} by hand and judged
images by eye; here a sweep does it against one objective (``search.metric``, minimised).

- ``types``: what an objective gets and returns, a report row, the plan a worker follows.
- ``space``: the searched space, a trial's params, and the study's fingerprinted name.
- ``storage``: the Optuna storage (SQLite or PostgreSQL) and the lock workers claim trials under.
- ``claiming``: sampler and pruner, claiming a trial, heartbeats, the runs of dead workers.
- ``objective``: running an objective safely; ``gan_objective``: the GAN's (train, then score).
- ``runs``: the sweep's MLflow runs (a parent per study, a child per trial).
- ``optuna_backend`` and ``keras_tuner_backend``: the two ways to run a study.
- ``report`` (trials.csv, plots, report.html) and ``finish`` (everything written after the last trial).
- ``stats`` (noise floor, ties with the best, rank agreement, regret), ``confirm`` (the top trials
  retrained with new seeds) and ``fidelity`` (configurations trained at the sweep's and the final budget).

The stage that strings them together is :mod:`fashiongan.stages.sweep`.

Run: ``python pipelines/sweep.py [--workers N]``; ``python pipelines/sweep.py --worker`` adds a
worker to a running sweep (e.g. on another machine sharing a PostgreSQL storage).
"""
