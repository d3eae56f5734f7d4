"""test_random.py: the short run of the model-based soak (model.py), for
make test (make soak-short): SOAK_SEEDS seeds (default 3) from a random
base seed, printed, each a list of model.DEFAULT_STEPS operations over
three nodes ending with the settle, the invariants and the model.

Then every list in regress/ (a failure the soak found, shrunk by hand or
by model.py --shrink, each with a comment saying what it shows), run as
it is: SOAK_REGRESS=0 leaves them out.

Replay: SOAK_SEED=N runs that seed alone (SOAK_STEPS=N keeps its first N
operations), SOAK_OPS=FILE a list a failing run kept; the long run is
make soak (SOAK_MINUTES, successive seeds).
"""
import glob
import os
import random

import pytest

import model

SEED = os.environ.get("SOAK_SEED")
OPS = os.environ.get("SOAK_OPS")
STEPS = int(os.environ["SOAK_STEPS"]) if os.environ.get("SOAK_STEPS") else None
COUNT = 1 if (SEED or OPS) else int(os.environ.get("SOAK_SEEDS", "3"))
BASE = int(SEED) if SEED else random.randrange(1 << 32)


@pytest.mark.parametrize("n", range(COUNT))
def test_random_operations(n):
    seed = BASE + n
    print("soak: SOAK_SEED=%d" % seed)
    label = "SOAK_OPS=%s" % OPS if OPS else None
    failed = model.run_once(seed, model.ops_for(seed, STEPS, OPS), label=label)
    if failed:
        pytest.fail(failed, pytrace=False)


REGRESS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "regress", "*.jsonl")))
if os.environ.get("SOAK_REGRESS") == "0" or SEED or OPS:
    REGRESS = []


@pytest.mark.parametrize("path", REGRESS, ids=[os.path.basename(p)[:-6] for p in REGRESS])
def test_regression(path):
    failed = model.run_once(0, model.ops_for(0, None, path),
                            label="SOAK_OPS=%s" % os.path.relpath(path, model.TESTS + "/.."))
    if failed:
        pytest.fail(failed, pytrace=False)
