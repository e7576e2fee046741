#include <pyro_async.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    pyro_value *v = pyro_value_from_literal("(1, 'installed')", NULL);
    char *r = pyro_value_repr(v);
    int ok = strcmp(r, "(1, 'installed')") == 0;
    printf("%s %s\n", pyro_version(), r);
    pyro_string_free(r);
    pyro_value_free(v);
    return ok ? 0 : 1;
}
