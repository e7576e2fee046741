/* The async call contract, tested against the real Pyro4 4.82 test server:
 * results and errors arrive exactly once, on the dispatching thread, in order per proxy. */
#include "check.h"
#include "pyro_async.h"
#include "testserver.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>

static test_server server;
static pthread_t main_thread;
static int wrong_thread_callbacks;

/* One call's outcome, recorded by the callbacks. */
typedef struct outcome {
    int results, errors;
    char *repr;
    pyro_error_kind kind;
    char *message, *remote_type, *traceback, *args_repr;
    double at;
} outcome;

static void outcome_clear(outcome *o) {
    free(o->repr); free(o->message); free(o->remote_type); free(o->traceback); free(o->args_repr);
    memset(o, 0, sizeof *o);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static char *repr_dup(const pyro_value *v) {
    char *r = pyro_value_repr(v);
    char *c = dup_or_null(r);
    pyro_string_free(r);
    return c;
}

static void on_result(const pyro_value *v, void *ud) {
    outcome *o = ud;
    if (!pthread_equal(pthread_self(), main_thread)) wrong_thread_callbacks++;
    o->results++;
    free(o->repr);
    o->repr = repr_dup(v);
    o->at = now_s();
}

static void on_error(const pyro_error *e, void *ud) {
    outcome *o = ud;
    if (!pthread_equal(pthread_self(), main_thread)) wrong_thread_callbacks++;
    o->errors++;
    o->kind = pyro_error_get_kind(e);
    free(o->message); free(o->remote_type); free(o->traceback); free(o->args_repr);
    o->message = dup_or_null(pyro_error_message(e));
    o->remote_type = dup_or_null(pyro_error_remote_type(e));
    o->traceback = dup_or_null(pyro_error_remote_traceback(e));
    o->args_repr = pyro_error_remote_args(e) ? repr_dup(pyro_error_remote_args(e)) : NULL;
    o->at = now_s();
}

/* Wait on the fd like a host loop, dispatching, until *done_count reaches target. */
static int run_until(pyro_ctx *ctx, const int *done_count, int target, double timeout_s) {
    double end = now_s() + timeout_s;
    while (*done_count < target) {
        double left = end - now_s();
        if (left <= 0) return -1;
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR) return -1;
        if (r > 0) pyro_ctx_dispatch(ctx, 0);
    }
    return 0;
}

static int done_calls;
static void count_result(const pyro_value *v, void *ud) { (void)v; (void)ud; done_calls++; on_result(v, ud); }
static void count_error(const pyro_error *e, void *ud) { (void)e; (void)ud; done_calls++; on_error(e, ud); }

static pyro_value *args1(const char *literal) {
    pyro_value *v = pyro_value_from_literal(literal, NULL);
    CHECK(v != NULL);
    return v;
}

static char echo_uri[256], session_uri[256];

/* Echo one literal and compare with the repr Pyro4's own Python client gets. */
static void echo_case(pyro_ctx *ctx, pyro_proxy *p, const char *literal_args, const char *expected) {
    outcome o = {0};
    done_calls = 0;
    pyro_call_id id = pyro_call_async(p, "echo", args1(literal_args), NULL, count_result, count_error, &o);
    CHECK(id != 0);
    CHECK(run_until(ctx, &done_calls, 1, 10) == 0);
    CHECK(o.results == 1 && o.errors == 0);
    if (o.errors) fprintf(stderr, "  error: %s\n", o.message);
    CHECK_STR(o.repr, expected);
    outcome_clear(&o);
}

static void test_values_round_trip(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    CHECK(p != NULL);
    /* expected = repr() of what Pyro4's Python client gets back from echo(x) with serpent */
    echo_case(ctx, p, "(None,)", "None");
    echo_case(ctx, p, "(True,)", "True");
    echo_case(ctx, p, "(-42,)", "-42");
    echo_case(ctx, p, "(123456789012345678901234567890,)", "123456789012345678901234567890");
    echo_case(ctx, p, "(1.5,)", "1.5");
    echo_case(ctx, p, "(1e300,)", "1e+300");
    echo_case(ctx, p, "((1+2j),)", "(1+2j)");
    echo_case(ctx, p, "('h\\u00e9llo \\u2603 \\U0001f600',)", "'héllo ☃ 😀'");
    echo_case(ctx, p, "(b'\\x00\\xff',)", "{'data': 'AP8=', 'encoding': 'base64'}");
    echo_case(ctx, p, "([1, (2,), {'a': [3]}],)", "[1, (2,), {'a': [3]}]");
    echo_case(ctx, p, "({1, 2},)", "{1, 2}");
    echo_case(ctx, p, "((),)", "()");
    echo_case(ctx, p, "({},)", "{}");
    pyro_proxy_free(p);
}

