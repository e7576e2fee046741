/* pyro_async for GLib/GTK: a GSource that dispatches a pyro_ctx in a GMainContext.
 * Header-only. Callbacks run on the thread iterating that main context.
 *
 *   GSource *src = pyro_glib_source_new(ctx);
 *   g_source_attach(src, NULL);          // NULL: the default main context (GTK's)
 *   ... g_main_loop_run(loop) ...
 *   g_source_destroy(src); g_source_unref(src);
 *   pyro_ctx_free(ctx);
 *
 * Destroy the source and free the context in either order: the source holds a reference
 * to the context handle (pyro_ctx_ref) until it is finalized, so a context freed first
 * (also from inside one of its callbacks, which the source dispatched) leaves the source
 * on an fd that stays open and quiet. Destroy it in any case: the handle's memory goes
 * with the later of the two. */
#ifndef PYRO_ASYNC_GLIB_H
#define PYRO_ASYNC_GLIB_H

#include <glib.h>

#include "../pyro_async.h"

typedef struct pyro_glib_source {
    GSource source;
    pyro_ctx *ctx; /* a reference of the source's own */
    gpointer fd_tag;
} pyro_glib_source;

static gboolean pyro_glib__prepare(GSource *s, gint *timeout) {
    *timeout = -1; /* wake only for the fd */
    return pyro_ctx_pending(((pyro_glib_source *)s)->ctx) > 0;
}

static gboolean pyro_glib__check(GSource *s) {
    pyro_glib_source *p = (pyro_glib_source *)s;
    return (g_source_query_unix_fd(s, p->fd_tag) & G_IO_IN) != 0 || pyro_ctx_pending(p->ctx) > 0;
}

static gboolean pyro_glib__dispatch(GSource *s, GSourceFunc cb, gpointer data) {
    (void)cb;
    (void)data;
    pyro_ctx_dispatch(((pyro_glib_source *)s)->ctx, 0);
    return G_SOURCE_CONTINUE;
}

static void pyro_glib__finalize(GSource *s) {
    /* GLib has dropped the fd from its poll set by now (the source is destroyed). */
    pyro_ctx_unref(((pyro_glib_source *)s)->ctx);
}

static GSourceFuncs pyro_glib__funcs = {pyro_glib__prepare, pyro_glib__check, pyro_glib__dispatch,
                                        pyro_glib__finalize, NULL, NULL};

/* A new source for `ctx`; it takes a reference to the context, released when the source
 * is finalized. Caller owns the returned reference: attach it with g_source_attach,
 * release with g_source_unref (and g_source_destroy to detach it). */
static inline GSource *pyro_glib_source_new(pyro_ctx *ctx) {
    GSource *s = g_source_new(&pyro_glib__funcs, sizeof(pyro_glib_source));
    pyro_glib_source *p = (pyro_glib_source *)s;
    p->ctx = pyro_ctx_ref(ctx);
    p->fd_tag = g_source_add_unix_fd(s, pyro_ctx_fd(ctx), G_IO_IN);
    g_source_set_name(s, "pyro_async");
    return s;
}

/* Convenience: attach a new source to `context` (NULL = default) and return its id;
 * remove it with g_source_remove(id). */
static inline guint pyro_glib_attach(pyro_ctx *ctx, GMainContext *context) {
    GSource *s = pyro_glib_source_new(ctx);
    guint id = g_source_attach(s, context);
    g_source_unref(s);
    return id;
}

#endif
