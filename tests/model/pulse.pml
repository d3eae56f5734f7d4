/*
 * pulse.pml: pulsed's job ownership protocol as a model for spin.
 *
 * What it is: the Lua scripts of daemon/lua/ (each one atomic step of
 * the `redis` process, as Redis runs scripts one at a time), the event
 * loop callbacks of daemon/pool.c, worker.c, jobs.c, dispatch.c,
 * request.c and inbox.c (each one atomic step of a `node` process: a libevent
 * callback runs to completion), the worker side of libpulse-client
 * (client/worker.c: START/HALT handlers, the LEASE it must hear again),
 * a discrete clock, a client that dispatches and stops, and an
 * environment that injects faults. Every step names, in a comment, the
 * script or C function it stands for; tests/model/scripts.sha256 records
 * the scripts' hashes so that a changed script is re-checked (see
 * check_drift.sh and README.md).
 *
 * One key, 2 nodes, 2 or 3 workers (w0 and w2 on node 0, w1 on node 1).
 * Time is counted in ticks of TTL/5 (one lease period); all the
 * protocol's work between two ticks is "urgent": the clock advances only
 * when no process can take a step (spin's `timeout`), so nothing is
 * late unless a fault makes it late (a SIGSTOPped node, a broken Redis
 * connection). Faults may strike between any two steps.
 *
 * The default is today's code on main. Compile-time switches (README.md
 * has the list, configs.txt the configurations, traces/ what they find):
 *   OLD_GHOST      before b366e59: worker_session_closed detaches only
 *                  attached workers, attach_cb drops the session on LOST
 *                  or no answer, lease.lua does not reconcile workers
 *   OLD_FLUSH      before e7f54bd: started.lua answers STALE when Redis
 *                  lost the node
 *   OLD_RESURRECT  before 44d55af: join.lua re-queues fenced jobs Redis
 *                  lacks whatever happened meanwhile (no B created, no
 *                  tombstones)
 *   OLD_JOINING    before the fix of finding 1 (README.md): fence_cb()
 *                  fences only an active pool, worker_lease_ms() grants
 *                  TTL/2 to every worker while re-joining (the worker
 *                  with the job too, as before a85850e); with a cut
 *                  while re-joining (CUT_JOINING)
 *   OLD_REBUILD    before the fix of finding 2: join.lua marks the
 *                  rebuild only on a re-join (rejoin '1'), not on a first
 *                  join after Redis lost its data (with LATE1)
 *   OLD_REAPED_FENCE  before the fix of finding 3 (find-reaped-fence,
 *                  README.md): no node remembers the keys it answered as
 *                  gone, B tomb is a set (a stop at any time since B
 *                  created), a fenced job join.lua re-creates is due at
 *                  once, fenced copies are kept whatever their age
 *                  (implied by OLD_RESURRECT, older still)
 * and the scenario knobs below (NR, Qn_T, Qn_N, W2, INIT_JOB, LATE1, B_*,
 * FNODE, FWORKER, STRAYS, STOP_RUNNING, FLUSH_FENCED, FIND_REAPED_FENCE,
 * CUT_JOINING, LIVE).
 */
#ifdef OLD_RESURRECT
#define OLD_REAPED_FENCE
#endif

/* ---- bounds --------------------------------------------------------- */
#define NN 2           /* nodes */
#define NW 3           /* workers: w0@n0, w1@n1, w2@n0 */
#define NONE 7
#define WNODE(w) ((w) == 1)

/* ---- timing, in ticks of TTL/5 (pool.c) ----------------------------- */
#define TTL    5       /* worker_ttl */
#define FENCE  3       /* fence_after_ms(): 3/5 TTL */
#define SLACK  1       /* worker_lease_ms() slack TTL/10 = 0.5: rounded up */
#define MARGIN 0       /* reap_margin_ms() TTL/10 = 0.5: rounded down */
#define HALF   3       /* worker_lease_ms() when not active, TTL/2: up */
#define DLFULL (TTL + MARGIN + 1)   /* r_dl: ticks left + MARGIN + 1 */
#define SAT    TTL     /* since_ok and lease_age count up to here */
#define DLNONE 15
#ifndef GB
#define GB 2           /* ticks a ghost worker may stay in placement */
#endif
#ifndef HORIZON
#define HORIZON (2 * TTL)   /* config.c pool_opts_horizon_ms(): how long stops
                             * leave tombstones, fenced copies are kept */
#endif
#define KEEP (HORIZON + TTL)   /* pool_opts_gone_keep_ms(): answers kept */

/* ---- scenario ------------------------------------------------------- */
#define Q_DISP 1
#define Q_STOP 2
#ifndef NR
#define NR 2
#endif
#ifndef Q1_T
#define Q1_T Q_DISP
#endif
#ifndef Q1_N
#define Q1_N NONE      /* NONE: any live node */
#endif
#ifndef Q2_T
#define Q2_T Q_STOP
#endif
#ifndef Q2_N
#define Q2_N NONE
#endif
#ifndef Q3_T
#define Q3_T Q_DISP
#endif
#ifndef Q3_N
#define Q3_N NONE
#endif
#ifndef W2
#define W2 0           /* 1: worker w2 attaches to node 0 late */
#endif
#ifndef INIT_JOB
#define INIT_JOB 0     /* 1: the key runs on w0 from the start (payload JP) */
#endif
#define JP (NR + 1)
#ifndef LATE1
#define LATE1 0        /* 1: node 1 uses the pool for the first time late */
#endif
#ifndef B_FLUSH
#define B_FLUSH 1
#endif
#ifndef B_CONN
#define B_CONN 1
#endif
#ifndef B_STOP
#define B_STOP 1
#endif
#ifndef B_NCRASH
#define B_NCRASH 0
#endif
#ifndef B_WCRASH
#define B_WCRASH 0
#endif
#ifndef FNODE
#define FNODE NONE     /* restrict node faults to this node (NONE: any) */
#endif
#ifndef STRAYS
#define STRAYS 1       /* model the stray walk (strays.lua) */
#endif
/* placement: rendezvous order of the workers for the key (best first) */
#ifndef P0
#define P0 2
#endif
#ifndef P1
#define P1 0
#endif
#ifndef P2
#define P2 1
#endif

mtype = {
	/* scripts (daemon/lua) and plain commands */
	S_ADMIT, S_LEASE, S_JOIN, S_MEMBERS, S_SCAN, S_CLAIM, S_STARTED,
	S_RELEASE, S_REMOVE, S_ROUTE, S_ATTACH, S_DETACH, S_STRAYS, S_XREPLY,
	/* answers */
	C_OK, C_LOST, C_STALE, C_OWNED, C_WAIT, C_REBUILD, C_EXISTS,
	C_NOTFOUND, C_LOCAL, C_ROUTED, C_DELETED, C_RETRY, C_UNAVAIL,
	/* inbox entries (REDIS.md) */
	M_A, M_S, M_R,
	/* frames to a worker */
	F_START, F_HALT
};

/* node states (pool.h POOL_*) */
#define N_OFF 0
#define N_JOINING 1
#define N_ACTIVE 2
#define N_FENCED 3
#define N_DEAD 4
/* a job's HALT (jobs.c jobop): stop for a local / remote caller,
 * move, self-fence */
#define H_NONE 0
#define H_STOPL 1
#define H_STOPR 2
#define H_MOVE 3
#define H_FENCE 4
/* worker process */
#define W_NONE 0
#define W_IDLE 1
#define W_ON 2
#define W_DEAD 3
#define W_HELLO 4
/* requests */
#define Q_FREE 0
#define Q_NEW 1
#define Q_ACT 2
#define Q_DONE 3

hidden byte tnow;       /* for the printed trace only */

/* ---- Redis (REDIS.md "Keys"), one key --------------------------------- */
bit  r_job;            /* B jobs has the key */
byte r_pay;            /* its payload: the number of the admission (ghost) */
byte r_own_n = NONE;   /* B owner: "<node> <worker> <fence>" */
byte r_own_w = NONE;
byte r_own_f;
byte r_disp_n = NONE;  /* B disp: "<caller node> <request id>" */
byte r_disp_r;
bit  r_wait;           /* B wait has the key (always due: no requeues) */
byte r_wk[NW];         /* B workers: worker -> node, NONE = absent */
byte r_dl[NN];         /* B nodes: deadline as ticks left + MARGIN + 1 */
byte r_inc[NN];        /* B inc: incarnation, 0 = absent */
bit  r_reaped[NN];     /* B reaped */
bit  r_ibx[NN];        /* B inbox:<node> exists */
bit  r_epoch;          /* B epoch exists */
byte r_rebuild;        /* B rebuild: ticks left */
bit  r_mark = 1;       /* '<prefix>:redis' names this run (the harness's
                        * declare_new(): a Redis pulsed used before) */
byte r_mark_age = TTL; /* ticks since the marker was set, up to TTL */
bit  r_bump[NN];       /* epoch changed since the node's last members.lua */
byte r_created;        /* B created: ticks left of the horizon */
byte r_tomb_at;        /* B tomb[key]: the time (rt, below) of the latest
                        * answer that the key is gone; 0: none */
bit  r_rbt;            /* B rebuilt[key] exists and the key's wait score
                        * is still the one join.lua recorded there */
byte r_rbt_since;      /* ... its since */
byte r_rbt_left;       /* ... ticks until B rebuilt expires (window + TTL):
                        * the copy is due once no more than TTL are left */
#define NOTDUE (r_rbt && r_rbt_left > TTL)  /* its wait score is ahead */
/* Redis time, as an order: only "answer at >= since" is ever asked (was
 * the key answered as gone after this job started here?), so a since
 * takes rt, and moves it on first when an answer took it (rt_used): an
 * answer after a since then has at >= since, one before it at < since,
 * exactly as with the Redis clock (two events never share a ms here) */
byte rt = 1;
bit  rt_used;

chan rq[NN] = [8] of { mtype, byte, byte, byte, byte, byte }; /* node -> Redis */
chan rp[NN] = [8] of { mtype, mtype, byte, byte, byte };      /* replies */
chan ib[NN] = [3] of { mtype, byte, byte, byte, byte, byte }; /* inboxes */

/* ---- nodes (struct pool) ---------------------------------------------- */
byte st[NN];           /* p->state */
bit  joined[NN];       /* p->joined_ms != 0 */
byte ninc[NN];         /* p->inc */
byte since_ok[NN];     /* ticks since the send of the last good lease */
bit  farmed[NN];       /* fence_timer armed */
bit  ldue[NN];         /* lease_timer due */
bit  lease_if[NN];     /* lease_inflight */
byte lease_age[NN];    /* ticks since the lease in flight was sent */
bit  join_if[NN];
bit  jstale[NN];       /* pool.c join_stale: fenced with the join in flight */
bit  mem_if[NN];
bit  mem_again[NN];
bit  scan_if[NN];
bit  scan_again[NN];
bit  up[NN];           /* store_up() */
bit  rx[NN];           /* Redis reads this node's connection */
bit  brk[NN];          /* the connection broke, the node has not seen it */
bit  blocked[NN];      /* cut off: cannot reconnect */
bit  stopped[NN];      /* SIGSTOP */
bit  reading[NN];      /* an XREAD on the inbox is outstanding */
bit  ps_m[NN];         /* pub/sub 'm' pending */
bit  ps_w[NN];         /* pub/sub 'w' pending */
byte view[NN];         /* p->workers: bit per worker */
byte sticks[NN];       /* p->ticks % STRAY_EVERY */
byte sp_w[NN];         /* p->strays_prev: worker, fence */
byte sp_f[NN];
bit  fz[NN];           /* p->fenced: the key, its payload */
byte fz_pay[NN];
bit  fz_sent[NN];      /* ... named by the join in flight */
bit  fz_done[NN];      /* ghost: join.lua has settled it (Redis has the job
                          or decided it is gone); the node forgets it at join_cb */
bit  fz_late[NN];      /* ghost: join.lua dropped fenced memory (deadline) */
byte fz_since[NN];     /* fenced_job since: when the job started here (rt) */
byte fz_left[NN];      /* ticks until kept longer than HORIZON (kept_ms) */
/* the answered log (gone.h): the latest key this node answered as gone */
bit  gn[NN];
byte gn_at[NN];        /* its time (rt) */
byte gn_left[NN];      /* ticks left of KEEP */
byte js_at[NN];        /* ... named by the join in flight (its ARGV; one
                        * join at most in flight): 0 none */
