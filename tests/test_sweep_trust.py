"""A sweep verdict you can trust: the noise floor, ties with the best, rank agreement, regret, confirmation.

The statistics are checked on synthetic scores with known answers; the sweep's confirmation step
with a small real objective whose sweep-seed score of one cell is lucky; the fidelity machinery
end to end on 2 tiny GAN configurations.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from fashiongan.params_file import parse_params
from fashiongan.search.stats import noise_floor, rank_agreement, regret, versus_best
from fashiongan.search.types import TrialContext, TrialOutcome
from fashiongan.stages.sweep import sweep_stage


def test_noise_floor_splits_the_training_part_from_the_sampling_part() -> None:
    # Generator means 11, 21, 31 (std 10); each generator's two samplings differ by 2 (std sqrt 2).
    floor = noise_floor([[10.0, 12.0], [20.0, 22.0], [30.0, 32.0]])
    assert floor.mean == pytest.approx(21.0)
    assert floor.training_std == pytest.approx(10.0)
    assert floor.sampling_std == pytest.approx(math.sqrt(2))
    assert floor.total_std == pytest.approx(np.std([10, 12, 20, 22, 30, 32], ddof=1))
    assert (floor.n_training, floor.n_sampling) == (3, 2)


def test_noise_floor_with_one_seed_is_unknown_not_zero() -> None:
    floor = noise_floor([[5.0, 7.0]])
    assert math.isnan(floor.training_std) and floor.sampling_std == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError, match="training seeds, sampling seeds"):
        noise_floor([1.0, 2.0])


def test_a_clear_winner_beats_the_rest_and_a_tie_is_marked_indistinguishable() -> None:
    clear = versus_best({"a": [20.0, 20.2, 19.8, 20.1], "b": [10.0, 10.1, 9.9, 10.05]})
    assert [c.key for c in clear] == ["b", "a"] and clear[0].verdict == "best"
    assert clear[1].verdict == "worse" and clear[1].p_value < 0.001

    tie = versus_best({"a": [10.0, 11.0, 9.0, 10.5], "b": [10.2, 10.9, 9.3, 10.4], "c": [30.0]})
    assert [c.key for c in tie] == ["a", "b", "c"]
    assert tie[1].verdict == "indistinguishable" and tie[1].p_value > 0.5
    assert tie[2].verdict == "unknown" and tie[2].p_value is None  # one score: no test


def test_rank_agreement_and_regret_on_known_rankings() -> None:
    swapped = rank_agreement([1.0, 2.0, 3.0, 4.0], [10.0, 30.0, 20.0, 40.0])
    assert swapped["spearman"].value == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert swapped["kendall"].value == pytest.approx(4 / 6)  # 5 concordant, 1 discordant pair
    half = 1.959964 * math.sqrt(1.06 / (4 - 3))  # Fisher z with Fieller's variance
    assert (swapped["spearman"].low, swapped["spearman"].high) == pytest.approx((math.tanh(math.atanh(0.8) - half), math.tanh(math.atanh(0.8) + half)))
    assert math.isnan(swapped["kendall"].low)  # 4 configurations are too few for Kendall's interval
    assert rank_agreement([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])["spearman"].value == pytest.approx(-1.0)
    r = regret([1.0, 2.0, 3.0], [30.0, 10.0, 20.0])  # the sweep picks cell 0, the final budget prefers cell 1
    assert (r["pick"], r["best"]) == (0, 1)
    assert r["absolute"] == pytest.approx(20.0) and r["percent"] == pytest.approx(200.0)


def lucky_objective(ctx: TrialContext) -> TrialOutcome:
    """Dropout 0.3 is 1.0 worse than 0.1, but its sweep-seed run (train.seed 42) is 2.0 lucky."""
    p = ctx.params
    seed = p.train.seed
    value = 10.0 + (1.0 if p.model.dropout > 0.2 else 0.0) + 0.01 * (seed % 3) + 0.005 * (p.evaluate.seed % 2)
    if p.model.dropout > 0.2 and seed == 42:
        value -= 2.0
    return TrialOutcome(value, p.train.epochs, 0.0)


def test_confirmation_picks_the_lowest_mean_and_records_how_sure_it_was(tmp_path: Path) -> None:
    params = parse_params(
        {
            "search": {"backend": "grid", "grid_dropout": [0.1, 0.3], "grid_width": [128], "epochs": 1,
                       "confirm_top_k": 2, "confirm_seeds": 3},
            "tracking": {"enabled": False},
        }
    )  # fmt: skip
    out = tmp_path / "sweeps"
    summary = sweep_stage(params, objective=lucky_objective, out_dir=out)
    best = json.loads((out / "best.json").read_text())
    assert best["params"]["model.dropout"] == pytest.approx(0.1)  # the lucky single score is not the pick
    trials = best["confirmation"]["trials"]
    assert [len(t["values"]) for t in trials] == [4, 4]
    assert trials[0]["verdict"] == "best" and trials[0]["mean"] == pytest.approx(10.0 + 0.01 * (42 % 3 + 43 % 3 + 44 % 3 + 45 % 3) / 4, abs=0.01)
    # One lucky run in four: the runner-up's mean is 0.5 worse but its spread is 1.0, so no test can tell them apart.
    assert trials[1]["verdict"] == "indistinguishable"
    assert best["confidence"]["n_seeds"] == 4 and 0.05 < best["confidence"]["p_value"] < 1.0
    assert "Welch" in best["confidence"]["test"] and summary["trial"] == best["trial"]

    runs = sorted(p.name for p in out.rglob("confirm-*"))
    assert runs == ["confirm-1", "confirm-1", "confirm-2", "confirm-2", "confirm-3", "confirm-3"]
    assert sweep_stage(params, objective=lucky_objective, out_dir=out)["confirmation"] == summary["confirmation"]


def test_confirmation_is_off_by_default(tmp_path: Path) -> None:
    params = parse_params({"search": {"backend": "grid", "grid_dropout": [0.1, 0.3], "grid_width": [128], "epochs": 1},
                          "tracking": {"enabled": False}})  # fmt: skip
    summary = sweep_stage(params, objective=lucky_objective, out_dir=tmp_path / "sweeps")
    assert "confirmation" not in summary and summary["params"]["model.dropout"] == pytest.approx(0.3)


def test_fidelity_ranks_both_budgets_and_measures_the_sweeps_regret() -> None:
    from fashiongan.search.fidelity import fidelity

    cells = [{"dropout": 0.1, "first_layer_width": 64}, {"dropout": 0.3, "first_layer_width": 64}, {"dropout": 0.5, "first_layer_width": 64}]
    sweep = np.array([[[10.0, 11.0]], [[20.0, 21.0]], [[30.0, 31.0]]])  # [cell, training seed, sampling seed]
    final = np.array([[[7.0, 9.0]], [[4.0, 4.0]], [[9.0, 9.0]]])  # the sweep's best (cell 0) is 2nd at the final budget
    result = fidelity(cells, sweep, final)
    assert result["sweep_rank"] == [1, 2, 3] and result["final_rank"] == [2, 1, 3]
    assert result["correlation"]["spearman"]["value"] == pytest.approx(0.5)
    assert result["regret"] == {"pick": 0, "best": 1, "absolute": pytest.approx(4.0), "percent": pytest.approx(100.0)}
    assert result["noise"]["final"][0]["sampling_std"] == pytest.approx(math.sqrt(2))


@pytest.mark.slow
def test_two_tiny_configurations_train_at_both_budgets_and_print_a_table(capsys) -> None:
    """End to end: 2 cells x 1 epoch on 96 images, width 16 and 32, FID on 64 samples with 2 latent seeds."""
    import sys

    from fashiongan.metrics.evaluator import FashionEvaluator
    from fashiongan.search.fidelity import Budget, fidelity, score_table
    from metrics_support import sample_data, sample_real_stats, trained_classifier

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from sweep_fidelity import print_fidelity

    params = parse_params({"model": {"preset": "tutorial", "latent_dim": 16}, "train": {"batch_size": 32, "jit_compile": False},
                           "evaluate": {"kid_subsets": 2, "kid_subset_size": 32}, "search": {"n_samples": 64}})  # fmt: skip
    evaluator = FashionEvaluator(trained_classifier(), sample_real_stats(), params.evaluate)
    x = sample_data()[0][:192]
    cells = [{"dropout": 0.1, "first_layer_width": 16}, {"dropout": 0.3, "first_layer_width": 32}]
    budgets = {"sweep": Budget("sweep", 1, 96), "final": Budget("final", 1, None)}
    tables = {name: score_table(params, x, evaluator, cells, b, [1], [5, 6]) for name, b in budgets.items()}
    assert tables["sweep"].shape == (2, 1, 2) and np.isfinite(tables["sweep"]).all() and np.isfinite(tables["final"]).all()
    assert tables["sweep"][0, 0, 0] != tables["sweep"][0, 0, 1]  # two latent seeds, two samplings
    result = fidelity(cells, tables["sweep"], tables["final"])
    print_fidelity(result, budgets)
    printed = capsys.readouterr().out
    assert "| d=0.1 w=16 |" in printed and "| d=0.3 w=32 |" in printed and "regret:" in printed
    assert printed.count("\n|") >= 3  # header, rule, two cells
