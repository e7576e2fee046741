/* include/pyro_async/libuv.h with a real uv_run loop against the real Pyro4 server:
 * detach then free; free then detach (with a new context on the same loop meanwhile,
 * which must not be confused with the freed one); and a free from inside a callback
 * that the watcher dispatched. Run under valgrind by scripts/test.sh. */
#include "pyro_async/libuv.h"

#include "loop_common.h"
#include "testserver.h"

static char uri[128];
static uv_loop_t *loop;

static int (*stop_when)(void);
static double stop_at;
static void tick(uv_timer_t *t) {
    if ((stop_when && stop_when()) || now_s() > stop_at) uv_stop(t->loop);
}

/* Run the loop until cond() holds or `seconds` pass (cond NULL: for `seconds`). */
static int run_for(int (*cond)(void), double seconds) {
    uv_timer_t t;
    uv_timer_init(loop, &t);
    stop_when = cond;
    stop_at = now_s() + seconds;
    uv_timer_start(&t, tick, 5, 5);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return cond ? cond() : 1;
}

static loop_state st;
static int both_done(void) { return st.done >= 2; }

static void test_detach_then_free(void) {
    static pyro_uv watcher;
    pyro_ctx *ctx = test_ctx_new(NULL);
    CHECK(pyro_uv_attach(&watcher, loop, ctx) == 0);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    loop_start_calls(p, &st);
    CHECK(run_for(both_done, 20));
    loop_check(&st);
    pyro_uv_detach(&watcher, NULL);
    run_for(NULL, 0.01);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
}

static teardown_state td;
static int echo_done(void) { return td_echo_done(&td); }
static int second_done(void) { return td.second_results == 1; }
static int freed(void) { return td_freed(&td); }

static void test_free_then_detach(void) {
    static pyro_uv watcher, second;
    memset(&td, 0, sizeof td);
    td.ctx = test_ctx_new(NULL);
    CHECK(pyro_uv_attach(&watcher, loop, td.ctx) == 0);
    pyro_proxy *fast = pyro_proxy_new(td.ctx, uri, NULL);
    pyro_proxy *slow = pyro_proxy_new(td.ctx, uri, NULL);
    td_start(&td, fast, slow, 0);
    CHECK(run_for(echo_done, 10));
    pyro_ctx_free(td.ctx); /* the watcher is still attached */
    td.ctx = NULL;
    pyro_proxy_free(fast); /* nothing of the context is left but the watcher's reference */
    pyro_proxy_free(slow);
    run_for(NULL, 0.1); /* the loop goes on: nothing fires for the freed context */
    /* A new context on the same loop gets an fd of its own (the freed one's is still
     * held open by the watcher), and only its own watcher dispatches it. */
    pyro_ctx *ctx2 = test_ctx_new(NULL);
    CHECK(pyro_uv_attach(&second, loop, ctx2) == 0);
    pyro_proxy *p2 = pyro_proxy_new(ctx2, uri, NULL);
    CHECK(pyro_call_async(p2, "echo", pyro_value_from_literal("(2,)", NULL), NULL, td_second_result, NULL, &td) != 0);
    CHECK(run_for(second_done, 10));
    pyro_uv_detach(&watcher, NULL); /* releases the freed context's last reference */
    pyro_uv_detach(&second, NULL);
    run_for(NULL, 0.01);
    pyro_proxy_free(p2);
    pyro_ctx_free(ctx2);
    td_check(&td);
}

static void test_free_inside_a_dispatched_callback(void) {
    static pyro_uv watcher;
    memset(&td, 0, sizeof td);
    td.ctx = test_ctx_new(NULL);
    CHECK(pyro_uv_attach(&watcher, loop, td.ctx) == 0);
    pyro_proxy *fast = pyro_proxy_new(td.ctx, uri, NULL);
    pyro_proxy *slow = pyro_proxy_new(td.ctx, uri, NULL);
    td_start(&td, fast, slow, 1);
    CHECK(run_for(freed, 10));
    CHECK(td.slow_cancelled == 1); /* by the dispatch that ran the freeing callback */
    run_for(NULL, 0.1);            /* still attached, to a quiet fd */
    pyro_uv_detach(&watcher, NULL);
    run_for(NULL, 0.01);
    td_check(&td);
    pyro_proxy_free(fast);
    pyro_proxy_free(slow);
}

int main(void) {
    test_server s;
    if (test_server_start(&s, NULL) != 0) return 1;
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    loop = uv_default_loop();
    RUN(test_detach_then_free());
    RUN(test_free_then_detach());
    RUN(test_free_inside_a_dispatched_callback());
    CHECK(uv_loop_close(loop) == 0);
    test_server_stop(&s);
    return check_report();
}
