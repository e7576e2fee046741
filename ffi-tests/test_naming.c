/* Name server, PYRONAME/PYROMETA, broadcast discovery (loopback only) and patient
 * proxies, against the real Pyro4 name server (python -m Pyro4.naming). */
#include "check.h"
#include "pyro_async.h"
#include "outcome.h"
#include "testserver.h"

#include <dirent.h>
#include <poll.h>
#include <time.h>

static int thread_count(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static int ns_port, bc_port;

static pyro_ctx *ctx_for(const char *host, int port, const char *bcaddrs) {
    pyro_ctx_options o;
    pyro_ctx_options_init(&o, sizeof o);
    o.ns_host = host;
    o.ns_port = port;
    o.ns_bcport = bc_port;
    o.broadcast_addrs = bcaddrs; /* loopback only, or "" to disable: never the real network */
    return test_ctx_new(&o);
}

static void call_echo(pyro_ctx *ctx, pyro_proxy *p, outcome *o, const char *arg) {
    memset(o, 0, sizeof *o);
    done = 0;
    CHECK(pyro_call_async(p, "echo", pyro_value_from_literal(arg, NULL), NULL, on_result, on_error, o) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
}

static void test_pyroname_pyrometa_and_ns_api(void) {
    pyro_ctx *ctx = ctx_for("127.0.0.1", ns_port, "");
    outcome o;
    pyro_proxy *p = pyro_proxy_new(ctx, "PYRONAME:test.echo", NULL);
    call_echo(ctx, p, &o, "('via name',)");
    CHECK_STR(o.repr, "'via name'");
    pyro_proxy_free(p);

    char uri[128];
    snprintf(uri, sizeof uri, "PYRONAME:test.echo@127.0.0.1:%d", ns_port);
    p = pyro_proxy_new(ctx, uri, NULL);
    call_echo(ctx, p, &o, "(1,)");
    CHECK_STR(o.repr, "1");
    pyro_proxy_free(p);

    p = pyro_proxy_new(ctx, "PYROMETA:test.meta.echo", NULL);
    call_echo(ctx, p, &o, "('via meta',)");
    CHECK_STR(o.repr, "'via meta'");
    pyro_proxy_free(p);

    /* the name-server API */
    outcome a = {0}, b = {0}, c = {0}, d = {0}, e = {0}, f = {0};
    done = 0;
    CHECK(pyro_ns_ping(ctx, on_result, on_error, &a) != 0);
    CHECK(pyro_ns_count(ctx, on_result, on_error, &b) != 0);
    CHECK(pyro_ns_lookup(ctx, "test.echo", false, on_result, on_error, &c) != 0);
    CHECK(pyro_ns_list(ctx, "test.echo", NULL, NULL, NULL, false, on_result, on_error, &d) != 0);
    CHECK(pyro_ns_register(ctx, "extra.name", "PYRO:x@127.0.0.1:1", false, pyro_value_from_literal("['m1']", NULL),
                           on_result, on_error, &e) != 0);
    CHECK(pyro_ns_lookup(ctx, "no.such.name", false, on_result, on_error, &f) != 0);
    CHECK(run_until(ctx, 6, 20) == 0);
    CHECK_STR(a.repr, "None");
    CHECK_STR(b.repr, "3"); /* Pyro.NameServer, test.echo, test.echo.session (count runs before register) */
    CHECK(strstr(c.repr, "Pyro4.core.URI") && strstr(c.repr, "test.echo"));
    CHECK(strstr(d.repr, "'test.echo': 'PYRO:test.echo@127.0.0.1:") != NULL);
    CHECK(e.results == 1);
    CHECK(f.errors == 1 && f.kind == PYRO_ERR_REMOTE && strstr(f.message, "unknown name"));
    outcome g = {0}, h = {0};
    done = 0;
    CHECK(pyro_ns_list(ctx, NULL, NULL, pyro_value_from_literal("{'m1'}", NULL), NULL, false, on_result, on_error,
                       &g) != 0);
    CHECK(pyro_ns_remove(ctx, "extra.name", NULL, NULL, on_result, on_error, &h) != 0);
    CHECK(run_until(ctx, 2, 20) == 0);
    CHECK_STR(g.repr, "{'extra.name': 'PYRO:x@127.0.0.1:1'}");
    CHECK_STR(h.repr, "1");
    CHECK(pyro_ns_lookup(NULL, "x", false, on_result, on_error, &h) == 0);
    CHECK(pyro_ns_lookup(ctx, NULL, false, on_result, on_error, &h) == 0);
    pyro_proxy *nsp = pyro_ns_proxy_new(ctx, NULL);
    CHECK(nsp != NULL);
    outcome pi = {0};
    done = 0;
    CHECK(pyro_call_async(nsp, "ping", NULL, NULL, on_result, on_error, &pi) != 0);
    CHECK(run_until(ctx, 1, 10) == 0 && pi.results == 1);
    pyro_proxy_free(nsp);
    pyro_ctx_free(ctx);
}

static void ns_proxy_ping(pyro_ctx *ctx, pyro_proxy *nsp, outcome *o) {
    memset(o, 0, sizeof *o);
    done = 0;
    CHECK(pyro_call_async(nsp, "ping", NULL, NULL, on_result, on_error, o) != 0);
    CHECK(run_until(ctx, 1, 10) == 0);
}

/* The proxy pyro_ns_proxy_new returns is the caller's own: freeing it leaves the
 * context's pyro_ns_* calls working, whether it was made before the context's first
 * pyro_ns_* call or after, and leaves other name-server proxies working. */
static void test_ns_proxy_is_the_callers_own(void) {
    pyro_ctx *ctx = ctx_for("127.0.0.1", ns_port, "");
    outcome o;
    pyro_proxy *nsp = pyro_ns_proxy_new(ctx, NULL); /* before any pyro_ns_* call */
    CHECK(nsp != NULL);
    ns_proxy_ping(ctx, nsp, &o);
    CHECK(o.results == 1);
    pyro_proxy_free(nsp);
    memset(&o, 0, sizeof o);
    done = 0;
    CHECK(pyro_ns_ping(ctx, on_result, on_error, &o) != 0);
    CHECK(run_until(ctx, 1, 10) == 0);
    CHECK(o.results == 1 && o.errors == 0);
    if (o.errors) fprintf(stderr, "  pyro_ns_ping after freeing a pyro_ns_proxy_new proxy: %s\n", o.message);

    /* after: the context has its own by now; two of the caller's, one freed */
    pyro_proxy *a = pyro_ns_proxy_new(ctx, NULL), *b = pyro_ns_proxy_new(ctx, NULL);
    CHECK(a != NULL && b != NULL && a != b);
    ns_proxy_ping(ctx, a, &o);
    CHECK(o.results == 1);
    pyro_proxy_free(a);
    memset(&o, 0, sizeof o);
    done = 0;
    CHECK(pyro_ns_lookup(ctx, "test.echo", false, on_result, on_error, &o) != 0);
    CHECK(run_until(ctx, 1, 10) == 0);
    CHECK(o.results == 1 && strstr(o.repr, "test.echo") != NULL);
    ns_proxy_ping(ctx, b, &o);
    CHECK(o.results == 1);
    pyro_proxy_free(b);
    memset(&o, 0, sizeof o);
    done = 0;
    CHECK(pyro_ns_count(ctx, on_result, on_error, &o) != 0);
    CHECK(run_until(ctx, 1, 10) == 0);
    CHECK(o.results == 1 && o.errors == 0);
    pyro_ctx_free(ctx);
}

/* NS_HOST points nowhere useful; only broadcast (to 127.0.0.1) can find the name server. */
static void test_broadcast_discovery_on_loopback(void) {
    pyro_ctx *ctx = ctx_for("127.0.0.2", free_port(SOCK_STREAM), "127.0.0.1");
    pyro_proxy *p = pyro_proxy_new(ctx, "PYRONAME:test.echo", NULL);
    outcome o;
    call_echo(ctx, p, &o, "('found by broadcast',)");
    CHECK_STR(o.repr, "'found by broadcast'");
    if (o.errors) fprintf(stderr, "  %s\n", o.message);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
}

static void test_no_name_server_fails_fast(void) {
    pyro_ctx *ctx = ctx_for("127.0.0.1", free_port(SOCK_STREAM), "");
    pyro_proxy *p = pyro_proxy_new(ctx, "PYRONAME:test.echo", NULL);
    outcome o;
    double t0 = now_s();
    call_echo(ctx, p, &o, "(1,)");
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_NAMING);
    CHECK(strstr(o.message, "name server") != NULL);
    CHECK(o.at - t0 < 5.0);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
}

static int states[64], nstates;
static void on_state(pyro_conn_state s, void *ud) {
    (void)ud;
    if (nstates < 64) states[nstates++] = s;
}
static int saw_state(int s) {
    for (int i = 0; i < nstates; i++)
        if (states[i] == s) return 1;
    return 0;
}

/* A patient proxy issued before the name server exists completes once the name server
 * starts (3 s later) and the object is registered (2 s after that). Meanwhile 1,000
 * patient calls wait without adding threads, and a waiting call cancels at once. */
static void test_patient_proxy_waits_for_name_server(void) {
    int port = free_port(SOCK_STREAM), bcport = free_port(SOCK_DGRAM);
    pyro_ctx *ctx = ctx_for("127.0.0.1", port, "");
    int base_threads = thread_count();
    pyro_proxy *p = pyro_proxy_new(ctx, "PYRONAME:late.echo", NULL);
    CHECK(pyro_proxy_set_patience(p, 300, PYRO_PATIENCE_DEFAULT_TRIES));
    CHECK(pyro_proxy_set_state_callback(p, on_state, NULL));
    nstates = 0;
    static outcome many[1000];
    outcome first = {0}, cancelled = {0};
    done = 0;
    CHECK(pyro_call_async(p, "echo", pyro_value_from_literal("('patience pays',)", NULL), NULL, on_result, on_error,
                          &first) != 0);
    pyro_call_id cid = pyro_call_async(p, "echo", pyro_value_from_literal("(0,)", NULL), NULL, on_result, on_error,
                                       &cancelled);
    for (int i = 0; i < 1000; i++)
        CHECK(pyro_call_async(p, "echo", pyro_value_from_literal("(2,)", NULL), NULL, on_result, on_error, &many[i]) !=
              0);
    double t0 = now_s();
    /* run the loop for 1 s: nothing completes, the state says we are waiting */
    while (now_s() - t0 < 1.0) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    CHECK(done == 0);
    CHECK(saw_state(PYRO_STATE_WAITING_FOR_NAME_SERVER));
    int waiting_threads = thread_count() - base_threads;
    printf("threads while 1,002 patient calls wait: %d (library total)\n", waiting_threads);
    CHECK(waiting_threads <= 3); /* the I/O thread and at most 2 workers */
    double tc = now_s();
    CHECK(pyro_call_cancel(ctx, cid));
    CHECK(run_until(ctx, 1, 2) == 0);
    CHECK(cancelled.errors == 1 && cancelled.kind == PYRO_ERR_CANCELLED && cancelled.at - tc < 0.5);
    while (now_s() - t0 < 3.0) {
        struct pollfd pf = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&pf, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    pid_t ns = name_server_start(port, bcport);
    CHECK(wait_port(port, 20) == 0);
    char nsarg[64];
    snprintf(nsarg, sizeof nsarg, "127.0.0.1:%d", port);
    const char *extra[] = {"--ns", nsarg, "--ns-delay", "2", "--ns-name", "late.echo", NULL};
    test_server late;
    CHECK(test_server_start(&late, extra) == 0);
    CHECK(run_until(ctx, 1002, 30) == 0);
    CHECK(first.results == 1);
    CHECK_STR(first.repr, "'patience pays'");
    CHECK(first.at - t0 >= 4.5); /* NS after 3 s + registration 2 s later */
    int ok = 0;
    for (int i = 0; i < 1000; i++) ok += many[i].results == 1;
    CHECK(ok == 1000);
    CHECK(saw_state(PYRO_STATE_RESOLVING));
    CHECK(saw_state(PYRO_STATE_CONNECTED));
    printf("patient call completed after %.1f s\n", first.at - t0);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    test_server_stop(&late);
    stop_pid(ns);
}

static void test_patience_gives_up(void) {
    pyro_ctx *ctx = ctx_for("127.0.0.1", free_port(SOCK_STREAM), "");
    pyro_proxy *p = pyro_proxy_new(ctx, "PYRONAME:never.there", NULL);
    pyro_proxy_set_patience(p, 100, 3);
    outcome o;
    double t0 = now_s();
    call_echo(ctx, p, &o, "(1,)");
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_NAMING);
    CHECK(o.at - t0 >= 0.2); /* 3 tries, 100 ms apart */
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
}

/* The server restarts on a new port and re-registers: the next call finds it. */
static void test_moved_object_is_found_again(void) {
    pyro_ctx *ctx = ctx_for("127.0.0.1", ns_port, "");
    char nsarg[64];
    snprintf(nsarg, sizeof nsarg, "127.0.0.1:%d", ns_port);
    const char *extra[] = {"--ns", nsarg, "--ns-name", "moving.echo", NULL};
    test_server s1, s2;
    CHECK(test_server_start(&s1, extra) == 0);
    pyro_proxy *p = pyro_proxy_new(ctx, "PYRONAME:moving.echo", NULL);
    pyro_proxy_set_patience(p, 200, 50); /* until the first registration lands */
    outcome o;
    call_echo(ctx, p, &o, "('first',)");
    CHECK_STR(o.repr, "'first'");
    test_server_stop(&s1);
    CHECK(test_server_start(&s2, extra) == 0);
    CHECK(s2.port != s1.port);
    call_echo(ctx, p, &o, "('second',)");
    CHECK_STR(o.repr, "'second'");
    if (o.errors) fprintf(stderr, "  %s\n", o.message);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    test_server_stop(&s2);
}

int main(void) {
    ns_port = free_port(SOCK_STREAM);
    bc_port = free_port(SOCK_DGRAM);
    pid_t ns = name_server_start(ns_port, bc_port);
    if (wait_port(ns_port, 20) != 0) {
        fprintf(stderr, "name server did not start\n");
        return 1;
    }
    char nsarg[64];
    snprintf(nsarg, sizeof nsarg, "127.0.0.1:%d", ns_port);
    const char *extra[] = {"--ns", nsarg, NULL};
    test_server server;
    if (test_server_start(&server, extra) != 0) return 1;
    /* wait for the registration */
    pyro_ctx *ctx = ctx_for("127.0.0.1", ns_port, "");
    for (int i = 0; i < 100; i++) {
        outcome o = {0};
        done = 0;
        pyro_ns_lookup(ctx, "test.echo", false, on_result, on_error, &o);
        run_until(ctx, 1, 10);
        if (o.results) break;
        usleep(100000);
    }
    pyro_ctx_free(ctx);

    RUN(test_pyroname_pyrometa_and_ns_api());
    RUN(test_ns_proxy_is_the_callers_own());
    RUN(test_broadcast_discovery_on_loopback());
    RUN(test_no_name_server_fails_fast());
    RUN(test_patience_gives_up());
    RUN(test_moved_object_is_found_again());
    RUN(test_patient_proxy_waits_for_name_server());
    test_server_stop(&server);
    stop_pid(ns);
    return check_report();
}
