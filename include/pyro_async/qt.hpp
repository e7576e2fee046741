// pyro_async for Qt 5/6: a QObject that owns a QSocketNotifier on the context's fd and
// dispatches when it fires. Header-only. Callbacks run on the thread of the QObject's
// event loop (usually the GUI thread).
//
//   pyro::QtDispatcher dispatcher(ctx);
//   app.exec();
//
// Destroy the dispatcher and free the context in either order: the dispatcher holds a
// reference to the context handle (pyro_ctx_ref) until it is destroyed, so a context
// freed first (also from inside one of its callbacks, which the dispatcher dispatched)
// leaves the notifier on an fd that stays open and quiet. A callback that wants the
// dispatcher gone uses deleteLater(), as for any QObject whose signal is being handled.
#ifndef PYRO_ASYNC_QT_HPP
#define PYRO_ASYNC_QT_HPP

#include <QObject>
#include <QSocketNotifier>

#include "../pyro_async.h"

namespace pyro {

class QtDispatcher : public QObject {
public:
    explicit QtDispatcher(pyro_ctx *ctx, QObject *parent = nullptr)
        : QObject(parent), ctx_(ctx), notifier_(pyro_ctx_fd(ctx), QSocketNotifier::Read, this) {
        pyro_ctx *c = ctx_.get();
        QObject::connect(&notifier_, &QSocketNotifier::activated, this, [c] { pyro_ctx_dispatch(c, 0); });
    }
    QtDispatcher(const QtDispatcher &) = delete;
    QtDispatcher &operator=(const QtDispatcher &) = delete;

private:
    // Declared before the notifier, so released after it: the fd outlives the notifier.
    class CtxRef {
    public:
        explicit CtxRef(pyro_ctx *ctx) : ctx_(pyro_ctx_ref(ctx)) {}
        ~CtxRef() { pyro_ctx_unref(ctx_); }
        CtxRef(const CtxRef &) = delete;
        CtxRef &operator=(const CtxRef &) = delete;
        pyro_ctx *get() const { return ctx_; }

    private:
        pyro_ctx *ctx_;
    };
    CtxRef ctx_;
    QSocketNotifier notifier_;
};

}  // namespace pyro

#endif
