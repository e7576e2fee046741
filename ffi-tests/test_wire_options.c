/* HMAC, compression, annotations (CORR and custom), custom handshake data, handshake
 * reply and metadata, against real Pyro4 servers configured for each feature. */
#include "check.h"
#include "pyro_async.h"
#include "testserver.h"

#include <poll.h>
#include <time.h>

typedef struct outcome {
    int results, errors;
    pyro_error_kind kind;
    char repr[256], message[512];
    uint8_t corr[16];
    size_t corr_len;
    size_t repr_len;
} outcome;

static int done;
static void on_result(const pyro_value *v, void *ud) {
    outcome *o = ud;
    char *r = pyro_value_repr(v);
    o->repr_len = strlen(r);
    snprintf(o->repr, sizeof o->repr, "%s", r);
    pyro_string_free(r);
    size_t len = 0;
    const uint8_t *c = pyro_response_annotation("CORR", &len);
    if (c && len <= 16) {
        memcpy(o->corr, c, len);
        o->corr_len = len;
    }
    o->results++;
    done++;
}
static void on_error(const pyro_error *e, void *ud) {
    outcome *o = ud;
    o->kind = pyro_error_get_kind(e);
    snprintf(o->message, sizeof o->message, "%s", pyro_error_message(e));
    o->errors++;
    done++;
}

static int run_until(pyro_ctx *ctx, int target, double timeout_s) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (done < target) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > timeout_s) return -1;
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&p, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    return 0;
}

static void call_echo(pyro_ctx *ctx, pyro_proxy *p, pyro_value *arg, outcome *o) {
    memset(o, 0, sizeof *o);
    done = 0;
    pyro_value *args = pyro_value_tuple();
    pyro_value_append(args, arg);
    CHECK(pyro_call_async(p, "echo", args, NULL, on_result, on_error, o) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
}

static void test_hmac(pyro_ctx *ctx) {
    test_server s;
    const char *extra[] = {"--hmac", "sesame", NULL};
    CHECK(test_server_start(&s, extra) == 0);
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    outcome o;
    pyro_proxy *good = pyro_proxy_new(ctx, uri, NULL);
    CHECK(pyro_proxy_set_hmac_key(good, (const uint8_t *)"sesame", 6));
    call_echo(ctx, good, pyro_value_str("signed"), &o);
    CHECK_STR(o.repr, "'signed'");

    pyro_proxy *wrong = pyro_proxy_new(ctx, uri, NULL);
    pyro_proxy_set_hmac_key(wrong, (const uint8_t *)"not it", 6);
    call_echo(ctx, wrong, pyro_value_str("x"), &o);
    CHECK(o.errors == 1);
    fprintf(stderr, "  wrong key: kind %d: %s\n", o.kind, o.message);
    CHECK(o.kind == PYRO_ERR_SECURITY || o.kind == PYRO_ERR_COMMUNICATION);
    CHECK(strstr(o.message, "hmac") || strstr(o.message, "HMAC"));

    pyro_proxy *none = pyro_proxy_new(ctx, uri, NULL);
    call_echo(ctx, none, pyro_value_str("x"), &o);
    CHECK(o.errors == 1);
    fprintf(stderr, "  no key: kind %d: %s\n", o.kind, o.message);
    CHECK(strstr(o.message, "hmac") || strstr(o.message, "HMAC"));
    pyro_proxy_free(good);
    pyro_proxy_free(wrong);
    pyro_proxy_free(none);
    test_server_stop(&s);

    /* a key on our side only, against a server without one */
    test_server plain;
    CHECK(test_server_start(&plain, NULL) == 0);
    test_server_uri(&plain, "test.echo", uri, sizeof uri);
    pyro_proxy *onesided = pyro_proxy_new(ctx, uri, NULL);
    pyro_proxy_set_hmac_key(onesided, (const uint8_t *)"k", 1);
    call_echo(ctx, onesided, pyro_value_str("x"), &o);
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_SECURITY);
    CHECK(strstr(o.message, "not symmetric") != NULL);
    pyro_proxy_free(onesided);
    test_server_stop(&plain);
}

static void test_compression(pyro_ctx *ctx) {
    test_server s;
    const char *extra[] = {"--compression", NULL};
    CHECK(test_server_start(&s, extra) == 0);
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    CHECK(pyro_proxy_set_compression(p, true));
    static char big[20001];
    memset(big, 'z', 20000);
    outcome o;
    call_echo(ctx, p, pyro_value_str(big), &o); /* compressed both ways */
    CHECK(o.results == 1 && o.repr_len == 20002);
    pyro_proxy_free(p);
    test_server_stop(&s);
}

static void test_annotations_handshake_metadata(pyro_ctx *ctx) {
    test_server s;
    CHECK(test_server_start(&s, NULL) == 0);
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    CHECK(pyro_proxy_handshake_reply(p) == NULL); /* not connected yet */
    CHECK(pyro_proxy_set_handshake(p, pyro_value_from_literal("{'token': 42}", NULL)));
    uint8_t corr[16];
    for (int i = 0; i < 16; i++) corr[i] = (uint8_t)(0xA0 + i);
    CHECK(pyro_proxy_set_correlation_id(p, corr));
    CHECK(pyro_proxy_set_annotation(p, "XTRA", (const uint8_t *)"abc", 3));
    CHECK(!pyro_proxy_set_annotation(p, "TOOLONG", (const uint8_t *)"abc", 3));
    CHECK(!pyro_proxy_set_annotation(p, "HMAC", (const uint8_t *)"abc", 3));
    outcome o;
    call_echo(ctx, p, pyro_value_int(1), &o);
    CHECK_STR(o.repr, "1");
    CHECK(o.corr_len == 16 && memcmp(o.corr, corr, 16) == 0); /* the daemon echoes our CORR */
    pyro_value *hs = pyro_proxy_handshake_reply(p);
    char *r = pyro_value_repr(hs);
    CHECK_STR(r, "{'you_said': {'token': 42}}");
    pyro_string_free(r);
    pyro_value_free(hs);
    pyro_value *meta = pyro_proxy_metadata(p);
    const pyro_value *methods = pyro_value_dict_get_str(meta, "methods");
    CHECK(methods && pyro_value_len(methods) >= 5);
    const pyro_value *oneway = pyro_value_dict_get_str(meta, "oneway");
    CHECK(oneway && pyro_value_len(oneway) == 1);
    pyro_value_free(meta);
    size_t len;
    CHECK(pyro_response_annotation("CORR", &len) == NULL); /* outside a callback */
    /* without a CORR of ours the daemon makes one up */
    pyro_proxy_set_correlation_id(p, NULL);
    call_echo(ctx, p, pyro_value_int(2), &o);
    CHECK(o.corr_len == 16 && memcmp(o.corr, corr, 16) != 0);
    pyro_proxy_free(p);
    test_server_stop(&s);
}

int main(void) {
    pyro_ctx *ctx = pyro_ctx_new(NULL);
    RUN(test_hmac(ctx));
    RUN(test_compression(ctx));
    RUN(test_annotations_handshake_metadata(ctx));
    CHECK(pyro_ctx_free(ctx));
    return check_report();
}
