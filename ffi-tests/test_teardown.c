/* Freeing a context from inside its own callbacks, against the real Pyro4 server (run
 * under valgrind by scripts/test.sh: nothing may touch freed memory).
 *
 * The free is deferred to the end of the dispatch round, as hiredis does: calls are
 * refused from the free on, the round stops after the freeing callback, and before
 * pyro_ctx_dispatch returns the teardown runs every outstanding call's callback once
 * (PYRO_ERR_CANCELLED for those still waiting) and releases the context. */
#include "check.h"
#include "pyro_async.h"
#include "testserver.h"

#include <poll.h>
#include <pthread.h>

static test_server server;
static char echo_uri[256];
static pthread_t main_thread;

typedef struct outcome {
    int results, errors, cancelled, wrong_thread;
    int order; /* when it ran, by a global counter */
} outcome;

static int ran_count, order_clock;
static void record(outcome *o) {
    if (!pthread_equal(pthread_self(), main_thread)) o->wrong_thread++;
    o->order = ++order_clock;
    ran_count++;
}
static void on_result(const pyro_value *v, void *ud) {
    (void)v;
    outcome *o = ud;
    o->results++;
    record(o);
}
static void on_error(const pyro_error *e, void *ud) {
    outcome *o = ud;
    o->errors++;
    if (pyro_error_get_kind(e) == PYRO_ERR_CANCELLED) o->cancelled++;
    record(o);
}

static pyro_value *lit(const char *s) { return pyro_value_from_literal(s, NULL); }

/* The host's loop: stops as soon as the context is gone (the host knows, since its own
 * callback freed it). */
static pyro_ctx *ctx;
static int ctx_freed;
static size_t last_dispatch;
static int loop_until_freed(double timeout_s) {
    double end = now_s() + timeout_s;
    while (!ctx_freed) {
        if (now_s() > end) return -1;
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&p, 1, 50);
        last_dispatch = pyro_ctx_dispatch(ctx, 0);
    }
    return 0;
}

/* ---- free in a result callback, with calls outstanding on two proxies */
static pyro_proxy *pa, *pb, *pc;
static outcome fast, slow_a, slow_b, posted_out;
static int refused_after_free, proxy_refused_after_free, post_refused_after_free;
static void posted(void *ud) { record((outcome *)ud); }
static void free_in_result(const pyro_value *v, void *ud) {
    on_result(v, ud);
    pyro_ctx_free(ctx);
    ctx_freed = 1;
    /* still inside the round: the handle lives until it ends, and refuses new work */
    refused_after_free = pyro_call_async(pa, "echo", lit("(9,)"), NULL, on_result, on_error, &fast) == 0;
    pyro_error *e = NULL;
    proxy_refused_after_free = pyro_proxy_new(ctx, echo_uri, &e) == NULL && e != NULL;
    pyro_error_free(e);
    post_refused_after_free = !pyro_ctx_post(ctx, posted, &posted_out);
}

static void test_free_in_a_result_callback(void) {
    ctx = test_ctx_new(NULL);
    ctx_freed = 0;
    pa = pyro_proxy_new(ctx, echo_uri, NULL);
    pb = pyro_proxy_new(ctx, echo_uri, NULL);
    pc = pyro_proxy_new(ctx, echo_uri, NULL);
    memset(&fast, 0, sizeof fast);
    memset(&slow_a, 0, sizeof slow_a);
    memset(&slow_b, 0, sizeof slow_b);
    ran_count = 0;
    CHECK(pyro_call_async(pa, "slow", lit("(5,)"), NULL, on_result, on_error, &slow_a) != 0);
    CHECK(pyro_call_async(pb, "slow", lit("(5,)"), NULL, on_result, on_error, &slow_b) != 0);
    CHECK(pyro_call_async(pc, "echo", lit("(1,)"), NULL, free_in_result, on_error, &fast) != 0);
    double t0 = now_s();
    CHECK(loop_until_freed(10) == 0);
    /* the dispatch that ran the freeing callback also ran the teardown */
    CHECK(now_s() - t0 < 3);
    CHECK(fast.results == 1 && fast.errors == 0);
    CHECK(slow_a.errors == 1 && slow_a.cancelled == 1 && slow_a.results == 0);
    CHECK(slow_b.errors == 1 && slow_b.cancelled == 1 && slow_b.results == 0);
    CHECK(slow_a.order > fast.order && slow_b.order > fast.order);
    CHECK(refused_after_free && proxy_refused_after_free && post_refused_after_free);
    CHECK(posted_out.order == 0);
    CHECK(last_dispatch == 3); /* the freeing callback and the two it cancelled */
    CHECK(ran_count == 3);
    CHECK(fast.wrong_thread + slow_a.wrong_thread + slow_b.wrong_thread == 0);
    /* proxies outlive their context: free them after */
    CHECK(pyro_call_async(pa, "echo", lit("(2,)"), NULL, on_result, on_error, &fast) == 0);
    pyro_proxy_free(pa);
    pyro_proxy_free(pb);
    pyro_proxy_free(pc);
}

