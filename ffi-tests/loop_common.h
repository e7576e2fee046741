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

/* ---- teardown with an adapter attached: the context freed before the adapter is
 * detached, from outside the loop's callbacks or from inside one it dispatched. */
typedef struct teardown_state {
    pthread_t loop_thread;
    pyro_ctx *ctx; /* NULL once freed */
    int echo_results, slow_cancelled, slow_other, wrong_thread;
    int second_results;
} teardown_state;

static inline void td_free_in_result(const pyro_value *v, void *ud) {
    teardown_state *s = (teardown_state *)ud;
    (void)v;
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread++;
    s->echo_results++;
    pyro_ctx_free(s->ctx); /* deferred to the end of the adapter's dispatch */
    s->ctx = NULL;
}

static inline void td_keep_result(const pyro_value *v, void *ud) {
    teardown_state *s = (teardown_state *)ud;
    (void)v;
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread++;
    s->echo_results++;
}

static inline void td_slow_result(const pyro_value *v, void *ud) {
    (void)v;
    ((teardown_state *)ud)->slow_other++;
}

static inline void td_slow_error(const pyro_error *e, void *ud) {
    teardown_state *s = (teardown_state *)ud;
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread++;
    if (pyro_error_get_kind(e) == PYRO_ERR_CANCELLED)
        s->slow_cancelled++;
    else
        s->slow_other++;
}

static inline void td_second_result(const pyro_value *v, void *ud) {
    teardown_state *s = (teardown_state *)ud;
    (void)v;
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread++;
    s->second_results++;
}

/* An echo (whose callback frees the context when `free_in_callback`) and a slow call
 * that is still outstanding when the context goes. */
static inline void td_start(teardown_state *s, pyro_proxy *fast, pyro_proxy *slow, int free_in_callback) {
    s->loop_thread = pthread_self();
    CHECK(pyro_call_async(slow, "slow", pyro_value_from_literal("(5,)", NULL), NULL, td_slow_result, td_slow_error,
                          s) != 0);
    CHECK(pyro_call_async(fast, "echo", pyro_value_from_literal("(1,)", NULL), NULL,
                          free_in_callback ? td_free_in_result : td_keep_result, NULL, s) != 0);
}

static inline int td_echo_done(const teardown_state *s) { return s->echo_results == 1; }
static inline int td_freed(const teardown_state *s) { return s->ctx == NULL; }

static inline void td_check(const teardown_state *s) {
    CHECK(s->echo_results == 1);
    CHECK(s->ctx == NULL);
    CHECK(s->slow_cancelled == 1 && s->slow_other == 0);
    CHECK(s->wrong_thread == 0);
}
#endif
