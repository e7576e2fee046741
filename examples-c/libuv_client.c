/* Calling a Pyro4 object from a libuv loop.   libuv_client PYRO:test.echo@127.0.0.1:PORT
 * The adapter (include/pyro_async/libuv.h) watches the library's fd with a uv_poll_t;
 * results arrive as callbacks inside uv_run, on the loop's thread. */
#include "pyro_async/libuv.h"

#include <stdio.h>

static pyro_uv watcher;
static int outstanding;

static void done(void) {
    if (--outstanding == 0) pyro_uv_detach(&watcher, NULL); /* nothing left: let uv_run return */
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
    pyro_uv_attach(&watcher, uv_default_loop(), ctx);
    outstanding = 2;
    pyro_call_async(p, "echo", pyro_value_from_literal("('hello from libuv',)", NULL), NULL, on_result, on_error,
                    "echo");
    pyro_call_async(p, "boom", NULL, NULL, on_result, on_error, "boom");
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    uv_loop_close(uv_default_loop());
    return 0;
}
