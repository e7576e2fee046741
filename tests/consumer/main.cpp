// The C++ header from the same installation (see main.c): one call through pyro::Proxy.
#include <pyro_async.hpp>

#include <poll.h>

#include <iostream>
#include <string>

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " PYRO:test.echo@127.0.0.1:PORT\n";
        return 2;
    }
    pyro::Context ctx;
    pyro::Proxy echo(ctx, argv[1]);
    std::string got;
    bool done = false;
    echo.call(
        "echo", pyro::Value::tuple(std::string("c++")),
        [&](pyro::ValueRef r) {
            got = r.repr();
            done = true;
        },
        [&](const pyro::Error &e) {
            std::cerr << "echo failed: " << e.what() << "\n";
            done = true;
        });
    for (int waited = 0; !done && waited < 100; waited++) {
        pollfd f{ctx.fd(), POLLIN, 0};
        if (poll(&f, 1, 100) > 0) ctx.dispatch();
    }
    std::cout << "echo -> " << got << "\n";
    return got == "'c++'" ? 0 : 1;
}
