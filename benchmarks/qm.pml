/*
 * IKEv1 Quick Mode, hand-written Promela for the SPIN comparison of benchmarks/bench_protocol.py.
 *
 * The same configuration as `qmcheck protocol --profile hpux --loss --reorder --retransmits 2
 * --negotiations N`: lossy, reordering channels (random receive ??), at most R retransmissions
 * of messages 1 and 2 (a timer fires when nothing of the negotiation is in flight), message 3
 * resent only on a duplicate message 2, a side gives up after its retransmissions and deletes
 * its entries; after installing each side may send one protected data packet. Each action is
 * atomic, as in the Python model. Build: spin -a -DN=3 qm.pml && gcc -O2 -o pan pan.c && ./pan
 */
#ifndef N
#define N 1
#endif
#define R 2
#define ABSENT 0
#define LARVAL 1
#define INSTALLED 2
#define DELETED 3

mtype = { M1, M2, M3, DATA };

chan ir[N] = [8] of { mtype };   /* initiator -> responder */
chan ri[N] = [8] of { mtype };   /* responder -> initiator */
byte iin[N], iout[N], rin[N], rout[N];
bool g3[N], bh[N];

#define silent(k) (empty(ir[k]) && empty(ri[k]))

proctype Initiator(byte k) {
  byte rc = 0;
  bool sent = 0;
  atomic { iin[k] = LARVAL; iout[k] = LARVAL; ir[k]!M1 };
wait2:
  do
  :: atomic { ri[k]??M2 -> iin[k] = INSTALLED; iout[k] = INSTALLED; ir[k]!M3; goto done }
  :: atomic { silent(k) && rc < R -> rc++; ir[k]!M1 }
  :: atomic { silent(k) && rc == R -> iin[k] = DELETED; iout[k] = DELETED; goto dead }
  od;
done:
end_done:
  do
  :: atomic { ri[k]??M2 -> ir[k]!M3 }
  :: atomic { ri[k]??DATA -> bh[k] = bh[k] || iin[k] != INSTALLED }
  :: atomic { !sent -> sent = 1; ir[k]!DATA }
  od;
dead:
end_dead:
  do
  :: atomic { ri[k]??M2 -> skip }
  :: atomic { ri[k]??DATA -> bh[k] = 1 }
  od
}

proctype Responder(byte k) {
  byte rc = 0;
  bool sent = 0;
end_idle:
  atomic { ir[k]??M1 -> rin[k] = LARVAL; rout[k] = LARVAL; ri[k]!M2 };
wait3:
  do
  :: atomic { ir[k]??M1 -> skip }
  :: atomic { ir[k]??M3 -> g3[k] = 1; rin[k] = INSTALLED; rout[k] = INSTALLED;
                assert(g3[k]); goto done }
  :: atomic { ir[k]??DATA -> bh[k] = bh[k] || rin[k] != INSTALLED }
  :: atomic { silent(k) && rc < R -> rc++; ri[k]!M2 }
  :: atomic { silent(k) && rc == R -> rin[k] = DELETED; rout[k] = DELETED; goto dead }
  od;
done:
end_done:
  do
  :: atomic { ir[k]??M1 -> skip }
  :: atomic { ir[k]??M3 -> skip }
  :: atomic { ir[k]??DATA -> bh[k] = bh[k] || rin[k] != INSTALLED }
  :: atomic { !sent -> sent = 1; ri[k]!DATA }
  od;
dead:
end_dead:
  do
  :: atomic { ir[k]??M1 -> skip }
  :: atomic { ir[k]??M3 -> skip }
  :: atomic { ir[k]??DATA -> bh[k] = 1 }
  od
}

proctype Network(byte k) {
end_net:
  do
  :: atomic { ir[k]??M1 } :: atomic { ir[k]??M3 } :: atomic { ir[k]??DATA }
  :: atomic { ri[k]??M2 } :: atomic { ri[k]??DATA }
  od
}

init {
  byte k = 0;
  atomic {
    do
    :: k < N -> run Initiator(k); run Responder(k); run Network(k); k++
    :: else -> break
    od
  }
}
