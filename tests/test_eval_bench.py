"""A small real run of the NER benchmark: report files exist and hold what they claim."""

import json
import os

import pytest

from eval.ner_bench import ONTONOTES_TO_CONLL, SERVED, gold_keys, main, request_texts
from hybrid_ner.config import DEFAULT_NER_MODEL_DIR, MODELS_DIR
from hybrid_ner.ner.data import read_conll

pytestmark = pytest.mark.integration


def test_gold_keys_are_character_offsets(conll_file):
    data = read_conll(conll_file)[:2]
    assert gold_keys(data) == {(0, 0, 15, "PER"), (0, 24, 30, "LOC"), (1, 4, 23, "ORG"), (1, 31, 37, "MISC")}


def test_request_texts_are_about_25_words(conll_file):
    texts = request_texts(read_conll(conll_file), words=25, count=3)
    assert len(texts) == 3 and all(len(t.split()) == 25 for t in texts)


def test_spacy_label_map_targets_conll_labels():
    assert set(ONTONOTES_TO_CONLL.values()) == {"PER", "ORG", "LOC", "MISC"}


def test_bench_writes_the_ablation(conll_file, tmp_path, capsys):
    teacher = MODELS_DIR / "ner-conll-minilm"
    main(["--test", str(conll_file), "--out", str(tmp_path), "--limit", "30", "--also", str(teacher)])
    report = json.loads((tmp_path / "ner.json").read_text())
    assert report["sentences"] == 30 and report["model"].endswith("+onnx-int8")
    assert report[SERVED] == f"{DEFAULT_NER_MODEL_DIR.name} onnx int8"
    served = report["systems"][report[SERVED]]
    assert set(served["per_label"]) <= {"PER", "ORG", "LOC", "MISC"}
    assert 0.0 <= served["ece"] <= 1.0 and served["peak_rss_mb"] > 0 and served["layers"] == 4
    runtimes = ("onnx int8", "torch dynamic int8", "torch fp32")
    models = (DEFAULT_NER_MODEL_DIR.name, teacher.name)
    assert set(report["systems"]) == {f"{m} {r}" for m in models for r in runtimes} | {"spaCy sm"}
    assert report["systems"][f"{teacher.name} torch fp32"]["layers"] == 6
    speed = report["speed_1_thread"]
    assert speed[f"{teacher.name} torch fp32"]["words_per_s"] > 0 and speed["spaCy sm"]["p95_ms"] > 0
    assert speed["ratio served/spaCy"]["p95_ms"] > 0
    md = (tmp_path / "ner.md").read_text()
    assert "## Ablation" in md and md.count(f"| {teacher.name} onnx int8 | 6 |") == 1 and "ECE" in md
    assert "ner-conll-minilm" in capsys.readouterr().out


def test_long_document_bench_covers_the_whole_text(conll_file, tmp_path):
    from eval import longdoc_bench

    longdoc_bench.main(["--data", str(conll_file), "--mb", "0.001", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "longdoc.json").read_text())
    assert 900 <= report["chars"] <= 1_000 and report["hybrid_ner"]["entities"] > 20
    assert report["covered_to_char"] > 0.95  # entities all the way to the end: nothing truncated
    assert report["ratio_seconds_ours_over_spacy"] > 0 and "Long document" in (tmp_path / "longdoc.md").read_text()


def test_load_bench_compares_workers_with_one(conll_file, tmp_path):
    from eval import load_bench

    load_bench.main(
        ["--data", str(conll_file), "--clients", "4", "--seconds", "2", "--workers", "2", "--out", str(tmp_path)]
    )
    report = json.loads((tmp_path / "load.json").read_text())
    assert report["workers"] == 2 and len(report["rss_after_cold_mb"]) == 2  # one RSS figure per worker
    for phase in ("cold_1_worker", "cold", "warm_80pct_repeats", "cold_again"):
        assert report[phase]["requests"] > 0 and report[phase]["errors"] == 0
    assert "workers over 1 worker" in (tmp_path / "load.md").read_text()


