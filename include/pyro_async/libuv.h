/* pyro_async for libuv: watch the context's fd with a uv_poll_t and dispatch on it.
 * Header-only. Callbacks run on the loop's thread, inside uv_run.
 *
 *   pyro_uv watcher;
 *   pyro_uv_attach(&watcher, uv_default_loop(), ctx);
 *   ... uv_run(loop, UV_RUN_DEFAULT) ...
 *   pyro_uv_detach(&watcher, NULL);   // then let the loop close the handle
 *   pyro_ctx_free(ctx);
 *
 * Detach and free in either order: the watcher holds a reference to the context handle
 * (pyro_ctx_ref), so a context freed first (also from inside one of its callbacks, which
 * the watcher dispatched) leaves the watcher on an fd that stays open and quiet until
 * pyro_uv_detach releases it. Detach it in any case: the handle's memory goes with the
 * later of the two. */
#ifndef PYRO_ASYNC_LIBUV_H
#define PYRO_ASYNC_LIBUV_H

#include <uv.h>

#include "../pyro_async.h"

typedef struct pyro_uv {
    uv_poll_t poll; /* first member: the handle's address is the struct's */
    pyro_ctx *ctx;  /* a reference of the watcher's own */
} pyro_uv;

static void pyro_uv__on_readable(uv_poll_t *handle, int status, int events) {
    pyro_uv *w = (pyro_uv *)handle;
    (void)events;
    /* Nothing of w->ctx is touched after the dispatch: a callback in it may detach. */
    if (status == 0) pyro_ctx_dispatch(w->ctx, 0);
}

/* Start dispatching `ctx` on `loop`; the watcher takes a reference to it.
 * Returns 0 or a libuv error code (then nothing is attached or held). */
static inline int pyro_uv_attach(pyro_uv *w, uv_loop_t *loop, pyro_ctx *ctx) {
    int rc;
    w->ctx = pyro_ctx_ref(ctx);
    rc = uv_poll_init(loop, &w->poll, pyro_ctx_fd(ctx));
    if (rc == 0) {
        w->poll.data = w;
        rc = uv_poll_start(&w->poll, UV_READABLE, pyro_uv__on_readable);
        if (rc != 0) uv_close((uv_handle_t *)&w->poll, NULL);
    }
    if (rc != 0) {
        pyro_ctx_unref(w->ctx);
        w->ctx = NULL;
    }
    return rc;
}

/* Stop watching, close the handle and release the watcher's reference to the context.
 * `on_closed` (may be NULL) runs when libuv is done with the handle; the pyro_uv's
 * memory must stay valid until then. May be called from inside a context callback. */
static inline void pyro_uv_detach(pyro_uv *w, uv_close_cb on_closed) {
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, on_closed);
    /* libuv has taken the fd out of its poll set (uv_poll_stop): the context may close it. */
    pyro_ctx_unref(w->ctx);
    w->ctx = NULL;
}

#endif
