/* Promela model of quorate's lease protocol (core/lease), checked by spin; see docs/model.md. */

/*
 * One process, one do-loop: every option is one atomic event of the system
 * (a message delivered, dropped or duplicated, a clock tick, a crash, a proposer
 * step). Time is kept relative: every timer stores "ticks left on its node's own
 * clock", so the state space is finite without a bound on time.
 *
 * Processes: 0 = director A (node 0), 1 = director B (node 1), 2 = arbiter
 * (node 2), 3 = clone of director A (node 0, another instance; -DCLONE or -DCLONE_SHARED).
 *
 * Properties: assertions in win(): (a) no other process holds when one acquires or renews;
 * (b) every new tenure's epoch is above every earlier one's.
 * Mutants (each must give a counterexample; tests/model/run.sh): MUTANT_NO_INSTANCE,
 * MUTANT_OVERWRITE, MUTANT_NO_QUARANTINE, MUTANT_QUARANTINE_CONFIG, MUTANT_EXPIRY_EARLIER,
 * MUTANT_HOLDER_LEASE.
 */

/* ---- bounds (override with -D) ---- */
#ifndef ROUNDS
#define ROUNDS 2        /* rounds (campaigns and renewals) started in a run, all proposers together */
#endif
#ifndef ROUNDS_B
#define ROUNDS_B ROUNDS /* of which director B may start at most this many */
#endif
#ifndef MAXEPOCH
#define MAXEPOCH 6      /* a round that would need a higher epoch is abandoned */
#endif
#ifndef RESTARTS
#define RESTARTS 0      /* crashes (with loss of memory) in a run, all nodes together */
#endif
#ifndef DRIFTS
#define DRIFTS 0        /* clock ticks some node's clock misses in a run */
#endif
#ifndef DUPS
#define DUPS 0          /* duplicated messages in a run */
#endif
#ifndef STALE
#define STALE 0         /* the arbiter may use a clock read one tick old */
#endif
#ifndef ABANDON_ANYTIME
#define ABANDON_ANYTIME 0   /* 1: a proposer may give a round up at any time */
#endif
#ifndef STEPDOWN
#define STEPDOWN 1          /* the holder may step down (Release) */
#endif
#ifndef RESERVE
#define RESERVE 1       /* kEpochReserve: the persisted epoch ceiling runs this far ahead */
#endif

/* ---- timers per configuration: 0 = long (the start-up config), 1 = short ---- */
#ifndef HLONG_
#define HLONG_ 2
#define LLONG 3
#define QLONG 3
#endif
#define HSHORT_ 1
#define LSHORT 2
#define QSHORT 2
#ifdef MUTANT_HOLDER_LEASE
#define HLONG LLONG     /* holder lease as long as the acceptor lease: no margin for drift */
#define HSHORT LSHORT
#else
#define HLONG HLONG_
#define HSHORT HSHORT_
#endif
#define HOLDERLEASE(p) (cfg[p] == 0 -> HLONG : HSHORT)
#define ACCLEASE(p) (cfg[p] == 0 -> LLONG : LSHORT)
#define QUARANTINE(p) (cfg[p] == 0 -> QLONG : QSHORT)

/* ---- processes ---- */
#define ARB 2
#define NODE(p) (p == 3 -> 0 : p)
#define PEER(p) (p == 1 -> 0 : 1)   /* the other director's acceptor, as this proposer reaches it */
/* The acceptor a proposer calls its own. With -DCLONE_SHARED the clone has none of its own and
 * uses A's (three voters, two proposers of node 0); with -DCLONE it has its own (four voters). */
#ifdef CLONE_SHARED
#define CLONE
#define LOCAL(p) (p == 3 -> 0 : p)
#else
#define LOCAL(p) (p)
#endif