static void test_remote_errors(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    outcome o = {0};
    done_calls = 0;
    CHECK(pyro_call_async(p, "boom", NULL, NULL, count_result, count_error, &o) != 0);
    CHECK(run_until(ctx, &done_calls, 1, 10) == 0);
    CHECK(o.errors == 1 && o.results == 0);
    CHECK(o.kind == PYRO_ERR_REMOTE);
    CHECK_STR(o.remote_type, "builtins.ZeroDivisionError");
    CHECK_STR(o.message, "integer division or modulo by zero");
    CHECK_STR(o.args_repr, "('integer division or modulo by zero',)");
    CHECK(o.traceback && strstr(o.traceback, "ZeroDivisionError"));
    CHECK(o.traceback && strstr(o.traceback, "Traceback"));
    outcome_clear(&o);

    done_calls = 0;
    CHECK(pyro_call_async(p, "custom_error", NULL, NULL, count_result, count_error, &o) != 0);
    CHECK(run_until(ctx, &done_calls, 1, 10) == 0);
    CHECK(o.kind == PYRO_ERR_REMOTE);
    CHECK(o.remote_type && strstr(o.remote_type, "CustomError"));
    CHECK(o.message && strlen(o.message) > 0);
    outcome_clear(&o);

    /* an exception raised by Pyro4 itself on the server (bad arguments) */
    done_calls = 0;
    CHECK(pyro_call_async(p, "echo", NULL, NULL, count_result, count_error, &o) != 0);
    CHECK(run_until(ctx, &done_calls, 1, 10) == 0);
    CHECK(o.errors == 1);
    CHECK(o.kind == PYRO_ERR_REMOTE);
    CHECK_STR(o.remote_type, "builtins.TypeError");
    outcome_clear(&o);
    pyro_proxy_free(p);
}

static void test_args_kwargs(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    outcome o = {0};
    done_calls = 0;
    CHECK(pyro_call_async(p, "varargs", args1("[1, 'two']"), args1("{'k': 3, 'z': None}"), count_result,
                          count_error, &o) != 0);
    CHECK(run_until(ctx, &done_calls, 1, 10) == 0);
    CHECK_STR(o.repr, "((1, 'two'), {'k': 3, 'z': None})");
    outcome_clear(&o);
    pyro_proxy_free(p);
}

/* Refused submissions return 0, free what they consumed, never call back. */
static void test_refused_calls(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    outcome o = {0};
    CHECK(pyro_call_async(NULL, "echo", args1("(1,)"), NULL, on_result, on_error, &o) == 0);
    CHECK(pyro_call_async(p, NULL, args1("(1,)"), NULL, on_result, on_error, &o) == 0);
    CHECK(pyro_call_async(p, "echo", args1("{'not': 'a tuple'}"), NULL, on_result, on_error, &o) == 0);
    CHECK(pyro_call_async(p, "echo", NULL, args1("[1]"), on_result, on_error, &o) == 0);
    CHECK(pyro_call_async(p, "echo", NULL, args1("{1: 2}"), on_result, on_error, &o) == 0);
    pyro_ctx_dispatch(ctx, 0);
    CHECK(o.results == 0 && o.errors == 0);
    pyro_error *err = NULL;
    CHECK(pyro_proxy_new(ctx, "PYRO:missing-at", &err) == NULL);
    CHECK(err != NULL && pyro_error_get_kind(err) == PYRO_ERR_INVALID_ARGUMENT);
    pyro_error_free(err);
    CHECK(pyro_proxy_new(NULL, echo_uri, NULL) == NULL);
    pyro_proxy_free(p);
}