/* the node's job for the key (struct job), at most one */
byte j_w[NN];          /* worker, NONE = no job */
byte j_f[NN];
byte j_pay[NN];
byte j_since[NN];      /* j->since (rt) */
byte j_dn[NN];         /* j->disp: caller node, request id */
byte j_dr[NN];
bit  j_run[NN];        /* j->running */
bit  j_start[NN];      /* START sent, not answered */
byte j_halt[NN];       /* the HALT queued or sent (H_*) */
byte j_hn[NN];         /* its caller node, request id */
byte j_hr[NN];
bit  j_fencing[NN];    /* a fencing HALT is queued (has_fencing) */
bit  j_ag[NN];         /* j->again: fence, payload, dispatch */
byte j_agf[NN];
byte j_agp[NN];
byte j_agdn[NN];
byte j_agdr[NN];
/* attached workers (struct lworker), by worker id */
bit  lw[NW];
bit  lw_att[NW];       /* w->attached */
bit  lw_atting[NW];    /* w->attaching */

/* ---- worker processes (client/worker.c) ------------------------------- */
byte wk_st[NW];
bit  wk_run[NW];       /* its start handler ran, its stop handler not yet */
byte wk_pay[NW];
byte wk_lease[NW];     /* ticks until lease_end */
bit  wk_lset[NW];
byte wk_ack[NW];       /* ACKs written, not read by pulsed */
bit  wk_eof[NW];       /* session ended by the worker, pulsed has not seen it */

/* ---- requests (struct request) ---------------------------------------- */
byte q_type[NR + 1];
byte q_node[NR + 1];
byte q_st[NR + 1];
byte q_retry[NR + 1];  /* 1: armed (RETRY_MS), 2: due */
byte q_owner[NR + 1];
mtype q_ans[NR + 1];
byte q_cut[NR + 1];    /* ghost: admissions seen by the stop's decisive step */

/* ---- ghosts for the properties ---------------------------------------- */
byte adm_count;        /* admissions so far */
byte adm_no[NR + 2];   /* the admission number of each job (by payload) */
byte promised;         /* a job whose dispatch was answered OK, not stopped */
bit  gone[NR + 2];     /* that job was stopped, or lost to a double fault */
bit  clean;            /* a stop answered OK or JOB_NOT_FOUND ... */
byte clean_cut;        /* ... when adm_count was this */
bit  quiet;            /* faults have stopped */
byte ghost_age[NW];
bit  use1;             /* LATE1: node 1 is asked to use the pool */
byte b_flush = B_FLUSH;
byte b_conn = B_CONN;
byte b_stop = B_STOP;
byte b_ncrash = B_NCRASH;
byte b_wcrash = B_WCRASH;
byte q_next = 1;

#define RUN(n)     (st[n] != N_DEAD && st[n] != N_OFF && !stopped[n])
#define USABLE(n)  (up[n] && st[n] == N_ACTIVE)           /* pool_usable() */
/* pool.c leased(): local jobs run under the node's lease */
#ifdef OLD_JOINING
#define LEASED(n)  (st[n] == N_ACTIVE)
#else
#define LEASED(n)  (st[n] == N_ACTIVE || (st[n] == N_JOINING && j_w[n] != NONE))
#endif
#define RUNNING    (wk_run[0] || wk_run[1] || wk_run[2])
#define NRUNNING   (wk_run[0] + wk_run[1] + wk_run[2])
#define INPLACE(w) (lw[w] && lw_att[w])                    /* pool.c pool_worker_placed() */
/* a live node holds the job: runs it, is about to, or remembers it */
#define HOLDS(n, s) (st[n] != N_DEAD && \
	((j_w[n] != NONE && j_pay[n] == (s)) || (j_ag[n] && j_agp[n] == (s)) || \
	 (fz[n] && !fz_done[n] && fz_pay[n] == (s)) || rp[n]??[S_CLAIM, C_OK, _, _, eval(s)] || \
	 rq[n]??[S_RELEASE, _, _, eval(s), _, _] || rp[n]??[S_RELEASE, C_LOST, _, _, eval(s)]))
#define EXISTS(s)  ((r_job && r_pay == (s)) || HOLDS(0, s) || HOLDS(1, s))
#define HEALTHY(n) (st[n] == N_ACTIVE && up[n] && !brk[n] && !stopped[n])

/* Every step the protocol can take now. The clock advances only when
 * there is none: all work between two ticks is urgent, and only a fault
 * (SIGSTOP, a broken connection) makes anything late. */
#define G_LTIMER(n) (RUN(n) && ldue[n])
#define G_FENCE(n)  (RUN(n) && farmed[n] && since_ok[n] >= FENCE)
#define G_REPLY(n)  (RUN(n) && len(rp[n]) > 0)
#define G_ACK(n, w) (RUN(n) && WNODE(w) == n && wk_ack[w] > 0)
#define G_EOF(n, w) (RUN(n) && WNODE(w) == n && wk_eof[w] && wk_ack[w] == 0)
#define G_HELLO(n)  (RUN(n) && n == 0 && wk_st[2] == W_HELLO)
#define G_USE(n)    (st[n] == N_OFF && use1 && !stopped[n])
#define G_INBOX(n)  (RUN(n) && up[n] && !brk[n] && reading[n] && \
                     (st[n] == N_ACTIVE || st[n] == N_FENCED) && len(ib[n]) > 0)
#define G_PSM(n)    (RUN(n) && up[n] && ps_m[n])
#define G_PSW(n)    (RUN(n) && up[n] && ps_w[n])
#define G_REQ(n, r) (RUN(n) && q_node[r] == n && \
                     (q_st[r] == Q_NEW || q_st[r] == Q_ACT && q_retry[r] == 2))
#define G_DOWN(n)   (RUN(n) && up[n] && brk[n])
#define G_UP(n)     (RUN(n) && !up[n] && !blocked[n])
#define G_REDIS(n)  (rx[n] && len(rq[n]) > 0)
#if NR >= 3
#define G_REQS(n) (G_REQ(n, 1) || G_REQ(n, 2) || G_REQ(n, 3))
#elif NR >= 2
#define G_REQS(n) (G_REQ(n, 1) || G_REQ(n, 2))
#else
#define G_REQS(n) (G_REQ(n, 1))
#endif
#define G_NODE(n) (G_LTIMER(n) || G_FENCE(n) || G_REPLY(n) || G_ACK(n, 0) || \
	G_ACK(n, 1) || G_ACK(n, 2) || G_EOF(n, 0) || G_EOF(n, 1) || G_EOF(n, 2) || \
	G_HELLO(n) || G_USE(n) || G_INBOX(n) || G_PSM(n) || G_PSW(n) || G_REQS(n) || \
	G_DOWN(n) || G_UP(n))
#define URGENT (G_NODE(0) || G_NODE(1) || G_REDIS(0) || G_REDIS(1))

/* ---- the safety properties: a monitor that can step whenever one of
 * them is false, between any two steps of the protocol (never inside
 * one: every step is atomic) -------------------------------------------- */
#define P_ONE    (NRUNNING <= 1)
#define P_PROM   (promised == 0 || EXISTS(promised))
/* a fenced copy join.lua re-created that may not be claimed yet (its
 * wait score is ahead, the rebuild window) is not back yet: a re-joining
 * node that answered the stop drops it meanwhile (join.lua); once due, or
 * running, it is */
#define P_STOP   (!(clean && adm_count == clean_cut && ((r_job && !NOTDUE) || RUNNING)))

active proctype monitor()
{
end:	atomic { !(P_ONE && P_PROM && P_STOP) ->
		if
		:: !P_ONE ->
			printf("VIOLATION one-owner: %d workers run the key\n", NRUNNING)
		:: else
		fi;
		if
		:: !P_PROM ->
			printf("VIOLATION dispatch-ok: job %d answered OK exists nowhere\n", promised)
		:: else
		fi;
		if
		:: !P_STOP ->
			printf("VIOLATION stop: the key is back (in Redis %d, running %d) after a stop's answer\n",
			       r_job, RUNNING)
		:: else
		fi;
		assert(false) }
}

/* A double fault (Redis lost the job and the only other copy died) is not
 * the protocol's to survive: the job is excused. */
inline excuse(why_exc)
{
	if
	:: promised != 0 && !EXISTS(promised) ->
		if
		:: why_exc == 1 -> printf("[t%d] job %d lost to a double fault (its only copy was on a worker that died): excused\n", tnow, promised)
		:: why_exc == 2 -> printf("[t%d] job %d lost to a double fault (Redis lost it and its node came back after the tombstone horizon): excused\n", tnow, promised)
		:: why_exc == 3 -> printf("[t%d] job %d lost to a double fault (Redis had lost it and its node died): excused\n", tnow, promised)
		:: why_exc == 4 -> printf("[t%d] job %d lost to a double fault (it was waiting or moving: only Redis had it): excused\n", tnow, promised)
		:: why_exc == 5 -> printf("[t%d] job %d lost to a double fault (Redis lost it while its only copy was a fenced node's, and the key was dispatched again meanwhile): excused\n", tnow, promised)
		:: why_exc == 6 -> printf("[t%d] job %d lost to a double fault (Redis lost it and its only copy was a node's kept for longer than the horizon): excused\n", tnow, promised)
		fi;
		gone[promised] = 1;
		promised = 0
	:: else
	fi
}

/* ======================================================================
 * Redis: each script is one atomic step (daemon/lua/<name>.lua)
 * ====================================================================== */

/* common.lua bump_epoch(): INCR epoch, PUBLISH 'm' */
inline bump()
{
	r_epoch = 1;
	r_bump[0] = 1;
	r_bump[1] = 1;
	ps_m[0] = ps_m[0] || (up[0] && st[0] != N_DEAD);
	ps_m[1] = ps_m[1] || (up[1] && st[1] != N_DEAD)
}

/* PUBLISH 'w' */
inline pubw()
{
	ps_w[0] = ps_w[0] || (up[0] && st[0] != N_DEAD);
	ps_w[1] = ps_w[1] || (up[1] && st[1] != N_DEAD)
}

/* common.lua own() */
inline own(nd_own, wd_own, fd_own)
{
	r_own_n = nd_own;
	r_own_w = wd_own;
	r_own_f = fd_own
}

/* common.lua unown() */
inline unown()
{
	r_own_n = NONE;
	r_own_w = NONE;
	r_own_f = 0
}

/* B rebuilt[key] gone, or the key's wait score changed (ZADD, ZREM):
 * join.lua's named stops leave the key alone from then on */
inline rbt_clear()
{
	r_rbt = 0;
	r_rbt_since = 0;
	r_rbt_left = 0
}

/* the Redis time of an answer into v_at (see rt) */
inline at_now(v_at)
{
	v_at = rt;
	rt_used = 1
}

/* the Redis time of a job's start into v_sin (see rt) */
inline since_now(v_sin)
{
#ifndef OLD_REAPED_FENCE
	if
	:: rt_used -> rt++; rt_used = 0; assert(rt < 255)
	:: else
	fi;
	v_sin = rt
#else
	skip
#endif
}

/* common.lua tombstone(key, at): B tomb[key] = max(B tomb[key], at) */
inline tomb_set(v_tom)
{
	if
	:: v_tom > r_tomb_at -> r_tomb_at = v_tom
	:: else
	fi
}

/* common.lua drop_job() */
inline drop_job()
{
	r_job = 0;
	unown();
	r_disp_n = NONE;
	r_disp_r = 0;
	r_wait = 0;
	rbt_clear()
}

/* common.lua tombstone(): within the horizon after the pool's state was
 * re-created, a stop, a failed start or a JOB_NOT_FOUND leaves one: the
 * Redis time of the answer (HSET; before the fix, a set: SADD) */
inline tombstone()
{
#ifndef OLD_RESURRECT
	if
	:: r_created > 0 ->
#ifndef OLD_REAPED_FENCE
		at_now(x_t);
		tomb_set(x_t);
		x_t = 0
#else
		r_tomb_at = 1
#endif
	:: else
	fi
#else
	skip
#endif
}

