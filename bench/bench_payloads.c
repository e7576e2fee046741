/* Time per call of one large-reply method of bench/payload_server.py, through the public
 * C API (default mode: replies read and decoded by the I/O thread), one call at a time.
 * Run by bench/payloads.py, which puts Pyro4's Python client next to it.
 * Usage: bench_payloads PYRO:uri SERIALIZER METHOD REPS BUDGET_S [MAX_MESSAGE_SIZE]
 *   SERIALIZER: serpent, json, marshal or pickle. After a warm-up call of `ping` (connect
 *   and handshake, untimed) it times up to REPS calls of METHOD, stopping early once
 *   BUDGET_S seconds were spent (at least one call). MAX_MESSAGE_SIZE sets
 *   pyro_ctx_options.max_message_size (default: the library's, 64 MiB).
 * Prints `call SECONDS` per call (issue to result callback), then `result KIND LEN`.
 * Exit status 1 on an error (its message on stderr). */
#include "pyro_async.h"

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct outcome {
    bool done, failed;
    double end;
    int kind;
    size_t len;
} outcome;

static void on_result(const pyro_value *v, void *ud) {
    outcome *o = ud;
    o->end = now_s();
    o->kind = pyro_value_get_kind(v);
    o->len = pyro_value_len(v);
    o->done = true;
}

static void on_error(const pyro_error *e, void *ud) {
    outcome *o = ud;
    fprintf(stderr, "error (kind %d): %s\n", pyro_error_get_kind(e), pyro_error_message(e));
    o->failed = o->done = true;
}

/* One call, waited for with poll + dispatch; returns its seconds, or -1 on error. */
static double timed_call(pyro_ctx *ctx, pyro_proxy *proxy, const char *method, outcome *o) {
    memset(o, 0, sizeof *o);
    double t0 = now_s();
    if (pyro_call_async(proxy, method, NULL, NULL, on_result, on_error, o) == 0) {
        fprintf(stderr, "call refused\n");
        return -1;
    }
    while (!o->done) {
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&p, 1, 1000);
        pyro_ctx_dispatch(ctx, 0);
    }
    return o->failed ? -1 : o->end - t0;
}

static const char *kind_name(int kind) {
    static const char *names[] = {"none", "bool",  "int",  "bigint", "float", "complex", "str",
                                  "bytes", "list", "tuple", "set",   "dict",  "object"};
    return kind >= 0 && kind <= 12 ? names[kind] : "?";
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s PYRO:uri SERIALIZER METHOD REPS BUDGET_S [MAX_MESSAGE_SIZE]\n", argv[0]);
        return 2;
    }
    const char *uri = argv[1], *ser = argv[2], *method = argv[3];
    int reps = atoi(argv[4]);
    double budget = atof(argv[5]);
    int id = strcmp(ser, "serpent") == 0   ? PYRO_SERIALIZER_SERPENT
             : strcmp(ser, "json") == 0    ? PYRO_SERIALIZER_JSON
             : strcmp(ser, "marshal") == 0 ? PYRO_SERIALIZER_MARSHAL
             : strcmp(ser, "pickle") == 0  ? PYRO_SERIALIZER_PICKLE
                                           : 0;
    if (id == 0 || reps < 1) {
        fprintf(stderr, "bad serializer %s or REPS %s\n", ser, argv[4]);
        return 2;
    }
    pyro_ctx_options opts;
    pyro_ctx_options_init(&opts, sizeof opts);
    opts.serializer = id;
    if (argc > 6) opts.max_message_size = strtoull(argv[6], NULL, 10);
    pyro_ctx *ctx = pyro_ctx_new(&opts);
    pyro_error *err = NULL;
    pyro_proxy *proxy = ctx ? pyro_proxy_new(ctx, uri, &err) : NULL;
    if (!proxy) {
        fprintf(stderr, "no proxy: %s\n", err ? pyro_error_message(err) : "bad options");
        return 1;
    }
    outcome o;
    if (timed_call(ctx, proxy, "ping", &o) < 0) return 1;
    double spent = 0;
    for (int i = 0; i < reps && (i == 0 || spent < budget); i++) {
        double t = timed_call(ctx, proxy, method, &o);
        if (t < 0) return 1;
        spent += t;
        printf("call %.6f\n", t);
        fflush(stdout);
    }
    printf("result %s %zu\n", kind_name(o.kind), o.len);
    pyro_proxy_free(proxy);
    pyro_ctx_free(ctx);
    return 0;
}
