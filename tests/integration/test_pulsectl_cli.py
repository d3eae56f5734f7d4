"""pulsectl for people and for scripts (issue 19 item 3): help for every
command, usage errors that exit 2, --timeout on the requests that wait,
one stable --json shape per command and lossless JSON for keys of any
bytes.

The cases are generated from pulsectl's own command table, as
`pulsectl --json help` prints it: a new command is covered by being in the
table (and JSON_CASES below must name it: the test fails otherwise, so that
its --json shape is checked too)."""
import base64
import json
import subprocess
import time

import pytest

from harness import PULSECTL, SLOW, frame, raw_session, read_frame, wait_for


def run(*args, input=None, sock="/nonexistent/pulsed.sock"):
    r = subprocess.run([PULSECTL, "-s", sock] + list(args), capture_output=True,
                       text=True, input=input, timeout=60 * SLOW)
    return r.returncode, r.stdout, r.stderr


def table():
    """The command table, from pulsectl itself."""
    rc, out, err = run("--json", "help")
    assert rc == 0, err
    data = json.loads(out)
    assert data["ok"] is True
    return data["commands"]


COMMANDS = table()
NAMES = [c["name"] for c in COMMANDS]
BY_NAME = {c["name"]: c for c in COMMANDS}


# ---- help ------------------------------------------------------------------

def test_help_lists_every_command():
    rc, out, err = run("help")
    assert rc == 0 and err == ""
    for c in COMMANDS:
        assert "\n  %s " % c["name"] in out, c["name"]
    # -H: one line a command, its name first, no header
    rc, out, _ = run("-H", "help")
    assert rc == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_help_of_each_command(name):
    c = BY_NAME[name]
    for argv in (["help", name], [name, "--help"], [name, "-h"]):
        rc, out, err = run(*argv)
        assert rc == 0, (argv, err)
        assert err == ""
        lines = out.splitlines()
        assert lines[0] == "usage: " + c["usage"], (argv, out)
        assert c["description"].split()[0] in out
        assert "options:" in out
        for o in c["options"]:
            assert "  " + o["name"] in out, (name, o)
    # --help wins over anything wrong with the rest of the line
    rc, out, _ = run(name, "--no-such-option", "a", "b", "c", "d", "--help")
    assert rc == 0 and out.startswith("usage: " + c["usage"])
    rc, out, _ = run("--json", "help", name)
    assert rc == 0
    data = json.loads(out)
    assert data["ok"] is True and [d["name"] for d in data["commands"]] == [name]


def test_help_of_an_unknown_command_is_a_usage_error():
    rc, out, err = run("help", "no-such-command")
    assert rc == 2 and out == ""
    assert "no-such-command" in err and "pulsectl help" in err
    rc, out, err = run("--json", "help", "no-such-command")
    assert rc == 2
    data = json.loads(out)
    assert data["ok"] is False and data["code"] == "USAGE" and "no-such-command" in data["message"]


# ---- usage errors: exit 2, what is wrong, where the help is ------------------

def assert_usage_error(argv, name, why):
    rc, out, err = run(*argv)
    assert rc == 2, (argv, rc, out, err)
    assert out == "", (argv, out)
    assert why in err, (argv, err)
    assert ("pulsectl help %s" % name if name else "pulsectl help") in err, (argv, err)
    rc, out, err = run("--json", *argv)
    assert rc == 2, (argv, rc, err)
    data = json.loads(out)
    assert data["ok"] is False and data["code"] == "USAGE" and data["message"], data