/* a stop ended the job (ghost) */
inline stop_ends(rid_sto)
{
	q_cut[rid_sto] = adm_count;
	gone[r_pay] = 1;
	if
	:: promised == r_pay -> promised = 0
	:: else
	fi;
	tombstone()
}

/* common.lua reap(): workers leave, owned jobs wait, inbox and lease go */
inline reap(dn_rea)
{
	rd_i = 0;
	do
	:: rd_i < NW ->
		if
		:: r_wk[rd_i] == dn_rea -> r_wk[rd_i] = NONE
		:: else
		fi;
		rd_i++
	:: else -> break
	od;
	if
	:: r_own_n == dn_rea ->
		unown();
		if
		:: r_job -> r_wait = 1; rbt_clear()
		:: else
		fi;
		pubw()
	:: else
	fi;
	r_ibx[dn_rea] = 0;
	do
	:: nempty(ib[dn_rea]) -> ib[dn_rea]?_, _, _, _, _, _
	:: empty(ib[dn_rea]) -> break
	od;
	r_dl[dn_rea] = DLNONE;
	r_inc[dn_rea] = 0
}

/* INCR fence: any value used nowhere is as good as a new one */
inline fresh(res_fre)
{
	res_fre = 1;
	do
	:: (r_own_n != NONE && res_fre == r_own_f) || res_fre == j_f[0] || res_fre == j_f[1] ||
	   res_fre == j_agf[0] || res_fre == j_agf[1] || res_fre == sp_f[0] || res_fre == sp_f[1] ||
	   rq[0]??[_, _, eval(res_fre), _, _, _] || rq[1]??[_, _, eval(res_fre), _, _, _] ||
	   rp[0]??[_, _, _, eval(res_fre), _] || rp[1]??[_, _, _, eval(res_fre), _] ||
	   ib[0]??[_, _, eval(res_fre), _, _, _] || ib[1]??[_, _, eval(res_fre), _, _, _] ->
		res_fre++;
		assert(res_fre < NONE)
	:: else -> break
	od
}

inline reply(n, s_rep, code_rep, a_rep, b_rep, c_rep)
{
	if
	:: st[n] != N_DEAD ->
		assert(len(rp[n]) < 8);
		rp[n]!s_rep, code_rep, a_rep, b_rep, c_rep
	:: else
	fi
}

inline ibsend(t_ibs, m_ibs, a_ibs, b_ibs, c_ibs, d_ibs, e_ibs)
{
	assert(len(ib[t_ibs]) < 3);
	ib[t_ibs]!m_ibs, a_ibs, b_ibs, c_ibs, d_ibs, e_ibs
}

/* common.lua reply() through send(): XADD NOMKSTREAM */
inline ibreply(t_ibr, rid_ibr, code_ibr)
{
	if
	:: r_ibx[t_ibr] -> ibsend(t_ibr, M_R, rid_ibr, 0, code_ibr, 0, 0)
	:: else
	fi
}

/* One script of node n with arguments a..e. */
inline redis_exec(n)
{
	if
	/* admit.lua: ARGV key, payload, caller, rid, maxq, worker, its node */
	:: sc == S_ADMIT ->
		if
		:: r_inc[n] == 0 -> reply(n, S_ADMIT, C_LOST, a, 0, 0)
		:: r_inc[n] != 0 && r_rebuild > 0 -> reply(n, S_ADMIT, C_REBUILD, a, 0, 0)
		:: r_inc[n] != 0 && r_rebuild == 0 && r_job -> reply(n, S_ADMIT, C_EXISTS, a, 0, 0)
		:: r_inc[n] != 0 && r_rebuild == 0 && !r_job ->
			r_job = 1;
			r_pay = c;              /* the payload: this dispatch's number */
			adm_count++;
			adm_no[c] = adm_count;
			x_d = (b != NONE);
			x_f = 0;
			if
			:: x_d ->
				fresh(x_f);
				if
				:: WNODE(b) != n ->
					if
					:: r_ibx[WNODE(b)] -> ibsend(WNODE(b), M_A, b, x_f, n, a, c)
					:: else -> x_d = 0
					fi
				:: else
				fi
			:: else
			fi;
			r_disp_n = n;
			r_disp_r = a;
			if
			:: x_d ->
				own(WNODE(b), b, x_f);
				printf("[t%d] admit.lua: key admitted (job %d) for w%d fence %d\n", tnow, c, b, x_f);
				reply(n, S_ADMIT, C_OWNED, a, x_f, 0)
			:: else ->
				r_wait = 1;
				rbt_clear();
				pubw();
				printf("[t%d] admit.lua: key admitted (job %d), waiting\n", tnow, c);
				reply(n, S_ADMIT, C_WAIT, a, 0, 0)
			fi
		fi
	/* lease.lua: ARGV node, inc, ttl, margin, placed workers */
	:: sc == S_LEASE ->
		if
		:: r_inc[n] != a ->
			printf("[t%d] lease.lua n%d: LOST\n", tnow, n);
			reply(n, S_LEASE, C_LOST, 0, 0, 0)
		:: else ->
			r_dl[n] = DLFULL;
			x_d = 0;
#ifndef OLD_GHOST
			/* the node's workers in B workers are made to match the list */
			x_i = 0;
			do
			:: x_i < NW ->
				if
				:: WNODE(x_i) == n && r_wk[x_i] == n && !((c >> x_i) & 1) ->
					printf("[t%d] lease.lua n%d: ghost w%d removed\n", tnow, n, x_i);
					r_wk[x_i] = NONE;
					x_d = 1
				:: WNODE(x_i) == n && r_wk[x_i] == NONE && ((c >> x_i) & 1) ->
					r_wk[x_i] = n;
					x_d = 1
				:: else
				fi;
				x_i++
			:: else -> break
			od;
#endif
			/* reap every node whose deadline is older than tnow - margin */
			x_i = 0;
			do
			:: x_i < NN ->
				if
				:: x_i != n && r_dl[x_i] == 0 ->
					printf("[t%d] lease.lua n%d: reaps n%d\n", tnow, n, x_i);
					reap(x_i);
					r_reaped[x_i] = 1;
					x_d = 1
				:: else
				fi;
				x_i++
			:: else -> break
			od;
			if
			:: x_d -> bump()
			:: else
			fi;
			reply(n, S_LEASE, C_OK, r_bump[n], 0, r_wait)
		fi
	/* join.lua: ARGV node, inc, ttl, rejoin, holder, force, horizon,
	 * workers, fenced jobs (key, payload, since), named stops (key, at),
	 * jobs. Here a = inc * 2 + rejoin, c = the placed workers (a bit
	 * each), d = the fenced job's payload + 8 * its since (0: none), e =
	 * the job running here as worker * 8 + payload (worker NONE: none),
	 * js_at[n] the named stop's at (0: none). The holder check (TAKEN) is
	 * not modelled: one process per node id. */
	:: sc == S_JOIN ->
		b = js_at[n];
		js_at[n] = 0;
		x_e = !r_epoch;                     /* empty */
		if
		:: x_e ->
#ifndef OLD_RESURRECT
			/* SET B created PX HORIZON, DEL B tomb B rebuilt */
			r_created = HORIZON;
			r_tomb_at = 0;
			rbt_clear();
#endif
#ifdef OLD_REBUILD
			if
			:: (a & 1) -> r_rebuild = TTL   /* rejoin == '1' only */
			:: else
			fi
#else
			/* the marker: missing (a loss), or set less than a TTL ago */
			if
			:: (a & 1) || !r_mark -> r_rebuild = TTL
			:: else -> r_rebuild = TTL - r_mark_age
			fi
#endif
		:: else
		fi;
#ifndef OLD_REBUILD
		if                                  /* SET '<prefix>:redis' */
		:: !r_mark -> r_mark = 1; r_mark_age = 0
		:: else
		fi;
#endif
		x_d = r_reaped[n];                  /* was_reaped */
		r_reaped[n] = 0;
		reap(n);
		r_inc[n] = a >> 1;
		r_dl[n] = DLFULL;
		r_ibx[n] = 1;                       /* XADD 'h': the inbox anew */
		x_i = 0;
		do
		:: x_i < NW ->
			if
			:: ((c >> x_i) & 1) && r_wk[x_i] == NONE -> r_wk[x_i] = n
			:: else
			fi;
			x_i++
		:: else -> break
		od;
		fz_late[n] = 0;
		fz_done[n] = (d != 0 && fz_sent[n]);
		x_p = d % 8;                        /* the fenced job: payload, since */
		x_s = d / 8;
#ifndef OLD_REAPED_FENCE
		/* the stop this node answered, while B created lives: a
		 * tombstone again, and a copy re-created from a fence (B rebuilt)
		 * that started before it, has no owner and still waits with the
		 * score recorded (not claimable yet) goes */
		if
		:: b != 0 && r_created > 0 ->
			tomb_set(b);
			if
			:: r_rbt && r_rbt_since <= b && r_own_n == NONE && r_wait ->
				printf("[t%d] join.lua n%d: named stop drops re-created job %d\n", tnow, n, r_pay);
				r_job = 0;                  /* HDEL jobs, disp, rebuilt; ZREM wait */
				r_disp_n = NONE;
				r_disp_r = 0;
				r_wait = 0;
				rbt_clear()
			:: else
			fi
		:: else
		fi;
#endif
		/* fenced jobs Redis lost are re-queued */
		if
		:: d != 0 && !x_d && !r_job ->
#ifdef OLD_RESURRECT
			x_i = 1;
#else
#ifdef OLD_REAPED_FENCE
			/* only while B created lives and the key has no tombstone */
			x_i = (r_created && !r_tomb_at);
#else
			/* only while B created lives and no answer that the key is
			 * gone came after this copy started (B tomb[key] >= since) */
			x_i = (r_created && !(r_tomb_at != 0 && r_tomb_at >= x_s));
#endif
#endif
			if
			:: x_i ->
				printf("[t%d] join.lua n%d: re-queues fenced job %d\n", tnow, n, x_p);
				r_job = 1;
				r_pay = x_p;
				r_wait = 1;
#ifndef OLD_REAPED_FENCE
				/* wait score now + PTTL(B rebuild); B rebuilt[key] = since,
				 * PEXPIRE window + TTL */
				r_rbt = 1;
				r_rbt_since = x_s;
				r_rbt_left = r_rebuild + TTL
#else
				rbt_clear()
#endif
			:: else ->
				printf("[t%d] join.lua n%d: fenced job %d not re-queued (horizon %d, tombstone %d)\n",
				       tnow, n, x_p, r_created, r_tomb_at);
				/* past the horizon the job is gone (the node logs it) */
				fz_late[n] = !r_created;
				if
				:: !r_created -> excuse(2)
				:: else
				fi
			fi
		:: d != 0 && !x_d && r_job && r_pay != x_p ->
			/* the key was dispatched again while this node was away:
			 * join.lua keeps the job that exists (HEXISTS jobs) */
			printf("[t%d] join.lua n%d: fenced job %d superseded by job %d\n", tnow, n, x_p, r_pay);
			excuse(5)
		:: else
		fi;
		/* the jobs running here are re-owned */
		x_w = e / 8;
		x_p = e % 8;
		if
		:: x_w != NONE ->
			if
			:: (r_own_n != NONE && r_own_n != n) || (!r_job && x_d) ->
				printf("[t%d] join.lua n%d: job %d conflicts\n", tnow, n, x_p);
				x_f = 0
			:: else ->
				if
				:: !r_job ->
					printf("[t%d] join.lua n%d: re-announces job %d\n", tnow, n, x_p);
					r_job = 1;
					r_pay = x_p
				:: else
				fi;
				r_wait = 0;
				rbt_clear();
				fresh(x_f);
				own(n, x_w, x_f)
			fi
		:: else -> x_f = NONE
		fi;
		bump();
		reply(n, S_JOIN, C_OK, x_e, x_f, 0)
	/* members.lua: workers whose node holds a lease */
	:: sc == S_MEMBERS ->
		x_d = 0;
		x_i = 0;
		do
		:: x_i < NW ->
			if
			:: r_wk[x_i] != NONE && r_dl[r_wk[x_i]] != DLNONE -> x_d = x_d | (1 << x_i)
			:: else
			fi;
			x_i++
		:: else -> break
		od;
		r_bump[n] = 0;
		reply(n, S_MEMBERS, C_OK, x_d, 0, 0)
	/* ZRANGE B wait (pool_scan_waiting): a = the key waits and is due
	 * (scan_cb() skips a key whose score is ahead; the lease's answer
	 * counts it as waiting, so every lease scans again) */
	:: sc == S_SCAN -> reply(n, S_SCAN, C_OK, r_wait && !NOTDUE, 0, 0)
	/* claim.lua: ARGV node, key, worker: a due key only */
	:: sc == S_CLAIM ->
		if
		:: r_inc[n] == 0 -> reply(n, S_CLAIM, C_LOST, NONE, 0, 0)
		:: r_inc[n] != 0 && r_wait && !NOTDUE && r_wk[a] == n ->
			r_wait = 0;
			rbt_clear();
			if
			:: r_job && r_own_n == NONE ->
				fresh(x_f);
				own(n, a, x_f);
				printf("[t%d] claim.lua n%d: w%d owns job %d, fence %d\n", tnow, n, a, r_pay, x_f);
				reply(n, S_CLAIM, C_OK, a, x_f, r_pay)
			:: else -> reply(n, S_CLAIM, C_OK, NONE, 0, 0)
			fi
		:: else -> reply(n, S_CLAIM, C_OK, NONE, 0, 0)
		fi
	/* started.lua: ARGV key, node, worker, fence, 'ok', msg, delay, disp */
	:: sc == S_STARTED ->
		if
#ifndef OLD_FLUSH
		:: r_inc[n] == 0 ->
			printf("[t%d] started.lua n%d: LOST\n", tnow, n);
			reply(n, S_STARTED, C_LOST, a, b, 0)
#endif
#ifdef OLD_FLUSH
		:: r_own_n != n || r_own_w != a || r_own_f != b ->
#else
		:: r_inc[n] != 0 && (r_own_n != n || r_own_w != a || r_own_f != b) ->
#endif
			printf("[t%d] started.lua n%d: STALE\n", tnow, n);
			reply(n, S_STARTED, C_STALE, a, b, 0)
		:: else ->
			/* the dispatch this start answers (compare-and-delete) */
			x_n = NONE;
			if
			:: c != NONE ->
				if
				:: r_disp_n != NONE -> x_n = c; x_r = d
				:: else
				fi
			:: else -> x_n = r_disp_n; x_r = r_disp_r
			fi;
			r_disp_n = NONE;
			r_disp_r = 0;
			if
			:: x_n != NONE && x_n != n ->
				ibreply(x_n, x_r, C_OK);
				reply(n, S_STARTED, C_OK, a, b, 0)
			:: x_n == n -> reply(n, S_STARTED, C_OK, a, b, x_r)
			:: else -> reply(n, S_STARTED, C_OK, a, b, 0)
			fi
		fi
	/* release.lua: ARGV node, delay, key, "<worker> <fence>"; c and d are
	 * the payload and since the node keeps for release_cb (c = 0: no
	 * callback); the reply carries them back as c and a */
	:: sc == S_RELEASE ->
		if
		:: r_inc[n] == 0 -> reply(n, S_RELEASE, C_LOST, d, b, c)
		:: r_inc[n] != 0 && r_own_n == n && r_own_w == a && r_own_f == b ->
			unown();
			if
			:: r_job -> r_wait = 1; rbt_clear()
			:: else
			fi;
			pubw();
			reply(n, S_RELEASE, C_OK, d, b, c)
		:: else -> reply(n, S_RELEASE, C_OK, d, b, c)
		fi
	/* remove.lua: ARGV key, node, worker, fence, caller, rid, code, msg */
	:: sc == S_REMOVE ->
		if
		:: r_own_n != n || r_own_w != a || r_own_f != b ->
			if
			:: c != NONE && c != n -> ibreply(c, d, C_RETRY)
			:: else
			fi;
			x_r = (c == NONE -> d : 0);
			reply(n, S_REMOVE, C_STALE, x_r, 0, 0)
		:: else ->
			printf("[t%d] remove.lua: job %d stopped and removed\n", tnow, r_pay);
			stop_ends(d);
			drop_job();
			if
			:: c != NONE && c != n -> ibreply(c, d, C_OK)
			:: else
			fi;
			x_r = (c == NONE -> d : 0);
			reply(n, S_REMOVE, C_OK, x_r, 0, 0)
		fi
	/* route.lua: ARGV key, 's', caller, rid, payload */
	:: sc == S_ROUTE ->
		if
		:: r_inc[n] == 0 -> reply(n, S_ROUTE, C_LOST, a, 0, 0)
		:: r_inc[n] != 0 && !r_job && r_rebuild > 0 -> reply(n, S_ROUTE, C_WAIT, a, 0, 0)
		:: r_inc[n] != 0 && !r_job && r_rebuild == 0 ->
			printf("[t%d] route.lua: JOB_NOT_FOUND\n", tnow);
			q_cut[a] = adm_count;
			tombstone();
			/* the stop's answer says the job is gone: a job answered
			 * OK before is not promised any more (ghost) */
			if
			:: promised != 0 && adm_no[promised] <= adm_count -> gone[promised] = 1; promised = 0
			:: else
			fi;
			reply(n, S_ROUTE, C_NOTFOUND, a, 0, 0)
		:: r_inc[n] != 0 && r_job && r_own_n == NONE ->
			printf("[t%d] route.lua: waiting job %d deleted\n", tnow, r_pay);
			x_n = r_disp_n;
			x_r = r_disp_r;
			stop_ends(a);
			drop_job();
			if
			:: x_n != NONE && x_n != n ->
				ibreply(x_n, x_r, C_NOTFOUND);
				x_r = 0
			:: x_n == NONE -> x_r = 0
			:: else
			fi;
			reply(n, S_ROUTE, C_DELETED, a, 0, x_r)
		:: r_inc[n] != 0 && r_job && r_own_n == n -> reply(n, S_ROUTE, C_LOCAL, a, 0, 0)
		:: r_inc[n] != 0 && r_job && r_own_n != NONE && r_own_n != n ->
			if
			:: r_ibx[r_own_n] ->
				ibsend(r_own_n, M_S, n, 0, a, 0, 0);
				reply(n, S_ROUTE, C_ROUTED, a, 0, 0)
			:: else -> reply(n, S_ROUTE, C_WAIT, a, 0, 0)
			fi
		fi
	/* attach.lua: ARGV node, worker, place */
	:: sc == S_ATTACH ->
		if
		:: r_inc[n] == 0 -> reply(n, S_ATTACH, C_LOST, a, 0, 0)
		:: else ->
			printf("[t%d] attach.lua: w%d in placement (node %d)\n", tnow, a, n);
			r_wk[a] = n;
			bump();
			reply(n, S_ATTACH, C_OK, a, 0, 0)
		fi
	/* detach.lua: ARGV node, worker */
	:: sc == S_DETACH ->
		if
		:: r_wk[a] == n ->
			printf("[t%d] detach.lua: w%d out of placement\n", tnow, a);
			r_wk[a] = NONE;
			bump()
		:: else
		fi
	/* strays.lua: the key if B njobs:<node> has it, with its owner */
	:: sc == S_STRAYS ->
		if
		:: r_own_n == n -> reply(n, S_STRAYS, C_OK, r_own_w, r_own_f, 0)
		:: else -> reply(n, S_STRAYS, C_OK, NONE, 0, 0)
		fi
	/* inbox_reply(): XADD NOMKSTREAM inbox:<a> t r i <b> c <c> */
	:: sc == S_XREPLY -> ibreply(a, d, c)
	fi;
	/* what orphans.lua would repair never happens (so it is not modelled) */
	assert(!r_job || r_wait || (r_own_n != NONE && r_dl[r_own_n] != DLNONE));
	assert(r_own_n == NONE || (r_job && !r_wait))
}

