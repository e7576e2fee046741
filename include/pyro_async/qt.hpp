// pyro_async for Qt 5/6: a QObject that owns a QSocketNotifier on the context's fd and
// dispatches when it fires. Header-only. Callbacks run on the thread of the QObject's
// event loop (usually the GUI thread).
//
//   pyro::QtDispatcher dispatcher(ctx);   // ctx borrowed; must outlive the dispatcher
//   app.exec();
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
        QObject::connect(&notifier_, &QSocketNotifier::activated, this, [this] { pyro_ctx_dispatch(ctx_, 0); });
    }
    QtDispatcher(const QtDispatcher &) = delete;
    QtDispatcher &operator=(const QtDispatcher &) = delete;

private:
    pyro_ctx *ctx_;
    QSocketNotifier notifier_;
};

}  // namespace pyro

#endif
