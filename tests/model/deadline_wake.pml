/* Deadlines of direct-lane calls reaching the I/O thread (src/runtime/context.rs
 * add_deadline / publish_next_timer, src/runtime/reactor.rs run), for spin.
 * A caller pushes its deadline on the shared list, then reads the reactor's published
 * next wake-up and wakes it only if the deadline is earlier. The reactor takes the list
 * into its heap, publishes its next wake-up, looks at the list once more (taking again if
 * something came in), then sleeps until woken or until its next timer. Time advances
 * only while the reactor sleeps, and not in the middle of a caller's hand-off (a few
 * instructions, against a deadline that is a whole timeout away).
 * Checked: the reactor never sleeps past a deadline (waking at time T with a deadline
 * before T still unseen would be a missed deadline).
 * -DBROKEN_NO_RECHECK drops the second look at the list: spin must find the miss. */
#define INF 9
#define CALLERS 2

byte clock = 0;
byte pending[CALLERS];      /* the shared list (0 = empty slot) */
byte heap_min = INF;        /* earliest timer the reactor holds */
byte published = INF;       /* next_timer */
bool wake = false;
byte pushed = 0;
byte handing = 0;           /* callers between their push and their wake-up check */

inline take() {      /* uses the caller's k */
    k = 0;
    do
    :: k < CALLERS ->
        if
        :: pending[k] != 0 -> if :: pending[k] < heap_min -> heap_min = pending[k] :: else -> skip fi; pending[k] = 0
        :: else -> skip
        fi;
        k++
    :: else -> break
    od
}

inline any_pending(r) {
    r = false;
    k = 0;
    do
    :: k < CALLERS -> if :: pending[k] != 0 -> r = true :: else -> skip fi; k++
    :: else -> break
    od
}

inline min_pending(m) {
    m = INF;
    k = 0;
    do
    :: k < CALLERS -> if :: pending[k] != 0 && pending[k] < m -> m = pending[k] :: else -> skip fi; k++
    :: else -> break
    od
}

proctype caller(byte me) {
    byte d;
    /* now + timeout, pushed (a deadline in the future; none once the run is over) */
    atomic {
        if
        :: clock < 1 -> d = 1
        :: clock < 2 -> d = 2
        :: clock < 3 -> d = 3
        :: clock >= 3 -> goto done
        fi;
        pending[me] = d;
        handing++
    };
    pushed++;
    if
    :: d < published -> wake = true
    :: else -> skip
    fi;
    handing--;
done:
    skip
}

proctype reactor() {
    byte k;
    bool more;
    byte m;
    do
    :: clock >= 4 -> break
    :: else ->
        take();
        published = heap_min;
#ifndef BROKEN_NO_RECHECK
        any_pending(more);
        do
        :: more -> take(); published = heap_min; any_pending(more)
        :: else -> break
        od;
#endif
        /* sleep: until woken, or until the next timer (or the end of the run) */
        if
        :: atomic { wake -> wake = false }
        :: atomic { !wake && handing == 0 ->
            if :: heap_min < INF -> clock = heap_min :: else -> clock = 4 fi;
            min_pending(m);
            assert(m >= clock);         /* no deadline passed unseen */
            if :: heap_min == clock -> heap_min = INF :: else -> skip fi }   /* timer fires */
        fi
    od
}

init {
    atomic { run caller(0); run caller(1); run reactor() }
}
