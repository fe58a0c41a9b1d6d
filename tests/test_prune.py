"""Neuron pruning (models/prune.py) and its sweep and report (models/prune_sweep.py) on tiny synthetic
networks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from models import mlp, prune, prune_sweep, sentiment
from models.imdb import Split
from models.vocab import Vocabulary


def data(n: int = 300, features: int = 6, seed: int = 0) -> mlp.ArrayData:
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((n, features)).astype(np.float32)
    return mlp.ArrayData(inputs, (inputs[:, 0] > inputs[:, 1]).astype(np.int64))


def model_with_constant_neurons() -> mlp.MLP:
    """6-5-4-3 relu net: hidden 0 neuron 2 is always 0.7 (no input weights, bias 0.7), hidden 1
    neuron 1 is always 0 (no input weights, bias -1)."""
    model = mlp.MLP.create([6, 5, 4, 3], seed=0)
    weights, biases = model.arrays()
    weights[0][:, 2], biases[0][2] = 0.0, 0.7
    weights[1][:, 1], biases[1][1] = 0.0, -1.0
    biases[1] += 0.3  # so that the 0.7 neuron's contribution matters to layer 1
    return model.rebuild(weights, biases)


def test_streaming_stats_equal_numpy_over_concatenated_data() -> None:
    rng = np.random.default_rng(0)
    batches = [1000 + rng.standard_normal((n, 4)) * [1, 0.001, 0, 5] for n in (7, 1, 0, 64, 3)]
    stats = prune.RunningStats(4)
    for batch in batches:
        stats.update(batch)
    everything = np.concatenate(batches)
    assert stats.count == len(everything)
    np.testing.assert_allclose(stats.mean, everything.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.std, everything.std(axis=0), rtol=1e-9, atol=1e-12)
    assert stats.std[2] == 0


def test_collect_statistics_streams_the_hidden_layers() -> None:
    model, inputs = model_with_constant_neurons(), data()
    stats = prune.collect_statistics(model, inputs, batch_size=64, progress=False)
    _, hidden = model.forward(inputs.inputs)
    assert [s.count for s in stats] == [300, 300]
    for layer_stats, h in zip(stats, hidden):
        h = h.astype(np.float64)  # numpy's float32 std of a constant column is not 0
        np.testing.assert_allclose(layer_stats.mean, h.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer_stats.std, h.std(axis=0), rtol=1e-4, atol=1e-6)
    assert stats[0].std[2] == 0 and stats[0].mean[2] == pytest.approx(0.7)
    assert stats[1].std[1] == 0 and stats[1].mean[1] == 0


def test_folding_removes_constant_neurons_exactly() -> None:
    model, inputs = model_with_constant_neurons(), data()
    stats = prune.collect_statistics(model, inputs, progress=False)
    pruned = prune.prune(model, stats, "fold", mean_max=0.0, std_max=0.0)
    assert pruned.sizes == [6, 4, 3, 3]
    np.testing.assert_allclose(pruned.forward(inputs.inputs)[0], model.forward(inputs.inputs)[0], rtol=1e-5,
                               atol=1e-6)
    # The same neurons dropped without folding lose the 0.7 neuron's contribution.
    weights, biases = model.arrays()
    dropped = model.rebuild(*prune.remove_neurons(weights, biases, {0: np.arange(5) != 2, 1: np.arange(4) != 1}))
    assert np.abs(dropped.forward(inputs.inputs)[0] - model.forward(inputs.inputs)[0]).max() > 1e-3


def test_post_rule_removes_only_low_mean_neurons() -> None:
    model, inputs = model_with_constant_neurons(), data()
    stats = prune.collect_statistics(model, inputs, progress=False)
    keep, constants = prune.select(stats[0], "post", mean_max=0.1, std_max=0.0)
    assert keep.all() and constants is None  # the 0.7 neuron is constant but its mean is too large
    pruned = prune.prune(model, stats, "post", mean_max=0.1, std_max=0.0)
    assert pruned.sizes == [6, 5, 3, 3]  # the always-0 neuron goes, exactly
    np.testing.assert_allclose(pruned.forward(inputs.inputs)[0], model.forward(inputs.inputs)[0], rtol=1e-6)


def test_post_plus_fold_keeps_the_mean_of_what_post_removes() -> None:
    model, inputs = model_with_constant_neurons(), data()
    stats = prune.collect_statistics(model, inputs, progress=False)
    outputs = model.forward(inputs.inputs)[0]
    folded = prune.prune(model, stats, "post+fold", mean_max=1.0, std_max=0.0)
    dropped = prune.prune(model, stats, "post", mean_max=1.0, std_max=0.0)
    assert folded.sizes == dropped.sizes == [6, 4, 3, 3]
    np.testing.assert_allclose(folded.forward(inputs.inputs)[0], outputs, rtol=1e-5, atol=1e-6)
    assert np.abs(dropped.forward(inputs.inputs)[0] - outputs).max() > 1e-3


def test_parameter_counts_shrink_as_expected() -> None:
    model = mlp.MLP.create([6, 5, 4, 3], seed=1)
    weights, biases = model.arrays()
    keep = {0: np.array([1, 0, 1, 1, 1], bool), 1: np.array([0, 1, 0, 1], bool)}
    new_weights, new_biases = prune.remove_neurons(weights, biases, keep)
    assert [w.shape for w in new_weights] == [(6, 4), (4, 2), (2, 3)]
    expected = (6 * 4 + 4) + (4 * 2 + 2) + (2 * 3 + 3)
    assert prune.n_params(new_weights, new_biases) == expected == model.rebuild(new_weights, new_biases).n_params
    np.testing.assert_array_equal(new_weights[1], weights[1][[0, 2, 3, 4]][:, [1, 3]])
    np.testing.assert_array_equal(weights[0], model.arrays()[0][0])  # inputs left alone


def test_thresholds_that_remove_nothing_leave_the_model_identical() -> None:
    model, inputs = mlp.MLP.create([6, 5, 4, 3], seed=2), data()
    stats = prune.collect_statistics(model, inputs, progress=False)
    for rule in prune.RULES:
        pruned = prune.prune(model, stats, rule, mean_max=-1.0, std_max=min(s.std.min() for s in stats) / 2)
        for original, kept in zip(sum(model.arrays(), []), sum(pruned.arrays(), [])):
            np.testing.assert_array_equal(original, kept)
        np.testing.assert_array_equal(pruned.forward(inputs.inputs)[0], model.forward(inputs.inputs)[0])


def test_pruning_a_layer_to_zero_neurons_is_a_clear_error() -> None:
    model = mlp.MLP.create([6, 5, 4, 3], seed=3)
    with pytest.raises(prune.PruneError, match=r"hidden layer 1 \(columns of W1, rows of W2\): the thresholds "
                                               "remove all 4 neurons"):
        prune.remove_neurons(*model.arrays(), {0: np.ones(5, bool), 1: np.zeros(4, bool)})
    with pytest.raises(prune.PruneError, match="no hidden layer 2"):
        prune.remove_neurons(*model.arrays(), {2: np.ones(3, bool)})


def test_folding_needs_a_bias_in_the_next_layer() -> None:
    weights, biases = [np.ones((3, 2)), np.ones((2, 1))], [None, None]
    with pytest.raises(prune.PruneError, match="the next layer has no bias|it has no bias"):
        prune.remove_neurons(weights, biases, {0: np.array([True, False])}, {0: np.array([0.0, 2.0])})
    # A zero constant needs no bias.
    new_weights, _ = prune.remove_neurons(weights, biases, {0: np.array([True, False])}, {0: np.zeros(2)})
    assert new_weights[1].shape == (1, 1)


def test_sweep_rows_and_report(tmp_path) -> None:  # noqa: ANN001
    model, inputs = model_with_constant_neurons(), data()
    stats = prune.collect_statistics(model, inputs, progress=False)
    baseline, rows = prune_sweep.sweep(model, stats, inputs, [0.0, 0.1], [0.0, 1e9], rules=("post", "fold"),
                                       progress=False)
    assert baseline == model.evaluate(inputs)
    assert [(r.rule, r.mean_max, r.std_max) for r in rows] == [
        ("post", 0.0, 0.0), ("post", 0.0, 1e9), ("post", 0.1, 0.0), ("post", 0.1, 1e9), ("fold", None, 0.0),
        ("fold", None, 1e9)]
    fold_exact = rows[4]
    assert fold_exact.kept == [4, 3] and fold_exact.change == 0 and fold_exact.accuracy == baseline
    assert fold_exact.params == model.n_params - (6 + 1 + 4) - (4 + 1 + 3)  # layer 1 column has 4 rows left
    assert rows[5].accuracy is None and "would be empty" in rows[5].note  # std <= 1e9 removes everything
    _, selected = prune_sweep.sweep(model, stats, inputs, [0.1], [0.0], rules=("post",), progress=False,
                                    selection=data(seed=1))
    assert selected[0].valid_change == 0 and prune_sweep.best_rows(selected, 0.0, on="valid")["post"] is selected[0]
    report = tmp_path / "report.md"
    report.write_text("# Intro kept\n\n<!-- prune:other begin -->\nother\n<!-- prune:other end -->\n")
    prune_sweep.write_section(report, "mlp", prune_sweep.markdown_table(baseline, model.n_params, rows, [5, 4]))
    prune_sweep.write_section(report, "mlp", "second version")
    text = report.read_text()
    assert text.startswith("# Intro kept") and "other\n" in text and text.count("prune:mlp begin") == 1
    assert "second version" in text and "| fold |" not in text


def test_sentiment_target_folds_into_a_new_output_bias() -> None:
    vocab = Vocabulary(["a", "b", "c", "d"], np.array([4, 3, 2, 1]))
    net = sentiment.SentimentNet(vocab, sentiment.Config(hidden=3, init="normal"))
    w0 = net.W0.get_value()
    w0[:, 1] = 0.5  # every review below has exactly two words: hidden neuron 1 is always 1.0
    net.W0.set_value(w0)
    reviews = Split(np.array([0, 1, 1, 2, 0, 3, 2, 3], np.int32), np.array([0, 2, 4, 6, 8], np.int64),
                    np.array([1, 0, 1, 0], np.float32))
    target = prune.SentimentTarget(net)
    stats = prune.collect_statistics(target, reviews, batch_size=3, progress=False)
    assert stats[0].std[1] == pytest.approx(0, abs=1e-7) and stats[0].mean[1] == pytest.approx(1.0)
    pruned = prune.prune(target, stats, "fold", mean_max=0.0, std_max=1e-6)
    assert pruned.net.config.hidden == 2 and pruned.net.b is not None
    np.testing.assert_allclose(pruned.net.predict(reviews), net.predict(reviews), rtol=1e-5)
    assert prune.n_params(*pruned.arrays()) == 4 * 2 + 2 + 1
    collapsed = target.collapsed()
    assert collapsed.net.config.hidden == 1
    np.testing.assert_allclose(collapsed.net.predict(reviews), net.predict(reviews), rtol=1e-5)


def test_json_and_table_formatting() -> None:
    row = prune_sweep.SweepRow("post", 0.1, 0.4, [3, 2], 100, 0.5, 0.8, -0.01)
    table = prune_sweep.markdown_table(0.81, 200, [row], [5, 4])
    assert "| post | 0.1 | 0.4 | 3/2 | 100 | 50.0% | 80.00% | -1.00 pp |  |" in table
    assert json.loads(json.dumps([row.__dict__]))[0]["kept"] == [3, 2]


def test_distinct_table_keeps_the_first_row_of_each_outcome() -> None:
    rows = [prune_sweep.SweepRow("post", 0.0, 0.1, [3], 10, 0.5, 0.8, 0.0),
            prune_sweep.SweepRow("post", 0.1, 0.1, [3], 10, 0.5, 0.8, 0.0),
            prune_sweep.SweepRow("fold", None, 0.1, [3], 10, 0.5, 0.8, 0.0),
            prune_sweep.SweepRow("fold", None, 1.0, [0], 20, 0.0, None, None, note="not built"),
            prune_sweep.SweepRow("fold", None, 2.0, [0], 20, 0.0, None, None, note="not built")]
    table = prune_sweep.markdown_table(0.8, 20, rows, [5], distinct=True)
    assert "| post | 0 | 0.1 |" in table and "| post | 0.1 | 0.1 |" not in table
    assert "| fold | any | 0.1 |" in table and "| fold | any | 1 |" in table and "| fold | any | 2 |" not in table
    assert len(prune_sweep.markdown_table(0.8, 20, rows, [5]).splitlines()) == 3 + len(rows)


def test_plots_are_written(tmp_path) -> None:  # noqa: ANN001
    model, inputs = model_with_constant_neurons(), data()
    stats = prune.collect_statistics(model, inputs, progress=False)
    baseline, rows = prune_sweep.sweep(model, stats, inputs, [0.1], [0.0, 0.5], progress=False)
    prune_sweep.plot_statistics(stats, tmp_path / "stats.png", "tiny")
    prune_sweep.plot_accuracy(baseline, model.n_params, rows, tmp_path / "accuracy.png", "tiny")
    for name in ("stats.png", "accuracy.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
