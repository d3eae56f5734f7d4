"""`make run`'s demo (mk/run-demo.sh) runs to the end and leaves no
process behind (issue 2, point 2)."""
import os
import subprocess

from harness import BUILD, REPO


def pids_under(path):
    out = subprocess.run(["pgrep", "-f", path], capture_output=True, text=True).stdout
    return [p for p in out.split() if p]


def test_demo_runs_and_cleans_up():
    env = dict(os.environ, PULSE_DEMO_EXIT="1", PULSE_BUILD=BUILD)
    r = subprocess.run(["bash", os.path.join(REPO, "mk", "run-demo.sh")], env=env,
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "start job-1 payload 'hello'" in out
    assert "notify job-1 'ping'" in out
    assert "stop job-1" in out
    assert "job-1" in out and "demo-worker" in out
    run = os.path.join(BUILD, "run")
    assert pids_under(run + "/") == [], "processes left behind"
