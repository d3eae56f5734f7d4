"""conftest.py: pytest fixtures over harness.py.

`env` gives a test a private redis-server and factories for pulsed nodes
and workers; everything is killed at teardown, and on failure the nodes'
logs are printed so the cause is visible in CI output.
"""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

import harness


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = harness.Procs()
        self.redis = harness.Redis(self.procs, tmp)
        self.nodes = []
        self.workers = []
        self.proxies = []

    def proxy(self):
        p = harness.Proxy(self.redis.port, "rediss" if self.redis.tls else "redis")
        self.proxies.append(p)
        return p

    def node(self, name="node-a", pools=None, extra=None, start=True, redis_url=None,
             **pool_opts):
        """A pulsed node. pool_opts (worker_ttl="1s", ...) go to pools."*"."""
        if pools is None:
            pools = {"*": {k: harness.scaled(v) if k == "worker_ttl" else v
                           for k, v in pool_opts.items()}}
        if redis_url:
            extra = dict(extra or {})
            extra.setdefault("redis", {})["url"] = redis_url
        n = harness.Node(self.procs, self.tmp, self.redis, name, pools, extra)
        self.nodes.append(n)
        if start:
            n.start()
        return n

    def worker(self, node, pool="p", name=None, opts=()):
        w = harness.Worker(self.procs, self.tmp, node, pool, name, opts)
        self.workers.append(w)
        return w

    def close(self):
        """Workers die first, then each pulsed gets SIGTERM so that a
        sanitizer build reports leaks at exit; then everything else."""
        nodes = {n.proc for n in self.nodes if n.proc}
        for p in self.procs.procs:
            if p not in nodes and p is not self.redis.proc and p.poll() is None:
                p.kill()
        for n in self.nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.send_signal(signal.SIGTERM)
        for n in self.nodes:
            if n.proc:
                try:
                    n.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        self.procs.killall()
        for p in self.proxies:
            p.close()

    def sanitizer_reports(self):
        """Sanitizer reports in the nodes' logs (a build with ASan/UBSan)."""
        out = []
        for n in self.nodes:
            text = n.logtext(full=True)
            if "Sanitizer" in text or "runtime error:" in text:
                out.append("%s:\n%s" % (n.name, text[-4000:]))
            out += n.valgrind_reports()
        return out


@pytest.fixture
def env(request):
    # Unix socket paths are limited to 108 bytes: keep the directory short.
    tmp = tempfile.mkdtemp(prefix="pt", dir="/tmp")
    e = Env(tmp)
    yield e
    e.close()
    reports = e.sanitizer_reports()
    if reports:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.fail("sanitizer report from pulsed:\n" + "\n".join(reports))
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for n in e.nodes:
            print("\n----- log of %s -----\n%s" % (n.name, n.logtext()))
        if os.environ.get("PULSE_KEEP"):  # PULSE_KEEP=1: keep a failed test's files
            print("\n----- kept: %s -----" % tmp)
            return
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