proctype redis()
{
	mtype sc;
	byte m, a, b, c, d, e, x_d, x_e, x_f, x_i, x_n, x_r, x_w, x_p, x_s, x_t, rd_i;
end:	do
	:: atomic { (G_REDIS(0) || G_REDIS(1)) ->
		if
		:: G_REDIS(0) -> m = 0
		:: G_REDIS(1) -> m = 1
		fi;
		rq[m]?sc, a, b, c, d, e;
		redis_exec(m);
		m = 0; a = 0; b = 0; c = 0; d = 0; e = 0;
		x_d = 0; x_e = 0; x_f = 0; x_i = 0; x_n = 0; x_r = 0; x_w = 0; x_p = 0; x_s = 0;
		x_t = 0; rd_i = 0 }
	od
}

/* ======================================================================
 * pulsed: each callback is one atomic step of its node
 * ====================================================================== */

/* store_script(): a call on the command connection. While the store is
 * down the callback gets NULL at once (run_call()). */
inline send(n, s_sen, a_sen, b_sen, c_sen, d_sen, e_sen)
{
	if
	:: up[n] ->
		assert(len(rq[n]) < 8);
		rq[n]!s_sen, a_sen, b_sen, c_sen, d_sen, e_sen
	:: else
	fi
}

/* place(): placement_pick() over the view (rendezvous order P0 P1 P2) */
inline place(v_pla, res_pla)
{
	if
	:: (v_pla >> P0) & 1 -> res_pla = P0
	:: else ->
		if
		:: (v_pla >> P1) & 1 -> res_pla = P1
		:: else ->
			if
			:: (v_pla >> P2) & 1 -> res_pla = P2
			:: else -> res_pla = NONE
			fi
		fi
	fi
}

/* client.c request_finish() */
inline request_finish(r_req, code_req)
{
	if
	:: r_req != 0 && q_st[r_req] == Q_ACT ->
		q_st[r_req] = Q_DONE;
		q_ans[r_req] = code_req;
		q_retry[r_req] = 0;
		printf("[t%d] request %d (%d at n%d) answered %e\n", tnow, r_req, q_type[r_req], q_node[r_req], code_req);
#ifndef OLD_REAPED_FENCE
		/* request.c says_gone() -> gone_note(): the pool's answered log
		 * keeps the latest answer that the key is gone, for KEEP */
		if
		:: (q_type[r_req] == Q_STOP && (code_req == C_OK || code_req == C_NOTFOUND)) ||
		   (q_type[r_req] == Q_DISP && code_req == C_NOTFOUND) ->
			at_now(gn_at[q_node[r_req]]);
			gn[q_node[r_req]] = 1;
			gn_left[q_node[r_req]] = KEEP
		:: else
		fi;
#endif
		if
		:: q_type[r_req] == Q_DISP && code_req == C_OK && !gone[r_req] -> promised = r_req
		:: q_type[r_req] == Q_STOP && (code_req == C_OK || code_req == C_NOTFOUND) ->
			assert(q_cut[r_req] != NONE);
			if
			:: !clean || q_cut[r_req] > clean_cut -> clean_cut = q_cut[r_req]
			:: else
			fi;
			clean = 1
		:: else
		fi
	:: else
	fi
}

/* client.c request_retry(): again after RETRY_MS (the next tick) */
inline request_retry(r_req)
{
	if
	:: r_req != 0 && q_st[r_req] == Q_ACT -> q_retry[r_req] = 1
	:: else
	fi
}

/* inbox.c inbox_reply() */
inline inbox_reply(n, t_inb, rid_inb, code_inb)
{
	send(n, S_XREPLY, t_inb, 0, code_inb, rid_inb, 0)
}

/* jobs.c op_reroute(): the caller of a STOP looks for the job again */
inline reroute(n, kind_rer, hn_rer, hr_rer)
{
	if
	:: kind_rer == H_STOPL -> request_retry(hr_rer)
	:: kind_rer == H_STOPR -> inbox_reply(n, hn_rer, hr_rer, C_RETRY)
	:: else
	fi
}