/* ---- messages: one int each; the network is a multiset kept sorted ---- */
#ifndef NS
#define NS 3          /* messages in flight at most: a send to a full network is lost */
#endif
#define PREPARE 1
#define PROMISE 2
#define ACCEPT 3
#define ACCEPTED 4
#define REJECT 5
#define RELEASE 6
#define MK(k, s, d, i, b, e, a) ((k) | ((s) << 3) | ((d) << 5) | ((i) << 7) | ((b) << 10) | ((e) << 19) | ((a) << 23))
#define KIND(m) ((m) & 7)
#define SRC(m) (((m) >> 3) & 3)
#define DST(m) (((m) >> 5) & 3)
#define INST(m) (((m) >> 7) & 7)
#define BAL(m) (((m) >> 10) & 511)
#define EPO(m) (((m) >> 19) & 15)
#define ARG(m) (((m) >> 23) & 15)
#define STAMP(m) (((m) >> 27) & 3)    /* arbiter read its clock: 1 this tick, 2 one tick ago */
#define STAMPBIT (1 << 27)

/* Ballot (round, node, incarnation, instance), ordered lexicographically as one number. The
 * instance tells apart two processes of one node id with one incarnation (a clone of a disk);
 * -DMUTANT_BALLOT_NO_INSTANCE leaves it out, as the code did before this model found why. */
#ifndef MUTANT_BALLOT_NO_INSTANCE
#define BALLOT(r, n, inc, in) (((((r) * 2) + (n)) * 4 + (inc)) * 8 + (in))
#else
#define BALLOT(r, n, inc, in) (((((r) * 2) + (n)) * 4 + (inc)) * 8)
#endif
#define ROUND(b) ((b) / 64)

#define FLOOR (-1)      /* accLeft: expired at least one tick ago (or no lease) */

#ifdef MUTANT_NO_INSTANCE
#define SAMEINST(a, b) true
#else
#define SAMEINST(a, b) ((a) == (b))
#endif

#define IDLE 0
#define PREP 1
#define ACC 2
#define COUNT(s) (((s) & 1) + (((s) >> 1) & 1) + (((s) >> 2) & 1) + (((s) >> 3) & 1))
#define MAX(a, b) ((a) > (b) -> (a) : (b))

int net[NS];

/* configuration and identity */
byte cfg[4];
byte inst[4];            /* the process instance: new at every start */

/* acceptor, in memory */
byte accNode[4];
byte accInst[4];
byte accEpoch[4];
short accLeft[4];        /* expiry - now on this node's clock; live while > 0 */
short promised[4];
byte accMaxEpoch[4];     /* highest epoch accepted; after a restart, the ceiling */
byte quiet[4];           /* quarantine left */

/* durable (survives a crash) */
byte durCeiling[4];
byte durMaxLease[4];
byte durInc[4];
bool grantedLife[4];    /* in memory: this life has granted a lease */

/* proposer */
byte hold[4];            /* holder lease left: holds while > 0 */
byte epoch[4];
byte hiRound[4];
byte hiEpoch[4];
byte ph[4];
short rb[4];
byte rage[4];            /* ticks since the round's start, on the proposer's clock */
byte rep[4];
bool rren[4];
byte rprom[4];
byte racc[4];
bool rlocal[4];
byte rmaxE[4];

/* checker and budgets */
byte lastTenure;
byte rounds;
byte roundsB;
byte restarts;
byte drifts;
byte dups;
byte nextInst;

/* scratch, not part of the state */
hidden int xmsg, xtmp;
hidden byte mk, ms, md, mi, me, ma, mst;
hidden short mb;
hidden byte rk, re, rarg, xi, xj, xq;
hidden byte live, sameOwner, renews;
hidden short newLeft;

inline normalize() {
  xi = 0;
  do
  :: xi < NS - 1 ->
    xj = 0;
    do
    :: xj < NS - 1 - xi ->
      if
      :: net[xj] < net[xj + 1] -> xtmp = net[xj]; net[xj] = net[xj + 1]; net[xj + 1] = xtmp
      :: else -> skip
      fi;
      xj++
    :: else -> break
    od;
    xi++
  :: else -> break
  od;
  skip
}

/* A full network loses the message. */
inline send(msg) {
  if
  :: net[NS - 1] == 0 -> net[NS - 1] = msg; normalize()
  :: else -> skip
  fi
}

inline resetRound(p) {
  ph[p] = IDLE; rb[p] = 0; rage[p] = 0; rep[p] = 0; rren[p] = false;
  rprom[p] = 0; racc[p] = 0; rlocal[p] = false; rmaxE[p] = 0
}

inline clearLease(p) {
  accNode[p] = 0; accInst[p] = 0; accEpoch[p] = 0; accLeft[p] = FLOOR
}

