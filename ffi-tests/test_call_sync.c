/* pyro_call_sync against the real Pyro4 server: results, remote exceptions, deadlines,
 * refusals (inside a callback among them), other callbacks running during the wait, and
 * a context or proxy freed by such a callback. */
#include "check.h"
#include "pyro_async.h"
#include "testserver.h"

#include <poll.h>
#include <pthread.h>

static test_server server;
static char echo_uri[256];
static pthread_t main_thread;

static pyro_value *lit(const char *s) { return pyro_value_from_literal(s, NULL); }

static char *repr_of(const pyro_value *v) {
    char *r = pyro_value_repr(v);
    char *c = strdup(r);
    pyro_string_free(r);
    return c;
}

static void test_result_and_remote_exception(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_value *result = NULL;
    pyro_error *error = NULL;
    CHECK(pyro_call_sync(p, "echo", lit("(('sync', 1, [2.5]),)"), NULL, 0, &result, &error));
    CHECK(result != NULL && error == NULL);
    if (result) {
        char *r = repr_of(result);
        CHECK_STR(r, "('sync', 1, [2.5])");
        free(r);
    }
    pyro_value_free(result);

    CHECK(pyro_call_sync(p, "varargs", lit("[1]"), lit("{'k': 'v'}"), 0, &result, &error));
    if (result) {
        char *r = repr_of(result);
        CHECK_STR(r, "((1,), {'k': 'v'})");
        free(r);
    }
    pyro_value_free(result);

    CHECK(!pyro_call_sync(p, "boom", NULL, NULL, 0, &result, &error));
    CHECK(result == NULL && error != NULL);
    CHECK(pyro_error_get_kind(error) == PYRO_ERR_REMOTE);
    CHECK_STR(pyro_error_remote_type(error), "builtins.ZeroDivisionError");
    CHECK(pyro_error_remote_traceback(error) && strstr(pyro_error_remote_traceback(error), "Traceback"));
    pyro_error_free(error);

    /* outcomes may be ignored */
    CHECK(pyro_call_sync(p, "echo", lit("(1,)"), NULL, 0, NULL, NULL));
    CHECK(!pyro_call_sync(p, "boom", NULL, NULL, 0, NULL, NULL));
    pyro_proxy_free(p);
}

static void test_timeouts(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_value *result = (pyro_value *)1; /* set to NULL on entry */
    pyro_error *error = (pyro_error *)1;
    double t0 = now_s();
    CHECK(!pyro_call_sync(p, "slow", lit("(3, 'late')"), NULL, 300, &result, &error));
    double took = now_s() - t0;
    CHECK(took >= 0.29 && took < 2.0);
    CHECK(result == NULL && error != NULL && pyro_error_get_kind(error) == PYRO_ERR_TIMEOUT);
    pyro_error_free(error);
    /* the proxy goes on at once (a fresh connection: the old one still runs slow()) */
    t0 = now_s();
    CHECK(pyro_call_sync(p, "echo", lit("('next',)"), NULL, 2000, &result, &error));
    CHECK(now_s() - t0 < 1.5);
    if (error) fprintf(stderr, "  %s\n", pyro_error_message(error));
    pyro_error_free(error);
    pyro_value_free(result);
    /* a deadline that is not reached changes nothing */
    CHECK(pyro_call_sync(p, "slow", lit("(0.2, 'in time')"), NULL, 5000, &result, &error));
    if (result) {
        char *r = repr_of(result);
        CHECK_STR(r, "'in time'");
        free(r);
    }
    pyro_value_free(result);
    /* 0: the proxy's own deadline */
    CHECK(pyro_proxy_set_timeout(p, 300));
    t0 = now_s();
    CHECK(!pyro_call_sync(p, "slow", lit("(3,)"), NULL, 0, &result, &error));
    CHECK(now_s() - t0 < 2.0);
    CHECK(error && pyro_error_get_kind(error) == PYRO_ERR_TIMEOUT);
    pyro_error_free(error);
    pyro_proxy_free(p);
}

static void test_refused(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_value *result = NULL;
    pyro_error *error = NULL;
    CHECK(!pyro_call_sync(NULL, "echo", lit("(1,)"), NULL, 0, &result, &error));
    CHECK(error && pyro_error_get_kind(error) == PYRO_ERR_INVALID_ARGUMENT);
    pyro_error_free(error);
    CHECK(!pyro_call_sync(p, NULL, lit("(1,)"), NULL, 0, &result, &error));
    CHECK(error && pyro_error_get_kind(error) == PYRO_ERR_INVALID_ARGUMENT);
    pyro_error_free(error);
    CHECK(!pyro_call_sync(p, "echo", lit("{'not': 'a tuple'}"), NULL, 0, &result, &error));
    CHECK(error && pyro_error_get_kind(error) == PYRO_ERR_INVALID_ARGUMENT);
    CHECK(error && strstr(pyro_error_message(error), "tuple"));
    pyro_error_free(error);
    CHECK(!pyro_call_sync(p, "echo", NULL, lit("{1: 2}"), 0, &result, &error));
    CHECK(error && pyro_error_get_kind(error) == PYRO_ERR_INVALID_ARGUMENT);
    pyro_error_free(error);
    CHECK(result == NULL);
    pyro_proxy_free(p);
}