/* jobs.c send_event(): a frame, if the session is still there */
inline frame(w_fra, t_fra, p_fra)
{
	/* the worker handles it at once (client/worker.c run_handler(),
	 * answer_event()): with every step urgent, nothing can come between
	 * the frame and its handling that could not come before the frame */
	if
	:: wk_st[w_fra] == W_ON && t_fra == F_START ->
		printf("[t%d] w%d: starts job %d\n", tnow, w_fra, p_fra);
		wk_run[w_fra] = 1;
		wk_pay[w_fra] = p_fra;
		wk_ack[w_fra]++
	:: wk_st[w_fra] == W_ON && t_fra == F_HALT ->
		if
		:: wk_run[w_fra] -> printf("[t%d] w%d: stops job %d\n", tnow, w_fra, wk_pay[w_fra])
		:: else
		fi;
		wk_run[w_fra] = 0;
		wk_ack[w_fra]++
	:: else
	fi
}

/* pool.c pool_keep_job(): a job this node let go while Redis may not
 * have it, kept for the next join, with its since and the time it was
 * kept (kept_ms) */
inline keep_job(n, p_kee, s_kee)
{
	fz_done[n] = 0;
	fz[n] = 1;
	fz_pay[n] = p_kee;
	fz_sent[n] = 0;
#ifndef OLD_REAPED_FENCE
	fz_since[n] = s_kee;
	fz_left[n] = HORIZON + 1
#endif
}

/* jobs.c release_jobs(): to 'wait' through release.lua, or, when Redis
 * cannot be told now, kept for the re-join (pool_lost: the lease) */
inline release_job(n, w_rel, f_rel, p_rel, s_rel)
{
	if
	:: !USABLE(n) -> keep_job(n, p_rel, s_rel); lease_renew(n)
	:: else -> send(n, S_RELEASE, w_rel, f_rel, p_rel, s_rel, 0)
	fi
}

/* jobs.c job_free() */
inline job_free(n)
{
	if
	:: j_halt[n] != H_NONE -> reroute(n, j_halt[n], j_hn[n], j_hr[n])
	:: else
	fi;
	j_w[n] = NONE;
	j_f[n] = 0;
	j_pay[n] = 0;
	j_since[n] = 0;
	j_dn[n] = NONE;
	j_dr[n] = 0;
	j_run[n] = 0;
	j_start[n] = 0;
	j_halt[n] = H_NONE;
	j_hn[n] = 0;
	j_hr[n] = 0;
	j_fencing[n] = 0;
	j_ag[n] = 0;
	j_agf[n] = 0;
	j_agp[n] = 0;
	j_agdn[n] = 0;
	j_agdr[n] = 0
}

/* jobs.c report_started(): answer_local_start() + call_started() */
inline report_started(n)
{
	if
	:: j_dn[n] == n -> request_finish(j_dr[n], C_OK)   /* answered at the ACK */
	:: else
	fi;
	send(n, S_STARTED, j_w[n], j_f[n], j_dn[n], j_dr[n], 0);
	j_dn[n] = NONE;
	j_dr[n] = 0
}

/* jobs.c jobs_assign() (and take_over()) */
inline worker_assign(n, w_wor, f_wor, pay_wor, dn_wor, dr_wor)
{
	if
	:: st[n] != N_ACTIVE -> skip     /* fenced or joining: never start here */
	:: st[n] == N_ACTIVE && j_w[n] == w_wor && lw[w_wor] ->
		if
		:: f_wor != j_f[n] ->
			/* take_over() */
			if
			:: j_halt[n] != H_NONE ->
				j_ag[n] = 1;
				j_agf[n] = f_wor;
				j_agp[n] = pay_wor;
				j_agdn[n] = dn_wor;
				j_agdr[n] = dr_wor
			:: else ->
				j_f[n] = f_wor;
				since_now(j_since[n]);
				j_dn[n] = dn_wor;
				j_dr[n] = dr_wor;
				if
				:: j_run[n] -> report_started(n)
				:: else
				fi
			fi
		:: else
		fi
	:: st[n] == N_ACTIVE && !(j_w[n] == w_wor && lw[w_wor]) && (!lw[w_wor] || j_w[n] != NONE) ->
		since_now(ln_s);                /* give it back at once */
		release_job(n, w_wor, f_wor, pay_wor, ln_s)
	:: st[n] == N_ACTIVE && lw[w_wor] && j_w[n] == NONE ->
		printf("[t%d] n%d: START job %d on w%d (fence %d)\n", tnow, n, pay_wor, w_wor, f_wor);
		j_w[n] = w_wor;
		j_f[n] = f_wor;
		j_pay[n] = pay_wor;
		since_now(j_since[n]);
		j_dn[n] = dn_wor;
		j_dr[n] = dr_wor;
		j_run[n] = 0;
		j_start[n] = 1;
		j_halt[n] = H_NONE;
		j_fencing[n] = 0;
		j_ag[n] = 0;
		frame(w_wor, F_START, pay_wor)
	fi
}

/* jobs.c job_end(): a re-assignment held during the halt starts tnow */
inline job_end(n)
{
	if
	:: j_ag[n] ->
		je_w = j_w[n];
		je_f = j_agf[n];
		je_p = j_agp[n];
		je_dn = j_agdn[n];
		je_dr = j_agdr[n];
		job_free(n);
		worker_assign(n, je_w, je_f, je_p, je_dn, je_dr)
	:: else -> job_free(n)
	fi
}

/* jobs.c job_fence() */
inline fence_job(n)
{
	if
	:: j_w[n] == NONE
	:: j_w[n] != NONE && j_start[n] ->
		/* queued events will not run here: their callers look again */
		if
		:: j_halt[n] != H_NONE && j_halt[n] != H_FENCE ->
			reroute(n, j_halt[n], j_hn[n], j_hr[n])
		:: else
		fi;
		j_halt[n] = H_FENCE;
		j_fencing[n] = 1
	:: j_w[n] != NONE && !j_start[n] && j_halt[n] != H_NONE ->
		j_fencing[n] = 1                 /* queued behind the HALT in flight */
	:: j_w[n] != NONE && !j_start[n] && j_halt[n] == H_NONE ->
		j_halt[n] = H_FENCE;
		j_fencing[n] = 1;
		frame(j_w[n], F_HALT, 0)
	fi
}

/* pool.c lease_renew() */
inline lease_renew(n)
{
	if
	:: !lease_if[n] && st[n] == N_ACTIVE && up[n] ->
		lease_if[n] = 1;
		lease_age[n] = 0;
		/* pool.c placed_for_lease(): sessions attached or attaching */
		ln_m = 0;
		ln_i = 0;
		do
		:: ln_i < NW ->
			if
			:: WNODE(ln_i) == n && lw[ln_i] && (lw_att[ln_i] || lw_atting[ln_i]) ->
				ln_m = ln_m | (1 << ln_i)
			:: else
			fi;
			ln_i++
		:: else -> break
		od;
		send(n, S_LEASE, ninc[n], 0, ln_m, 0, 0)
	:: else
	fi
}

/* pool.c pool_join() */
inline pool_join(n)
{
	if
	:: !join_if[n] && up[n] && !(st[n] == N_FENCED && j_w[n] != NONE) ->
		ninc[n] = 3 - ninc[n];
		join_if[n] = 1;
		jstale[n] = 0;
#ifndef OLD_REAPED_FENCE
		/* forget_old_fenced(): a copy kept for longer than the horizon
		 * is not sent (a stop answered since may be forgotten) */
		if
		:: fz[n] && fz_left[n] == 0 ->
			printf("[t%d] n%d: fenced job %d kept past the horizon: gone\n", tnow, n, fz_pay[n]);
			fz[n] = 0; fz_pay[n] = 0; fz_sent[n] = 0; fz_done[n] = 0; fz_since[n] = 0;
			excuse(6)
		:: else
		fi;
		/* add_gone(): on a re-join, the answered stop, unless this node
		 * holds the key itself (kept, or a job here) */
		if
		:: joined[n] && gn[n] && !fz[n] && j_w[n] == NONE -> ln_s = gn_at[n]
		:: else -> ln_s = 0
		fi;
#endif
		ln_m = 0;
		ln_i = 0;
		do
		:: ln_i < NW ->
			if
			:: WNODE(ln_i) == n && INPLACE(ln_i) -> ln_m = ln_m | (1 << ln_i)
			:: else
			fi;
			ln_i++
		:: else -> break
		od;
		ln_v = (fz[n] -> fz_pay[n] + 8 * fz_since[n] : 0);
		fz_sent[n] = fz[n];                  /* add_fenced_jobs(): sent */
		printf("[t%d] n%d: join.lua sent (fenced %d, running %d, named stop %d)\n", tnow, n,
		       fz_pay[n], j_pay[n], ln_s);
		js_at[n] = ln_s;
		send(n, S_JOIN, ninc[n] * 2 + joined[n], 0, ln_m, ln_v, j_w[n] * 8 + j_pay[n]);
		ln_s = 0
	:: else
	fi
}

/* pool.c pool_fence_done() */
inline fence_done(n)
{
	if
	:: j_w[n] == NONE && st[n] == N_FENCED -> pool_join(n)
	:: else
	fi
}

/* pool.c load_members() */
inline load_members(n)
{
	if
	:: mem_if[n] -> mem_again[n] = 1
	:: !mem_if[n] && USABLE(n) ->
		mem_if[n] = 1;
		send(n, S_MEMBERS, 0, 0, 0, 0, 0)
	:: else
	fi
}

/* pool.c pool_scan_waiting() */
inline scan_waiting(n)
{
	if
	:: USABLE(n) && (lw[0] && n == 0 || lw[1] && n == 1 || lw[2] && n == 0) ->
		if
		:: scan_if[n] -> scan_again[n] = 1
		:: else ->
			scan_if[n] = 1;
			send(n, S_SCAN, 0, 0, 0, 0, 0)
		fi
	:: else
	fi
}

/* pool.c rebalance() */
inline rebalance(n)
{
	if
	:: USABLE(n) && view[n] != 0 && j_w[n] != NONE && j_run[n] &&
	   !j_start[n] && j_halt[n] == H_NONE ->
		place(view[n], ln_o);
		if
		:: ln_o != NONE && ln_o != j_w[n] ->
			printf("[t%d] n%d: rebalance moves job %d off w%d\n", tnow, n, j_pay[n], j_w[n]);
			j_halt[n] = H_MOVE;
			frame(j_w[n], F_HALT, 0)
		:: else
		fi
	:: else
	fi
}

/* pool.c worker_lease_ms(): the last good lease's bound, except for a
 * worker without the job while the node holds no lease (TTL/2) */
inline lease_value(n, w_lea, v_lea)
{
	if
#ifdef OLD_JOINING
	:: !LEASED(n) -> v_lea = HALF    /* before a85850e too: TTL/2 to every worker */
#else
	:: !LEASED(n) && j_w[n] != w_lea -> v_lea = HALF
#endif
	:: else ->
		if
		:: since_ok[n] < FENCE + SLACK -> v_lea = FENCE + SLACK - since_ok[n]
		:: else -> v_lea = 1
		fi
	fi
}

/* pool.c send_lease(): a LEASE frame to an attached worker */
inline send_lease(n, w_sen)
{
	if
	:: lw[w_sen] && lw_att[w_sen] && wk_st[w_sen] == W_ON ->
		lease_value(n, w_sen, ln_v);
		/* the LEASE frame: handled before the worker checks its lease
		 * again (lease_check() runs once the frames are handled) */
		wk_lease[w_sen] = ln_v;
		wk_lset[w_sen] = 1
	:: else
	fi
}

/* worker.c worker_send_attach() */
inline send_attach(n, w_sen)
{
	lw_atting[w_sen] = 1;
	send(n, S_ATTACH, w_sen, 0, 0, 0, 0)
}

/* worker.c worker_session_closed() */
inline session_closed(n, w_ses)
{
	printf("[t%d] n%d: session of w%d closed\n", tnow, n, w_ses);
#ifdef OLD_GHOST
	if
	:: lw_att[w_ses] && up[n] -> send(n, S_DETACH, w_ses, 0, 0, 0, 0)
	:: else
	fi;
#else
	if
	:: (lw_att[w_ses] || lw_atting[w_ses]) && up[n] -> send(n, S_DETACH, w_ses, 0, 0, 0, 0)
	:: else
	fi;
#endif
	if
	:: j_w[n] == w_ses ->
		if
		:: !j_fencing[n] -> release_job(n, w_ses, j_f[n], j_pay[n], j_since[n])
		:: else
		fi;
		job_free(n)
	:: else
	fi;
	lw[w_ses] = 0;
	lw_att[w_ses] = 0;
	lw_atting[w_ses] = 0;
	if
	:: st[n] == N_FENCED -> fence_done(n)
	:: else
	fi;
	excuse(1)
}