/*
 * Acceptor::handle. `stale` is how many ticks ago the acceptor's clock was read
 * (the arbiter's gRPC thread reads it before taking the cluster's lock).
 * Sets rk (reply kind, 0 = none), re, rarg.
 */
inline acceptorStep(p, k, fsrc, finst, b, e, a, stale) {
  rk = 0; re = 0; rarg = 0;
  if
  :: quiet[p] > 0 -> skip   /* quarantine: silent */
  :: else ->
    live = (accLeft[p] + stale > 0);
    sameOwner = (accNode[p] == NODE(fsrc) && SAMEINST(accInst[p], finst));
    if
    :: k == PREPARE ->
      if
      :: b < promised[p] -> rk = REJECT
      :: else -> promised[p] = b; rk = PROMISE; re = accMaxEpoch[p]
      fi
    :: k == ACCEPT ->
      renews = (live && sameOwner && accEpoch[p] == e);
      if
      :: b < promised[p] && !renews -> rk = REJECT
      :: else -> skip
      fi;
      if
      :: rk == 0 && (a > QUARANTINE(p) || a == 0) -> rk = REJECT
      :: else -> skip
      fi;
#ifndef MUTANT_OVERWRITE
      if
      :: rk == 0 && live && !sameOwner -> rk = REJECT
      :: else -> skip
      fi;
#endif
      if
      :: rk == 0 && e == 0 -> rk = REJECT
      :: else -> skip
      fi;
      if
      :: rk == 0 ->
        if
        :: b > promised[p] -> promised[p] = b
        :: else -> skip
        fi;
        newLeft = a - stale;
#ifdef MUTANT_EXPIRY_EARLIER
        accLeft[p] = newLeft;
#else
        /* the same owner's renewal of the same tenure never moves the expiry earlier */
        if
        :: sameOwner && accEpoch[p] == e && accLeft[p] > newLeft -> skip
        :: else -> accLeft[p] = newLeft
        fi;
#endif
        accNode[p] = NODE(fsrc); accInst[p] = finst; accEpoch[p] = e;
        if
        :: e > accMaxEpoch[p] -> accMaxEpoch[p] = e
        :: else -> skip
        fi;
        /* persisted before the reply (a failed persist = the step never happened = loss) */
        if
        :: e > durCeiling[p] -> durCeiling[p] = e + RESERVE
        :: else -> skip
        fi;
        /* the longest lease of this life; the first grant of a life may lower it, since
         * every lease of the earlier lives is over by then */
        if
        :: !grantedLife[p] || a > durMaxLease[p] -> durMaxLease[p] = a
        :: else -> skip
        fi;
        grantedLife[p] = true;
        rk = ACCEPTED; re = e;
        printf("  acceptor %d grants node %d/%d epoch %d, %d ticks (stale %d)\n", p, NODE(fsrc), finst, e, accLeft[p], stale)
      :: else -> skip
      fi
    :: k == RELEASE ->
      if
      :: live && sameOwner && accEpoch[p] == e -> clearLease(p)
      :: else -> skip
      fi
    fi;
    if
    :: rk == REJECT -> re = accMaxEpoch[p]; rarg = ROUND(promised[p])
    :: else -> skip
    fi
  fi
}

inline learnReject(p) {
  hiRound[p] = MAX(hiRound[p], rarg);
  hiEpoch[p] = MAX(hiEpoch[p], re)
}

/* DirectorNode::onAccepted's end: a majority said yes. */
inline win(p) {
  if
  :: rage[p] >= HOLDERLEASE(p) -> skip          /* too late: this lease is already over */
  :: rage[p] < HOLDERLEASE(p) && rren[p] && hold[p] == 0 -> skip   /* lost meanwhile */
  :: rage[p] < HOLDERLEASE(p) && !(rren[p] && hold[p] == 0) ->
    if
    :: !rren[p] ->
      /* property (b): every new tenure has an epoch above every earlier tenure's */
#ifndef NO_EPOCH_CHECK
      assert(rep[p] > lastTenure);
#endif
      lastTenure = rep[p]
    :: else -> skip
    fi;
    /* property (a): no other process holds while this one starts or extends its lease */
    assert((p == 0 || hold[0] == 0) && (p == 1 || hold[1] == 0) && (p == 3 || hold[3] == 0));
    epoch[p] = rep[p];
    hiEpoch[p] = MAX(hiEpoch[p], rep[p]);
    hold[p] = HOLDERLEASE(p) - rage[p];
    printf("P%d holds epoch %d for %d ticks\n", p, rep[p], hold[p])
  fi;
  resetRound(p)
}

