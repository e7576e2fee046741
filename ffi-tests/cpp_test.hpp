// Helpers for the C++ API tests (api_cpp*.cpp): contexts made as the C tests make them,
// and host loops over pyro::Context.
#ifndef PYRO_CPP_TEST_HPP
#define PYRO_CPP_TEST_HPP
#include "pyro_async.hpp"

#include <poll.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

extern "C" {
#include "check.h"
#include "testserver.h"
}

// The C++ counterpart of testserver.h's test_ctx_new (ctest runs each suite that uses it
// a second time with PYRO_TEST_READ_IN_DISPATCH=1: replies are then read in dispatch).
inline pyro::Context test_ctx_new_cpp(const pyro::Options &o = pyro::Options()) {
    pyro::Context ctx(o);
    if (read_in_dispatch()) ctx.read_replies_in_dispatch();
    return ctx;
}

// Poll the fd and dispatch until done() or the timeout; exceptions from dispatch propagate.
template <typename Done> bool run_until(pyro::Context &ctx, Done done, double timeout_s = 20) {
    double end = now_s() + timeout_s;
    while (!done()) {
        if (now_s() > end) return false;
        pollfd p{ctx.fd(), POLLIN, 0};
        poll(&p, 1, 50);
        ctx.dispatch();
    }
    return true;
}

// The same, collecting what each dispatch rethrows (what() of std::exceptions, "?" else).
template <typename Done>
bool run_collecting(pyro::Context &ctx, Done done, std::vector<std::string> &caught, double timeout_s = 20) {
    double end = now_s() + timeout_s;
    while (!done()) {
        if (now_s() > end) return false;
        pollfd p{ctx.fd(), POLLIN, 0};
        poll(&p, 1, 50);
        try {
            ctx.dispatch();
        } catch (const std::exception &e) {
            caught.push_back(e.what());
        } catch (...) {
            caught.push_back("?");
        }
    }
    return true;
}

// Whether the fd is readable right now.
inline bool fd_readable(const pyro::Context &ctx) {
    pollfd p{ctx.fd(), POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// Runs f and reports whether it threw a pyro::Error of `kind`.
template <typename F> bool throws_kind(F f, pyro_error_kind kind) {
    try {
        f();
    } catch (const pyro::Error &e) {
        return e.kind() == kind;
    } catch (...) {
        return false;
    }
    return false;
}
#endif