/* server.c session_drop(): pulsed ends the session; the worker stops */
inline session_drop(n, w_ses)
{
	session_closed(n, w_ses);
	wk_run[w_ses] = 0;
	wk_st[w_ses] = W_DEAD;
	wk_ack[w_ses] = 0
}

/* client.c dispatch() */
inline dispatch(n, r_dis)
{
	if
	:: !USABLE(n) -> request_retry(r_dis)
	:: else ->
		place(view[n], ln_o);
		if
		:: ln_o != NONE && WNODE(ln_o) == n -> q_owner[r_dis] = ln_o
		:: else -> q_owner[r_dis] = NONE
		fi;
		send(n, S_ADMIT, r_dis, ln_o, r_dis, 0, 0)
	fi
}

/* client.c route() (a stop) */
inline route(n, r_rou)
{
	if
	:: !USABLE(n) -> request_retry(r_rou)
	:: else -> send(n, S_ROUTE, r_rou, 0, 0, 0, 0)
	fi
}

/* jobs.c jobs_event() for a HALT; ln_ok = 0 when it returns -1 */
inline job_event(n, kind_job, hn_job, hr_job)
{
	if
	:: j_w[n] == NONE || (j_halt[n] != H_NONE && j_halt[n] != H_MOVE) -> ln_ok = 0
	:: j_w[n] != NONE && j_halt[n] == H_MOVE ->
		/* moving_halt(): the stop rides on the move's HALT */
		ln_ok = 1;
		j_halt[n] = kind_job;
		j_hn[n] = hn_job;
		j_hr[n] = hr_job
	:: else ->
		ln_ok = 1;
		j_halt[n] = kind_job;
		j_hn[n] = hn_job;
		j_hr[n] = hr_job;
		if
		:: !j_start[n] -> frame(j_w[n], F_HALT, 0)
		:: else
		fi
	fi
}

/* A NULL reply (store.c drop_all(): the connection went away) */
inline null_cb(n, s_nul, a_nul, p_nul, t_nul)
{
	if
	:: s_nul == S_ADMIT || s_nul == S_ROUTE || s_nul == S_REMOVE -> request_finish(a_nul, C_UNAVAIL)
	:: s_nul == S_RELEASE && p_nul != 0 ->
		/* release_cb() with no reply: kept for the re-join */
		keep_job(n, p_nul, t_nul);
		lease_renew(n)
	:: s_nul == S_ATTACH ->
		/* attach_cb() with no reply */
		if
		:: lw[a_nul] ->
#ifdef OLD_GHOST
			session_drop(n, a_nul)
#else
			lw_atting[a_nul] = 0;
			if
			:: !lw_att[a_nul] -> session_drop(n, a_nul)
			:: else
			fi
#endif
		:: else
		fi
	:: else
	fi
}

/* The node's callback for one reply. */
inline callback(n)
{
	if
	/* client.c admit_cb() */
	:: sc == S_ADMIT ->
		if
		:: q_st[a] != Q_ACT
		:: q_st[a] == Q_ACT && code == C_LOST -> lease_renew(n); request_retry(a)
		:: q_st[a] == Q_ACT && code == C_OWNED ->
			if
			:: q_owner[a] != NONE -> ln_me = n;
				worker_assign(n, q_owner[a], b, a, ln_me, a)
			:: else
			fi
		:: q_st[a] == Q_ACT && code == C_WAIT
		:: q_st[a] == Q_ACT && code == C_REBUILD -> request_retry(a)
		:: q_st[a] == Q_ACT && code == C_EXISTS -> request_finish(a, C_EXISTS)
		fi
	/* pool.c lease_cb() */
	:: sc == S_LEASE ->
		lease_if[n] = 0;
		ln_v = lease_age[n];
		lease_age[n] = 0;
		if
		:: code == C_LOST ->
			if
			:: st[n] == N_ACTIVE ->
				/* lost(): re-join; running jobs are re-announced */
				printf("[t%d] n%d: not registered any more: re-joining\n", tnow, n);
				st[n] = N_JOINING;
				pool_join(n)
			:: else
			fi
		:: else ->
			since_ok[n] = ln_v;
			if
			:: st[n] == N_ACTIVE && fz[n] ->
				/* hand_back_kept() */
				printf("[t%d] n%d: re-joins to hand back a kept job\n", tnow, n);
				st[n] = N_JOINING;
				pool_join(n);
				goto lease_done
			:: else
			fi;
			if
			:: st[n] == N_ACTIVE ->
				farmed[n] = 1;
#if STRAYS
				sticks[n] = 1 - sticks[n];
#endif
#if STRAYS
				if
				:: sticks[n] == 0 -> send(n, S_STRAYS, 0, 0, 0, 0, 0)  /* sweep_strays() */
				:: else
				fi
#else
				skip
#endif
			:: else
			fi;
			if
			:: a -> load_members(n)
			:: !a && c -> scan_waiting(n)
			:: else
			fi
		fi;
lease_done:	skip
	/* pool.c join_cb() */
	:: sc == S_JOIN && jstale[n] ->
		/* fenced while the join was on its way: join again once the
		 * job's stop answered (that join reaps this incarnation) */
		join_if[n] = 0;
		jstale[n] = 0;
		printf("[t%d] n%d: join answered after the self-fence\n", tnow, n);
		pool_join(n)
	:: sc == S_JOIN && !jstale[n] ->
		join_if[n] = 0;
		st[n] = N_ACTIVE;
		since_ok[n] = 0;
		joined[n] = 1;
		farmed[n] = 1;
		printf("[t%d] n%d: joined (pool was empty: %d)\n", tnow, n, a);
		/* forget_sent(): what the join named is settled */
		if
		:: fz_sent[n] ->
			fz[n] = 0; fz_pay[n] = 0; fz_sent[n] = 0; fz_done[n] = 0;
			fz_since[n] = 0; fz_left[n] = 0
		:: else
		fi;
		if
		:: fz_late[n] -> excuse(2)
		:: else
		fi;

		fz_late[n] = 0;
		/* joined_jobs() */
		if
		:: b != NONE && j_w[n] != NONE ->
			if
			:: b == 0 -> fence_job(n)
			:: else -> j_f[n] = b
			fi
		:: else
		fi;
		reading[n] = 1;       /* inbox_restart() */
		/* worker_pool_joined() */
		ln_i = 0;
		do
		:: ln_i < NW ->
			if
			:: WNODE(ln_i) == n && lw[ln_i] && !lw_att[ln_i] -> send_attach(n, ln_i)
			:: else
			fi;
			ln_i++
		:: else -> break
		od;
		load_members(n)
	/* pool.c members_cb() */
	:: sc == S_MEMBERS ->
		mem_if[n] = 0;
		view[n] = a;
		if
		:: mem_again[n] -> mem_again[n] = 0; load_members(n)
		:: !mem_again[n] &&
		   ((INPLACE(0) && n == 0 && !(a & 1)) || (INPLACE(1) && n == 1 && !(a & 2)) ||
		    (INPLACE(2) && n == 0 && !(a & 4))) ->
			lease_renew(n)    /* the view lacks our own workers */
		:: else ->
			rebalance(n);
			scan_waiting(n)
		fi
	/* pool.c scan_cb() */
	:: sc == S_SCAN ->
		scan_if[n] = 0;
		if
		:: a ->
			place(view[n], ln_o);
			if
			:: ln_o != NONE && WNODE(ln_o) == n && INPLACE(ln_o) ->
				send(n, S_CLAIM, ln_o, 0, 0, 0, 0)
			:: else
			fi
		:: else
		fi;
		if
		:: scan_again[n] -> scan_again[n] = 0; scan_waiting(n)
		:: else
		fi
	/* jobs.c release_cb(): LOST keeps the job for the re-join */
	:: sc == S_RELEASE ->
		if
		:: code == C_LOST && c != 0 -> keep_job(n, c, a); lease_renew(n)
		:: else
		fi
	/* pool.c claim_cb() */
	:: sc == S_CLAIM ->
		if
		:: code == C_LOST -> lease_renew(n)
		:: code == C_OK && a != NONE -> worker_assign(n, a, b, c, NONE, 0)
		:: else
		fi
	/* jobs.c started_cb() */
	:: sc == S_STARTED ->
		if
		:: code == C_STALE ->
			if
			:: j_w[n] == a && j_f[n] == b -> fence_job(n)
			:: else
			fi
		:: code == C_LOST -> lease_renew(n)   /* pool_lost(): keep it, re-join */
		:: code == C_OK -> request_finish(c, C_OK)
		fi
	/* jobs.c remove_cb() */
	:: sc == S_REMOVE ->
		if
		:: code == C_STALE -> request_retry(a)
		:: else -> request_finish(a, C_OK)
		fi
	/* client.c route_cb() */
	:: sc == S_ROUTE ->
		if
		:: q_st[a] != Q_ACT
		:: q_st[a] == Q_ACT && code == C_LOST -> lease_renew(n); request_retry(a)
		:: q_st[a] == Q_ACT && code == C_NOTFOUND -> request_finish(a, C_NOTFOUND)
		:: q_st[a] == Q_ACT && code == C_LOCAL ->
			ln_me = n;
			job_event(n, H_STOPL, ln_me, a);
			if
			:: !ln_ok -> request_retry(a)
			:: else
			fi
		:: q_st[a] == Q_ACT && code == C_DELETED ->
			request_finish(c, C_NOTFOUND);
			request_finish(a, C_OK)
		:: q_st[a] == Q_ACT && code == C_WAIT -> request_retry(a)
		:: q_st[a] == Q_ACT && code == C_ROUTED
		fi
	/* worker.c attach_cb() */
	:: sc == S_ATTACH ->
		if
		:: !lw[a]             /* the session is gone */
		:: lw[a] && code == C_OK ->
			lw_atting[a] = 0;
			if
			:: !lw_att[a] ->
				lw_att[a] = 1;
				send_lease(n, a)   /* WELCOME, pool_send_lease() */
			:: else
			fi;
			load_members(n)
		:: lw[a] && code == C_LOST ->
#ifdef OLD_GHOST
			session_drop(n, a)
#else
			lw_atting[a] = 0;
			lease_renew(n)
#endif
		fi
	/* pool.c strays_cb() */
	:: sc == S_STRAYS ->
		if
		:: a != NONE && j_w[n] == NONE ->
			if
			:: sp_w[n] == a && sp_f[n] == b ->
				printf("[t%d] n%d: stray job released\n", tnow, n);
				send(n, S_RELEASE, a, b, 0, 0, 0);
				sp_w[n] = NONE;
				sp_f[n] = 0
			:: else -> sp_w[n] = a; sp_f[n] = b
			fi
		:: else -> sp_w[n] = NONE; sp_f[n] = 0
		fi
	fi
}

/* pool.c lease_timer_cb(): LEASE to the workers, then renew or join */
inline lease_timer(n)
{
	ldue[n] = 0;
	ln_i = 0;                        /* pool_send_lease(p, NULL) */
	do
	:: ln_i < NW ->
		if
		:: WNODE(ln_i) == n -> send_lease(n, ln_i)
		:: else
		fi;
		ln_i++
	:: else -> break
	od;
	if
	:: st[n] == N_ACTIVE -> lease_renew(n)
	:: else -> pool_join(n)
	fi
}

/* jobs.c jobs_ack(): ack_start() / ack_halt() */
inline ack(n, w_ack)
{
	wk_ack[w_ack]--;
	if
	:: !lw[w_ack]
	:: lw[w_ack] && j_w[n] == w_ack && j_start[n] ->
		/* ack_start(), ok */
		j_start[n] = 0;
		j_run[n] = 1;
		report_started(n);
		if                               /* pump() */
		:: j_halt[n] != H_NONE -> frame(w_ack, F_HALT, 0)
		:: else
		fi
	:: lw[w_ack] && j_w[n] == w_ack && !j_start[n] && j_halt[n] != H_NONE ->
		/* ack_halt() */
		r = j_halt[n];
		j_halt[n] = H_NONE;
		if
		:: r == H_FENCE ->
			job_end(n);
			fence_done(n)
		:: r == H_MOVE ->
			release_job(n, w_ack, j_f[n], j_pay[n], j_since[n]);
			job_end(n)
		:: r == H_STOPL || r == H_STOPR ->
			/* the stop handler answered: the job is stopped (ghost) */
			gone[j_pay[n]] = 1;
			if
			:: promised == j_pay[n] -> promised = 0
			:: else
			fi;
			/* call_remove() */
			if
			:: up[n] ->
				ln_v = (r == H_STOPR -> j_hn[n] : NONE);
				send(n, S_REMOVE, w_ack, j_f[n], ln_v, j_hr[n], 0)
			:: else -> request_finish(j_hr[n], C_UNAVAIL)
			fi;
			j_hr[n] = 0;
			job_end(n)
		fi
	:: else -> assert(false)          /* "ACK for an event never sent" */
	fi
}