/* 300 calls to a session-instance object arrive in the order issued. */
static void test_ordered_session(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, session_uri, NULL);
    done_calls = 0;
    static outcome os[301];
    for (int i = 0; i < 300; i++) {
        char lit[32];
        snprintf(lit, sizeof lit, "(%d,)", i);
        CHECK(pyro_call_async(p, "record", args1(lit), NULL, count_result, count_error, &os[i]) != 0);
    }
    CHECK(pyro_call_async(p, "calls", NULL, NULL, count_result, count_error, &os[300]) != 0);
    CHECK(run_until(ctx, &done_calls, 301, 30) == 0);
    /* expected: [0, 1, ..., 299] */
    size_t cap = 4096, len = 0;
    char *exp = malloc(cap);
    len += snprintf(exp + len, cap - len, "[");
    for (int i = 0; i < 300; i++) len += snprintf(exp + len, cap - len, i ? ", %d" : "%d", i);
    snprintf(exp + len, cap - len, "]");
    CHECK_STR(os[300].repr, exp);
    free(exp);
    for (int i = 0; i < 301; i++) outcome_clear(&os[i]);
    pyro_proxy_free(p);
}

/* 2,000 calls over 8 proxies: each completes exactly once with its own value. */
static void test_many_calls_exactly_once(pyro_ctx *ctx) {
    enum { N = 2000, P = 8 };
    pyro_proxy *ps[P];
    for (int i = 0; i < P; i++) ps[i] = pyro_proxy_new(ctx, echo_uri, NULL);
    static outcome os[N];
    done_calls = 0;
    for (int i = 0; i < N; i++) {
        char lit[32];
        snprintf(lit, sizeof lit, "(%d,)", i);
        CHECK(pyro_call_async(ps[i % P], "echo", args1(lit), NULL, count_result, count_error, &os[i]) != 0);
    }
    CHECK(run_until(ctx, &done_calls, N, 60) == 0);
    pyro_ctx_dispatch(ctx, 0);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        char exp[32];
        snprintf(exp, sizeof exp, "%d", i);
        if (os[i].results != 1 || os[i].errors != 0 || !os[i].repr || strcmp(os[i].repr, exp) != 0) bad++;
        outcome_clear(&os[i]);
    }
    CHECK(bad == 0);
    CHECK(done_calls == N);
    for (int i = 0; i < P; i++) pyro_proxy_free(ps[i]);
}

/* Cancel of a slow call gives CANCELLED at once; a fast call on another proxy isn't held up. */
static void test_cancel_and_isolation(pyro_ctx *ctx) {
    pyro_proxy *slow = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_proxy *fast = pyro_proxy_new(ctx, echo_uri, NULL);
    outcome os = {0}, of = {0}, os2 = {0};
    done_calls = 0;
    double t0 = now_s();
    pyro_call_id sid = pyro_call_async(slow, "slow", args1("(3, 'late')"), NULL, count_result, count_error, &os);
    pyro_call_id sid2 = pyro_call_async(slow, "slow", args1("(0.5, 'ok')"), NULL, count_result, count_error, &os2);
    CHECK(sid != 0 && sid2 != 0);
    CHECK(pyro_call_async(fast, "echo", args1("('quick',)"), NULL, count_result, count_error, &of) != 0);
    CHECK(run_until(ctx, &done_calls, 1, 10) == 0);
    CHECK(of.results == 1);
    CHECK(of.at - t0 < 1.5); /* generous: the slow call takes 3 s */
    CHECK(pyro_call_cancel(ctx, sid));
    CHECK(!pyro_call_cancel(ctx, sid)); /* only once */
    double tc = now_s();
    CHECK(run_until(ctx, &done_calls, 2, 5) == 0);
    CHECK(os.errors == 1 && os.kind == PYRO_ERR_CANCELLED);
    CHECK(os.at - tc < 0.5);
    /* The call after the cancelled one (same connection) still gets its own reply, even
     * though the cancelled call's late reply arrives first. */
    CHECK(run_until(ctx, &done_calls, 3, 10) == 0);
    CHECK_STR(os2.repr, "'ok'");
    CHECK(os.results == 0 && os.errors == 1);
    CHECK(!pyro_call_cancel(ctx, sid2)); /* completed already */
    outcome_clear(&os); outcome_clear(&of); outcome_clear(&os2);
    pyro_proxy_free(slow);
    pyro_proxy_free(fast);
}

