// The C++ API (include/pyro_async.hpp) against the real Pyro4 server: RAII handles,
// value conversions, literals, lambdas for results and errors, exceptions.
#include "pyro_async.hpp"

#include <poll.h>

#include <cstdio>
#include <string>

extern "C" {
#include "check.h"
#include "testserver.h"
}

static void run_until(pyro::Context &ctx, const int &done, int n) {
    for (int i = 0; i < 400 && done < n; i++) {
        pollfd p{ctx.fd(), POLLIN, 0};
        poll(&p, 1, 50);
        ctx.dispatch();
    }
}

int main() {
    test_server s;
    if (test_server_start(&s, nullptr) != 0) return 1;
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);

    // values
    pyro::Value v(std::map<std::string, std::vector<int64_t>>{{"a", {1, 2}}, {"b", {}}});
    std::string vr = v.repr();  // CHECK_STR keeps a pointer: the string must outlive it
    CHECK_STR(vr.c_str(), "{'a': [1, 2], 'b': []}");
    CHECK(v.ref()["a"].as_int_vector() == std::vector<int64_t>({1, 2}));
    pyro::Value t = pyro::Value::tuple(1, 2.5, "x", true, nullptr, std::string("s"));
    std::string tr = t.repr();
    CHECK_STR(tr.c_str(), "(1, 2.5, 'x', True, None, 's')");
    CHECK(t.ref()[1].as_double() == 2.5);
    CHECK(t.ref()[2].as_string() == "x");
    pyro::Value lit = pyro::Value::literal("{'k': (1, 'z')}");
    CHECK(lit.ref()["k"][1].as_string() == "z");
    bool threw = false;
    try {
        pyro::Value::literal("(1, 2");
    } catch (const pyro::Error &e) {
        threw = e.kind() == PYRO_ERR_SERIALIZATION;
    }
    CHECK(threw);
    threw = false;
    try {
        t.ref()[2].as_int();
    } catch (const pyro::Error &) {
        threw = true;
    }
    CHECK(threw);

    // calls
    {
        pyro::Context ctx;
        pyro::Proxy proxy(ctx, uri);
        int done = 0;
        std::string echoed, err_type, err_msg, err_tb;
        int64_t sum = 0;
        proxy.call("echo", pyro::Value::tuple(std::vector<int64_t>{1, 2, 3}), [&](pyro::ValueRef r) {
            for (int64_t i : r.as_int_vector()) sum += i;
            done++;
        });
        proxy.call(
            "varargs", pyro::Value::tuple("a"), [&](pyro::ValueRef r) { echoed = r.repr(); done++; },
            [&](const pyro::Error &) { done++; }, pyro::Value::literal("{'k': 1}"));
        proxy.call(
            "boom", pyro::Value::tuple(), [&](pyro::ValueRef) { done++; },
            [&](const pyro::Error &e) {
                err_type = e.remote_type();
                err_msg = e.what();
                err_tb = e.traceback();
                done++;
            });
        bool posted = false;
        ctx.post([&] { posted = true; });
        run_until(ctx, done, 3);
        CHECK(done == 3);
        CHECK(sum == 6);
        CHECK_STR(echoed.c_str(), "(('a',), {'k': 1})");
        CHECK_STR(err_type.c_str(), "builtins.ZeroDivisionError");
        CHECK_STR(err_msg.c_str(), "integer division or modulo by zero");
        CHECK(err_tb.find("Traceback") != std::string::npos);
        CHECK(posted);
        // a refused call throws
        threw = false;
        try {
            proxy.call("echo", pyro::Value(5), [](pyro::ValueRef) {});
        } catch (const pyro::Error &e) {
            threw = e.kind() == PYRO_ERR_INVALID_ARGUMENT;
        }
        CHECK(threw);
        // busy polling: a valid window is taken, one above 10 ms throws
        ctx.set_busy_poll(std::chrono::microseconds(50));
        threw = false;
        try {
            ctx.set_busy_poll(std::chrono::milliseconds(11));
        } catch (const pyro::Error &e) {
            threw = e.kind() == PYRO_ERR_INVALID_ARGUMENT;
        }
        CHECK(threw);
        ctx.set_busy_poll(std::chrono::microseconds(0));
        // reading replies in dispatch is chosen before the fd is handed out
        {
            pyro::Context early;
            early.read_replies_in_dispatch();
            early.read_replies_in_dispatch(); // already on: fine
            CHECK(early.fd() >= 0);
            pyro::Context late;
            CHECK(late.fd() >= 0);
            threw = false;
            try {
                late.read_replies_in_dispatch();
            } catch (const pyro::Error &e) {
                threw = e.kind() == PYRO_ERR_INVALID_ARGUMENT;
            }
            CHECK(threw);
        }
        // bad URI throws
        threw = false;
        try {
            pyro::Proxy bad(ctx, "PYRO:nope");
        } catch (const pyro::Error &e) {
            threw = e.kind() == PYRO_ERR_INVALID_ARGUMENT;
        }
        CHECK(threw);
        // moved-from handles are inert; the context frees pending callbacks' state
        pyro::Proxy moved = std::move(proxy);
        moved.call("slow", pyro::Value::tuple(5), [&](pyro::ValueRef) {}, [&](const pyro::Error &e) {
            CHECK(e.kind() == PYRO_ERR_CANCELLED);
        });
    }  // ~Proxy cancels, ~Context runs the CANCELLED callback: nothing leaks
    test_server_stop(&s);
    return check_report();
}