inline sendAccepts(p) {
  ph[p] = ACC;
  send(MK(ACCEPT, p, PEER(p), inst[p], rb[p], rep[p], ACCLEASE(p)));
  send(MK(ACCEPT, p, ARB, inst[p], rb[p], rep[p], ACCLEASE(p)));
  if
  :: rren[p] ->   /* a renewal keeps our own acceptor's lease going at once */
    acceptorStep(LOCAL(p), ACCEPT, p, inst[p], rb[p], rep[p], ACCLEASE(p), 0);
    if
    :: rk == ACCEPTED -> racc[p] = racc[p] | (1 << LOCAL(p))
    :: rk == REJECT -> learnReject(p)
    :: else -> skip
    fi
  :: else -> skip
  fi
}

/* DirectorNode::onPromise / onAccepted / onReject, for a reply from acceptor process `from`. */
inline onReply(p, k, from, b, e, a) {
  if
  :: k == PROMISE ->
    hiRound[p] = MAX(hiRound[p], ROUND(b));
    hiEpoch[p] = MAX(hiEpoch[p], e);
    if
    :: ph[p] == PREP && b == rb[p] ->
      rprom[p] = rprom[p] | (1 << from);
      rmaxE[p] = MAX(rmaxE[p], e);
      if
      :: COUNT(rprom[p]) >= 2 ->
        rep[p] = MAX(rmaxE[p], hiEpoch[p]) + 1;
        if
        :: rep[p] > MAXEPOCH -> resetRound(p)   /* bound of the model */
        :: else -> sendAccepts(p)
        fi
      :: else -> skip
      fi
    :: else -> skip
    fi
  :: k == ACCEPTED ->
    if
    :: ph[p] == ACC && b == rb[p] && e == rep[p] ->
      racc[p] = racc[p] | (1 << from);
      /* a campaign asks its own acceptor only after a remote one agreed */
      if
      :: !rren[p] && from != LOCAL(p) && (racc[p] & (1 << LOCAL(p))) == 0 && !rlocal[p] ->
        rlocal[p] = true;
        acceptorStep(LOCAL(p), ACCEPT, p, inst[p], rb[p], rep[p], ACCLEASE(p), 0);
        if
        :: rk == ACCEPTED -> racc[p] = racc[p] | (1 << LOCAL(p))
        :: rk == REJECT -> learnReject(p)
        :: else -> skip
        fi
      :: else -> skip
      fi;
      if
      :: COUNT(racc[p]) >= 2 -> win(p)
      :: else -> skip
      fi
    :: else -> skip
    fi
  :: k == REJECT ->
    hiRound[p] = MAX(hiRound[p], a);
    hiEpoch[p] = MAX(hiEpoch[p], e)
  fi
}

inline deliver(x) {
  xmsg = net[x];
  net[x] = 0;
  normalize();
  mk = KIND(xmsg); ms = SRC(xmsg); md = DST(xmsg); mi = INST(xmsg);
  mb = BAL(xmsg); me = EPO(xmsg); ma = ARG(xmsg); mst = STAMP(xmsg);
  if
  :: mk == PREPARE || mk == ACCEPT || mk == RELEASE ->
    if
    :: md != ARB && mk != RELEASE -> hiRound[md] = MAX(hiRound[md], ROUND(mb))
    :: else -> skip
    fi;
    acceptorStep(md, mk, ms, mi, mb, me, ma, (mst == 2 -> 1 : 0));
    if
    :: rk != 0 -> send(MK(rk, md, ms, 0, mb, re, rarg))
    :: else -> skip
    fi
  :: else -> onReply(md, mk, ms, mb, me, ma)
  fi
}

