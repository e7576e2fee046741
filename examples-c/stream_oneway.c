/* Item streaming and a oneway call.
 *
 *   stream_oneway PYRO:test.echo@127.0.0.1:PORT
 *
 * Streams the items of a remote Python generator (count(n) yields 0..n-1) as they are
 * fetched, and fires a oneway call that the server runs without the client waiting. */
#include "pyro_async.h"

#include <poll.h>
#include <stdio.h>

static int finished;

static void on_item(const pyro_value *item, void *user_data) {
    (void)user_data;
    char *text = pyro_value_repr(item);
    printf("  item %s\n", text);
    pyro_string_free(text);
}

static void on_end(void *user_data) {
    (void)user_data;
    printf("stream ended\n");
    finished++;
}

static void on_error(const pyro_error *error, void *user_data) {
    printf("%s failed: %s\n", (const char *)user_data, pyro_error_message(error));
    finished++;
}

static void on_sent(const pyro_value *result, void *user_data) {
    (void)result;
    printf("%s: written, not waiting for the server\n", (const char *)user_data);
    finished++;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PYRO:test.echo@127.0.0.1:PORT\n", argv[0]);
        return 2;
    }
    pyro_ctx *ctx = pyro_ctx_new(NULL);
    pyro_proxy *proxy = pyro_proxy_new(ctx, argv[1], NULL);
    if (!proxy) return 1;

    printf("streaming count(5):\n");
    pyro_call_stream(proxy, "count", pyro_value_from_literal("(5,)", NULL), NULL, on_item, on_end, on_error,
                     "stream");
    /* oneway_inc is marked @Pyro4.oneway on the server; any method can be sent oneway */
    pyro_call_oneway(proxy, "oneway_inc", NULL, NULL, on_sent, on_error, "oneway_inc()");

    while (finished < 2) {
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        if (poll(&p, 1, -1) > 0) pyro_ctx_dispatch(ctx, 0);
    }
    pyro_proxy_free(proxy);
    pyro_ctx_free(ctx);
    return 0;
}
