# mk/soak.mk: the randomized, seeded, replayable model-based test of
# tests/soak (model.py: the generator, the executor, the model and the
# checker; test_random.py: its short run under pytest). Included by the
# Makefile, which provides all, ABS_BUILD, Q and PYTEST_ARGS.
#
#   make soak-short    SOAK_SEEDS seeds (default 3) from a random base seed,
#                      about 20-30 s each: what make test runs
#   make soak          successive seeds for SOAK_MINUTES (default 10), stops
#                      at the first failure (SOAK_ARGS=--keep-going goes on)
#
# Replay a failure with the command it prints: SOAK_SEED=N [SOAK_STEPS=N]
# make soak-short, or SOAK_OPS=FILE make soak-short for the list a failing
# run kept. A smaller failing list: tests/soak/model.py --shrink --seed N
# (or --ops FILE). PULSE_TEST_SLOW stretches TTLs and deadlines.

SOAK_MINUTES ?= 10
SOAK_SEEDS ?= 3
SOAK_ARGS ?=

.PHONY: soak soak-short

soak-short: all
	$(Q)PULSE_BUILD=$(ABS_BUILD) SOAK_SEEDS=$(SOAK_SEEDS) PULSE_TEST_DIR=tests/soak \
		bash tests/run-integration.sh $(PYTEST_ARGS)

soak: all
	$(Q)PULSE_BUILD=$(ABS_BUILD) PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 tests/soak/model.py \
		--minutes $(SOAK_MINUTES) $(if $(SOAK_SEED),--seed $(SOAK_SEED)) $(SOAK_ARGS)