/* DirectorNode::startRound(renewal = false) */
inline campaign(p) {
  rounds++;
  if
  :: p == 1 -> roundsB++
  :: else -> skip
  fi;
  hiRound[p]++;
  rb[p] = BALLOT(hiRound[p], NODE(p), durInc[p], inst[p]);
  ph[p] = PREP;
  printf("P%d campaigns, ballot %d.%d.%d\n", p, hiRound[p], NODE(p), durInc[p]);
  send(MK(PREPARE, p, PEER(p), inst[p], rb[p], 0, 0));
  send(MK(PREPARE, p, ARB, inst[p], rb[p], 0, 0));
  acceptorStep(LOCAL(p), PREPARE, p, inst[p], rb[p], 0, 0, 0);
  if
  :: rk == PROMISE -> rprom[p] = 1 << LOCAL(p); rmaxE[p] = re
  :: rk == REJECT -> learnReject(p)
  :: else -> skip
  fi
}

/* DirectorNode::startRound(renewal = true): same epoch, fresh ballot, no phase 1 */
inline renew(p) {
  rounds++;
  if
  :: p == 1 -> roundsB++
  :: else -> skip
  fi;
  hiRound[p]++;
  rb[p] = BALLOT(hiRound[p], NODE(p), durInc[p], inst[p]);
  rren[p] = true;
  rep[p] = epoch[p];
  printf("P%d renews epoch %d, ballot %d.%d.%d\n", p, epoch[p], hiRound[p], NODE(p), durInc[p]);
  sendAccepts(p)
}

/* DirectorNode::release: stop acting first, then tell the acceptors */
inline stepDown(p) {
  printf("P%d steps down\n", p);
  hold[p] = 0;
  resetRound(p);
  send(MK(RELEASE, p, PEER(p), inst[p], 0, epoch[p], 0));
  send(MK(RELEASE, p, ARB, inst[p], 0, epoch[p], 0));
  acceptorStep(LOCAL(p), RELEASE, p, inst[p], 0, epoch[p], 0, 0);
  epoch[p] = 0
}

/* Crash and restart: memory is lost, the durable state survives. */
inline restart(p, c) {
  restarts++;
  cfg[p] = c;
  if
  :: p != ARB -> nextInst++; inst[p] = nextInst; durInc[p]++
  :: else -> skip
  fi;
  clearLease(p);
  promised[p] = 0;
  grantedLife[p] = false;
  accMaxEpoch[p] = durCeiling[p];
#if defined(MUTANT_NO_QUARANTINE)
  quiet[p] = 0;
#elif defined(MUTANT_QUARANTINE_CONFIG)
  quiet[p] = QUARANTINE(p);
#else
  quiet[p] = MAX(QUARANTINE(p), durMaxLease[p]);
#endif
  hold[p] = 0;
  epoch[p] = 0;
  hiRound[p] = 0;
  hiEpoch[p] = durCeiling[p];
  resetRound(p);
  printf("P%d restarts (config %d), quiet for %d\n", p, c, quiet[p])
}

/* One tick of real time; process `sk` (4: none) has a slow clock and misses it. */
inline tick(sk) {
  if
  :: sk < 4 -> printf("tick (P%d's clock misses it)\n", sk)
  :: else -> printf("tick\n")
  fi;
  xq = 0;
  do
  :: xq < 4 ->
    if
    :: xq != sk ->
      if
      :: accLeft[xq] > FLOOR ->
        accLeft[xq]--;
        if
        :: accLeft[xq] == FLOOR -> clearLease(xq)
        :: else -> skip
        fi
      :: else -> skip
      fi;
      if
      :: quiet[xq] > 0 -> quiet[xq]--
      :: else -> skip
      fi;
      if
      :: hold[xq] > 0 ->
        hold[xq]--;
        if
        :: hold[xq] == 0 -> resetRound(xq); epoch[xq] = 0  /* a late renewal must not revive it */
        :: else -> skip
        fi
      :: else -> skip
      fi;
      if
      :: ph[xq] != IDLE ->
        rage[xq]++;
        if
        :: rage[xq] >= HOLDERLEASE(xq) -> resetRound(xq)   /* could never give a lease now */
        :: else -> skip
        fi
      :: else -> skip
      fi
    :: else -> skip
    fi;
    xq++
  :: else -> break
  od;
  if
  :: sk != ARB ->
    xq = 0;
    do
    :: xq < NS ->
      if
      :: STAMP(net[xq]) == 1 -> net[xq] = net[xq] + STAMPBIT
      :: else -> skip
      fi;
      xq++
    :: else -> break
    od;
    normalize()
  :: else -> skip
  fi
}

