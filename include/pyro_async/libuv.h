/* pyro_async for libuv: watch the context's fd with a uv_poll_t and dispatch on it.
 * Header-only. Callbacks run on the loop's thread, inside uv_run.
 *
 *   pyro_uv watcher;
 *   pyro_uv_attach(&watcher, uv_default_loop(), ctx);
 *   ... uv_run(loop, UV_RUN_DEFAULT) ...
 *   pyro_uv_detach(&watcher, NULL);   // then let the loop close the handle
 *   pyro_ctx_free(ctx);               // after the handle is closed */
#ifndef PYRO_ASYNC_LIBUV_H
#define PYRO_ASYNC_LIBUV_H

#include <uv.h>

#include "../pyro_async.h"

typedef struct pyro_uv {
    uv_poll_t poll; /* first member: the handle's address is the struct's */
    pyro_ctx *ctx;
} pyro_uv;

static void pyro_uv__on_readable(uv_poll_t *handle, int status, int events) {
    pyro_uv *w = (pyro_uv *)handle;
    (void)events;
    if (status == 0) pyro_ctx_dispatch(w->ctx, 0);
}

/* Start dispatching `ctx` (borrowed; must outlive the watcher) on `loop`.
 * Returns 0 or a libuv error code. */
static inline int pyro_uv_attach(pyro_uv *w, uv_loop_t *loop, pyro_ctx *ctx) {
    int rc;
    w->ctx = ctx;
    rc = uv_poll_init(loop, &w->poll, pyro_ctx_fd(ctx));
    if (rc != 0) return rc;
    w->poll.data = w;
    return uv_poll_start(&w->poll, UV_READABLE, pyro_uv__on_readable);
}

/* Stop watching and close the handle; `on_closed` (may be NULL) runs when libuv is done
 * with it. Free the context only after that. */
static inline void pyro_uv_detach(pyro_uv *w, uv_close_cb on_closed) {
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, on_closed);
}

#endif
