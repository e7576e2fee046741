/* include/pyro_async/glib.h with a real g_main_loop_run against the real Pyro4 server. */
#include "pyro_async/glib.h"

#include "loop_common.h"
#include "testserver.h"

static loop_state st;
static GMainLoop *main_loop;

static gboolean check_done(gpointer data) {
    (void)data;
    if (st.done >= 2) {
        g_main_loop_quit(main_loop);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean give_up(gpointer data) {
    (void)data;
    g_main_loop_quit(main_loop);
    return G_SOURCE_REMOVE;
}

int main(void) {
    test_server s;
    if (test_server_start(&s, NULL) != 0) return 1;
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro_ctx *ctx = test_ctx_new(NULL);
    main_loop = g_main_loop_new(NULL, FALSE);
    GSource *src = pyro_glib_source_new(ctx);
    g_source_attach(src, NULL);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    loop_start_calls(p, &st);
    g_timeout_add(10, check_done, NULL);
    guint guard = g_timeout_add_seconds(20, give_up, NULL);
    g_main_loop_run(main_loop);
    g_source_remove(guard);
    loop_check(&st);
    g_source_destroy(src);
    g_source_unref(src);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    g_main_loop_unref(main_loop);
    test_server_stop(&s);
    return check_report();
}
