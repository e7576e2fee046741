// include/pyro_async/qt.hpp with a real QCoreApplication::exec against the real Pyro4 server.
#include "pyro_async/qt.hpp"

#include <QCoreApplication>
#include <QTimer>

extern "C" {
#include "loop_common.h"
#include "testserver.h"
}

int main(int argc, char **argv) {
    test_server s;
    if (test_server_start(&s, nullptr) != 0) return 1;
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    QCoreApplication app(argc, argv);
    pyro_ctx *ctx = test_ctx_new(nullptr);
    static loop_state st;
    int rc;
    {
        pyro::QtDispatcher dispatcher(ctx);
        pyro_proxy *p = pyro_proxy_new(ctx, uri, nullptr);
        loop_start_calls(p, &st);
        QTimer poll;
        QObject::connect(&poll, &QTimer::timeout, [&] {
            if (st.done >= 2) app.quit();
        });
        poll.start(10);
        QTimer::singleShot(20000, &app, &QCoreApplication::quit);
        app.exec();
        loop_check(&st);
        pyro_proxy_free(p);
    }
    pyro_ctx_free(ctx);
    test_server_stop(&s);
    rc = check_report();
    return rc;
}