/* ---- inside a callback of the same context: refused with a clear error */
typedef struct inside {
    pyro_proxy *p;
    int done, refused;
    pyro_error_kind kind;
    char message[512];
} inside;

static void sync_inside(const pyro_value *v, void *ud) {
    (void)v;
    inside *in = ud;
    pyro_value *result = NULL;
    pyro_error *error = NULL;
    in->refused = !pyro_call_sync(in->p, "echo", lit("(1,)"), NULL, 1000, &result, &error);
    if (error) {
        in->kind = pyro_error_get_kind(error);
        snprintf(in->message, sizeof in->message, "%s", pyro_error_message(error));
    }
    pyro_error_free(error);
    pyro_value_free(result);
    in->done = 1;
}

static void test_refused_inside_a_callback(pyro_ctx *ctx) {
    inside in = {.p = pyro_proxy_new(ctx, echo_uri, NULL)};
    CHECK(pyro_call_async(in.p, "echo", lit("(0,)"), NULL, sync_inside, NULL, &in) != 0);
    double end = now_s() + 10;
    while (!in.done && now_s() < end) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    CHECK(in.done && in.refused);
    CHECK(in.kind == PYRO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(in.message, "inside a callback") != NULL);
    /* a synchronous call on another context is not refused there */
    pyro_proxy_free(in.p);
}

static pyro_ctx *second_ctx;
static pyro_proxy *second_proxy;
static void sync_on_other_ctx(const pyro_value *v, void *ud) {
    (void)v;
    inside *in = ud;
    pyro_value *result = NULL;
    in->refused = !pyro_call_sync(second_proxy, "echo", lit("('other',)"), NULL, 5000, &result, NULL);
    pyro_value_free(result);
    in->done = 1;
}

static void test_allowed_inside_another_contexts_callback(pyro_ctx *ctx) {
    second_ctx = test_ctx_new(NULL);
    second_proxy = pyro_proxy_new(second_ctx, echo_uri, NULL);
    inside in = {.p = pyro_proxy_new(ctx, echo_uri, NULL)};
    CHECK(pyro_call_async(in.p, "echo", lit("(0,)"), NULL, sync_on_other_ctx, NULL, &in) != 0);
    double end = now_s() + 10;
    while (!in.done && now_s() < end) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    CHECK(in.done && !in.refused);
    pyro_proxy_free(in.p);
    pyro_proxy_free(second_proxy);
    pyro_ctx_free(second_ctx);
}

/* ---- other calls' callbacks run during the wait, on this thread */
static int others_done, others_wrong_thread;
static void other_result(const pyro_value *v, void *ud) {
    (void)v;
    (void)ud;
    if (!pthread_equal(pthread_self(), main_thread)) others_wrong_thread++;
    others_done++;
}

static void test_other_callbacks_run_meanwhile(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_proxy *q = pyro_proxy_new(ctx, echo_uri, NULL);
    others_done = others_wrong_thread = 0;
    for (int i = 0; i < 5; i++) CHECK(pyro_call_async(q, "echo", lit("(1,)"), NULL, other_result, NULL, NULL) != 0);
    pyro_value *result = NULL;
    CHECK(pyro_call_sync(p, "slow", lit("(0.5, 'done')"), NULL, 0, &result, NULL));
    CHECK(others_done == 5 && others_wrong_thread == 0);
    pyro_value_free(result);
    pyro_proxy_free(p);
    pyro_proxy_free(q);
}

/* ---- a callback run during the wait frees the proxy, or the context */
static pyro_proxy *victim;
static void free_victim(const pyro_value *v, void *ud) {
    (void)v;
    (void)ud;
    pyro_proxy_free(victim);
    victim = NULL;
}

static void test_proxy_freed_during_the_wait(pyro_ctx *ctx) {
    victim = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_proxy *q = pyro_proxy_new(ctx, echo_uri, NULL);
    CHECK(pyro_call_async(q, "slow", lit("(0.3,)"), NULL, free_victim, NULL, NULL) != 0);
    pyro_error *error = NULL;
    double t0 = now_s();
    CHECK(!pyro_call_sync(victim, "slow", lit("(3,)"), NULL, 0, NULL, &error));
    CHECK(now_s() - t0 < 2.0);
    CHECK(error && pyro_error_get_kind(error) == PYRO_ERR_CANCELLED);
    pyro_error_free(error);
    CHECK(victim == NULL);
    pyro_proxy_free(q);
}

