/* Oneway calls, daemon ping, bind/release, remote attributes, batches, deadlines,
 * reconnect retries and metadata checks, against the real Pyro4 test server. */
#include "check.h"
#include "pyro_async.h"
#include "outcome.h"
#include "testserver.h"

#include <poll.h>
#include <time.h>

static pyro_value *lit(const char *s) { return pyro_value_from_literal(s, NULL); }

static test_server server;
static char uri[256];

static void call1(pyro_ctx *ctx, pyro_proxy *p, const char *method, const char *args, outcome *o) {
    memset(o, 0, sizeof *o);
    done = 0;
    CHECK(pyro_call_async(p, method, args ? lit(args) : NULL, NULL, on_result, on_error, o) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
}

static void test_oneway(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    outcome before, a = {0}, b = {0}, after;
    call1(ctx, p, "get_oneway_count", NULL, &before);
    long n0 = atol(before.repr);
    done = 0;
    /* oneway_inc is @oneway on the server: no reply awaited even though it sleeps 1 s */
    double t0 = now_s();
    CHECK(pyro_call_async(p, "oneway_inc", lit("(1,)"), NULL, on_result, on_error, &a) != 0);
    CHECK(run_until(ctx, 1, 5) == 0);
    CHECK(a.results == 1 && a.at - t0 < 0.5);
    CHECK_STR(a.repr, "None");
    /* explicit oneway for any method */
    CHECK(pyro_call_oneway(p, "oneway_inc", NULL, NULL, on_result, on_error, &b) != 0);
    CHECK(run_until(ctx, 2, 5) == 0);
    CHECK_STR(b.repr, "None");
    /* the server ran both: the count (read after the oneway calls, same connection) grew */
    usleep(1200000);
    call1(ctx, p, "get_oneway_count", NULL, &after);
    CHECK(atol(after.repr) == n0 + 2);
    pyro_proxy_free(p);
}

static int states[32], nstates;
static void on_state(pyro_conn_state s, void *ud) {
    (void)ud;
    if (nstates < 32) states[nstates++] = s;
}

static void test_ping_bind_release(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    nstates = 0;
    pyro_proxy_set_state_callback(p, on_state, NULL);
    CHECK(pyro_proxy_bind(p));
    double end = now_s() + 10;
    while (now_s() < end && !(nstates && states[nstates - 1] == PYRO_STATE_CONNECTED)) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    CHECK(nstates >= 2 && states[0] == PYRO_STATE_CONNECTING && states[nstates - 1] == PYRO_STATE_CONNECTED);
    outcome o = {0};
    done = 0;
    CHECK(pyro_proxy_ping(p, on_result, on_error, &o) != 0);
    CHECK(run_until(ctx, 1, 10) == 0);
    CHECK(o.results == 1);
    CHECK_STR(o.repr, "None");
    CHECK(pyro_proxy_release(p));
    end = now_s() + 5;
    while (now_s() < end && states[nstates - 1] != PYRO_STATE_DISCONNECTED) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    CHECK(states[nstates - 1] == PYRO_STATE_DISCONNECTED);
    call1(ctx, p, "echo", "(5,)", &o); /* reconnects */
    CHECK_STR(o.repr, "5");
    CHECK(pyro_proxy_ping(NULL, on_result, on_error, &o) == 0);
    pyro_proxy_free(p);
}

static void test_attributes_and_metadata(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    outcome g = {0}, s = {0}, g2 = {0}, bad = {0};
    done = 0;
    CHECK(pyro_get_attr(p, "value", on_result, on_error, &g) != 0);
    CHECK(pyro_set_attr(p, "value", lit("'changed'"), on_result, on_error, &s) != 0);
    CHECK(pyro_get_attr(p, "value", on_result, on_error, &g2) != 0);
    CHECK(run_until(ctx, 3, 10) == 0);
    CHECK_STR(g.repr, "42");
    CHECK_STR(s.repr, "None");
    CHECK_STR(g2.repr, "'changed'");
    /* restore for other tests */
    done = 0;
    pyro_set_attr(p, "value", lit("42"), on_result, on_error, &s);
    run_until(ctx, 1, 10);
    /* a method the object does not expose fails locally, as in Pyro4 */
    call1(ctx, p, "no_such_method", NULL, &bad);
    CHECK(bad.errors == 1 && bad.kind == PYRO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(bad.message, "has no exposed attribute or method 'no_such_method'") != NULL);
    pyro_proxy_free(p);
}

static void test_batch(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    outcome o[5] = {{0}};
    pyro_batch *b = pyro_batch_new(p);
    CHECK(pyro_batch_add(b, "echo", lit("(1,)"), NULL, on_result, on_error, &o[0]));
    CHECK(pyro_batch_add(b, "varargs", lit("(2,)"), lit("{'k': 3}"), on_result, on_error, &o[1]));
    CHECK(pyro_batch_add(b, "boom", NULL, NULL, on_result, on_error, &o[2]));
    CHECK(pyro_batch_add(b, "echo", lit("(4,)"), NULL, on_result, on_error, &o[3]));
    CHECK(!pyro_batch_add(b, "echo", lit("{'bad': 'args'}"), NULL, on_result, on_error, &o[4]));
    done = 0;
    CHECK(pyro_batch_send(b, false) != 0);
    CHECK(run_until(ctx, 4, 10) == 0);
    CHECK_STR(o[0].repr, "1");
    CHECK_STR(o[1].repr, "((2,), {'k': 3})");
    CHECK(o[2].errors == 1 && o[2].kind == PYRO_ERR_REMOTE && strstr(o[2].message, "division"));
    CHECK(o[3].errors == 1 && o[3].kind == PYRO_ERR_CANCELLED);
    CHECK(o[4].results + o[4].errors == 0);
    /* oneway batch */
    outcome w[2] = {{0}};
    b = pyro_batch_new(p);
    pyro_batch_add(b, "oneway_inc", NULL, NULL, on_result, on_error, &w[0]);
    pyro_batch_add(b, "echo", lit("(1,)"), NULL, on_result, on_error, &w[1]);
    done = 0;
    CHECK(pyro_batch_send(b, true) != 0);
    CHECK(run_until(ctx, 2, 10) == 0);
    CHECK_STR(w[0].repr, "None");
    CHECK_STR(w[1].repr, "None");
    CHECK(pyro_batch_send(pyro_batch_new(p), false) == 0); /* empty: refused, freed */
    pyro_batch_free(NULL);
    pyro_proxy_free(p);
}

static void test_deadline(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    CHECK(pyro_proxy_set_timeout(p, 300));
    outcome slow = {0}, behind = {0}, next = {0};
    done = 0;
    double t0 = now_s();
    CHECK(pyro_call_async(p, "slow", lit("(3, 'late')"), NULL, on_result, on_error, &slow) != 0);
    CHECK(pyro_call_async(p, "echo", lit("('behind',)"), NULL, on_result, on_error, &behind) != 0);
    CHECK(run_until(ctx, 2, 10) == 0);
    CHECK(slow.errors == 1 && slow.kind == PYRO_ERR_TIMEOUT);
    CHECK(slow.at - t0 < 1.5);
    /* the connection was closed at the deadline: the call behind it on the same
     * connection fails too (its reply could never be trusted) */
    CHECK(behind.errors == 1);
    pyro_proxy_set_timeout(p, 0);
    call1(ctx, p, "echo", "('fresh connection',)", &next);
    CHECK_STR(next.repr, "'fresh connection'");
    pyro_proxy_free(p);
}

static void test_max_retries(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    outcome warm, o = {0};
    call1(ctx, p, "echo", "(0,)", &warm);
    CHECK(pyro_proxy_set_max_retries(p, 1));
    done = 0;
    CHECK(pyro_call_async(p, "slow", lit("(0.3, 'retried')"), NULL, on_result, on_error, &o) != 0);
    usleep(50000);
    pyro_ctx_dispatch(ctx, 0);
    CHECK(pyro_proxy_release(p)); /* the connection dies under the call */
    CHECK(run_until(ctx, 1, 10) == 0);
    CHECK_STR(o.repr, "'retried'");
    /* without retries the same thing is a COMMUNICATION error */
    pyro_proxy_set_max_retries(p, 0);
    memset(&o, 0, sizeof o);
    done = 0;
    CHECK(pyro_call_async(p, "slow", lit("(0.3, 'x')"), NULL, on_result, on_error, &o) != 0);
    usleep(50000);
    pyro_ctx_dispatch(ctx, 0);
    pyro_proxy_release(p);
    CHECK(run_until(ctx, 1, 10) == 0);
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_COMMUNICATION);
    pyro_proxy_free(p);
}