@pytest.mark.parametrize("name", NAMES)
def test_usage_errors_of_each_command(name):
    c = BY_NAME[name]
    enough = ["x"] * c["min_args"]
    assert_usage_error([name] + ["x"] * (c["max_args"] + 1), name, "too many arguments")
    if c["min_args"]:
        assert_usage_error([name] + ["x"] * (c["min_args"] - 1), name, "missing arguments")
    assert_usage_error([name] + enough + ["--no-such-option"], name, "unknown option")
    for o in c["options"]:
        if o["value"]:
            assert_usage_error([name] + enough + [o["name"]], name, "needs a value")
    bad = {"--timeout": ["abc", "0", "5x", "-1s", "99999999999s"], "--limit": ["abc", "0", "-3"]}
    for o in c["options"]:
        for value in bad.get(o["name"], []):
            assert_usage_error([name] + enough + [o["name"], value], name, value)
            assert_usage_error([name] + enough + ["%s=%s" % (o["name"], value)], name, value)
    # an option the command does not take
    if "--timeout" not in [o["name"] for o in c["options"]]:
        assert_usage_error([name] + enough + ["--timeout", "5s"], name, "unknown option")


def test_usage_errors_of_pulsectl_itself():
    assert_usage_error([], None, "no command given")
    assert_usage_error(["no-such-command"], None, "unknown command")
    assert_usage_error(["--no-such-option", "status"], None, "unknown option")


def test_drain_timeout_abc_exits_2():
    """It exited 1 (a failure of the command) before."""
    assert_usage_error(["drain", "--timeout", "abc"], "drain", "not a duration")


def test_option_values_that_are_good():
    """Every form of a duration is taken (the socket is absent, so the
    command then fails with UNAVAILABLE: exit 1, not 2)."""
    for value in ("500ms", "5s", "2m", "1h", "7"):
        for argv in (["dispatch", "p", "k", "--timeout", value],
                     ["drain", "--timeout=" + value]):
            rc, _, err = run(*argv)
            assert rc == 1 and "UNAVAILABLE" in err, (argv, rc, err)


# ---- --timeout -------------------------------------------------------------

def test_dispatch_timeout_with_no_worker(env):
    """A dispatch to a pool with no worker waits 2 x ack grace (40 s) by
    default; with --timeout pulsed gives up at that time, TIMEOUT, exit 1.
    The job exists and starts once a worker attaches (P9)."""
    n = env.node()
    n.use_pool("p")
    t0 = time.monotonic()
    rc, data, err = n.ctlj("dispatch", "p", "lonely", "x", "--timeout", "300ms")
    took = time.monotonic() - t0
    assert rc == 1, (rc, data, err)
    assert data["ok"] is False and data["code"] == "TIMEOUT" and data["message"], data
    assert "TIMEOUT" in err
    assert took < 2 * SLOW, took
    w = env.worker(n)
    wait_for(lambda: "lonely" in w.running(), 5, "the job to start on the worker")
    # stop and notify take it too (here they are answered at once)
    rc, data, err = n.ctlj("notify", "p", "lonely", "ping", "--timeout", "5s")
    assert rc == 0 and data == {"ok": True}, (data, err)
    rc, data, err = n.ctlj("stop", "p", "lonely", "--timeout", "5s")
    assert rc == 0 and data == {"ok": True}, (data, err)


# ---- one --json shape per command ------------------------------------------

