# mk/model.mk: the ownership protocol as a checked model (tests/model:
# pulse.pml for spin, README.md says what it models and within which
# bounds). Included by the Makefile, which provides Q.
#
#   make model-check-short  the drift check (daemon/lua against the hashes
#                           the model was checked with), the safety
#                           properties on small configurations of today's
#                           code, and the OLD_FLUSH and OLD_GHOST models
#                           finding their counterexamples: what make test
#                           runs (about a minute)
#   make model-check        the drift check and every configuration of
#                           tests/model/configs.txt: today's code passes,
#                           the OLD_* models and the findings' scenarios
#                           must each fail with a trace (by hand: about
#                           20 minutes, one core)
#   make model-hashes       record the Lua scripts' hashes anew, once the
#                           model steps were checked against them
#
# Output (verifiers, trails, NAME.trace, summaries) in build/model/;
# MODEL_RECORD=1 also writes the traces to tests/model/traces/.

MODEL_BUILD ?= build/model

.PHONY: model-check model-check-short model-hashes model-drift

model-drift:
	$(Q)sh tests/model/check_drift.sh

model-check-short: model-drift
	$(Q)command -v spin >/dev/null || bash mk/deps.sh spin
	$(Q)MODEL_BUILD=$(abspath $(MODEL_BUILD)) bash tests/model/run.sh short

model-check: model-drift
	$(Q)command -v spin >/dev/null || bash mk/deps.sh spin
	$(Q)MODEL_BUILD=$(abspath $(MODEL_BUILD)) bash tests/model/run.sh full

model-hashes:
	$(Q)sh tests/model/check_drift.sh --update
