/* HMAC, compression, annotations (CORR and custom), custom handshake data, handshake
 * reply and metadata, against real Pyro4 servers configured for each feature. */
#include "check.h"
#include "pyro_async.h"
#include "testserver.h"

#include <poll.h>
#include <stdlib.h>
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

static void test_tls(pyro_ctx *ctx) {
    char dir[] = "/tmp/pyro_tls_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cmd[512], ca[256], other[256], ccert[256], ckey[256];
    snprintf(cmd, sizeof cmd, "%s/scripts/gen-test-certs.sh %s >/dev/null", PYRO_SOURCE_DIR, dir);
    CHECK(system(cmd) == 0);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    snprintf(other, sizeof other, "%s/other-ca.crt", dir);
    snprintf(ccert, sizeof ccert, "%s/client.crt", dir);
    snprintf(ckey, sizeof ckey, "%s/client.key", dir);

    test_server s;
    const char *extra[] = {"--ssl-dir", dir, NULL};
    CHECK(test_server_start(&s, extra) == 0);
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    outcome o;
    pyro_proxy *good = pyro_proxy_new(ctx, uri, NULL);
    CHECK(pyro_proxy_set_tls(good, ca, NULL, NULL, NULL));
    call_echo(ctx, good, pyro_value_str("over TLS"), &o);
    CHECK_STR(o.repr, "'over TLS'");
    if (o.errors) fprintf(stderr, "  %s\n", o.message);
    char luri[128];
    snprintf(luri, sizeof luri, "PYRO:test.echo@localhost:%d", s.port); /* DNS name in the certificate */
    pyro_proxy *byname = pyro_proxy_new(ctx, luri, NULL);
    pyro_proxy_set_tls(byname, ca, NULL, NULL, NULL);
    call_echo(ctx, byname, pyro_value_int(3), &o);
    CHECK_STR(o.repr, "3");

    pyro_proxy *wrong = pyro_proxy_new(ctx, uri, NULL);
    CHECK(pyro_proxy_set_tls(wrong, other, NULL, NULL, NULL));
    call_echo(ctx, wrong, pyro_value_int(1), &o);
    CHECK(o.errors == 1 && o.kind == PYRO_ERR_SECURITY);
    fprintf(stderr, "  wrong CA: %s\n", o.message);
    CHECK(strstr(o.message, "certificate") != NULL);

    pyro_proxy *plain = pyro_proxy_new(ctx, uri, NULL);
    pyro_proxy_set_timeout(plain, 3000);
    call_echo(ctx, plain, pyro_value_int(1), &o);
    CHECK(o.errors == 1);

    pyro_error *err = NULL;
    CHECK(!pyro_proxy_set_tls(plain, "/nonexistent/ca.pem", NULL, NULL, &err));
    CHECK(err && pyro_error_get_kind(err) == PYRO_ERR_SECURITY && strstr(pyro_error_message(err), "nonexistent"));
    pyro_error_free(err);
    pyro_proxy_free(good);
    pyro_proxy_free(byname);
    pyro_proxy_free(wrong);
    pyro_proxy_free(plain);
    test_server_stop(&s);

    /* a server that requires a client certificate */
    const char *extra2[] = {"--ssl-dir", dir, "--ssl-require-client", NULL};
    CHECK(test_server_start(&s, extra2) == 0);
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro_proxy *anon = pyro_proxy_new(ctx, uri, NULL);
    pyro_proxy_set_tls(anon, ca, NULL, NULL, NULL);
    call_echo(ctx, anon, pyro_value_int(1), &o);
    CHECK(o.errors == 1);
    pyro_proxy *withcert = pyro_proxy_new(ctx, uri, NULL);
    CHECK(pyro_proxy_set_tls(withcert, ca, ccert, ckey, NULL));
    call_echo(ctx, withcert, pyro_value_str("mutual"), &o);
    CHECK_STR(o.repr, "'mutual'");
    pyro_proxy_free(anon);
    pyro_proxy_free(withcert);
    test_server_stop(&s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    pyro_ctx *ctx = test_ctx_new(NULL);
    RUN(test_hmac(ctx));
    RUN(test_compression(ctx));
    RUN(test_annotations_handshake_metadata(ctx));
    RUN(test_tls(ctx));
    pyro_ctx_free(ctx);
    return check_report();
}