POOL, KEY = "p", "job-1"
# Per command: arguments for a success and (when it can fail on a
# running pulsed) for a failure with its code. Lists: the array fields.
JSON_CASES = {
    "status": (["status"], None, ["pools"]),
    "workers": (["workers", POOL], (["workers", "a/b"], "INVALID"), ["workers"]),
    "nodes": (["nodes", POOL], (["nodes", "a/b"], "INVALID"), ["nodes"]),
    "jobs": (["jobs", POOL], (["jobs", "a/b"], "INVALID"), ["jobs"]),
    "job": (["job", POOL, KEY], (["job", POOL, "absent"], "JOB_NOT_FOUND"), []),
    "where": (["where", POOL, KEY], (["where", "empty", KEY], "UNAVAILABLE"), ["where"]),
    "dispatch": (["dispatch", POOL, "job-2", "x"], (["dispatch", POOL, KEY, "x"], "JOB_EXISTS"), []),
    "stop": (["stop", POOL, "job-2"], (["stop", POOL, "absent"], "JOB_NOT_FOUND"), []),
    "notify": (["notify", POOL, KEY, "ping"], (["notify", POOL, "absent", "x"], "JOB_NOT_FOUND"), []),
    "send": (["send", POOL, KEY, "ping"], (["send", "left", KEY, "x"], "NO_HANDLER"), []),
    "shutdown": (["shutdown", "gone"], (["shutdown", "a/b"], "INVALID"), []),
    "reopen": (["reopen", "gone"], (["reopen", "a/b"], "INVALID"), []),
    "leave": (["leave", "left"], (["leave", "never-joined"], "INVALID"), []),
    "drain": (["drain", "--timeout", "5s"], None, []),
    "undrain": (["undrain"], None, []),
    "tickers": (["tickers", POOL], (["tickers", "a/b"], "INVALID"), ["tickers"]),
    "schedules": (["schedules", POOL], (["schedules", "a/b"], "INVALID"), ["schedules"]),
    "version": (["version"], None, []),
    "help": (["help"], (["help", "nope"], "USAGE"), ["commands"]),
}


def assert_arrays_of_objects(data, lists):
    for field in lists:
        assert isinstance(data[field], list), (field, data)
        for row in data[field]:
            assert isinstance(row, dict), (field, row)
    # every array anywhere in the answer holds objects
    for v in data.values():
        if isinstance(v, list):
            assert all(isinstance(r, dict) for r in v), data


def test_every_command_has_a_json_case():
    assert set(JSON_CASES) == set(NAMES), "name the new command's --json case"


# Run on a second node that runs no job (drain returns at once there).
ON_IDLE = {"drain", "undrain"}


def test_json_shape_of_every_command(env):
    n = env.node()
    idle = env.node("node-idle")
    env.worker(n, pool=POOL, opts=["--message"])
    env.worker(n, pool="left")
    wait_for(lambda: (n.pool_status(POOL) or {}).get("workers_pool") == 1
             and (n.pool_status("left") or {}).get("workers_pool") == 1, 5, "workers")
    assert n.ctlj("dispatch", POOL, KEY, "payload")[0] == 0
    for name in NAMES:
        ok_args, fail, lists = JSON_CASES[name]
        on = idle if name in ON_IDLE else n
        rc, data, err = on.ctlj(*ok_args)
        assert rc == 0, (name, data, err)
        assert isinstance(data, dict) and data["ok"] is True, (name, data)
        assert "code" not in data and "message" not in data, (name, data)
        assert_arrays_of_objects(data, lists)
        if fail:
            args, code = fail
            rc, data, err = n.ctlj(*args)
            assert rc == (2 if code == "USAGE" else 1), (name, rc, data, err)
            assert data["ok"] is False and data["code"] == code, (name, data)
            assert isinstance(data["message"], str) and data["message"], (name, data)
    # the same shape whatever the arguments: jobs of one pool or of all,
    # workers likewise, every row with its pool
    rc, one, _ = n.ctlj("jobs", POOL)
    rc, every, _ = n.ctlj("jobs")
    assert one["jobs"] == [{"pool": POOL, "key": KEY}]
    assert {"pool": POOL, "key": KEY} in every["jobs"]
    assert set(one) == set(every) == {"jobs", "ok"}
    rc, one, _ = n.ctlj("workers", POOL)
    rc, every, _ = n.ctlj("workers")
    assert set(one["workers"][0]) == set(every["workers"][0]) == {"pool", "id", "name", "node", "jobs"}
    # --count: an object with "ok" and the counts, for one pool or all
    rc, one, _ = n.ctlj("jobs", POOL, "--count")
    assert one == {"counts": [{"pool": POOL, "count": 1}], "ok": True}, one
    rc, every, _ = n.ctlj("jobs", "--count")
    assert set(every) == {"counts", "ok"} and {"pool": POOL, "count": 1} in every["counts"]
    # -H: no header line; the table has one
    rc, out, _ = n.ctl("-H", "jobs", POOL)
    assert out == KEY + "\n"
    rc, out, _ = n.ctl("jobs", POOL)
    assert out.split("\n")[0] == "KEY"
    rc, out, _ = n.ctl("-H", "jobs", POOL, "--count")
    assert out == "1\n"