@pytest.mark.integration
def test_first_run_times_the_first_linked_answer_and_the_dense_index(tmp_path):
    from eval.first_run import measure
    from tests.test_linking import KB

    kb = tmp_path / "kb.jsonl"
    kb.write_text("".join(json.dumps(e) + "\n" for e in KB))
    (tmp_path / "data").mkdir()
    got = measure(tmp_path / "data", limit_s=300, kb=kb, workers=1)
    assert 0 < got["kb_loaded_s"] <= got["first_linked_answer_s"] <= got["dense_ready_s"]
    assert got["index"] == {"state": "ready", "entries": len(KB)}
    assert set(got["first_answer_stages"]) <= {"alias", "dense", "none"}


@pytest.mark.integration
def test_cross_bench_scores_each_set_by_what_the_others_chose(tmp_path):
    from eval.cross_bench import compare, markdown
    from hybrid_ner.components import build_resolver
    from hybrid_ner.config import Settings
    from kb.db import open_db
    from kb.records import EntityIn
    from kb.store import SQLKBStore
    from linking.cross_encoder import CrossEncoder
    from tests.test_linking import KB

    settings = Settings(data_dir=tmp_path)
    _, sessions = open_db(settings.database_url)
    store = SQLKBStore(sessions)
    store.upsert([EntityIn(**e) for e in KB])
    resolver = build_resolver(settings, store)
    paris = "The plant is in Paris, the French capital, near the Seine."
    texas = "The plant is in Paris, Texas, a small town in Lamar County."
    spring = "Springfield, Illinois is the state capital."
    golds = {
        "first": [(paris, 16, 21, "LOC", "geonames:2988507"), (spring, 0, 11, "LOC", "geonames:4250542")],
        "second": [(texas, 16, 21, "LOC", "geonames:4717560"), ("Siemens AG grew.", 0, 10, "ORG", "org:siemens")],
    }
    rows = compare(resolver, golds, CrossEncoder())
    cost = rows.pop("_cost")
    assert set(rows) == {"first", "second"} and cost["pairs"] > 0
    for row in rows.values():
        assert all(0.0 <= row[k] <= 1.0 for k in ("kb as loaded", "+ vital descriptions", "+ cross-encoder"))
        assert row["margin"] > 0 and row["weight"] > 0
    report = markdown({"benchmarks": rows, **cost})
    assert "| first |" in report and "| **mean** |" in report


def test_kb_coverage_counts_titles_places_and_names(tmp_path):
    from eval.kb_coverage import coverage, gold_labels
    from kb.db import open_db
    from kb.records import EntityIn
    from kb.store import SQLKBStore

    _, sessions = open_db(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    store = SQLKBStore(sessions)
    store.upsert(
        [
            EntityIn(id="dbpedia:angela_merkel", name="Angela Merkel"),
            EntityIn(id="geonames:2988507", name="Paris"),
            EntityIn(id="dbpedia:cologne_cathedral", name="Cologne Cathedral", aliases=["Koelner Dom"]),
        ]
    )
    article = {
        "labels": [
            {"entity_id": "Q567", "name": "Angela Merkel"},
            {"entity_id": "Q90", "name": "Paris"},
            {"entity_id": "Q90", "name": "Paris"},
            {"entity_id": "Q1", "name": "Koelner Dom"},
            {"entity_id": "Q2", "name": "Nobody Known"},
            {"entity_id": "<NIL>", "name": "Unknown"},
            {"entity_id": "Q3", "name": "Optional", "optional": True},
        ]
    }
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(article) + "\n")
    got = coverage(store, gold_labels(path))
    assert got["mentions"] == 5 and got["entities"] == 4
    assert got["by_title"] == 0.6 and got["by_name"] == 0.8 and got["missing"] == ["Nobody Known"]
    from kb.dbpedia import Redirects

    redirects = Redirects({"angela_merkel": ["merkel", "a. merkel"], "nobody_known": ["n. known"]})
    ceiling = coverage(store, gold_labels(path), (redirects, {"koelner_dom"}, frozenset()))["ceiling"]
    # Paris twice (a place), Koelner Dom (a vital article), Merkel with 2 redirects, Nobody Known with 1
    assert ceiling == {"0": 1.0, "1": 1.0, "2": 0.8, "3": 0.6, "4": 0.6, "5": 0.6}
    unredirected = Redirects({"angela_merkel": ["merkel"]})  # Nobody Known is a title no redirect points at
    ceiling = coverage(store, gold_labels(path), (unredirected, set(), frozenset({"nobody_known"})))["ceiling"]
    assert ceiling["0"] == 0.8 and ceiling["1"] == 0.6  # Paris twice and Merkel; Nobody Known only as a title


