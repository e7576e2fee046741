// The generated header compiles as C++17 and links: a C++ program can use the C API directly.
#include "pyro_async.h"

#include <cstdio>
#include <string_view>

int main() {
    pyro_value *v = pyro_value_from_literal("[1, 'two']", nullptr);
    char *r = pyro_value_repr(v);
    int ok = r && std::string_view(r) == "[1, 'two']";
    pyro_string_free(r);
    pyro_value_free(v);
    std::printf("%s\n", ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}