@pytest.mark.parametrize("view,field", [(["jobs"], "jobs"), (["workers"], "workers"),
                                        (["nodes"], "nodes"), (["tickers"], "tickers"),
                                        (["schedules"], "schedules"),
                                        (["jobs", "--match", "no*"], "jobs"),
                                        (["jobs", "--count"], "counts")])
def test_an_empty_list(env, view, field):
    """[] under --json, nothing at all under -H."""
    n = env.node()
    args = view[:1] + ["empty"] + view[1:]
    if field == "counts":
        rc, data, err = n.ctlj(*args)
        assert rc == 0 and data == {"counts": [{"pool": "empty", "count": 0}], "ok": True}, data
        return
    rc, data, err = n.ctlj(*args)
    assert rc == 0 and data == {field: [], "ok": True}, (data, err)
    rc, out, err = n.ctl("-H", *args)
    assert rc == 0 and out == "", (out, err)
    # no pool at all: every pool this pulsed knows, none
    if view[0] in ("jobs", "workers"):
        rc, data, err = n.ctlj(*view)
        assert rc == 0 and data == {field: [], "ok": True}, data
        rc, out, _ = n.ctl("-H", *view)
        assert rc == 0 and out == ""


# ---- keys of any bytes -------------------------------------------------------

T_HELLO, T_WELCOME, T_OK, T_DISPATCH = 1, 2, 4, 10


def raw_dispatch(sock, pool, key, payload=b"x"):
    """DISPATCH a key of any bytes (a msgpack str that need not be UTF-8)."""
    import msgpack
    import struct
    s = raw_session(sock)
    s.sendall(frame({"t": T_HELLO, "v": 1, "role": "client"}))
    assert read_frame(s)["t"] == T_WELCOME
    # use_bin_type=False: bytes go as str (key) and a str is taken for a bin
    body = msgpack.packb({"t": T_DISPATCH, "id": 1, "pool": pool, "key": key,
                          "payload": payload}, use_bin_type=False)
    s.sendall(struct.pack(">I", len(body)) + body)
    m = read_frame(s)
    s.close()
    return m


def test_keys_that_are_not_utf8_round_trip_in_json(env):
    n = env.node()
    w = env.worker(n)
    keys = [b"caf\xe9-latin1", b"\xff\xfe bytes", "ключ-utf8".encode()]
    for k in keys:
        m = raw_dispatch(n.sock, "p", k)
        assert m["t"] == T_OK, m
    wait_for(lambda: len(w.running()) == 3, 5, "the three jobs")
    rc, data, err = n.ctlj("jobs", "p")
    assert rc == 0, err

    def exact(row):
        if "key_base64" in row:
            return base64.b64decode(row["key_base64"])
        return row["key"].encode()
    assert sorted(exact(r) for r in data["jobs"]) == sorted(keys)
    for r in data["jobs"]:
        valid = exact(r) == "ключ-utf8".encode()
        # a valid UTF-8 key is a plain string; the others also carry base64
        assert ("key_base64" in r) is not valid, r
        if not valid:
            assert "\ufffd" in r["key"], r
    # -H and the table print the bytes themselves
    out = subprocess.run([PULSECTL, "-s", n.sock, "-H", "jobs", "p"],
                         capture_output=True, timeout=30).stdout
    assert sorted(out.split(b"\n")[:-1]) == sorted(keys)
    # and a key given back as an argument names the job
    for k in keys:
        r = subprocess.run([PULSECTL, "-s", n.sock, "job", "p", k], capture_output=True,
                           timeout=30)
        assert r.returncode == 0 and r.stdout == b"x", r
