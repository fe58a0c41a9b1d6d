"""The benchmark commands run at tiny scale and their node counts behave as the issue states.

No timing is asserted: timings are for the benchmark reports, measured in one run.
"""

import json

import numpy as np
import pytest

import graphgrad as gg
from benchmarks import grad_sharing, overhead, vectorization
from benchmarks.reference_mlp import init_mlp_params
from benchmarks.timing import interleaved, update_report


@pytest.fixture(scope="module")
def sharing(tmp_path_factory):
    """One tiny run of the grad-sharing benchmark with every output file."""
    out = tmp_path_factory.mktemp("grad_sharing")
    paths = {"json": out / "results.json", "report": out / "docs" / "benchmarks.md", "plot": out / "docs" / "depth.png"}
    results = grad_sharing.main([
        "--scale", "0.002", "--reps", "2", "--compile-reps", "2", "--exec-reps", "2", "--batches", "1,3",
        "--depths", "2,4", "--sweep-reps", "2", "--json", str(paths["json"]), "--report", str(paths["report"]),
        "--plot", str(paths["plot"]),
    ])
    return results, paths


def test_joint_gradient_graph_is_smaller_before_compiling(sharing):
    construction = sharing[0]["construction"]
    assert construction["joint"]["nodes"] < construction["separate"]["nodes"]
    assert construction["forward_nodes"] < construction["joint"]["nodes"]


def test_merging_makes_separate_gradients_as_small_as_joint(sharing):
    compiled = sharing[0]["compile"]
    joint, merged, unmerged = (compiled[name] for name in grad_sharing.VARIANTS)
    assert merged["nodes_before"] == unmerged["nodes_before"] == sharing[0]["construction"]["separate"]["nodes"]
    assert merged["nodes"] == joint["nodes"]
    assert unmerged["nodes"] > merged["nodes"]
    assert merged["same_code_as_joint"] and not unmerged["same_code_as_joint"]


def test_every_variant_computes_the_numpy_gradients(sharing):
    for batch, measured in sharing[0]["execution"].items():
        assert set(measured["max_relative_error"]) == set(grad_sharing.VARIANTS)
        for name, error in measured["max_relative_error"].items():
            assert error < 1e-4, (batch, name)


def test_depth_sweep_separate_grows_faster_than_joint(sharing):
    rows = sharing[0]["depth_sweep"]["rows"]
    assert [r["depth"] for r in rows] == [2, 4]
    ratios = [r["separate"]["nodes"] / r["joint"]["nodes"] for r in rows]
    assert 1 < ratios[0] < ratios[1]
    assert all(r["separate_nodes_after_merge"] == r["joint"]["nodes"] for r in rows)
    # joint grows linearly: each extra layer adds the same number of nodes
    assert rows[1]["params"] == 2 * rows[0]["params"] == 8


def test_outputs_are_written(sharing):
    results, paths = sharing
    saved = json.loads(paths["json"].read_text())
    assert saved["construction"]["joint"]["nodes"] == results["construction"]["joint"]["nodes"]
    assert saved["command"].startswith("python -m benchmarks.grad_sharing --scale 0.002")
    report = paths["report"].read_text()
    assert "<!-- grad_sharing: begin -->" in report and "(depth.png)" in report
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(results["goals"]) == 5 and all(isinstance(g["met"], bool) for g in results["goals"])


def test_joint_depth_sweep_nodes_are_linear_in_depth():
    counts = []
    for depth in (2, 3, 4):
        net = grad_sharing.build_net([np.zeros((3, 3), "float32"), np.zeros(3, "float32")] * depth)
        counts.append(gg.count_nodes(net.gradients("joint")))
    assert counts[2] - counts[1] == counts[1] - counts[0] > 0


