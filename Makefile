# make run   set up .venv (pinned deps) and run the flow on seeds/ into lake/
# make test  set up .venv and run the test suite (what .ci/run does)
.PHONY: setup run test evaluate clean-lake

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export GX_ANALYTICS_ENABLED ?= false

setup:
	./scripts/setup.sh

run: setup
	.venv/bin/python -m flows run --source seeds --lake lake

evaluate: setup
	.venv/bin/python -m flows evaluate --gold tests/data/seeds_indicators.csv --lake lake

test: setup
	.venv/bin/python -m pytest -q

clean-lake:
	find lake -mindepth 1 ! -name .gitkeep -delete
