/* include/pyro_async/glib.h with a real GLib main loop against the real Pyro4 server:
 * destroy then free; free then destroy (with a new context on the same main context
 * meanwhile); and a free from inside a callback that the source dispatched. Run under
 * valgrind by scripts/test.sh. */
#include "pyro_async/glib.h"

#include "loop_common.h"
#include "testserver.h"

static char uri[128];

static gboolean keep_awake(gpointer data) {
    (void)data;
    return G_SOURCE_CONTINUE;
}

/* Iterate the default main context until cond() holds or `seconds` pass (cond NULL: for
 * `seconds`). */
static int run_for(int (*cond)(void), double seconds) {
    guint tick = g_timeout_add(5, keep_awake, NULL);
    double end = now_s() + seconds;
    while (!(cond && cond()) && now_s() < end) g_main_context_iteration(NULL, TRUE);
    g_source_remove(tick);
    return cond ? cond() : 1;
}

static loop_state st;
static int both_done(void) { return st.done >= 2; }

static void test_destroy_then_free(void) {
    pyro_ctx *ctx = test_ctx_new(NULL);
    GSource *src = pyro_glib_source_new(ctx);
    g_source_attach(src, NULL);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    loop_start_calls(p, &st);
    CHECK(run_for(both_done, 20));
    loop_check(&st);
    g_source_destroy(src);
    g_source_unref(src);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
}

static teardown_state td;
static int echo_done(void) { return td_echo_done(&td); }
static int second_done(void) { return td.second_results == 1; }
static int freed(void) { return td_freed(&td); }

static void test_free_then_destroy(void) {
    memset(&td, 0, sizeof td);
    td.ctx = test_ctx_new(NULL);
    GSource *src = pyro_glib_source_new(td.ctx);
    g_source_attach(src, NULL);
    pyro_proxy *fast = pyro_proxy_new(td.ctx, uri, NULL);
    pyro_proxy *slow = pyro_proxy_new(td.ctx, uri, NULL);
    td_start(&td, fast, slow, 0);
    CHECK(run_for(echo_done, 10));
    pyro_ctx_free(td.ctx); /* the source is still attached */
    td.ctx = NULL;
    pyro_proxy_free(fast); /* nothing of the context is left but the source's reference */
    pyro_proxy_free(slow);
    run_for(NULL, 0.1); /* the loop goes on: the source polls a quiet fd */
    pyro_ctx *ctx2 = test_ctx_new(NULL);
    guint second = pyro_glib_attach(ctx2, NULL);
    pyro_proxy *p2 = pyro_proxy_new(ctx2, uri, NULL);
    CHECK(pyro_call_async(p2, "echo", pyro_value_from_literal("(2,)", NULL), NULL, td_second_result, NULL, &td) != 0);
    CHECK(run_for(second_done, 10));
    g_source_destroy(src); /* releases the freed context's last reference */
    g_source_unref(src);
    g_source_remove(second);
    pyro_proxy_free(p2);
    pyro_ctx_free(ctx2);
    td_check(&td);
}

static void test_free_inside_a_dispatched_callback(void) {
    memset(&td, 0, sizeof td);
    td.ctx = test_ctx_new(NULL);
    guint id = pyro_glib_attach(td.ctx, NULL);
    pyro_proxy *fast = pyro_proxy_new(td.ctx, uri, NULL);
    pyro_proxy *slow = pyro_proxy_new(td.ctx, uri, NULL);
    td_start(&td, fast, slow, 1);
    CHECK(run_for(freed, 10));
    CHECK(td.slow_cancelled == 1); /* by the dispatch that ran the freeing callback */
    run_for(NULL, 0.1);            /* still attached, to a quiet fd */
    g_source_remove(id);
    td_check(&td);
    pyro_proxy_free(fast);
    pyro_proxy_free(slow);
}

int main(void) {
    test_server s;
    if (test_server_start(&s, NULL) != 0) return 1;
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    RUN(test_destroy_then_free());
    RUN(test_free_then_destroy());
    RUN(test_free_inside_a_dispatched_callback());
    test_server_stop(&s);
    return check_report();
}
