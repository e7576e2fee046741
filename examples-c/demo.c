/* The demo: a plain poll() event loop calling a Pyro4 service that does not exist yet.
 *
 *   demo NS_PORT
 *
 * 1. A patient proxy for PYRONAME:demo.echo is created and called before the name
 *    server is running; its state callback shows it waiting (no thread waits for it).
 * 2. When the name server and the service come up, the call completes.
 * 3. Several calls then run at once and complete out of order (slow ones on their own
 *    proxies), and a remote Python exception arrives with its traceback.
 * 4. Clean shutdown: proxies and context freed, every callback accounted for. */
#include "pyro_async.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int outstanding;
static struct timespec t0;

static double elapsed(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
}

static void on_state(pyro_conn_state state, void *user_data) {
    static const char *names[] = {"", "resolving the name", "waiting for the name server / service",
                                  "connecting", "connected", "disconnected"};
    printf("[%5.1fs] %s: %s\n", elapsed(), (const char *)user_data, names[state]);
}

static void on_result(const pyro_value *result, void *user_data) {
    char *text = pyro_value_repr(result);
    printf("[%5.1fs] %-26s -> %s\n", elapsed(), (const char *)user_data, text);
    pyro_string_free(text);
    outstanding--;
}

static void on_error(const pyro_error *error, void *user_data) {
    printf("[%5.1fs] %-26s !! %s: %s\n", elapsed(), (const char *)user_data,
           pyro_error_remote_type(error) ? pyro_error_remote_type(error) : "error", pyro_error_message(error));
    if (pyro_error_remote_traceback(error)) printf("remote traceback:\n%s", pyro_error_remote_traceback(error));
    outstanding--;
}

static void call(pyro_proxy *p, const char *label, const char *method, const char *args) {
    pyro_value *v = args ? pyro_value_from_literal(args, NULL) : NULL;
    if (pyro_call_async(p, method, v, NULL, on_result, on_error, (void *)label)) outstanding++;
}

static void run_loop(pyro_ctx *ctx) {
    while (outstanding > 0) {
        struct pollfd fds[1] = {{.fd = pyro_ctx_fd(ctx), .events = POLLIN}};
        if (poll(fds, 1, -1) > 0) pyro_ctx_dispatch(ctx, 0);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s NS_PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* line by line, interleaved with the script's output */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pyro_ctx_options opts;
    pyro_ctx_options_init(&opts, sizeof opts);
    opts.ns_host = "127.0.0.1";
    opts.ns_port = (uint16_t)atoi(argv[1]);
    opts.broadcast_addrs = ""; /* the demo never broadcasts */
    pyro_ctx *ctx = pyro_ctx_new(&opts);

    pyro_proxy *patient = pyro_proxy_new(ctx, "PYRONAME:demo.echo", NULL);
    pyro_proxy_set_patience(patient, 500, PYRO_PATIENCE_DEFAULT_TRIES);
    pyro_proxy_set_state_callback(patient, on_state, "patient proxy");
    printf("[%5.1fs] calling PYRONAME:demo.echo before any name server runs...\n", elapsed());
    call(patient, "echo('hello, patience')", "echo", "('hello, patience',)");
    run_loop(ctx);

    printf("[%5.1fs] now 5 calls at once on 3 proxies; they complete out of order:\n", elapsed());
    pyro_proxy *slow1 = pyro_proxy_new(ctx, "PYRONAME:demo.echo", NULL);
    pyro_proxy *slow2 = pyro_proxy_new(ctx, "PYRONAME:demo.echo", NULL);
    call(slow1, "slow(1.5, 'slowest')", "slow", "(1.5, 'slowest')");
    call(slow2, "slow(0.7, 'slower')", "slow", "(0.7, 'slower')");
    call(patient, "echo({'big': 2**70})", "echo", "({'big': 1180591620717411303424, 'set': {1, 2}},)");
    call(patient, "varargs(1, 'two')", "varargs", "(1, 'two')");
    call(patient, "boom()", "boom", NULL);
    run_loop(ctx);

    pyro_proxy_free(slow1);
    pyro_proxy_free(slow2);
    pyro_proxy_free(patient);
    pyro_ctx_free(ctx); /* runs any outstanding callbacks; none run after this */
    printf("[%5.1fs] clean shutdown\n", elapsed());
    return 0;
}
