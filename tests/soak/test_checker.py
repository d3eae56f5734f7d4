"""test_checker.py: the reference model of model.py (check_model) on
made-up histories, without any process: what it must flag and what it
must let pass, and the key encoding of the workers' logs."""
import model  # first: it puts tests/integration on sys.path

import harness  # noqa: E402

S = 10 ** 9  # one second in ns


def req(seq, kind, key, call, ret, code):
    r = model.Req(seq, kind, 0, key)
    r.call_ns, r.ret_ns, r.code = call * S, ret * S, code
    return r


def check(reqs, losses=(), observed=(), iv=None, notes=None):
    return model.check_model(reqs, [(a * S, b * S) for a, b in losses],
                             [(t * S, set(k)) for t, k in observed],
                             {k: [(a * S, None if b is None else b * S, w) for a, b, w in v]
                              for k, v in (iv or {}).items()}, notes or {})


def test_a_clean_history_passes():
    reqs = [req(1, "dispatch", "a b", 1, 2, "OK"), req(2, "stop", "a b", 3, 4, "OK"),
            req(3, "dispatch", "a b", 5, 6, "OK")]
    iv = {"a b": [(1.5, 3.5, "w1"), (5.5, None, "w2")]}
    assert check(reqs, observed=[(7, ["a b"])], iv=iv) == []


def test_a_job_lost_without_a_loss_of_data():
    reqs = [req(1, "dispatch", "k", 1, 2, "OK")]
    out = check(reqs, observed=[(5, [])], iv={"k": [(1.5, 3, "w1")]})
    assert len(out) == 1 and "lost" in out[0] and "no loss of Redis data" in out[0]


def test_a_loss_while_nothing_ran_the_job_excuses_it():
    reqs = [req(1, "dispatch", "k", 1, 2, "OK")]
    iv = {"k": [(1.5, 3, "w1")]}   # stopped running at 3, Redis lost it at 4
    assert check(reqs, losses=[(4, 4.1)], observed=[(5, [])], iv=iv) == []


def test_a_loss_while_a_worker_ran_the_job_does_not():
    reqs = [req(1, "dispatch", "k", 1, 2, "OK")]
    iv = {"k": [(1.5, 4.5, "w1")]}   # ran through the loss at 4
    out = check(reqs, losses=[(4, 4.1)], observed=[(5, [])], iv=iv)
    assert len(out) == 1 and "lost" in out[0]


def test_a_job_back_after_job_not_found():
    reqs = [req(1, "dispatch", "k", 1, 2, "OK"), req(2, "stop", "k", 3, 4, "JOB_NOT_FOUND")]
    iv = {"k": [(1.5, 2.5, "w1"), (5, None, "w2")]}
    out = check(reqs, losses=[(2.8, 2.9)], observed=[(6, ["k"])], iv=iv)
    assert any("came back" in p for p in out), out
    assert any("started while known absent" in p for p in out), out


def test_answers_that_contradict_the_state():
    reqs = [req(1, "dispatch", "k", 1, 2, "OK"), req(2, "dispatch", "k", 3, 4, "OK"),
            req(3, "stop", "j", 5, 6, "OK")]
    iv = {"k": [(1.5, None, "w1"), (3.5, None, "w2")]}
    out = check(reqs, iv=iv)
    assert any("'k': #2 dispatch n0 -> OK, but the key existed" in p for p in out), out
    assert any("'j': #3 stop n0 -> OK, but the key was absent" in p for p in out), out


def test_unknown_outcomes_are_resolved_by_the_checkpoint():
    reqs = [req(1, "dispatch", "k", 1, 2, "TIMEOUT"), req(2, "dispatch", "j", 1, 2, "LOST")]
    iv = {"k": [(1.5, None, "w1")]}
    assert check(reqs, observed=[(5, ["k"])], iv=iv) == []


def test_a_stop_answered_while_the_job_still_runs():
    reqs = [req(1, "dispatch", "k", 1, 2, "OK"), req(2, "stop", "k", 3, 4, "OK")]
    out = check(reqs, iv={"k": [(1.5, 4.5, "w1")]})
    assert any("while a worker still ran it" in p for p in out), out


def test_notify_reaches_one_worker_once():
    r = req(2, "notify", "k", 3, 4, "OK")
    reqs = [req(1, "dispatch", "k", 1, 2, "OK"), r]
    iv = {"k": [(1.5, None, "w1")]}
    p = r.payload.decode()
    assert check(reqs, iv=iv, notes={p: [(3.5 * S, "w1", "k")]}) == []
    assert "no worker saw" in check(reqs, iv=iv)[0]
    twice = {p: [(3.5 * S, "w1", "k"), (3.6 * S, "w2", "k")]}
    assert "delivered 2 times" in check(reqs, iv=iv, notes=twice)[0]


def test_keys_round_trip_through_the_log_encoding():
    for k in model.KEYS + ["a%20b", "%", "plain-key_1.2:3/4"]:
        e = harness.encode_key(k)
        assert " " not in e and "\n" not in e
        assert harness.decode_key(e) == k
    assert harness.encode_key("a b%") == "a%20b%25"
    assert harness.encode_key("plain-key_1.2:3/4") == "plain-key_1.2:3/4"


def test_runs_of_workers_past_the_handler_budget_are_not_held_against_answers():
    reqs = [req(1, "dispatch", "k", 1, 2, "OK"), req(2, "stop", "k", 3, 4, "OK")]
    iv = {"k": [(1.5, 4.5, "slow1"), (5, 5.5, "slow1")]}
    assert check(reqs, iv=iv)  # a run past the stop, a start after it
    assert model.check_model(reqs, [], [], {"k": [(a * S, b * S, w) for a, b, w in iv["k"]]},
                             {}, slow={"slow1"}) == []


def test_a_stop_undone_by_a_fenced_nodes_rejoin_is_a_failure():
    """README.md "What Redis can lose" used to excuse this history (the
    model's find-reaped-fence, fixed since): a node fenced at 1 (its copy
    of k kept), the stop at 3 answered OK, Redis lost its data at 4, the
    node re-joined at 5 and re-created k. The checker holds it against
    pulsed now, as it does any run after a stop's answer."""
    reqs = [req(1, "dispatch", "k", 0.1, 0.2, "OK"), req(2, "stop", "k", 2.9, 3, "OK")]
    iv = {"k": [(0.15, 2.95, "w1"), (5.1, None, "w2")]}
    out = model.check_model(reqs, [(4 * S, 4.1 * S)], [(6 * S, {"k"})],
                            {k: [(a * S, None if b is None else b * S, w)
                                 for a, b, w in v] for k, v in iv.items()}, {})
    assert any("came back" in p for p in out) and \
        any("started while known absent" in p for p in out), out