/* ---- the round stops after the freeing callback; what had already arrived still gets
 * its real outcome, at the teardown */
static outcome queued[5];
static int freeing_index = -1;
static void maybe_free(const pyro_value *v, void *ud) {
    on_result(v, ud);
    if (freeing_index < 0) {
        freeing_index = (int)((outcome *)ud - queued);
        pyro_ctx_free(ctx);
        ctx_freed = 1;
    }
}

static void test_round_stops_and_arrived_outcomes_are_kept(void) {
    ctx = test_ctx_new(NULL);
    ctx_freed = 0;
    freeing_index = -1;
    ran_count = 0;
    memset(queued, 0, sizeof queued);
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    for (int i = 0; i < 5; i++)
        CHECK(pyro_call_async(p, "echo", lit("(1,)"), NULL, maybe_free, on_error, &queued[i]) != 0);
    /* let all five arrive before dispatching */
    double end = now_s() + 10;
    while (pyro_ctx_pending(ctx) < 5 && now_s() < end) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 50);
        if (read_in_dispatch()) break; /* replies wait in the socket: one round reads all */
    }
    usleep(200 * 1000);
    CHECK(loop_until_freed(10) == 0);
    CHECK(freeing_index >= 0);
    int results = 0, errors = 0;
    for (int i = 0; i < 5; i++) {
        CHECK(queued[i].results + queued[i].errors == 1);
        results += queued[i].results;
        errors += queued[i].errors;
    }
    /* every reply had arrived: each call got its real result, none a CANCELLED */
    if (!read_in_dispatch()) CHECK(results == 5 && errors == 0);
    CHECK(ran_count == 5);
    /* the context is gone: the proxy that outlives it refuses calls */
    CHECK(pyro_call_async(p, "echo", lit("(1,)"), NULL, on_result, on_error, &queued[0]) == 0);
    pyro_proxy_free(p);
}

/* ---- callbacks run by the teardown free the context again, dispatch, start calls */
static int teardown_frees, teardown_dispatch_ok, teardown_calls_refused;
static pyro_proxy *tp;
static void free_again(const pyro_error *e, void *ud) {
    on_error(e, ud);
    pyro_ctx_free(ctx); /* ignored: it is being freed */
    teardown_frees++;
    pyro_ctx_dispatch(ctx, 0); /* nested: allowed, runs nothing new */
    teardown_dispatch_ok++;
    if (pyro_call_async(tp, "echo", lit("(1,)"), NULL, on_result, on_error, ud) == 0) teardown_calls_refused++;
}
static void free_first(const pyro_value *v, void *ud) {
    on_result(v, ud);
    pyro_ctx_free(ctx);
    ctx_freed = 1;
}

static void test_teardown_callbacks_may_free_again(void) {
    static outcome first, rest[10];
    ctx = test_ctx_new(NULL);
    ctx_freed = 0;
    teardown_frees = teardown_dispatch_ok = teardown_calls_refused = 0;
    tp = pyro_proxy_new(ctx, echo_uri, NULL);
    for (int i = 0; i < 10; i++)
        CHECK(pyro_call_async(tp, "slow", lit("(5,)"), NULL, on_result, free_again, &rest[i]) != 0);
    pyro_proxy *other = pyro_proxy_new(ctx, echo_uri, NULL);
    CHECK(pyro_call_async(other, "echo", lit("(1,)"), NULL, free_first, on_error, &first) != 0);
    CHECK(loop_until_freed(10) == 0);
    CHECK(teardown_frees == 10 && teardown_dispatch_ok == 10 && teardown_calls_refused == 10);
    for (int i = 0; i < 10; i++) CHECK(rest[i].cancelled == 1 && rest[i].results == 0);
    pyro_proxy_free(tp);
    pyro_proxy_free(other);
}

/* The same from outside: pyro_ctx_free's own teardown runs callbacks that free again. */
static void test_free_outside_with_callbacks_freeing_again(void) {
    static outcome rest[10];
    ctx = test_ctx_new(NULL);
    teardown_frees = teardown_dispatch_ok = teardown_calls_refused = 0;
    tp = pyro_proxy_new(ctx, echo_uri, NULL);
    for (int i = 0; i < 10; i++)
        CHECK(pyro_call_async(tp, "slow", lit("(5,)"), NULL, on_result, free_again, &rest[i]) != 0);
    pyro_ctx_free(ctx);
    CHECK(teardown_frees == 10 && teardown_dispatch_ok == 10 && teardown_calls_refused == 10);
    for (int i = 0; i < 10; i++) CHECK(rest[i].cancelled == 1);
    pyro_proxy_free(tp);
}