typedef struct stream_rec {
    int items, ends, errors, cancel_after;
    long sum;
    pyro_error_kind kind;
    pyro_ctx *ctx;
    pyro_call_id id;
} stream_rec;

static void st_item(const pyro_value *v, void *ud) {
    stream_rec *r = ud;
    int64_t i = 0;
    pyro_value_as_int(v, &i);
    r->sum += i;
    r->items++;
    if (r->cancel_after && r->items == r->cancel_after) CHECK(pyro_call_cancel(r->ctx, r->id));
}
static void st_end(void *ud) {
    ((stream_rec *)ud)->ends++;
    done++;
}
static void st_error(const pyro_error *e, void *ud) {
    stream_rec *r = ud;
    r->errors++;
    r->kind = pyro_error_get_kind(e);
    done++;
}

static void test_streaming(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    stream_rec a = {0}, b = {0}, c = {0};
    done = 0;
    CHECK(pyro_call_stream(p, "count", lit("(100,)"), NULL, st_item, st_end, st_error, &a) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    CHECK(a.items == 100 && a.sum == 4950 && a.ends == 1 && a.errors == 0);
    /* cancel from inside the item callback after 3 items: CANCELLED once, no more items */
    b.ctx = ctx;
    b.cancel_after = 3;
    done = 0;
    b.id = pyro_call_stream(p, "count", lit("(100000,)"), NULL, st_item, st_end, st_error, &b);
    CHECK(b.id != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    usleep(200000);
    pyro_ctx_dispatch(ctx, 0);
    CHECK(b.items == 3 && b.errors == 1 && b.kind == PYRO_ERR_CANCELLED && b.ends == 0);
    CHECK(!pyro_call_cancel(ctx, b.id));
    /* a method that does not return an iterator */
    done = 0;
    CHECK(pyro_call_stream(p, "echo", lit("(1,)"), NULL, st_item, st_end, st_error, &c) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    CHECK(c.errors == 1 && c.kind == PYRO_ERR_PROTOCOL && c.items == 0);
    /* the connection is still in order after all that */
    outcome o;
    call1(ctx, p, "echo", "('still fine',)", &o);
    CHECK_STR(o.repr, "'still fine'");
    pyro_proxy_free(p);
}

/* Wait (up to 5 s) until the server holds `want` item streams; the last count read. */
static long open_streams_settle(pyro_ctx *ctx, pyro_proxy *p, long want) {
    outcome n;
    double end = now_s() + 5;
    do {
        call1(ctx, p, "open_streams", NULL, &n);
        if (n.results == 1 && atol(n.repr) == want) break;
        usleep(20000);
    } while (now_s() < end);
    return n.results == 1 ? atol(n.repr) : -1;
}

/* A plain call of a generator method cannot receive its items: it fails, naming
 * pyro_call_stream, and the stream the server opened for it is closed. So is the
 * stream of a pyro_call_stream cancelled before its first reply. */
static void test_plain_call_on_generator(pyro_ctx *ctx) {
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    outcome base, o;
    call1(ctx, p, "open_streams", NULL, &base);
    CHECK(base.results == 1);
    long n0 = atol(base.repr);
    call1(ctx, p, "count", "(5,)", &o);
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(o.message, "pyro_call_stream") != NULL);
    if (o.results) fprintf(stderr, "  plain call of count() gave %s\n", o.repr);
    CHECK(open_streams_settle(ctx, p, n0) == n0);

    /* cancelled before its first reply arrived: nothing will read it */
    stream_rec a = {0};
    done = 0;
    a.id = pyro_call_stream(p, "count", lit("(5,)"), NULL, st_item, st_end, st_error, &a);
    CHECK(a.id != 0 && pyro_call_cancel(ctx, a.id));
    CHECK(run_until(ctx, 1, 5) == 0);
    CHECK(a.errors == 1 && a.kind == PYRO_ERR_CANCELLED && a.items == 0);
    CHECK(open_streams_settle(ctx, p, n0) == n0);

    /* the connection is in order, and streaming still streams */
    stream_rec b = {0};
    done = 0;
    CHECK(pyro_call_stream(p, "count", lit("(5,)"), NULL, st_item, st_end, st_error, &b) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    CHECK(b.items == 5 && b.sum == 10 && b.ends == 1);
    CHECK(open_streams_settle(ctx, p, n0) == n0);
    pyro_proxy_free(p);
}

int main(void) {
    const char *extra[] = {"--servertype", "thread", NULL};
    if (test_server_start(&server, extra) != 0) return 1;
    test_server_uri(&server, "test.echo", uri, sizeof uri);
    pyro_ctx *ctx = test_ctx_new(NULL);
    RUN(test_oneway(ctx));
    RUN(test_ping_bind_release(ctx));
    RUN(test_attributes_and_metadata(ctx));
    RUN(test_batch(ctx));
    RUN(test_deadline(ctx));
    RUN(test_max_retries(ctx));
    RUN(test_streaming(ctx));
    RUN(test_plain_call_on_generator(ctx));
    pyro_ctx_free(ctx);
    test_server_stop(&server);
    return check_report();
}