def test_update_report_replaces_only_its_own_section(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\nIntroduction kept.\n")
    update_report(path, "one", "first")
    update_report(path, "two", "second")
    update_report(path, "one", "first, rerun")
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\nIntroduction kept.\n")
    assert text.count("<!-- one: begin -->") == 1 and "first, rerun" in text and "first\n" not in text
    assert text.index("first, rerun") < text.index("second")


def test_interleaved_times_every_function_each_repetition():
    calls = []
    timings = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, reps=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert {name: t["wall"]["reps"] for name, t in timings.items()} == {"a": 3, "b": 3}
    assert all(t["cpu"]["min"] >= 0 for t in timings.values())


def test_vectorization_implementations_end_with_the_same_weights():
    results = vectorization.main(["--sizes", "6,5,3", "--batch", "4", "--steps", "3"])
    assert set(results["agreement_with_numpy"]) == set(vectorization.IMPLEMENTATIONS)
    for agreement in results["agreement_with_numpy"].values():
        assert agreement["same_weights"] and agreement["max_abs_loss_diff"] < 1e-12


def test_vectorization_steps_change_the_weights():
    # otherwise "same weights" would hold trivially
    initial = init_mlp_params((6, 5, 3), seed=0)
    model = vectorization.GraphgradMLP(initial, lr=0.1)
    X = np.random.default_rng(0).standard_normal((4, 6))
    model.step(X, np.array([0, 1, 2, 0]))
    assert all(not np.allclose(a, b) for a, b in zip(model.params, initial))


def test_overhead_chain_keeps_every_op_and_matches_numpy():
    for n in (1, 5):
        compiled = overhead.graphgrad_chain(n)
        assert gg.count_nodes(compiled) == n
        x = np.linspace(-1, 1, 7, dtype=np.float32)
        np.testing.assert_allclose(compiled(x), overhead.numpy_chain(n)(x), rtol=1e-6)
    results = overhead.main(["--lengths", "2,4", "--reps", "2", "--calls", "20"])
    assert [r["ops"] for r in results["rows"]] == [2, 4]


@pytest.mark.parametrize("module, argv", [
    (grad_sharing, ["--scale", "0"]),
    (grad_sharing, ["--depths", "2,x"]),
    (vectorization, ["--sizes", "6"]),
    (overhead, ["--lengths", "3"]),
])
def test_bad_options_are_rejected(module, argv, capsys):
    with pytest.raises(SystemExit):
        module.main(argv)
    assert "error" in capsys.readouterr().err


def test_sentiment_speed_runs_end_to_end_on_a_tiny_corpus(tmp_path, monkeypatch):
    from benchmarks import sentiment_speed
    rng = np.random.default_rng(0)
    words = ["good", "great", "fine", "bad", "awful", "dull", "plot", "cast", "film", "the"]
    for split in ("train", "test"):
        for label, bias in (("pos", 0), ("neg", 3)):
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for k in range(12):
                text = " ".join(words[(bias + int(j)) % len(words)] for j in rng.integers(0, 7, size=9))
                (folder / f"{k}_7.txt").write_text(text, encoding="utf-8")
    report = tmp_path / "docs" / "sentiment.md"
    results = sentiment_speed.main(["--data", str(tmp_path / "aclImdb"), "--cache-dir", str(tmp_path / "cache"),
                                    "--reps", "2", "--epoch-reps", "1", "--chunk-scale", "0.004",
                                    "--batch-sizes", "4", "--report", str(report)])
    per_review = results["per_review"]
    assert set(per_review["graphgrad_is"]) == {"graphgrad", "graphgrad, ids per call", "numpy", "lesson loop",
                                               "loop, float32", "dense"}
    assert per_review["graphgrad_is"]["graphgrad"] == 1.0
    assert all(rate > 0 for rate in per_review["median_rate"].values())
    text = report.read_text()
    assert "| graphgrad |" in text and "Generated step source" in text and (tmp_path / "docs" / "sentiment_speed.png").exists()


def test_cycling_bodies_step_exactly_a_chunk_per_call_around_the_epoch():
    # Regression (review): the last chunk of an epoch came up short but was counted whole.
    from benchmarks.sentiment_speed import cycling
    seen = []
    body = cycling(lambda ids, target: seen.append(ids), list(range(7)), [0] * 7, chunk=3)
    for _ in range(5):
        body()
    assert seen == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0]
    seen.clear()
    cycling(lambda ids, target: seen.append(ids), [0, 1], [0, 0], chunk=5)()
    assert seen == [0, 1, 0, 1, 0]
