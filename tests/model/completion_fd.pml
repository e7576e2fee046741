/* The completion queue's fd protocol (src/runtime/completion.rs), for spin.
 * Two producers push N items each (push: enqueue, then raise the fd unless `signaled`
 * was already set). The host blocks in poll() until the fd is readable, then runs one
 * dispatch round: begin (clear the fd, clear `signaled`), pop at most MAX items, end
 * (if items remain, set `signaled` and raise the fd again).
 * Checked: no lost wake-up (an invalid end state is the host blocked in poll() with items
 * queued), and every item is dispatched exactly once.
 * -DBROKEN_BEGIN clears `signaled` before the fd (the wrong order): spin must find the
 * lost wake-up, which shows the model can fail.
 * -DDISPATCH_READS models replies read in dispatch (src/runtime/dispatch_reads.rs): a
 * server also sends N replies into a socket; the host polls the epoll set (readable while
 * the fd is or the socket holds bytes). A round with `signaled` clear first reads the
 * socket directly; if that found nothing (or `signaled` was set) it takes the set's
 * report of the fd, reads the socket into the queue without raising anything, and
 * resets the fd only if the report said it was readable. -DBROKEN_NO_REARM (with DISPATCH_READS) leaves out the
 * re-raise at the end of a round that stopped at MAX: spin must find the lost wake-up. */
#define N 3
#define MAX 2

byte queued = 0;        /* items in the queue */
bool fd = false;        /* the eventfd is readable */
bool signaled = false;
byte dispatched = 0;
#ifdef DISPATCH_READS
byte sock = 0;          /* replies waiting in the socket */
#define TOTAL (3 * N)
proctype server() {
    byte i = 0;
    do
    :: i < N -> sock++; i++
    :: else -> break
    od
}
#else
#define TOTAL (2 * N)
#endif

proctype producer() {
    byte i = 0;
    do
    :: i < N ->
        queued++;
        atomic { if :: !signaled -> signaled = true; fd = true :: else -> skip fi }
        i++
    :: else -> break
    od
}

proctype host() {
    byte ran;
    bool seen;
    byte took;
    do
    :: dispatched == TOTAL -> break
    :: else ->
#ifdef DISPATCH_READS
        (fd || sock > 0);   /* poll() on the epoll set */
        /* Not signalled: read the socket without asking the set (it may hold nothing). */
        took = 0;
        if
        :: !signaled -> atomic { took = sock; queued = queued + sock; sock = 0 }
        :: else -> skip
        fi;
        if
        :: took == 0 ->
            seen = fd;      /* epoll_wait(0): is the eventfd among the ready members? */
            atomic { queued = queued + sock; sock = 0 }  /* read the socket, push quietly */
            if
            :: seen -> fd = false; signaled = false
            :: else -> skip
            fi
        :: else -> skip
        fi;
#else
        fd;             /* poll(): blocks until readable */
#endif
#if defined(DISPATCH_READS)
        skip;
#elif defined(BROKEN_BEGIN)
        signaled = false;
        fd = false;
#else
        fd = false;
        signaled = false;
#endif
        ran = 0;
        do
        :: ran < MAX && queued > 0 -> queued--; dispatched++; ran++
        :: else -> break
        od;
#ifndef BROKEN_NO_REARM
        if
        :: queued > 0 -> signaled = true; fd = true
        :: else -> skip
        fi
#endif
    od;
    assert(queued == 0 && dispatched == TOTAL)
}

init {
#ifdef DISPATCH_READS
    atomic { run producer(); run producer(); run server(); run host() }
#else
    atomic { run producer(); run producer(); run host() }
#endif
}
