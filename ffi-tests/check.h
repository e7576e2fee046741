/* Minimal test helpers for the C tests: CHECK keeps going and counts failures. */
#ifndef PYRO_CHECK_H
#define PYRO_CHECK_H
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int check_failures, check_count;

#define CHECK(cond)                                                              \
    do {                                                                         \
        check_count++;                                                           \
        if (!(cond)) {                                                           \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

#define CHECK_STR(got, want)                                                     \
    do {                                                                         \
        const char *g_ = (got), *w_ = (want);                                    \
        check_count++;                                                           \
        if (!g_ || !w_ || strcmp(g_, w_) != 0) {                                 \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: got  %s\n%*swant %s\n", __FILE__, __LINE__,   \
                    g_ ? g_ : "(null)", (int)strlen(__FILE__) + 8, "", w_ ? w_ : "(null)"); \
        }                                                                        \
    } while (0)

#define RUN(call)                                                                \
    do {                                                                         \
        int before_ = check_failures;                                            \
        call;                                                                    \
        fprintf(stderr, "%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #call); \
    } while (0)

static int check_report(void) {
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}
#endif
