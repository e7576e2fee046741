/* Calls/s, p50/p99 latency and client CPU per call for pyro_async against a Pyro4
 * server, at several concurrency levels; plus a dispatch micro-benchmark.
 * Prints TSV rows: name calls in_flight calls_per_s p50_us p99_us cpu_us_per_call
 * Usage: bench_calls PYRO:uri CALLS [IN_FLIGHTxPROXIES]  (the optional third argument runs
 * just that one configuration, e.g. 16x1, for profiling; BUSY_POLL_US sets its
 * pyro_ctx_set_busy_poll window, READ_IN_DISPATCH=1 turns on
 * pyro_ctx_read_replies_in_dispatch) */
#define _GNU_SOURCE
#include "pyro_async.h"

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct run {
    pyro_ctx *ctx;
    pyro_proxy **proxies;
    int nproxies, total, issued, done, errors;
    double *lat;
    double *start;
} run;

typedef struct slot { run *r; int index; } slot;

static void issue(run *r);

static void finish(run *r, int index) {
    r->lat[r->done++] = now_s() - r->start[index];
    if (r->issued < r->total) issue(r);
}
static void on_result(const pyro_value *v, void *ud) {
    (void)v;
    slot *s = ud;
    finish(s->r, s->index);
    free(s);
}
static void on_error(const pyro_error *e, void *ud) {
    slot *s = ud;
    if (s->r->errors++ < 3) fprintf(stderr, "bench error: %s\n", pyro_error_message(e));
    finish(s->r, s->index);
    free(s);
}

static void issue(run *r) {
    int i = r->issued++;
    slot *s = malloc(sizeof *s);
    s->r = r;
    s->index = i;
    pyro_value *args = pyro_value_tuple();
    pyro_value_append(args, pyro_value_str("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
    r->start[i] = now_s();
    if (pyro_call_async(r->proxies[i % r->nproxies], "echo", args, NULL, on_result, on_error, s) == 0) {
        fprintf(stderr, "call refused\n");
        exit(1);
    }
}

static void bench(const char *name, const char *uri, int total, int in_flight, int nproxies, unsigned busy_poll_us,
                  bool read_in_dispatch) {
    run r = {0};
    r.ctx = pyro_ctx_new(NULL);
    pyro_ctx_set_busy_poll(r.ctx, busy_poll_us);
    if (read_in_dispatch && !pyro_ctx_read_replies_in_dispatch(r.ctx, NULL)) {
        fprintf(stderr, "cannot read replies in dispatch\n");
        exit(1);
    }
    r.nproxies = nproxies;
    r.proxies = calloc(nproxies, sizeof *r.proxies);
    for (int i = 0; i < nproxies; i++) r.proxies[i] = pyro_proxy_new(r.ctx, uri, NULL);
    /* warm up: connect every proxy */
    r.total = nproxies;
    r.lat = calloc(total + nproxies, sizeof(double));
    r.start = calloc(total + nproxies, sizeof(double));
    for (int i = 0; i < nproxies; i++) issue(&r);
    while (r.done < nproxies) {
        struct pollfd p = {.fd = pyro_ctx_fd(r.ctx), .events = POLLIN};
        poll(&p, 1, 1000);
        pyro_ctx_dispatch(r.ctx, 0);
    }
    r.issued = r.done = 0;
    r.total = total;
    double c0 = cpu_s(), t0 = now_s();
    for (int i = 0; i < in_flight && i < total; i++) issue(&r);
    while (r.done < total) {
        struct pollfd p = {.fd = pyro_ctx_fd(r.ctx), .events = POLLIN};
        poll(&p, 1, 1000);
        pyro_ctx_dispatch(r.ctx, 0);
    }
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    qsort(r.lat, total, sizeof(double), cmp_double);
    printf("%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.1f\n", name, total, in_flight, total / wall, r.lat[total / 2] * 1e6,
           r.lat[(int)(total * 0.99)] * 1e6, cpu / total * 1e6);
    fflush(stdout);
    for (int i = 0; i < nproxies; i++) pyro_proxy_free(r.proxies[i]);
    pyro_ctx_free(r.ctx);
    free(r.proxies);
    free(r.lat);
    free(r.start);
}

/* Completions through the fd and pyro_ctx_dispatch, no network: a producer thread posts,
 * this thread polls and dispatches. */
static long posted_done;
static void posted(void *ud) { (void)ud; posted_done++; }

static void bench_dispatch(long n) {
    pyro_ctx *ctx = pyro_ctx_new(NULL);
    posted_done = 0;
    double c0 = cpu_s(), t0 = now_s();
    for (long i = 0; i < n; i++) pyro_ctx_post(ctx, posted, NULL);
    while (posted_done < n) {
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&p, 1, 1000);
        pyro_ctx_dispatch(ctx, 0);
    }
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    printf("dispatch-microbench\t%ld\t-\t%.0f\t-\t-\t%.3f\n", n, n / wall, cpu / n * 1e6);
    pyro_ctx_free(ctx);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PYRO:uri CALLS\n", argv[0]);
        return 2;
    }
    const char *uri = argv[1];
    int calls = atoi(argv[2]);
    if (argc > 3) {
        int in_flight = 0, nproxies = 0;
        if (sscanf(argv[3], "%dx%d", &in_flight, &nproxies) != 2 || in_flight < 1 || nproxies < 1) {
            fprintf(stderr, "bad configuration %s (want IN_FLIGHTxPROXIES)\n", argv[3]);
            return 2;
        }
        const char *spin = getenv("BUSY_POLL_US"), *here = getenv("READ_IN_DISPATCH");
        bench("pyro_async", uri, calls, in_flight, nproxies, spin ? (unsigned)atoi(spin) : 0,
              here && strcmp(here, "1") == 0);
        return 0;
    }
    bench("pyro_async 1 proxy", uri, calls, 1, 1, 0, false);
    bench("pyro_async 1 proxy", uri, calls, 16, 1, 0, false);
    bench("pyro_async 16 proxies", uri, calls, 16, 16, 0, false);
    bench("pyro_async 1 proxy", uri, calls, 128, 1, 0, false);
    bench("pyro_async 128 proxies", uri, calls, 128, 128, 0, false);
    bench("pyro_async 1 proxy, busy poll 100us", uri, calls, 1, 1, 100, false);
    bench("pyro_async 1 proxy, reads in dispatch", uri, calls, 1, 1, 0, true);
    bench("pyro_async 1 proxy, reads in dispatch", uri, calls, 16, 1, 0, true);
    bench("pyro_async 16 proxies, reads in dispatch", uri, calls, 16, 16, 0, true);
    bench("pyro_async 1 proxy, reads in dispatch", uri, calls, 128, 1, 0, true);
    bench("pyro_async 128 proxies, reads in dispatch", uri, calls, 128, 128, 0, true);
    bench_dispatch(2000000);
    return 0;
}