inline eof(n, w_eof)
{
	wk_eof[w_eof] = 0;
	if
	:: lw[w_eof] -> session_closed(n, w_eof)
	:: else
	fi
}

/* locals back to 0 after every step: they are no part of the state */
inline node_clr()
{
	sc = 0; code = 0; a = 0; b = 0; c = 0; d = 0; e = 0; w = 0; r = 0;
	je_w = 0; je_f = 0; je_p = 0; je_dn = 0; je_dr = 0; ln_m = 0; ln_i = 0;
	ln_o = 0; ln_v = 0; ln_ok = 0; ln_me = 0; ln_s = 0
}

proctype node(byte n)
{
	mtype sc, code;
	byte a, b, c, d, e, w, r;
	byte je_w, je_f, je_p, je_dn, je_dr, ln_m, ln_i, ln_o, ln_v, ln_ok, ln_me, ln_s;
end:	do
	/* pool.c lease_timer_cb(), overdue after a SIGSTOP */
	:: atomic { G_LTIMER(n) -> lease_timer(n); node_clr() }
	/* pool.c fence_cb(): a node whose jobs run under its lease, leased() */
	:: atomic { G_FENCE(n) ->
		farmed[n] = 0;
		if
		:: LEASED(n) ->
			printf("[t%d] n%d: lease not renewed: self-fence\n", tnow, n);
			st[n] = N_FENCED;
			jstale[n] = join_if[n];
			if                               /* remember_fenced() */
			:: j_w[n] != NONE -> keep_job(n, j_pay[n], j_since[n])
			:: else
			fi;
			fence_job(n);                    /* jobs.c jobs_fence_pool() */
			fence_done(n)
		:: else
		fi;
		node_clr() }
	/* a reply from Redis: store.c call_done() -> its callback */
	:: atomic { G_REPLY(n) ->
		rp[n]?sc, code, a, b, c;
		callback(n);
		node_clr() }
	/* an ACK from a worker: jobs.c jobs_ack() */
	:: atomic { (G_ACK(n, 0) || G_ACK(n, 1) || G_ACK(n, 2)) ->
		if
		:: G_ACK(n, 0) -> w = 0
		:: G_ACK(n, 1) -> w = 1
		:: G_ACK(n, 2) -> w = 2
		fi;
		ack(n, w);
		node_clr() }
	/* the worker's session ended: server.c session_free() ->
	 * worker.c worker_session_closed() */
	:: atomic { (G_EOF(n, 0) || G_EOF(n, 1) || G_EOF(n, 2)) ->
		if
		:: G_EOF(n, 0) -> w = 0
		:: G_EOF(n, 1) -> w = 1
		:: G_EOF(n, 2) -> w = 2
		fi;
		eof(n, w);
		node_clr() }
	/* HELLO from w2: worker.c worker_attach() */
	:: atomic { G_HELLO(n) ->
		if
		:: up[n] ->
			lw[2] = 1;
			wk_st[2] = W_ON;
			if
			:: st[n] == N_ACTIVE -> send_attach(n, 2)
			:: else                          /* worker_pool_joined() attaches it */
			fi
		:: else -> wk_st[2] = W_DEAD         /* "Redis is unreachable" */
		fi;
		node_clr() }
	/* the pool's first use on this node: pool_get() -> pool_start() */
	:: atomic { G_USE(n) ->
		st[n] = N_JOINING;
		pool_join(n);
		node_clr() }
	/* an inbox entry: inbox.c handle() */
	:: atomic { G_INBOX(n) ->
		ib[n]?sc, a, b, c, d, e;
		if
		:: sc == M_A -> worker_assign(n, a, b, e, c, d)
		:: sc == M_S ->
			job_event(n, H_STOPR, a, c);
			if
			:: !ln_ok -> inbox_reply(n, a, c, C_RETRY)
			:: else
			fi
		:: sc == M_R ->
			code = c;
			if
			:: code == C_RETRY -> request_retry(a)
			:: else -> request_finish(a, code)
			fi
		fi;
		node_clr() }
	/* pub/sub: pool.c pool_on_event() */
	:: atomic { G_PSM(n) -> ps_m[n] = 0; load_members(n); node_clr() }
	:: atomic { G_PSW(n) -> ps_w[n] = 0; scan_waiting(n); node_clr() }
	/* a new request, or one to try again: client_request(), retry_cb() */
	:: atomic { G_REQS(n) ->
		if
		:: G_REQ(n, 1) -> r = 1
#if NR >= 2
		:: G_REQ(n, 2) -> r = 2
#endif
#if NR >= 3
		:: G_REQ(n, 3) -> r = 3
#endif
		fi;
		q_st[r] = Q_ACT;
		q_retry[r] = 0;
		if
		:: q_type[r] == Q_DISP -> dispatch(n, r)
		:: else -> route(n, r)
		fi;
		node_clr() }
	/* the connection broke: store.c went_down(): every call in flight
	 * gets NULL, then pools_redis_down() */
	:: atomic { G_DOWN(n) ->
		printf("[t%d] n%d: Redis connection lost\n", tnow, n);
		rx[n] = 0;
		up[n] = 0;
		do
		:: nempty(rp[n]) -> rp[n]?sc, code, a, b, c; null_cb(n, sc, a, c, a)
		:: empty(rp[n]) -> break
		od;
		do
		:: nempty(rq[n]) -> rq[n]?sc, a, b, c, d, e; null_cb(n, sc, a, c, d)
		:: empty(rq[n]) -> break
		od;
		js_at[n] = 0;
		brk[n] = 0;
		reading[n] = 0;                  /* read_cb(NULL): "restarted by the next join" */
		ps_m[n] = 0;
		ps_w[n] = 0;
		lease_if[n] = 0;
		lease_age[n] = 0;
		join_if[n] = 0;
		mem_if[n] = 0;
		scan_if[n] = 0;
		r = 1;                           /* requests_fail_all() */
		do
		:: r <= NR ->
			if
			:: q_node[r] == n -> request_finish(r, C_UNAVAIL)
			:: else
			fi;
			r++
		:: else -> break
		od;
		node_clr() }
	/* connected again: store.c script_loaded() -> pools_redis_up() ->
	 * pool_start(): the lease (or a join); the inbox reader is not
	 * restarted here (inbox.c read_cb: "restarted by the next join") */
	:: atomic { G_UP(n) ->
		printf("[t%d] n%d: Redis connection back\n", tnow, n);
		up[n] = 1;
		rx[n] = 1;
		if
		:: st[n] == N_ACTIVE -> lease_renew(n)
		:: else -> pool_join(n)
		fi;
		node_clr() }
	od
}

/* ---- the client and the environment act at a tick: what they start
 * (a request, a HELLO, a first use of the pool) is then handled by the
 * node at any point of the tick, like everything else ---------------- */
inline issue(r_iss, t_iss, nd_iss)
{
	q_type[r_iss] = t_iss;
	q_st[r_iss] = Q_NEW;
	q_cut[r_iss] = NONE;
	if
	:: nd_iss != NONE -> q_node[r_iss] = nd_iss
	:: nd_iss == NONE && st[0] != N_DEAD && st[0] != N_OFF -> q_node[r_iss] = 0
	:: nd_iss == NONE && st[1] != N_DEAD && st[1] != N_OFF -> q_node[r_iss] = 1
	:: else -> q_node[r_iss] = 0
	fi;
	printf("[t%d] client: request %d (%d) at node %d\n", tnow, r_iss, t_iss, q_node[r_iss])
}

inline client_env()
{
	if
	:: skip
	:: q_next == 1 -> issue(1, Q1_T, Q1_N); q_next = (NR >= 2 -> 2 : 0)
#if NR >= 2
	:: q_next == 2 -> issue(2, Q2_T, Q2_N); q_next = (NR >= 3 -> 3 : 0)
#endif
#if NR >= 3
	:: q_next == 3 -> issue(3, Q3_T, Q3_N); q_next = 0
#endif
	fi;
	if
	:: skip
	/* w2 connects to node 0 and sends HELLO */
	:: W2 && wk_st[2] == W_IDLE -> wk_st[2] = W_HELLO; printf("[t%d] w2: HELLO to node 0\n", tnow)
	/* node 1 gets its first request for the pool: pool_get() */
	:: LATE1 && st[1] == N_OFF && !use1 -> use1 = 1; printf("[t%d] node 1 uses the pool\n", tnow)
	fi
}

/* ---- time ------------------------------------------------------------ */


inline tick()
{
	tnow++;
	t_i = 0;
	do
	:: t_i < NN ->
		if
		:: st[t_i] != N_DEAD && st[t_i] != N_OFF ->
			if
			:: since_ok[t_i] < SAT -> since_ok[t_i]++
			:: else
			fi;
			if
			:: lease_if[t_i] && lease_age[t_i] < SAT -> lease_age[t_i]++
			:: else
			fi
		:: else
		fi;
		if
		:: r_dl[t_i] != DLNONE && r_dl[t_i] > 0 -> r_dl[t_i]--
		:: else
		fi;
		/* a node's own clock: its kept copies age, its answers expire */
		if
		:: fz[t_i] && fz_left[t_i] > 0 -> fz_left[t_i]--
		:: else
		fi;
		if
		:: gn[t_i] && gn_left[t_i] == 0 -> gn[t_i] = 0; gn_at[t_i] = 0
		:: gn[t_i] && gn_left[t_i] > 0 -> gn_left[t_i]--
		:: else
		fi;
		t_i++
	:: else -> break
	od;
	if
	:: r_rebuild > 0 -> r_rebuild--
	:: else
	fi;
	if
	:: r_created > 0 ->
		r_created--;
		if
		:: r_created == 0 -> r_tomb_at = 0   /* B tomb expires with it */
		:: else
		fi
	:: else
	fi;
	if                                  /* B rebuilt expires */
	:: r_rbt ->
		r_rbt_left--;
		if
		:: r_rbt_left == 0 -> rbt_clear()
		:: else
		fi
	:: else
	fi;
	if
	:: r_mark_age < TTL -> r_mark_age++
	:: else
	fi;
	t_i = 0;
	do
	:: t_i < NW ->
		/* client/worker.c lease_check(): pulsed's LEASE ran out */
		if
		:: wk_st[t_i] == W_ON && wk_lset[t_i] && wk_lease[t_i] > 0 ->
			wk_lease[t_i]--;
			if
			:: wk_lease[t_i] == 0 ->
				printf("[t%d] w%d: pulsed's lease ran out: jobs stopped, session ended\n",
				       tnow, t_i);
				wk_run[t_i] = 0;
				wk_st[t_i] = W_DEAD;
				wk_eof[t_i] = 1
			:: else
			fi
		:: else
		fi;
		/* no ghost worker: in placement without a session, on a node
		 * that renews its lease, for no more than GB ticks */
		if
		:: r_wk[t_i] != NONE && !lw[t_i] && HEALTHY(WNODE(t_i)) ->
			ghost_age[t_i]++;
			if
			:: ghost_age[t_i] > GB ->
				printf("VIOLATION ghost: w%d in placement with no session for %d ticks\n",
				       t_i, ghost_age[t_i]);
				assert(false)
			:: else
			fi
		:: else -> ghost_age[t_i] = 0
		fi;
		t_i++
	:: else -> break
	od;
	t_i = 1;
	do
	:: t_i <= NR ->
		if
		:: q_retry[t_i] == 1 -> q_retry[t_i] = 2
		:: else
		fi;
		t_i++
	:: else -> break
	od;
	client_env();
	/* the lease timers fire (pool.c lease_timer_cb(), every TTL/5); a
	 * stopped node's stays due until it runs again */
	t_i = 0;
	do
	:: t_i < NN ->
		if
		:: st[t_i] != N_DEAD && st[t_i] != N_OFF ->
			if
			:: RUN(t_i) -> lease_timer(t_i)
			:: else -> ldue[t_i] = 1
			fi
		:: else
		fi;
		t_i++
	:: else -> break
	od
}