def test_linked_accuracy_counts_links_above_the_threshold_on_known_mentions():
    from eval.llm_link_bench import linked_accuracy
    from linking.rerank import Scored

    lists = [[Scored("a", 0.9)], [Scored("b", 0.01)], [Scored("c", 0.8)], []]
    assert linked_accuracy(["a", "b", None, "d"], lists, threshold=0.05) == pytest.approx(1 / 3)


def test_ner_robust_scores_recased_news_and_tweets_on_the_conll_labels(
    conll_file, tmp_path, monkeypatch, capsys, local_ner
):
    from eval.ner_robust import SPACY_ROW, UNSEEN, sets, unseen_names
    from eval.ner_robust import main as robust_main

    tweets = tmp_path / "wnut.conll"
    rows = ["@\tO", "Maria\tB-person", "loves\tO", "#\tO", "Berlin\tB-location", "and\tO", "iPhones\tB-product", ""]
    tweets.write_text("\n".join(rows * 3) + "\n", encoding="utf-8")
    evaluation = sets(conll_file, tweets, limit=5)
    dev, _ = evaluation["conll dev"]
    assert evaluation["conll dev lowercased"][0][0].words == [w.lower() for w in dev[0].words]
    assert evaluation["conll dev uppercased"][0][0].words == [w.upper() for w in dev[0].words]
    wnut, kept = evaluation["wnut17 test (PER/LOC/ORG)"]
    assert wnut[0].tags == ["O", "B-PER", "O", "O", "B-LOC", "O", "O"] and kept == {"PER", "LOC", "ORG"}

    out = tmp_path / "robust.json"
    train = tmp_path / "train.conll"  # labels Berlin and Danish: of the dev file's names, those two are seen
    train.write_text("Berlin B-LOC\nwins O\n\nDanish B-MISC\nfarmers O\n\n", encoding="utf-8")
    argv = ["ner_robust", str(DEFAULT_NER_MODEL_DIR), "--conll-dev", str(conll_file), "--wnut", str(tweets)]
    monkeypatch.setattr("sys.argv", [*argv, "--out", str(out), "--limit", "10", "--threads", "1", "--spacy"])
    robust_main()
    assert UNSEEN not in json.loads(out.read_text())[SPACY_ROW]  # no --train, no such column
    monkeypatch.setattr("sys.argv", [*argv, "--out", str(out), "--limit", "10", "--threads", "1", "--spacy",
                                     "--train", str(train)])  # fmt: skip
    robust_main()
    spacy_row = json.loads(out.read_text())[SPACY_ROW]
    assert set(spacy_row) == {*evaluation, UNSEEN} and all(r["ece"] is None for r in spacy_row.values())
    assert spacy_row["conll dev"]["f1"] > 0.5  # news spaCy knows, scored on the same gold tokens
    assert spacy_row["wnut17 test (PER/LOC/ORG)"]["f1"] == 0.0  # it calls Berlin a person and iPhones an ORG here
    report = json.loads(out.read_text())[str(DEFAULT_NER_MODEL_DIR)]
    assert set(report) == {*evaluation, UNSEEN}
    assert all(0.0 <= r["f1"] <= 1.0 and 0.0 <= r["ece"] <= 1.0 for r in report.values())
    assert report["conll dev"]["f1"] > 0.5  # the toy sentences are news the shipped model knows
    # Maria Fernandes and the Atlantic Federation alone count there: with Berlin (LOC, found) left out, a model
    # that finds both scores 1.0 whatever it does with Berlin
    unseen = unseen_names(train)
    assert [unseen(n) for n in ("Maria Fernandes", "Berlin", "Atlantic Federation", "Danish")] == [1, 0, 1, 0]
    found = {(e.span.text, e.span.label) for e in local_ner.extract(["Maria Fernandes visited Berlin ."])[0]}
    assert ("Maria Fernandes", "PER") in found and report[UNSEEN]["f1"] > 0.5
    assert str(DEFAULT_NER_MODEL_DIR) in out.with_suffix(".md").read_text() and "| model |" in capsys.readouterr().out


