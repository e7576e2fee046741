/* include/pyro_async/libuv.h with a real uv_run loop against the real Pyro4 server. */
#include "pyro_async/libuv.h"

#include "loop_common.h"
#include "testserver.h"

static loop_state st;
static pyro_uv watcher;
static uv_timer_t guard_timer;

static void on_guard(uv_timer_t *t) {
    (void)t;
    if (st.done >= 2) {
        uv_timer_stop(&guard_timer);
        uv_close((uv_handle_t *)&guard_timer, NULL);
        pyro_uv_detach(&watcher, NULL);
    }
}

int main(void) {
    test_server s;
    if (test_server_start(&s, NULL) != 0) return 1;
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    uv_loop_t *loop = uv_default_loop();
    pyro_ctx *ctx = test_ctx_new(NULL);
    CHECK(pyro_uv_attach(&watcher, loop, ctx) == 0);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    loop_start_calls(p, &st);
    uv_timer_init(loop, &guard_timer);
    uv_timer_start(&guard_timer, on_guard, 10, 10); /* stops the loop once both completed */
    uv_run(loop, UV_RUN_DEFAULT);
    loop_check(&st);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    uv_loop_close(loop);
    test_server_stop(&s);
    return check_report();
}
