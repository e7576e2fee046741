/* Shared by the event-loop adapter tests: a few calls whose callbacks record the thread
 * they ran on and what they got. */
#ifndef PYRO_LOOP_COMMON_H
#define PYRO_LOOP_COMMON_H
#include <pthread.h>

#include "check.h"
#include "pyro_async.h"

typedef struct loop_state {
    pthread_t loop_thread;
    int done, wrong_thread, results, errors;
    char echo_repr[128];
    char error_type[128];
} loop_state;

static inline void loop_on_result(const pyro_value *v, void *ud) {
    loop_state *s = (loop_state *)ud;
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread++;
    char *r = pyro_value_repr(v);
    snprintf(s->echo_repr, sizeof s->echo_repr, "%s", r);
    pyro_string_free(r);
    s->results++;
    s->done++;
}

static inline void loop_on_error(const pyro_error *e, void *ud) {
    loop_state *s = (loop_state *)ud;
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread++;
    snprintf(s->error_type, sizeof s->error_type, "%s", pyro_error_remote_type(e) ? pyro_error_remote_type(e) : "?");
    s->errors++;
    s->done++;
}

/* Two calls: an echo and a remote exception. */
static inline void loop_start_calls(pyro_proxy *p, loop_state *s) {
    s->loop_thread = pthread_self();
    CHECK(pyro_call_async(p, "echo", pyro_value_from_literal("(('loop', 1),)", NULL), NULL, loop_on_result,
                          loop_on_error, s) != 0);
    CHECK(pyro_call_async(p, "boom", NULL, NULL, loop_on_result, loop_on_error, s) != 0);
}

static inline void loop_check(const loop_state *s) {
    CHECK(s->done == 2);
    CHECK(s->results == 1 && s->errors == 1);
    CHECK_STR(s->echo_repr, "('loop', 1)");
    CHECK_STR(s->error_type, "builtins.ZeroDivisionError");
    CHECK(s->wrong_thread == 0);
}
#endif
