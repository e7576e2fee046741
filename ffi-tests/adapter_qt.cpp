// include/pyro_async/qt.hpp with a real Qt event loop against the real Pyro4 server:
// dispatcher destroyed then context freed; context freed then dispatcher destroyed (with
// a new context on the same loop meanwhile); and a free from inside a callback that the
// dispatcher dispatched. Qt's warnings count as failures: a notifier left on a closed fd
// (the context freed first) makes Qt complain of an invalid socket.
#include "pyro_async/qt.hpp"

#include <QCoreApplication>
#include <QTimer>

#include <memory>

extern "C" {
#include "loop_common.h"
#include "testserver.h"
}

static char uri[128];
static int qt_warnings;

static void count_warnings(QtMsgType type, const QMessageLogContext &, const QString &msg) {
    if (type != QtDebugMsg && type != QtInfoMsg) {
        qt_warnings++;
        fprintf(stderr, "  Qt: %s\n", msg.toLocal8Bit().constData());
    }
}

// Run the event loop until cond() holds or `seconds` pass (cond null: for `seconds`).
template <typename Cond>
static bool run_for(Cond cond, double seconds) {
    QTimer tick; // keeps the loop waking up
    tick.start(5);
    double end = now_s() + seconds;
    while (!cond() && now_s() < end) QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    return cond();
}
static bool never() { return false; }

static loop_state st;

static void test_destroy_then_free() {
    pyro_ctx *ctx = test_ctx_new(nullptr);
    auto dispatcher = std::make_unique<pyro::QtDispatcher>(ctx);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, nullptr);
    loop_start_calls(p, &st);
    CHECK(run_for([] { return st.done >= 2; }, 20));
    loop_check(&st);
    dispatcher.reset();
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
}

static teardown_state td;

static void test_free_then_destroy() {
    memset(&td, 0, sizeof td);
    td.ctx = test_ctx_new(nullptr);
    auto dispatcher = std::make_unique<pyro::QtDispatcher>(td.ctx);
    pyro_proxy *fast = pyro_proxy_new(td.ctx, uri, nullptr);
    pyro_proxy *slow = pyro_proxy_new(td.ctx, uri, nullptr);
    td_start(&td, fast, slow, 0);
    CHECK(run_for([] { return td_echo_done(&td) != 0; }, 10));
    pyro_ctx_free(td.ctx); // the dispatcher is still there
    td.ctx = nullptr;
    pyro_proxy_free(fast); // nothing of the context is left but the dispatcher's reference
    pyro_proxy_free(slow);
    run_for(never, 0.1); // the loop goes on: the notifier watches a quiet fd
    pyro_ctx *ctx2 = test_ctx_new(nullptr);
    auto second = std::make_unique<pyro::QtDispatcher>(ctx2);
    pyro_proxy *p2 = pyro_proxy_new(ctx2, uri, nullptr);
    CHECK(pyro_call_async(p2, "echo", pyro_value_from_literal("(2,)", nullptr), nullptr, td_second_result, nullptr,
                          &td) != 0);
    CHECK(run_for([] { return td.second_results == 1; }, 10));
    dispatcher.reset(); // releases the freed context's last reference
    second.reset();
    pyro_proxy_free(p2);
    pyro_ctx_free(ctx2);
    td_check(&td);
}

static void test_free_inside_a_dispatched_callback() {
    memset(&td, 0, sizeof td);
    td.ctx = test_ctx_new(nullptr);
    auto dispatcher = std::make_unique<pyro::QtDispatcher>(td.ctx);
    pyro_proxy *fast = pyro_proxy_new(td.ctx, uri, nullptr);
    pyro_proxy *slow = pyro_proxy_new(td.ctx, uri, nullptr);
    td_start(&td, fast, slow, 1);
    CHECK(run_for([] { return td_freed(&td) != 0; }, 10));
    CHECK(td.slow_cancelled == 1); // by the dispatch that ran the freeing callback
    run_for(never, 0.1);           // still there, on a quiet fd
    dispatcher.reset();
    td_check(&td);
    pyro_proxy_free(fast);
    pyro_proxy_free(slow);
}

int main(int argc, char **argv) {
    test_server s;
    if (test_server_start(&s, nullptr) != 0) return 1;
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    QCoreApplication app(argc, argv);
    qInstallMessageHandler(count_warnings);
    RUN(test_destroy_then_free());
    RUN(test_free_then_destroy());
    RUN(test_free_inside_a_dispatched_callback());
    CHECK(qt_warnings == 0);
    test_server_stop(&s);
    return check_report();
}