proctype clock()
{
	byte t_i, ln_m, ln_i, ln_v, ln_s;
end:	do
	:: atomic { !URGENT -> tick(); printf("[t%d] ---- tick\n", tnow) }
	od
}

/* nothing may ever be stuck: the clock runs whenever nothing else can */
active proctype watchdog()
{
end:	timeout -> assert(false)
}

/* ---- faults, at any point (between any two steps) ---------------------- */
#define FOK(n) (FNODE == NONE || FNODE == n)
#ifndef FWORKER
#define FWORKER NONE   /* restrict worker crashes to this worker (NONE: any) */
#endif
#define WOK(w) (FWORKER == NONE || FWORKER == w)
/* FLUSH_FENCED: Redis loses its data only while a node is fenced (a
 * scenario restriction that steers a run to the resurrection) */
/* STOP_RUNNING: a node is SIGSTOPped only while it runs the job */
#ifdef STOP_RUNNING
#define STOPOK(n) (j_run[n])
#else
#define STOPOK(n) true
#endif
#ifdef FLUSH_FENCED
#define FLUSHOK0 (st[0] == N_FENCED || st[1] == N_FENCED)
#else
#define FLUSHOK0 true
#endif
/* FIND_REAPED_FENCE: Redis loses its data only while a node others reaped
 * holds a copy its fence (or a LOST release) kept: the scenario of
 * finding 3, find-reaped-fence (README.md), steered to. Otherwise the
 * flush may strike whenever FLUSHOK0 lets it (before the fix it was kept
 * off this case by default) */
#if defined(FIND_REAPED_FENCE)
#define FLUSHOK (FLUSHOK0 && ((fz[0] && r_reaped[0]) || (fz[1] && r_reaped[1])))
#else
#define FLUSHOK FLUSHOK0
#endif
/* CUT_JOINING: a node's connection to Redis is cut only while it
 * re-joins (the scenario of finding 1, old-joining, steered to) */
#ifdef CUT_JOINING
#define CUTOK(n) (st[n] == N_JOINING)
#else
#define CUTOK(n) true
#endif

inline node_crash(n)
{
	printf("[t%d] FAULT: node %d crashes (kill -9)\n", tnow, n);
	st[n] = N_DEAD;
	up[n] = 0;
	brk[n] = 0;
	reading[n] = 0;
	stopped[n] = 0;
	f_i = 0;
	do
	:: f_i < NW ->
		if
		:: WNODE(f_i) == n && (wk_st[f_i] == W_ON || wk_st[f_i] == W_HELLO) ->
			/* its workers see the socket close and stop their jobs */
			wk_run[f_i] = 0;
			wk_st[f_i] = W_DEAD;
			wk_ack[f_i] = 0;
			wk_eof[f_i] = 0;
		:: else
		fi;
		if
		:: WNODE(f_i) == n -> lw[f_i] = 0; lw_att[f_i] = 0; lw_atting[f_i] = 0
		:: else
		fi;
		f_i++
	:: else -> break
	od;
	f_i = 1;
	do
	:: f_i <= NR ->
		if
		:: q_node[f_i] == n && (q_st[f_i] == Q_ACT || q_st[f_i] == Q_NEW) ->
			q_st[f_i] = Q_DONE;
			q_ans[f_i] = C_UNAVAIL
		:: else
		fi;
		f_i++
	:: else -> break
	od;
	do
	:: nempty(rp[n]) -> rp[n]?_, _, _, _, _
	:: empty(rp[n]) -> break
	od;
	/* what it had written may or may not reach Redis */
	if
	:: skip
	:: rx[n] = 0;
		do
		:: nempty(rq[n]) -> rq[n]?_, _, _, _, _, _
		:: empty(rq[n]) -> break
		od;
		js_at[n] = 0
	fi;
	j_w[n] = NONE; j_f[n] = 0; j_pay[n] = 0; j_dn[n] = NONE; j_dr[n] = 0; j_run[n] = 0;
	j_start[n] = 0; j_halt[n] = H_NONE; j_hn[n] = 0; j_hr[n] = 0; j_fencing[n] = 0;
	j_ag[n] = 0; j_agf[n] = 0; j_agp[n] = 0; j_agdn[n] = 0; j_agdr[n] = 0;
	fz[n] = 0; fz_pay[n] = 0; fz_sent[n] = 0; fz_done[n] = 0; fz_since[n] = 0; fz_left[n] = 0;
	j_since[n] = 0; gn[n] = 0; gn_at[n] = 0; gn_left[n] = 0;   /* memory only */
	ldue[n] = 0; farmed[n] = 0; lease_if[n] = 0; join_if[n] = 0; jstale[n] = 0;
	mem_if[n] = 0; mem_again[n] = 0; scan_if[n] = 0; scan_again[n] = 0; ps_m[n] = 0; ps_w[n] = 0;
	view[n] = 0; sp_w[n] = NONE; sp_f[n] = 0;
	excuse(3)
}

inline flush()
{
	printf("[t%d] FAULT: Redis loses its data (FLUSHALL)\n", tnow);
	drop_job();
	f_i = 0;
	do
	:: f_i < NW -> r_wk[f_i] = NONE; f_i++
	:: else -> break
	od;
	f_i = 0;
	do
	:: f_i < NN ->
		r_dl[f_i] = DLNONE;
		r_inc[f_i] = 0;
		r_reaped[f_i] = 0;
		r_ibx[f_i] = 0;
		r_bump[f_i] = 1;
		do
		:: nempty(ib[f_i]) -> ib[f_i]?_, _, _, _, _, _
		:: empty(ib[f_i]) -> break
		od;
		f_i++
	:: else -> break
	od;
	r_epoch = 0;
	r_rebuild = 0;
	r_mark = 0;
	r_created = 0;
	r_tomb_at = 0;
	rbt_clear();
	excuse(4)
}

inline worker_crash(w)
{
	printf("[t%d] FAULT: worker %d crashes\n", tnow, w);
	wk_run[w] = 0;
	wk_st[w] = W_DEAD;
	wk_eof[w] = 1;
	b_wcrash--
}

proctype faults()
{
	byte f_i;
end:	do
	:: atomic { b_flush > 0 && FLUSHOK -> b_flush--; flush() }
	:: atomic { b_conn > 0 && FOK(0) && CUTOK(0) && st[0] < N_DEAD && up[0] && !brk[0] ->
		b_conn--; brk[0] = 1; blocked[0] = 1; rx[0] = 0;
		printf("[t%d] FAULT: node 0 cut off from Redis\n", tnow) }
	:: atomic { b_conn > 0 && FOK(1) && CUTOK(1) && st[1] < N_DEAD && up[1] && !brk[1] ->
		b_conn--; brk[1] = 1; blocked[1] = 1; rx[1] = 0;
		printf("[t%d] FAULT: node 1 cut off from Redis\n", tnow) }
	:: atomic { blocked[0] -> blocked[0] = 0; printf("[t%d] node 0 may reach Redis again\n", tnow) }
	:: atomic { blocked[1] -> blocked[1] = 0; printf("[t%d] node 1 may reach Redis again\n", tnow) }
	:: atomic { b_stop > 0 && FOK(0) && STOPOK(0) && st[0] < N_DEAD && !stopped[0] ->
		b_stop--; stopped[0] = 1; printf("[t%d] FAULT: SIGSTOP node 0\n", tnow) }
	:: atomic { b_stop > 0 && FOK(1) && STOPOK(1) && st[1] < N_DEAD && !stopped[1] ->
		b_stop--; stopped[1] = 1; printf("[t%d] FAULT: SIGSTOP node 1\n", tnow) }
	:: atomic { stopped[0] -> stopped[0] = 0; printf("[t%d] SIGCONT node 0\n", tnow) }
	:: atomic { stopped[1] -> stopped[1] = 0; printf("[t%d] SIGCONT node 1\n", tnow) }
	:: atomic { b_ncrash > 0 && FOK(0) && st[0] < N_DEAD -> b_ncrash--; node_crash(0) }
	:: atomic { b_ncrash > 0 && FOK(1) && st[1] < N_DEAD -> b_ncrash--; node_crash(1) }
	:: atomic { b_wcrash > 0 && WOK(0) && wk_st[0] == W_ON -> worker_crash(0) }
	:: atomic { b_wcrash > 0 && WOK(1) && wk_st[1] == W_ON -> worker_crash(1) }
	:: atomic { b_wcrash > 0 && WOK(2) && wk_st[2] == W_ON -> worker_crash(2) }
#ifdef LIVE
	/* faults end here: every node runs and reaches Redis again */
	:: atomic { !quiet ->
		quiet = 1;
		b_flush = 0; b_conn = 0; b_stop = 0; b_ncrash = 0; b_wcrash = 0;
		blocked[0] = 0; blocked[1] = 0; stopped[0] = 0; stopped[1] = 0;
		printf("[t%d] faults end\n", tnow) }
#endif
	od
}

/* ---- the steady state the checks start from --------------------------- */
init
{
	atomic {
		byte i;
		i = 0;
		do
		:: i < NW -> r_wk[i] = NONE; wk_st[i] = W_NONE; i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NN ->
			st[i] = N_ACTIVE;
			joined[i] = 1;
			ninc[i] = 1;
			r_inc[i] = 1;
			r_dl[i] = DLFULL;
			r_ibx[i] = 1;
			up[i] = 1;
			rx[i] = 1;
			reading[i] = 1;
			farmed[i] = 1;
			j_w[i] = NONE;
			j_dn[i] = NONE;
			sp_w[i] = NONE;
			view[i] = 3;
			i++
		:: else -> break
		od;
		r_epoch = 1;
		/* w0 on node 0 and w1 on node 1, attached and placed */
		lw[0] = 1; lw_att[0] = 1; wk_st[0] = W_ON; wk_lset[0] = 1; wk_lease[0] = FENCE + SLACK;
		r_wk[0] = 0;
		lw[1] = 1; lw_att[1] = 1; wk_st[1] = W_ON; wk_lset[1] = 1; wk_lease[1] = FENCE + SLACK;
		r_wk[1] = 1;
		if
		:: W2 -> wk_st[2] = W_IDLE
		:: else
		fi;
		if
		:: LATE1 ->
			/* node 1 has not used the pool yet: w1's HELLO (use1, at a
			 * tick) makes it join (pool_get); w1 is attached once the
			 * node is in (worker_pool_joined) */
			st[1] = N_OFF; joined[1] = 0; ninc[1] = 1; r_inc[1] = 0; r_dl[1] = DLNONE;
			r_ibx[1] = 0; reading[1] = 0; farmed[1] = 0; r_wk[1] = NONE;
			lw[1] = 1; lw_att[1] = 0; wk_st[1] = W_ON; wk_lset[1] = 0;
			view[0] = 1; view[1] = 0
		:: else
		fi;
		if
		:: INIT_JOB ->
			/* the key was dispatched (answered OK) and runs on w0 */
			r_job = 1; r_pay = JP; adm_count = 1; promised = JP;
			r_own_n = 0; r_own_w = 0; r_own_f = 1;
			j_w[0] = 0; j_f[0] = 1; j_pay[0] = JP; j_run[0] = 1;
#ifndef OLD_REAPED_FENCE
			j_since[0] = rt;
#endif
			wk_run[0] = 1; wk_pay[0] = JP
		:: else
		fi;
		i = 1;
		do
		:: i <= NR -> q_cut[i] = NONE; q_owner[i] = NONE; i++
		:: else -> break
		od;
		run redis(); run node(0); run node(1);
		run clock(); run faults()
	}
}

/* every job that exists runs on a live worker, eventually, once faults
 * have stopped (checked with ./pan -a -f -N live) */
ltl live { [] ((quiet && r_job) -> <> (!r_job || RUNNING)) }
