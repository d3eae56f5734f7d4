"""conftest.py: the fixture of the chaos suite.

`world` gives a scenario a private directory and a process registry;
at teardown every stopped pulsed is continued and then asked to exit
(SIGTERM, so that a sanitizer build reports leaks), everything else is
killed, a sanitizer report in a pulsed log fails the test, and on failure
the tail of each pulsed log is printed.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402
import harness  # noqa: E402


class World:
    def __init__(self):
        # Unix socket paths are limited to 108 bytes: keep it short.
        self.tmp = tempfile.mkdtemp(prefix="ch", dir="/tmp")
        self.procs = harness.Procs()
        self.cluster = None

    def close(self):
        c = self.cluster
        nodes = {n.proc: n for n in (c.nodes if c else []) if n.proc}
        for p in self.procs.procs:
            if p not in nodes and p.poll() is None:
                p.kill()
        for p in nodes:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.send_signal(signal.SIGTERM)
        for p in nodes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.killall()
        for px in (c.proxies if c else []):
            px.close()


@pytest.fixture
def world(request):
    w = World()
    yield w
    w.close()
    nodes = w.cluster.nodes if w.cluster else []
    reports = [n.name + ":\n" + n.logtext(full=True)[-4000:] for n in nodes
               if "Sanitizer" in n.logtext(full=True)
               or "runtime error:" in n.logtext(full=True)]
    failed = getattr(request.node, "rep_call", None)
    if reports or (failed is not None and failed.failed):
        for n in nodes:
            print("\n----- log of %s -----\n%s" % (n.name, n.logtext()[-3000:]))
    if os.environ.get("CHAOS_KEEP") and failed is not None and failed.failed:
        print("kept", w.tmp)
    else:
        shutil.rmtree(w.tmp, ignore_errors=True)
    if reports:
        pytest.fail("sanitizer report from pulsed:\n" + "\n".join(reports))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
