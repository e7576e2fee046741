/* Every stock serializer through the async C API against the real Pyro4 server: values
 * as Pyro4's own client gets them per serializer, structured remote errors, proxies
 * returned by calls (autoproxy), and a server that refuses a serializer. */
#include "check.h"
#include "pyro_async.h"
#include "testserver.h"

#include <poll.h>

typedef struct outcome {
    int results, errors;
    pyro_error_kind kind;
    char repr[512], message[512], type[128];
    pyro_value *value;
} outcome;

static int done;
static void on_result(const pyro_value *v, void *ud) {
    outcome *o = ud;
    char *r = pyro_value_repr(v);
    snprintf(o->repr, sizeof o->repr, "%s", r);
    pyro_string_free(r);
    o->value = pyro_value_clone(v);
    o->results++;
    done++;
}
static void on_error(const pyro_error *e, void *ud) {
    outcome *o = ud;
    o->kind = pyro_error_get_kind(e);
    snprintf(o->message, sizeof o->message, "%s", pyro_error_message(e));
    snprintf(o->type, sizeof o->type, "%s", pyro_error_remote_type(e) ? pyro_error_remote_type(e) : "");
    o->errors++;
    done++;
}

static void run(pyro_ctx *ctx, int n) {
    for (int i = 0; i < 400 && done < n; i++) {
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&p, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
}

static void call(pyro_ctx *ctx, pyro_proxy *p, const char *method, const char *args, outcome *o) {
    memset(o, 0, sizeof *o);
    done = 0;
    CHECK(pyro_call_async(p, method, args ? pyro_value_from_literal(args, NULL) : NULL, NULL, on_result, on_error, o));
    run(ctx, 1);
}

/* expected reprs of echo((1, 'a', [2.5, None])) per serializer, as Pyro4's client gets them */
static const struct {
    int id;
    const char *name, *tuple_echo, *bytes_echo;
} cases[] = {
    {PYRO_SERIALIZER_SERPENT, "serpent", "(1, 'a', [2.5, None])", "{'data': 'AAE=', 'encoding': 'base64'}"},
    {PYRO_SERIALIZER_JSON, "json", "[1, 'a', [2.5, None]]", NULL /* json cannot carry bytes */},
    {PYRO_SERIALIZER_MARSHAL, "marshal", "(1, 'a', [2.5, None])", "b'\\x00\\x01'"},
    {PYRO_SERIALIZER_PICKLE, "pickle", "(1, 'a', [2.5, None])", "b'\\x00\\x01'"},
};

int main(void) {
    test_server s;
    CHECK(test_server_start(&s, NULL) == 0);
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro_ctx *ctx = test_ctx_new(NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fprintf(stderr, "-- %s\n", cases[i].name);
        pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
        CHECK(pyro_proxy_set_serializer(p, cases[i].id));
        outcome o;
        call(ctx, p, "echo", "((1, 'a', [2.5, None]),)", &o);
        CHECK_STR(o.repr, cases[i].tuple_echo);
        pyro_value_free(o.value);
        call(ctx, p, "echo", "(b'\\x00\\x01',)", &o);
        if (cases[i].bytes_echo) {
            CHECK_STR(o.repr, cases[i].bytes_echo);
        } else {
            CHECK(o.errors == 1 && o.kind == PYRO_ERR_SERIALIZATION);
        }
        pyro_value_free(o.value);
        call(ctx, p, "echo", "(123456789012345678901234567890,)", &o);
        CHECK_STR(o.repr, "123456789012345678901234567890");
        pyro_value_free(o.value);
        call(ctx, p, "boom", NULL, &o);
        CHECK(o.errors == 1 && o.kind == PYRO_ERR_REMOTE);
        CHECK_STR(o.type, "builtins.ZeroDivisionError");
        CHECK_STR(o.message, "integer division or modulo by zero");
        call(ctx, p, "custom_error", "('x',)", &o);
        CHECK_STR(o.type, "__main__.CustomError");
        CHECK_STR(o.message, "('x', 42)");
        /* a method returning a Pyro object gives a proxy value; call through it */
        call(ctx, p, "make_proxy", NULL, &o);
        CHECK(o.results == 1 && pyro_value_get_kind(o.value) == PYRO_VALUE_OBJECT);
        pyro_proxy *session = pyro_value_to_proxy(ctx, o.value);
        CHECK(session != NULL);
        pyro_value_free(o.value);
        if (session) {
            pyro_proxy_set_serializer(session, cases[i].id);
            outcome r;
            call(ctx, session, "record", "(7,)", &r);
            CHECK_STR(r.repr, "7");
            pyro_value_free(r.value);
            pyro_proxy_free(session);
        }
        pyro_proxy_free(p);
    }
    CHECK(pyro_value_to_proxy(ctx, NULL) == NULL);
    pyro_value *notproxy = pyro_value_int(1);
    CHECK(pyro_value_to_proxy(ctx, notproxy) == NULL);
    pyro_value_free(notproxy);
    test_server_stop(&s);

    /* a server that only accepts serpent refuses json at connect time */
    const char *only[] = {"--serializer", "serpent", NULL};
    CHECK(test_server_start(&s, only) == 0);
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    CHECK(!pyro_proxy_set_serializer(p, 99));
    pyro_proxy_set_serializer(p, PYRO_SERIALIZER_JSON);
    outcome o;
    call(ctx, p, "echo", "(1,)", &o);
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_COMMUNICATION);
    fprintf(stderr, "  refused: %s\n", o.message);
    CHECK(strstr(o.message, "json") != NULL);
    CHECK(strstr(o.message, "serializer") != NULL);
    pyro_proxy_free(p);
    test_server_stop(&s);
    pyro_ctx_free(ctx);
    return check_report();
}