/* ---- free inside a nested dispatch: the teardown waits for the outermost round */
static outcome outer, inner, pending_slow;
static int inner_done;
static void inner_frees(const pyro_value *v, void *ud) {
    on_result(v, ud);
    inner_done = 1;
    pyro_ctx_free(ctx);
    ctx_freed = 1;
}
static int outer_saw_teardown_early;
static void outer_waits(const pyro_value *v, void *ud) {
    on_result(v, ud);
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    CHECK(pyro_call_async(p, "echo", lit("(2,)"), NULL, inner_frees, on_error, &inner) != 0);
    double end = now_s() + 10;
    while (!inner_done && now_s() < end) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    /* the inner round returned; the teardown has not run yet: this callback is running */
    outer_saw_teardown_early = pending_slow.order != 0;
    pyro_proxy_free(p);
}

static void test_free_in_a_nested_dispatch(void) {
    ctx = test_ctx_new(NULL);
    ctx_freed = 0;
    inner_done = 0;
    memset(&outer, 0, sizeof outer);
    memset(&inner, 0, sizeof inner);
    memset(&pending_slow, 0, sizeof pending_slow);
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_proxy *s = pyro_proxy_new(ctx, echo_uri, NULL);
    CHECK(pyro_call_async(s, "slow", lit("(5,)"), NULL, on_result, on_error, &pending_slow) != 0);
    CHECK(pyro_call_async(p, "echo", lit("(1,)"), NULL, outer_waits, on_error, &outer) != 0);
    CHECK(loop_until_freed(10) == 0);
    CHECK(inner.results == 1 && outer.results == 1);
    CHECK(!outer_saw_teardown_early);
    CHECK(pending_slow.cancelled == 1 && pending_slow.order > outer.order);
    pyro_proxy_free(p);
    pyro_proxy_free(s);
}

/* ---- free from an error callback and from a posted function */
static void free_in_error(const pyro_error *e, void *ud) {
    on_error(e, ud);
    pyro_ctx_free(ctx);
    ctx_freed = 1;
}
static void free_in_post(void *ud) {
    record((outcome *)ud);
    pyro_ctx_free(ctx);
    ctx_freed = 1;
}

static void test_free_in_error_callback_and_post(void) {
    static outcome boom, later, post_out;
    ctx = test_ctx_new(NULL);
    ctx_freed = 0;
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    CHECK(pyro_call_async(p, "boom", NULL, NULL, on_result, free_in_error, &boom) != 0);
    CHECK(pyro_call_async(p, "slow", lit("(5,)"), NULL, on_result, on_error, &later) != 0);
    CHECK(loop_until_freed(10) == 0);
    CHECK(boom.errors == 1 && boom.cancelled == 0);
    CHECK(later.cancelled == 1);
    pyro_proxy_free(p);

    ctx = test_ctx_new(NULL);
    ctx_freed = 0;
    p = pyro_proxy_new(ctx, echo_uri, NULL);
    memset(&later, 0, sizeof later);
    CHECK(pyro_call_async(p, "slow", lit("(5,)"), NULL, on_result, on_error, &later) != 0);
    CHECK(pyro_ctx_post(ctx, free_in_post, &post_out));
    CHECK(loop_until_freed(10) == 0);
    CHECK(post_out.order != 0 && later.cancelled == 1);
    pyro_proxy_free(p);
}

/* ---- a reference keeps the handle usable (and refusing) after the free */
static void test_reference_outlives_free(void) {
    pyro_ctx *c = test_ctx_new(NULL);
    CHECK(pyro_ctx_ref(NULL) == NULL);
    pyro_ctx_unref(NULL);
    pyro_ctx *held = pyro_ctx_ref(c);
    CHECK(held == c);
    int fd = pyro_ctx_fd(c);
    pyro_proxy *p = pyro_proxy_new(c, echo_uri, NULL);
    static outcome o;
    CHECK(pyro_call_async(p, "slow", lit("(5,)"), NULL, on_result, on_error, &o) != 0);
    pyro_ctx_free(c);
    CHECK(o.cancelled == 1);
    /* freed, still valid memory through the reference */
    CHECK(pyro_ctx_fd(held) == fd);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    CHECK(poll(&pf, 1, 100) == 0); /* open and quiet */
    CHECK(pyro_ctx_dispatch(held, 0) == 0);
    CHECK(pyro_ctx_pending(held) == 0);
    CHECK(!pyro_ctx_post(held, posted, &o));
    pyro_error *e = NULL;
    CHECK(pyro_proxy_new(held, echo_uri, &e) == NULL);
    CHECK(e && pyro_error_get_kind(e) == PYRO_ERR_INVALID_ARGUMENT);
    pyro_error_free(e);
    pyro_ctx_unref(held);
    pyro_proxy_free(p);
}

int main(void) {
    main_thread = pthread_self();
    if (test_server_start(&server, NULL) != 0) return 1;
    test_server_uri(&server, "test.echo", echo_uri, sizeof echo_uri);
    RUN(test_free_in_a_result_callback());
    RUN(test_round_stops_and_arrived_outcomes_are_kept());
    RUN(test_teardown_callbacks_may_free_again());
    RUN(test_free_outside_with_callbacks_freeing_again());
    RUN(test_free_in_a_nested_dispatch());
    RUN(test_free_in_error_callback_and_post());
    RUN(test_reference_outlives_free());
    test_server_stop(&server);
    return check_report();
}