static void test_connection_refused(pyro_ctx *ctx) {
    /* A port nobody listens on: bind, learn the port, close. */
    char uri[128];
    snprintf(uri, sizeof uri, "PYRO:x@127.0.0.1:%d", 1);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    outcome o = {0};
    done_calls = 0;
    CHECK(pyro_call_async(p, "echo", args1("(1,)"), NULL, count_result, count_error, &o) != 0);
    CHECK(run_until(ctx, &done_calls, 1, 10) == 0);
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_COMMUNICATION);
    CHECK(o.message && strstr(o.message, "refused"));
    outcome_clear(&o);
    /* the proxy stays usable: the next call tries afresh and fails the same way */
    CHECK(pyro_call_async(p, "echo", args1("(1,)"), NULL, count_result, count_error, &o) != 0);
    CHECK(run_until(ctx, &done_calls, 2, 10) == 0);
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_COMMUNICATION);
    outcome_clear(&o);
    pyro_proxy_free(p);
}

/* Callbacks that start calls, cancel calls and free the proxy they came from. */
static pyro_proxy *chain_proxy;
static int chain_left, chain_done;
static void chain_result(const pyro_value *v, void *ud) {
    (void)v; (void)ud;
    if (!pthread_equal(pthread_self(), main_thread)) wrong_thread_callbacks++;
    chain_done++;
    if (--chain_left > 0) {
        CHECK(pyro_call_async(chain_proxy, "echo", args1("(7,)"), NULL, chain_result, NULL, NULL) != 0);
    } else {
        pyro_proxy_free(chain_proxy); /* freeing the proxy from its own callback */
        chain_proxy = NULL;
    }
}

static void test_callbacks_from_callbacks(pyro_ctx *ctx) {
    chain_proxy = pyro_proxy_new(ctx, echo_uri, NULL);
    chain_left = 50;
    chain_done = 0;
    CHECK(pyro_call_async(chain_proxy, "echo", args1("(7,)"), NULL, chain_result, NULL, NULL) != 0);
    CHECK(run_until(ctx, &chain_done, 50, 20) == 0);
    CHECK(chain_proxy == NULL);
    /* freeing the context from inside its own callback: test_teardown.c */
}

/* Freeing proxies and the context with calls in flight: every callback runs once,
 * with CANCELLED, and none after pyro_ctx_free returns. */
static void test_free_with_calls_in_flight(void) {
    pyro_ctx *ctx = test_ctx_new(NULL);
    pyro_proxy *a = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_proxy *b = pyro_proxy_new(ctx, echo_uri, NULL);
    static outcome oa[20], ob[20];
    done_calls = 0;
    for (int i = 0; i < 20; i++) {
        CHECK(pyro_call_async(a, "slow", args1("(2,)"), NULL, count_result, count_error, &oa[i]) != 0);
        CHECK(pyro_call_async(b, "slow", args1("(2,)"), NULL, count_result, count_error, &ob[i]) != 0);
    }
    pyro_proxy_free(a);
    CHECK(run_until(ctx, &done_calls, 20, 5) == 0);
    for (int i = 0; i < 20; i++) CHECK(oa[i].errors == 1 && oa[i].kind == PYRO_ERR_CANCELLED);
    pyro_ctx_free(ctx);
    CHECK(done_calls == 40);
    for (int i = 0; i < 20; i++) CHECK(ob[i].errors == 1 && ob[i].kind == PYRO_ERR_CANCELLED);
    /* b outlives the context: freeing it afterwards is fine, calls on it are refused */
    CHECK(pyro_call_async(b, "echo", NULL, NULL, count_result, count_error, &ob[0]) == 0);
    pyro_proxy_free(b);
    for (int i = 0; i < 20; i++) { outcome_clear(&oa[i]); outcome_clear(&ob[i]); }
}

/* Calls submitted from 4 threads at once; callbacks still run on the dispatching thread. */
typedef struct { pyro_proxy *p; outcome *os; int n; } submit_job;
static void *submitter(void *arg) {
    submit_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        char lit[32];
        snprintf(lit, sizeof lit, "(%d,)", i);
        if (pyro_call_async(j->p, "echo", pyro_value_from_literal(lit, NULL), NULL, count_result, count_error,
                            &j->os[i]) == 0)
            return (void *)1;
    }
    return NULL;
}

