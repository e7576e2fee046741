/* A plain poll() loop calling a Pyro4 object asynchronously.
 *
 *   poll_loop PYRO:test.echo@127.0.0.1:PORT
 *
 * Starts several calls at once (a slow one first), then waits on the library's fd
 * together with stdin, like any event loop would. Results print in the order they
 * complete; a remote Python exception prints with its traceback. */
#include "pyro_async.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int outstanding;

static void print_result(const pyro_value *result, void *user_data) {
    char *text = pyro_value_repr(result); /* caller owns: free with pyro_string_free */
    printf("  %-28s -> %s\n", (const char *)user_data, text);
    pyro_string_free(text);
    outstanding--;
}

static void print_error(const pyro_error *error, void *user_data) {
    printf("  %-28s !! %s: %s\n", (const char *)user_data,
           pyro_error_remote_type(error) ? pyro_error_remote_type(error) : "error", pyro_error_message(error));
    if (pyro_error_remote_traceback(error))
        printf("     remote traceback:\n%s", pyro_error_remote_traceback(error));
    outstanding--;
}

/* Start one call; args is Python literal text for the argument tuple. */
static void call(pyro_proxy *proxy, const char *label, const char *method, const char *args) {
    pyro_error *err = NULL;
    pyro_value *argv = args ? pyro_value_from_literal(args, &err) : NULL;
    if (args && !argv) {
        fprintf(stderr, "bad literal %s: %s\n", args, pyro_error_message(err));
        pyro_error_free(err);
        return;
    }
    /* args are consumed; the label string outlives the call, so it is the user_data */
    if (pyro_call_async(proxy, method, argv, NULL, print_result, print_error, (void *)label) != 0) outstanding++;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PYRO:test.echo@127.0.0.1:PORT\n", argv[0]);
        return 2;
    }
    pyro_ctx *ctx = pyro_ctx_new(NULL);
    pyro_error *err = NULL;
    pyro_proxy *slow = pyro_proxy_new(ctx, argv[1], &err);
    if (!slow) {
        fprintf(stderr, "bad URI: %s\n", pyro_error_message(err));
        pyro_error_free(err);
        return 1;
    }
    /* A second proxy has its own connection, so its calls don't queue behind the slow one. */
    pyro_proxy *fast = pyro_proxy_new(ctx, argv[1], NULL);

    printf("starting 5 calls at once; they complete out of order:\n");
    call(slow, "slow(1.0, 'slept 1 s')", "slow", "(1.0, 'slept 1 s')");
    call(fast, "echo('hello')", "echo", "('hello',)");
    call(fast, "echo({'pi': 3.14, ...})", "echo", "({'pi': 3.14, 'tags': {'a', 'b'}, 'big': 1180591620717411303424},)");
    call(fast, "varargs(1, 'two')", "varargs", "(1, 'two')");
    call(fast, "boom()", "boom", NULL);

    while (outstanding > 0) {
        struct pollfd fds[2] = {{.fd = pyro_ctx_fd(ctx), .events = POLLIN}, {.fd = 0, .events = 0}};
        if (poll(fds, 1, -1) > 0 && (fds[0].revents & POLLIN)) pyro_ctx_dispatch(ctx, 0);
    }
    printf("all calls completed; shutting down\n");
    pyro_proxy_free(slow);
    pyro_proxy_free(fast);
    pyro_ctx_free(ctx);
    return 0;
}
