/* Calling a Pyro4 object from a GLib main loop (what GTK runs). glib_client PYRO:uri
 * include/pyro_async/glib.h adds a GSource; callbacks run inside g_main_loop_run. */
#include "pyro_async/glib.h"

#include <stdio.h>

static GMainLoop *loop;
static int outstanding;

static void done(void) {
    if (--outstanding == 0) g_main_loop_quit(loop);
}
static void on_result(const pyro_value *v, void *ud) {
    char *r = pyro_value_repr(v);
    printf("%s -> %s\n", (const char *)ud, r);
    pyro_string_free(r);
    done();
}
static void on_error(const pyro_error *e, void *ud) {
    printf("%s !! %s: %s\n", (const char *)ud, pyro_error_remote_type(e), pyro_error_message(e));
    done();
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pyro_ctx *ctx = pyro_ctx_new(NULL);
    pyro_proxy *p = pyro_proxy_new(ctx, argv[1], NULL);
    if (!p) return 1;
    loop = g_main_loop_new(NULL, FALSE);
    guint source = pyro_glib_attach(ctx, NULL);
    outstanding = 2;
    pyro_call_async(p, "echo", pyro_value_from_literal("({'from': 'glib'},)", NULL), NULL, on_result, on_error,
                    "echo");
    pyro_call_async(p, "boom", NULL, NULL, on_result, on_error, "boom");
    g_main_loop_run(loop);
    g_source_remove(source);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    g_main_loop_unref(loop);
    return 0;
}
