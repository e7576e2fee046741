/* The completion queue's fd protocol (src/runtime/completion.rs), for spin.
 * Two producers push N items each (push: enqueue, then raise the fd unless `signaled`
 * was already set). The host blocks in poll() until the fd is readable, then runs one
 * dispatch round: begin (clear the fd, clear `signaled`), pop at most MAX items, end
 * (if items remain, set `signaled` and raise the fd again).
 * Checked: no lost wake-up (an invalid end state is the host blocked in poll() with items
 * queued), and every item is dispatched exactly once.
 * -DBROKEN_BEGIN clears `signaled` before the fd (the wrong order): spin must find the
 * lost wake-up, which shows the model can fail. */
#define N 3
#define MAX 2

byte queued = 0;        /* items in the queue */
bool fd = false;        /* the eventfd is readable */
bool signaled = false;
byte dispatched = 0;

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
    do
    :: dispatched == 2 * N -> break
    :: else ->
        fd;             /* poll(): blocks until readable */
#ifdef BROKEN_BEGIN
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
        if
        :: queued > 0 -> signaled = true; fd = true
        :: else -> skip
        fi
    od;
    assert(queued == 0 && dispatched == 2 * N)
}

init {
    atomic { run producer(); run producer(); run host() }
}