static void test_submit_from_threads(pyro_ctx *ctx) {
    enum { T = 4, N = 250 };
    static outcome os[T][N];
    pthread_t th[T];
    submit_job jobs[T];
    pyro_proxy *ps[T];
    done_calls = 0; /* written only by callbacks, which run on this thread */
    for (int t = 0; t < T; t++) {
        ps[t] = pyro_proxy_new(ctx, echo_uri, NULL);
        jobs[t] = (submit_job){ps[t], os[t], N};
        pthread_create(&th[t], NULL, submitter, &jobs[t]);
    }
    CHECK(run_until(ctx, &done_calls, T * N, 60) == 0);
    for (int t = 0; t < T; t++) {
        void *r;
        pthread_join(th[t], &r);
        CHECK(r == NULL);
        for (int i = 0; i < N; i++) {
            char exp[32];
            snprintf(exp, sizeof exp, "%d", i);
            CHECK(os[t][i].results == 1);
            CHECK_STR(os[t][i].repr, exp);
            outcome_clear(&os[t][i]);
        }
        pyro_proxy_free(ps[t]);
    }
}

/* dispatch(max) leaves the fd readable while completions remain. */
static void test_dispatch_max_keeps_fd_readable(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    static outcome os[10];
    done_calls = 0;
    for (int i = 0; i < 10; i++)
        CHECK(pyro_call_async(p, "echo", args1("(1,)"), NULL, count_result, count_error, &os[i]) != 0);
    struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
    if (read_in_dispatch()) {
        /* replies wait in the socket, and the first round reads them all */
        CHECK(poll(&pf, 1, 10000) == 1);
        usleep(200 * 1000);
        CHECK(pyro_ctx_pending(ctx) == 0);
    } else {
        /* wait for all 10 to be queued, without dispatching */
        double end = now_s() + 10;
        while (pyro_ctx_pending(ctx) < 10 && now_s() < end) usleep(1000);
        CHECK(pyro_ctx_pending(ctx) == 10);
    }
    CHECK(poll(&pf, 1, 0) == 1);
    CHECK(pyro_ctx_dispatch(ctx, 3) == 3);
    CHECK(pyro_ctx_pending(ctx) == 7);
    CHECK(poll(&pf, 1, 0) == 1);
    CHECK(pyro_ctx_dispatch(ctx, 0) == 7);
    CHECK(poll(&pf, 1, 0) == 0);
    CHECK(done_calls == 10);
    for (int i = 0; i < 10; i++) outcome_clear(&os[i]);
    pyro_proxy_free(p);
}

/* A chain of 200 calls, each started from the previous one's callback (written when its
 * dispatch round ends), with the I/O thread busy-polling: all arrive, in order. */
typedef struct chain {
    pyro_proxy *p;
    int next, done, failed;
} chain;

static void chain_step(const pyro_value *v, void *ud);
static void chain_error(const pyro_error *e, void *ud) {
    chain *c = ud;
    fprintf(stderr, "  chain call failed: %s\n", pyro_error_message(e));
    c->failed++;
    c->done = 200;
}
static void chain_issue(chain *c) {
    char lit[32];
    snprintf(lit, sizeof lit, "(%d,)", c->next++);
    CHECK(pyro_call_async(c->p, "record", args1(lit), NULL, chain_step, chain_error, c) != 0);
}
static void chain_step(const pyro_value *v, void *ud) {
    chain *c = ud;
    if (!pthread_equal(pthread_self(), main_thread)) wrong_thread_callbacks++;
    int64_t got = -1;
    CHECK(pyro_value_as_int(v, &got) && got == c->done);
    c->done++;
    if (c->next < 200) chain_issue(c);
}

static void test_busy_poll_and_chained_calls(void) {
    CHECK(!pyro_ctx_set_busy_poll(NULL, 100));
    pyro_ctx *ctx = test_ctx_new(NULL);
    CHECK(!pyro_ctx_set_busy_poll(ctx, 10001));
    CHECK(pyro_ctx_set_busy_poll(ctx, 10000));
    CHECK(pyro_ctx_set_busy_poll(ctx, 100));
    chain c = {.p = pyro_proxy_new(ctx, session_uri, NULL)};
    chain_issue(&c);
    CHECK(run_until(ctx, &c.done, 200, 30) == 0);
    CHECK(c.done == 200 && c.failed == 0);
    outcome o = {0};
    done_calls = 0;
    CHECK(pyro_call_async(c.p, "calls", NULL, NULL, count_result, count_error, &o) != 0);
    CHECK(run_until(ctx, &done_calls, 1, 10) == 0);
    char exp[2048];
    size_t len = snprintf(exp, sizeof exp, "[");
    for (int i = 0; i < 200; i++) len += snprintf(exp + len, sizeof exp - len, i ? ", %d" : "%d", i);
    snprintf(exp + len, sizeof exp - len, "]");
    CHECK_STR(o.repr, exp);
    outcome_clear(&o);
    CHECK(pyro_ctx_set_busy_poll(ctx, 0));
    pyro_proxy_free(c.p);
    pyro_ctx_free(ctx);
}

