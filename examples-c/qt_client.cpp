// Calling a Pyro4 object from a Qt event loop, with the C++ API.   qt_client PYRO:uri
// include/pyro_async/qt.hpp owns a QSocketNotifier on the library's fd; lambdas run on
// the Qt thread.
#include "pyro_async.hpp"
#include "pyro_async/qt.hpp"

#include <QCoreApplication>
#include <cstdio>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    QCoreApplication app(argc, argv);
    pyro::Context ctx;
    pyro::QtDispatcher dispatcher(ctx.get());
    pyro::Proxy proxy(ctx, argv[1]);
    int outstanding = 2;
    auto done = [&] {
        if (--outstanding == 0) app.quit();
    };
    proxy.call("echo", pyro::Value::tuple("hello from Qt"), [&](pyro::ValueRef r) {
        std::printf("echo -> %s\n", r.repr().c_str());
        done();
    });
    proxy.call("boom", pyro::Value::tuple(), [&](pyro::ValueRef) { done(); },
               [&](const pyro::Error &e) {
                   std::printf("boom !! %s: %s\n", e.remote_type().c_str(), e.what());
                   done();
               });
    return app.exec();
}
