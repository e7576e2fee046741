/* One call's outcome as most C tests record it, and a host loop that dispatches until
 * `done` callbacks have run. */
#ifndef PYRO_OUTCOME_H
#define PYRO_OUTCOME_H
#include "check.h"
#include "pyro_async.h"

#include <poll.h>

typedef struct outcome {
    int results, errors;
    pyro_error_kind kind;
    char repr[512], message[512];
    double at;
} outcome;

static int done;
static inline void on_result(const pyro_value *v, void *ud) {
    outcome *o = ud;
    char *r = pyro_value_repr(v);
    snprintf(o->repr, sizeof o->repr, "%s", r);
    pyro_string_free(r);
    o->results++;
    o->at = now_s();
    done++;
}
static inline void on_error(const pyro_error *e, void *ud) {
    outcome *o = ud;
    o->kind = pyro_error_get_kind(e);
    snprintf(o->message, sizeof o->message, "%s", pyro_error_message(e));
    o->errors++;
    o->at = now_s();
    done++;
}

static inline int run_until(pyro_ctx *ctx, int target, double timeout_s) {
    double end = now_s() + timeout_s;
    while (done < target) {
        if (now_s() > end) return -1;
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&p, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    return 0;
}
#endif