#if NS == 4
#define NOSTALE (STAMP(net[0]) != 2 && STAMP(net[1]) != 2 && STAMP(net[2]) != 2 && STAMP(net[3]) != 2)
#elif NS == 3
#define NOSTALE (STAMP(net[0]) != 2 && STAMP(net[1]) != 2 && STAMP(net[2]) != 2)
#else
#define NOSTALE (STAMP(net[0]) != 2 && STAMP(net[1]) != 2)
#endif

#define CANCAMPAIGN(p) (hold[p] == 0 && ph[p] == IDLE && quiet[p] == 0 && rounds < ROUNDS && (p != 1 || roundsB < ROUNDS_B) && \
                        !(accLeft[LOCAL(p)] > 0 && accNode[LOCAL(p)] != NODE(p)))
#define CANRENEW(p) (hold[p] > 0 && ph[p] == IDLE && rounds < ROUNDS && (p != 1 || roundsB < ROUNDS_B))

#if STALE
#define STAMPEVENT(x) \
  :: d_step { KIND(net[x]) == ACCEPT && DST(net[x]) == ARB && STAMP(net[x]) == 0 -> \
              printf("arbiter reads its clock for P%d's Accept\n", SRC(net[x])); \
              net[x] = net[x] + STAMPBIT; normalize() }
#else
#define STAMPEVENT(x)
#endif

#define SLOT(x) \
  :: d_step { net[x] != 0 -> deliver(x) } \
  :: d_step { net[x] != 0 -> net[x] = 0; normalize() } \
  :: d_step { net[x] != 0 && net[NS - 1] == 0 && dups < DUPS -> \
              dups++; net[NS - 1] = net[x] & ~(3 * STAMPBIT); normalize() } \
  STAMPEVENT(x)

#if ABANDON_ANYTIME
#define ABANDON_EV(p) :: d_step { ph[p] != IDLE -> resetRound(p) }
#else
#define ABANDON_EV(p)
#endif
#if STEPDOWN
#define STEPDOWN_EV(p) :: d_step { hold[p] > 0 -> stepDown(p) }
#else
#define STEPDOWN_EV(p)
#endif

#define PROPOSER(p) \
  :: d_step { CANCAMPAIGN(p) -> campaign(p) } \
  :: d_step { CANRENEW(p) -> renew(p) } \
  ABANDON_EV(p) \
  STEPDOWN_EV(p)

#ifdef TIMER_CHANGE
#define RESTART(p) \
  :: d_step { restarts < RESTARTS -> restart(p, cfg[p]) } \
  :: d_step { restarts < RESTARTS && cfg[p] == 0 -> restart(p, 1) }
#else
#define RESTART(p) \
  :: d_step { restarts < RESTARTS -> restart(p, cfg[p]) }
#endif

#define DRIFT(p) :: d_step { NOSTALE && drifts < DRIFTS -> drifts++; tick(p) }

active proctype world() {
  d_step {
    /* nothing was granted before time 0, so the first start needs no quarantine */
    clearLease(0); clearLease(1); clearLease(2); clearLease(3);
    inst[0] = 1; inst[1] = 2; inst[3] = 3; nextInst = 3;
    /* a clone boots from a copy of A's disk: same node id, same incarnation */
    durInc[0] = 1; durInc[1] = 1; durInc[3] = 1;
  }
  do
  SLOT(0)
  SLOT(1)
#if NS >= 3
  SLOT(2)
#endif
#if NS == 4
  SLOT(3)
#endif
  :: d_step { NOSTALE -> tick(4) }
  DRIFT(0)
#ifndef DRIFT_ONLY_A
  DRIFT(1)
  DRIFT(2)
#endif
  PROPOSER(0)
  PROPOSER(1)
  RESTART(0)
  RESTART(1)
  RESTART(2)
#ifdef CLONE
  PROPOSER(3)
  DRIFT(3)
  RESTART(3)
#endif
  od;
  skip
}