static pyro_ctx *doomed;
static int doomed_freed, doomed_cancelled;
static void free_doomed(const pyro_value *v, void *ud) {
    (void)v;
    (void)ud;
    pyro_ctx_free(doomed);
    doomed_freed = 1;
}
static void count_cancelled(const pyro_error *e, void *ud) {
    (void)ud;
    if (pyro_error_get_kind(e) == PYRO_ERR_CANCELLED) doomed_cancelled++;
}

static void test_context_freed_during_the_wait(void) {
    doomed = test_ctx_new(NULL);
    doomed_freed = doomed_cancelled = 0;
    pyro_proxy *p = pyro_proxy_new(doomed, echo_uri, NULL);
    pyro_proxy *q = pyro_proxy_new(doomed, echo_uri, NULL);
    pyro_proxy *r = pyro_proxy_new(doomed, echo_uri, NULL);
    CHECK(pyro_call_async(q, "slow", lit("(0.3,)"), NULL, free_doomed, NULL, NULL) != 0);
    CHECK(pyro_call_async(r, "slow", lit("(5,)"), NULL, NULL, count_cancelled, NULL) != 0);
    pyro_error *error = NULL;
    double t0 = now_s();
    CHECK(!pyro_call_sync(p, "slow", lit("(5,)"), NULL, 0, NULL, &error));
    CHECK(now_s() - t0 < 3.0);
    CHECK(doomed_freed && doomed_cancelled == 1);
    CHECK(error && pyro_error_get_kind(error) == PYRO_ERR_CANCELLED);
    pyro_error_free(error);
    /* the proxies outlive the context: refused now, with a reason */
    CHECK(!pyro_call_sync(p, "echo", lit("(1,)"), NULL, 0, NULL, &error));
    CHECK(error && pyro_error_get_kind(error) == PYRO_ERR_INVALID_ARGUMENT);
    CHECK(error && strstr(pyro_error_message(error), "closed"));
    pyro_error_free(error);
    pyro_proxy_free(p);
    pyro_proxy_free(q);
    pyro_proxy_free(r);
}

/* ---- a synchronous call from a thread while the host's loop dispatches elsewhere */
typedef struct job {
    pyro_proxy *p;
    int ok;
    char repr[64];
} job;
static void *sync_thread(void *arg) {
    job *j = arg;
    pyro_value *result = NULL;
    int ok = pyro_call_sync(j->p, "slow", lit("(0.3, 'from a thread')"), NULL, 10000, &result, NULL);
    if (result) {
        char *r = repr_of(result);
        snprintf(j->repr, sizeof j->repr, "%s", r);
        free(r);
    }
    pyro_value_free(result);
    __atomic_store_n(&j->ok, ok, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_from_another_thread_while_the_loop_dispatches(pyro_ctx *ctx) {
    job j = {.p = pyro_proxy_new(ctx, echo_uri, NULL)};
    pthread_t t;
    pthread_create(&t, NULL, sync_thread, &j);
    /* the loop thread dispatches all along: it may run the call's completion itself */
    double end = now_s() + 5;
    while (now_s() < end) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 5);
        pyro_ctx_dispatch(ctx, 0);
        if (__atomic_load_n(&j.ok, __ATOMIC_SEQ_CST)) break;
    }
    pthread_join(t, NULL);
    CHECK(j.ok);
    CHECK_STR(j.repr, "'from a thread'");
    pyro_proxy_free(j.p);
}

int main(void) {
    main_thread = pthread_self();
    const char *extra[] = {"--servertype", "thread", "--threadpool", "16", NULL};
    if (test_server_start(&server, extra) != 0) return 1;
    test_server_uri(&server, "test.echo", echo_uri, sizeof echo_uri);
    pyro_ctx *ctx = test_ctx_new(NULL);
    RUN(test_result_and_remote_exception(ctx));
    RUN(test_timeouts(ctx));
    RUN(test_refused(ctx));
    RUN(test_refused_inside_a_callback(ctx));
    RUN(test_allowed_inside_another_contexts_callback(ctx));
    RUN(test_other_callbacks_run_meanwhile(ctx));
    RUN(test_proxy_freed_during_the_wait(ctx));
    RUN(test_from_another_thread_while_the_loop_dispatches(ctx));
    pyro_ctx_free(ctx);
    RUN(test_context_freed_during_the_wait());
    test_server_stop(&server);
    return check_report();
}
