/* Built by scripts/test-install.sh against pyro_async as a user gets it (installed and
 * found with find_package or pkg-config, or added with add_subdirectory/FetchContent),
 * then run against a real Pyro4 server:
 *
 *   consumer PYRO:test.echo@127.0.0.1:PORT
 *
 * Checks that header and library agree on the version and that a call completes. */
#include <pyro_async.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>

static int done, ok;

static void on_result(const pyro_value *v, void *ud) {
    (void)ud;
    char *r = pyro_value_repr(v);
    ok = strcmp(r, "['installed', 1]") == 0 || strcmp(r, "('installed', 1)") == 0;
    printf("echo -> %s\n", r);
    pyro_string_free(r);
    done = 1;
}

static void on_error(const pyro_error *e, void *ud) {
    (void)ud;
    fprintf(stderr, "echo failed: %s\n", pyro_error_message(e));
    done = 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PYRO:test.echo@127.0.0.1:PORT\n", argv[0]);
        return 2;
    }
    char header[32];
    snprintf(header, sizeof header, "%d.%d.%d", PYRO_ASYNC_VERSION_MAJOR, PYRO_ASYNC_VERSION_MINOR,
             PYRO_ASYNC_VERSION_PATCH);
    if (strcmp(header, pyro_version()) != 0) {
        fprintf(stderr, "header %s, library %s\n", header, pyro_version());
        return 1;
    }
    pyro_ctx *ctx = pyro_ctx_new(NULL);
    pyro_error *err = NULL;
    pyro_proxy *p = pyro_proxy_new(ctx, argv[1], &err);
    if (!p) {
        fprintf(stderr, "bad URI: %s\n", pyro_error_message(err));
        pyro_error_free(err);
        return 1;
    }
    if (!pyro_call_async(p, "echo", pyro_value_from_literal("(('installed', 1),)", NULL), NULL, on_result,
                         on_error, NULL)) {
        fprintf(stderr, "call refused\n");
        return 1;
    }
    for (int waited = 0; !done && waited < 100; waited++) { /* at most 10 s */
        struct pollfd f = {pyro_ctx_fd(ctx), POLLIN, 0};
        if (poll(&f, 1, 100) > 0) pyro_ctx_dispatch(ctx, 0);
    }
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    if (!done) fprintf(stderr, "no reply within 10 s\n");
    printf("pyro_async %s: %s\n", pyro_version(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