/* The mode switch: refused with a clear error for NULL and once the fd is out; the fd is
 * then an epoll set (and stays what it is after a refusal). */
static void test_read_in_dispatch_switch(void) {
    pyro_error *e = NULL;
    CHECK(!pyro_ctx_read_replies_in_dispatch(NULL, &e));
    CHECK(e != NULL && pyro_error_get_kind(e) == PYRO_ERR_INVALID_ARGUMENT);
    pyro_error_free(e);
    CHECK(!pyro_ctx_read_replies_in_dispatch(NULL, NULL));

    pyro_ctx *plain = pyro_ctx_new(NULL);
    int fd = pyro_ctx_fd(plain);
    e = NULL;
    CHECK(!pyro_ctx_read_replies_in_dispatch(plain, &e));
    CHECK(e != NULL && pyro_error_get_kind(e) == PYRO_ERR_INVALID_ARGUMENT);
    CHECK(e && strstr(pyro_error_message(e), "before the fd") != NULL);
    pyro_error_free(e);
    CHECK(pyro_ctx_fd(plain) == fd);
    pyro_ctx_free(plain);

    pyro_ctx *here = pyro_ctx_new(NULL);
    CHECK(pyro_ctx_read_replies_in_dispatch(here, NULL));
    CHECK(pyro_ctx_read_replies_in_dispatch(here, NULL)); /* already on */
    char path[64], link[64] = {0};
    snprintf(path, sizeof path, "/proc/self/fd/%d", pyro_ctx_fd(here));
    CHECK(readlink(path, link, sizeof link - 1) > 0);
    CHECK_STR(link, "anon_inode:[eventpoll]");
    /* a call works through it, on the dispatching thread */
    pyro_proxy *p = pyro_proxy_new(here, echo_uri, NULL);
    outcome o = {0};
    done_calls = 0;
    CHECK(pyro_call_async(p, "echo", args1("('here',)"), NULL, count_result, count_error, &o) != 0);
    CHECK(run_until(here, &done_calls, 1, 10) == 0);
    CHECK_STR(o.repr, "'here'");
    outcome_clear(&o);
    pyro_proxy_free(p);
    pyro_ctx_free(here);
}

int main(void) {
    main_thread = pthread_self();
    const char *extra[] = {"--servertype", "thread", "--threadpool", "64", NULL};
    if (test_server_start(&server, extra) != 0) return 1;
    test_server_uri(&server, "test.echo", echo_uri, sizeof echo_uri);
    test_server_uri(&server, "test.session", session_uri, sizeof session_uri);

    pyro_ctx *ctx = test_ctx_new(NULL);
    CHECK(ctx != NULL);
    CHECK(pyro_ctx_fd(ctx) >= 0);
    RUN(test_values_round_trip(ctx));
    RUN(test_remote_errors(ctx));
    RUN(test_args_kwargs(ctx));
    RUN(test_refused_calls(ctx));
    RUN(test_ordered_session(ctx));
    RUN(test_many_calls_exactly_once(ctx));
    RUN(test_cancel_and_isolation(ctx));
    RUN(test_connection_refused(ctx));
    RUN(test_callbacks_from_callbacks(ctx));
    RUN(test_submit_from_threads(ctx));
    RUN(test_dispatch_max_keeps_fd_readable(ctx));
    pyro_ctx_free(ctx);
    RUN(test_free_with_calls_in_flight());
    RUN(test_busy_poll_and_chained_calls());
    RUN(test_read_in_dispatch_switch());
    CHECK(wrong_thread_callbacks == 0);
    test_server_stop(&server);
    return check_report();
}