def test_ner_tweets_scores_the_served_extractor_beside_it_without_the_retweet_rule(tmp_path):
    """``make ner-tweets`` on three WNUT-format tweets: a retweet marker the model tags is a false positive that
    the served extractor drops; the gold spans are read as the benchmark's BIO tags."""
    from eval.ner_tweets import gold, main

    wnut = tmp_path / "test.conll"
    tweets = [
        [("RT", "O"), ("@cnn", "O"), (":", "O"), ("Barack", "B-person"), ("Obama", "I-person"), ("spoke", "O")],
        [("Flooding", "O"), ("in", "O"), ("Paris", "B-location"), ("today", "O")],
        [("Google", "B-corporation"), ("and", "O"), ("Apple", "B-product"), ("rose", "O")],
    ]
    wnut.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in tw) for tw in tweets) + "\n")
    out = tmp_path / "tweets.json"
    main(["--wnut", str(wnut), "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["sentences"] == 3 and report["model"].startswith("ner-conll")
    served, without = report["served"], report["without_retweet_rule"]
    assert served["r"] == without["r"] > 0  # the rule drops no entity
    assert served["p"] > without["p"]  # the model tags the "RT" before the handle; the served extractor drops it
    from hybrid_ner.ner.data import TaggedSentence

    tagged = TaggedSentence(["a", "Ada", "Lovelace", "b", "Apple"], ["O", "B-PER", "I-PER", "O", "B-MISC"])
    assert gold(tagged) == {(1, 3, "PER")}  # only PER/LOC/ORG count


def test_el_bench_links_nationality_adjectives_only_when_asked(tmp_path, monkeypatch):
    """``--link-nationalities`` reaches the resolver the benchmark links with, as ``HNER_LINK_NATIONALITIES`` does in
    the service, and the report says which rule ran. A fake ``run`` (named so) records what ``main`` passes; the
    resolver is the real one ``open_parts`` builds."""
    import sys

    import eval.el_bench as el_bench
    from eval.e2e_threshold import open_parts
    from linking.rerank import LogisticReranker

    el = _tiny_elevant(tmp_path)
    (el / "PEERS.md").write_text("")
    seen = []

    def fake_run(el_dir, kb_dir, names, extra=(), nationalities=False):
        seen.append(nationalities)
        return {}, {}

    monkeypatch.setattr(el_bench, "run", fake_run)
    out = tmp_path / "out"
    for flag in (["--link-nationalities"], []):
        argv = ["el_bench", "--el-dir", str(el), "--out", str(out), "--benchmarks", "msnbc", *flag]
        monkeypatch.setattr(sys, "argv", argv)
        el_bench.main()
        said = "linked to their country" if flag else "left unlinked (the default)"
        assert said in (out / "linking.md").read_text()
    assert seen == [True, False]
    parts = open_parts(el, tmp_path / "kb", nationalities=True)
    assert parts.resolver.nationalities and parts.resolver.reranked_by(LogisticReranker.load()).nationalities
    assert not open_parts(el, tmp_path / "kb").resolver.nationalities


def _tiny_elevant(tmp_path):
    """An ELEVANT-format directory: the linking tests' KB and three short articles (benchmark ``tiny``)."""
    from tests.test_linking import KB

    el = tmp_path / "el"
    el.mkdir()
    (el / "kb.jsonl").write_text("".join(json.dumps({**e, "aliases": []}) + "\n" for e in KB))
    texts = [
        "The plant is in Paris, the French capital, near the Seine.",
        "Springfield, Illinois is the state capital. Paris is far away.",
        "Siemens AG grew in Paris, Texas.",
    ]
    articles = [
        {"id": i, "text": t, "labels": [{"span": [t.index("Paris") if "Paris" in t else 0, 5]}]}
        for i, t in enumerate(texts)
    ]
    (el / "tiny.benchmark.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    return el


def test_encoder_bench_compares_both_encoders_in_one_run(tmp_path, capsys):
    from eval.encoder_bench import BASELINE, CANDIDATE, main

    el = _tiny_elevant(tmp_path)
    out = tmp_path / "out"
    argv = ["--el-dir", str(el), "--kb-dir", str(tmp_path / "kb"), "--benchmark", "tiny", "--articles", "3",
            "--texts", "6", "--rounds", "2", "--out", str(out)]  # fmt: skip
    main(argv)
    report = json.loads((out / "link_encoder.json").read_text())
    assert report["articles"] == 3 and report["texts"] == 6
    for name in (BASELINE, CANDIDATE):
        assert 0.9 < report["fidelity"][name]["cosine_mean"] <= 1.0 + 1e-6
        assert len(report["end_to_end"][name]["seconds"]) == 2  # one timing per round
        assert report["end_to_end"][name]["batch_differs"] == 0  # the same links alone and together
    assert f"| `{CANDIDATE}` |" in (out / "link_encoder.md").read_text() and "ratio" in capsys.readouterr().out


def test_ner_export_bench_compares_the_layouts_on_dev(conll_file, tmp_path, capsys):
    from eval.ner_export_bench import BASELINE, LAYOUTS, main

    out = tmp_path / "out"
    main(["--dev", str(conll_file), "--limit", "20", "--rounds", "2", "--out", str(out)])
    report = json.loads((out / "ner_export.json").read_text())
    assert report["sentences"] == 20 and report["baseline"] == BASELINE
    assert report["model"] == DEFAULT_NER_MODEL_DIR.name
    assert set(report["quality"]) == {*LAYOUTS, "torch fp32"} and set(report["speed"]) == set(LAYOUTS)
    for name in LAYOUTS:
        assert 0.0 < report["quality"][name]["f1"] <= 1.0 and 0.0 <= report["quality"][name]["ece"] <= 1.0
        assert len(report["speed"][name]["graph_rounds_s"]) == 2 and report["speed"][name]["extract_words_per_s"] > 0
    md = (out / "ner_export.md").read_text()
    assert "| qdq-v1 |" in md and "1.00x" in md and "| torch fp32 |" in md
    assert "graph speed-up" in capsys.readouterr().out
    assert list(DEFAULT_NER_MODEL_DIR.glob(".*.tmp")) == []  # the shipped model directory was never written


def test_link_throughput_times_the_service_and_a_baseline_tree_on_one_kb(tmp_path, capsys):
    import subprocess
    import sys
    from pathlib import Path

    from eval.link_throughput import main
    from tests.test_linking import KB

    el = _tiny_elevant(tmp_path)
    data = tmp_path / "data"
    kb = tmp_path / "kb.jsonl"
    kb.write_text("".join(json.dumps(e) + "\n" for e in KB))
    cli = Path(sys.executable).parent / "hybrid-ner"
    env = {**os.environ, "HNER_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    subprocess.run([str(cli), "kb", "load", str(kb)], env=env, check=True, capture_output=True)
    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    main(["--el-dir", str(el), "--data", str(data), "--benchmark", "tiny", "--workers", "2", "--clients", "2",
          "--rounds", "1", "--baseline-code", str(repo), "--baseline-label", "main", "--out", str(out)])  # fmt: skip
    report = json.loads((out / "link_throughput.json").read_text())
    assert report["articles"] == 3 and report["kb_entities"] == len(KB)
    configs = report["configs"]
    assert [c["workers"] for c in configs.values()] == [1, 2, 2] and list(configs)[2] == "baseline, 2 workers"
    for c in configs.values():
        assert c["errors"] == 0 and len(c["rounds_s"]) == 1 and c["articles_per_s"] > 0
        assert c["links_differ_from_this tree, 1 worker"] == 0  # the same links from one process, two, and the tree
    assert configs["baseline, 2 workers"]["code"] == "main" and configs["this tree, 1 worker"]["code"] == "installed"
    assert "| baseline, 2 workers |" in (out / "link_throughput.md").read_text()
    assert "articles/s" in capsys.readouterr().out


def test_index_bench_judges_both_graph_recipes_against_an_exact_search(tmp_path, capsys):
    from eval.index_bench import main

    el = _tiny_elevant(tmp_path)
    texts = ["Angela Merkel flew to Paris.", "Paris is in France, and Merkel knows it."]
    names = [["Angela Merkel", "Paris"], ["Paris", "Merkel"]]
    gold = [
        {
            "id": i,
            "text": t,
            "labels": [{"span": [t.index(n), t.index(n) + len(n)], "entity_id": "<NIL>", "type": "OTHER"} for n in ns],
        }
        for i, (t, ns) in enumerate(zip(texts, names, strict=True))
    ]
    (el / "gold.benchmark.jsonl").write_text("".join(json.dumps(a) + "\n" for a in gold))
    out = tmp_path / "out"
    main(["--kb-dir", str(tmp_path / "kb"), "--kb", str(el / "kb.jsonl"), "--el-dir", str(el), "--benchmark", "gold",
          "--out", str(out)])  # fmt: skip
    results = json.loads((out / "link_index.json").read_text())
    assert [r["recipe"]["name"].split(":")[0] for r in results] == ["before", "shipped"]  # the baseline first
    assert results[0]["recipe"]["ef_construction"] == 40 and results[0]["recipe"]["ef_search"] == 256
    for r in results:
        assert r["top30"]["queries"] == 3  # Angela Merkel, Paris, Merkel alone: "Paris" twice is one row
        assert r["top10"]["queries"] == 4  # each mention in its own context
        for top in ("top30", "top10"):
            assert r[top]["recall"] == 1.0 and r[top]["ms_per_query"] > 0  # a KB this small: all of it found
    table = (out / "link_index.md").read_text()
    assert "| shipped |" in table and "time ratio" in table and "| shipped |" in capsys.readouterr().out


FAKE_SCORER = '''"""A fake of ELEVANT's score_el.py for tests: exact span and entity matches, NIL gold left out."""
import json, sys
gold = {(str(a["id"]), tuple(l["span"]), l["entity_id"]) for line in open(sys.argv[1]) if line.strip()
        for a in [json.loads(line)] for l in a["labels"] if not l["entity_id"].startswith("<")}
got = {(str(a["id"]), tuple(p["span"]), p["entity_id"]) for line in open(sys.argv[2]) if line.strip()
       for a in [json.loads(line)] for p in a["predictions"]}
tp = len(gold & got)
f1 = 2 * tp / (len(gold) + len(got)) if gold or got else 0.0
recall = tp / len(gold) if gold else 0.0
print(json.dumps({"nocoref": {"F1": f1, "P": tp / len(got) if got else 0.0, "R": recall}, "disamb_acc": recall}))
'''


def test_e2e_threshold_picks_the_best_mean_f1_over_the_benchmarks_and_keeps_the_fitted_weights(tmp_path, capsys):
    from eval.e2e_threshold import GRID, main
    from linking.rerank import WEIGHTS, LogisticReranker

    el = _tiny_elevant(tmp_path)
    (el / "score_el.py").write_text(FAKE_SCORER)
    text = "Angela Merkel flew to Paris, and Siemens AG opened a plant there."
    labels = [("Paris", "geonames:2988507"), ("Siemens AG", "org:siemens"), ("Angela Merkel", "<NIL>")]
    spans = [{"span": [text.index(n), text.index(n) + len(n)], "entity_id": q, "type": "OTHER"} for n, q in labels]
    article = {"id": 1, "text": text, "labels": spans}
    (el / "gold.benchmark.jsonl").write_text(json.dumps(article) + "\n")
    weights = tmp_path / "weights.json"
    weights.write_text(WEIGHTS.read_text())
    main(["--el-dir", str(el), "--kb-dir", str(tmp_path / "kb"), "--weights", str(weights), "--benchmarks", "gold"])
    out = capsys.readouterr().out
    report = json.loads(out[out.index('{\n "found_nil_threshold"') :])
    data = json.loads(weights.read_text())
    chosen = data["found_nil_threshold"]
    assert chosen in GRID and data["found_nil_threshold_chosen_on"] == ["gold"]
    fitted = json.loads(WEIGHTS.read_text())
    assert all(data[k] == fitted[k] for k in ("weights", "calibration", "nil_threshold", "features"))
    loaded = LogisticReranker.load(weights)
    assert loaded.found_threshold == chosen and loaded.nil_threshold == fitted["nil_threshold"]
    f1 = report["e2e_f1_nc"]["gold"]
    assert report["found_nil_threshold"] == chosen and f1[str(chosen)] == max(f1.values()) > 0  # Paris, Siemens
    assert f1["0.5"] <= f1[str(chosen)]


def test_el_bench_scores_each_benchmark_with_rerankers_and_thresholds_fitted_on_the_others(tmp_path):
    """``make link-bench`` on a tiny ELEVANT directory: every benchmark group is linked by a reranker fitted on
    the other groups, end to end with a found-span threshold chosen on the other groups' curves."""
    from eval.e2e_threshold import GRID
    from eval.el_bench import BENCHMARKS, group, report, run

    el = _tiny_elevant(tmp_path)
    (el / "score_el.py").write_text(FAKE_SCORER)
    texts = [
        ("The new plant is in Paris, the French capital.", "Paris", "geonames:2988507"),
        ("Siemens AG opened an office in Paris, Texas.", "Paris", "geonames:4717560"),
        ("Siemens AG opened an office in Springfield, Illinois.", "Siemens AG", "org:siemens"),
    ]
    articles = [
        {"id": i, "text": t, "labels": [{"span": [t.index(m), t.index(m) + len(m)], "entity_id": q, "type": "OTHER"}]}
        for i, (t, m, q) in enumerate(texts)
    ]
    for name in BENCHMARKS:
        (el / f"{name}.benchmark.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    names = ["msnbc", "msnbc-updated", "reuters-128"]
    results, recall = run(el, tmp_path / "kb", names)
    assert list(results) == names and list(recall) == names
    for name in names:
        r = results[name]
        assert r["found_threshold"] in GRID and r["e2e_articles_per_s"] > 0
        assert r["end_to_end"]["nocoref"]["R"] > 0 and recall[name]["known"] == 3
        assert r["gold_span_best"]["disamb_acc"] == 1.0  # each gold span's best candidate, in a KB this small
        assert r["gold_span"]["disamb_acc"] <= r["gold_span_best"]["disamb_acc"]  # NIL only takes links away
        curve = r["e2e_f1_by_threshold"]  # its own curve, to compare runs at one threshold
        assert list(curve) == [str(t) for t in GRID] and all(0 <= f <= 1 for f in curve.values())
        assert curve["0.0"] > 0  # every best candidate kept: the right one is among them
    assert group("msnbc-updated") == group("msnbc") != group("reuters-128")  # held out together
    table = report(results, {}, recall)
    assert table.count("\n| msnbc |") == 1 and "one fixed found-span threshold for every benchmark" in table
