/* What a proxy is and what a reply carries besides its value, against the real Pyro4
 * server and name server: pyro_proxy_uri and pyro_proxy_resolved_uri, Python's str() of
 * values (pyro_value_to_str, checked against the server's own str() in every
 * serializer), and the list of a reply's annotations. */
#include "check.h"
#include "pyro_async.h"
#include "outcome.h"
#include "testserver.h"

#include <poll.h>

static int ns_port, bc_port;
static test_server server;
static char echo_uri[128];

static pyro_value *lit(const char *s) { return pyro_value_from_literal(s, NULL); }

static pyro_ctx *ctx_new(void) {
    pyro_ctx_options o;
    pyro_ctx_options_init(&o, sizeof o);
    o.ns_host = "127.0.0.1";
    o.ns_port = ns_port;
    o.ns_bcport = bc_port;
    o.broadcast_addrs = ""; /* never the real network */
    return test_ctx_new(&o);
}

/* Compare a string the library returned (caller owns) and free it. */
static void check_text(char *got, const char *want, int line) {
    check_count++;
    if (!got || strcmp(got, want) != 0) {
        check_failures++;
        fprintf(stderr, "%s:%d: got  %s\n    want %s\n", __FILE__, line, got ? got : "(null)", want);
    }
    pyro_string_free(got);
}
#define CHECK_TEXT(got, want) check_text((got), (want), __LINE__)

static void call(pyro_ctx *ctx, pyro_proxy *p, const char *method, const char *args, outcome *o) {
    memset(o, 0, sizeof *o);
    done = 0;
    CHECK(pyro_call_async(p, method, args ? lit(args) : NULL, NULL, on_result, on_error, o) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    if (o->errors) fprintf(stderr, "  %s%s: %s\n", method, args ? args : "()", o->message);
}

/* A result kept past its callback. */
static void on_keep(const pyro_value *v, void *ud) {
    *(pyro_value **)ud = pyro_value_clone(v);
    done++;
}
static void on_fail(const pyro_error *e, void *ud) {
    (void)ud;
    fprintf(stderr, "  call failed: %s\n", pyro_error_message(e));
    done++;
}
static pyro_value *fetch(pyro_ctx *ctx, pyro_proxy *p, const char *method, const char *args) {
    pyro_value *v = NULL;
    done = 0;
    CHECK(pyro_call_async(p, method, args ? lit(args) : NULL, NULL, on_keep, on_fail, &v) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    return v;
}

static void test_uri_as_given_and_resolved(void) {
    pyro_ctx *ctx = ctx_new();
    char want[160], given[160];
    outcome o;

    /* a PYRO: proxy: its text as given; resolved is the same URI, scheme in capitals,
     * before any I/O */
    snprintf(given, sizeof given, "pyro:test.echo@127.0.0.1:%d", server.port);
    pyro_proxy *direct = pyro_proxy_new(ctx, given, NULL);
    CHECK_TEXT(pyro_proxy_uri(direct), given);
    CHECK_TEXT(pyro_proxy_resolved_uri(direct), echo_uri);
    pyro_proxy *v6 = pyro_proxy_new(ctx, "PYRO:obj@[::1]:4711", NULL);
    CHECK_TEXT(pyro_proxy_resolved_uri(v6), "PYRO:obj@[::1]:4711");
    pyro_proxy *unix_sock = pyro_proxy_new(ctx, "PYRO:obj@./u:/tmp/pyro.sock", NULL);
    CHECK_TEXT(pyro_proxy_resolved_uri(unix_sock), "PYRO:obj@./u:/tmp/pyro.sock");

    /* PYRONAME: and PYROMETA: proxies: NULL until the name is resolved, then the
     * object's PYRO: URI */
    pyro_proxy *named = pyro_proxy_new(ctx, "PYRONAME:test.echo", NULL);
    pyro_proxy *meta = pyro_proxy_new(ctx, "PYROMETA:test.meta.echo", NULL);
    CHECK_TEXT(pyro_proxy_uri(named), "PYRONAME:test.echo");
    CHECK_TEXT(pyro_proxy_uri(meta), "PYROMETA:test.meta.echo");
    CHECK(pyro_proxy_resolved_uri(named) == NULL);
    CHECK(pyro_proxy_resolved_uri(meta) == NULL);
    call(ctx, named, "echo", "(1,)", &o);
    CHECK(o.results == 1);
    call(ctx, meta, "echo", "(1,)", &o);
    CHECK(o.results == 1);
    CHECK_TEXT(pyro_proxy_resolved_uri(named), echo_uri);
    CHECK_TEXT(pyro_proxy_resolved_uri(meta), echo_uri);

    /* the caller's name-server proxy */
    pyro_proxy *ns = pyro_ns_proxy_new(ctx, NULL);
    CHECK_TEXT(pyro_proxy_uri(ns), "PYRONAME:Pyro.NameServer");
    CHECK(pyro_proxy_resolved_uri(ns) == NULL);
    call(ctx, ns, "ping", NULL, &o);
    CHECK(o.results == 1);
    snprintf(want, sizeof want, "PYRO:Pyro.NameServer@127.0.0.1:%d", ns_port);
    CHECK_TEXT(pyro_proxy_resolved_uri(ns), want);

    /* a proxy made from a proxy value a call returned */
    pyro_value *pv = fetch(ctx, direct, "make_proxy", NULL);
    pyro_proxy *session = pyro_value_to_proxy(ctx, pv);
    CHECK(session != NULL);
    snprintf(want, sizeof want, "PYRO:test.session@127.0.0.1:%d", server.port);
    CHECK_TEXT(pyro_proxy_uri(session), want);
    CHECK_TEXT(pyro_proxy_resolved_uri(session), want);
    CHECK_TEXT(pyro_value_to_str(pv), want);
    pyro_value_free(pv);

    CHECK(pyro_proxy_uri(NULL) == NULL);
    CHECK(pyro_proxy_resolved_uri(NULL) == NULL);
    pyro_proxy_free(direct);
    pyro_proxy_free(v6);
    pyro_proxy_free(unix_sock);
    pyro_proxy_free(named);
    pyro_proxy_free(meta);
    pyro_proxy_free(ns);
    pyro_proxy_free(session);
    pyro_ctx_free(ctx);
}

/* The object moves (its server restarts on another port and registers again): the
 * resolved URI follows it. */
static void test_resolved_uri_follows_a_move(void) {
    pyro_ctx *ctx = ctx_new();
    char nsarg[64], want[128];
    snprintf(nsarg, sizeof nsarg, "127.0.0.1:%d", ns_port);
    const char *extra[] = {"--ns", nsarg, "--ns-name", "moving.info", NULL};
    test_server s1, s2;
    CHECK(test_server_start(&s1, extra) == 0);
    pyro_proxy *p = pyro_proxy_new(ctx, "PYRONAME:moving.info", NULL);
    pyro_proxy_set_patience(p, 200, 50); /* until the registration lands */
    outcome o;
    call(ctx, p, "echo", "('first',)", &o);
    CHECK_STR(o.repr, "'first'");
    snprintf(want, sizeof want, "PYRO:test.echo@127.0.0.1:%d", s1.port);
    CHECK_TEXT(pyro_proxy_resolved_uri(p), want);
    test_server_stop(&s1);
    CHECK(test_server_start(&s2, extra) == 0);
    call(ctx, p, "echo", "('second',)", &o);
    CHECK_STR(o.repr, "'second'");
    snprintf(want, sizeof want, "PYRO:test.echo@127.0.0.1:%d", s2.port);
    CHECK_TEXT(pyro_proxy_resolved_uri(p), want);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    test_server_stop(&s2);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* `text` with the items of a PYROMETA: URI's metadata sorted. Python's str() joins them
 * in its set's order, which depends on hashes and which a serializer need not keep
 * (marshal sorts sets), so only the items are compared. */
static void sort_meta(char *text) {
    if (strncmp(text, "PYROMETA:", 9) != 0) return;
    char *meta = text + 9, *at = strchr(meta, '@');
    size_t len = at ? (size_t)(at - meta) : strlen(meta);
    char buf[256], *items[16];
    int n = 0;
    if (len >= sizeof buf) return;
    memcpy(buf, meta, len);
    buf[len] = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
        items[n++] = tok;
    qsort(items, n, sizeof items[0], cmp_str);
    char sorted[256] = "";
    for (int i = 0; i < n; i++) {
        if (i) strcat(sorted, ",");
        strcat(sorted, items[i]);
    }
    memcpy(meta, sorted, len);
}

/* Our str() of `v` must be `want`, Python's str() as the server made it. */
static void check_str(const pyro_value *v, const pyro_value *want_value, const char *serializer) {
    char want[256] = "";
    const char *w = pyro_value_as_str(want_value, NULL);
    char *got = pyro_value_to_str(v);
    if (w && got) {
        snprintf(want, sizeof want, "%s", w);
        sort_meta(want);
        sort_meta(got);
    }
    check_count++;
    if (!w || !got || strcmp(got, want) != 0) {
        check_failures++;
        char *r = pyro_value_repr(v);
        fprintf(stderr, "%s: str() of %s\n  got  %s\n  want %s\n", serializer, r ? r : "(null)",
                got ? got : "(null)", w ? w : "(null)");
        pyro_string_free(r);
    }
    pyro_string_free(got);
}

static void test_value_to_str_is_pythons(void) {
    pyro_ctx *ctx = ctx_new();
    const struct {
        int id;
        const char *name;
    } sers[] = {{PYRO_SERIALIZER_SERPENT, "serpent"},
                {PYRO_SERIALIZER_JSON, "json"},
                {PYRO_SERIALIZER_MARSHAL, "marshal"},
                {PYRO_SERIALIZER_PICKLE, "pickle"}};
    for (size_t s = 0; s < sizeof sers / sizeof sers[0]; s++) {
        pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
        CHECK(pyro_proxy_set_serializer(p, sers[s].id));
        int forms = 0;
        for (int i = 0; i < 100; i++) {
            char args[32];
            snprintf(args, sizeof args, "(%d, False)", i);
            pyro_value *v = fetch(ctx, p, "uri_form", args);
            if (!v || pyro_value_get_kind(v) == PYRO_VALUE_NONE) {
                pyro_value_free(v);
                break;
            }
            snprintf(args, sizeof args, "(%d, True)", i);
            pyro_value *text = fetch(ctx, p, "uri_form", args);
            check_str(v, text, sers[s].name);
            pyro_value_free(v);
            pyro_value_free(text);
            forms++;
        }
        CHECK(forms == 10);
        /* plain values keep their Python type in pickle only (serpent sends bytes as a
         * dict, json tuples as lists, ...), so Python's str() is theirs there */
        if (sers[s].id == PYRO_SERIALIZER_PICKLE) {
            pyro_value *pairs = fetch(ctx, p, "str_forms", NULL);
            CHECK(pyro_value_len(pairs) == 21);
            for (size_t i = 0; i < pyro_value_len(pairs); i++) {
                const pyro_value *pair = pyro_value_get(pairs, i);
                check_str(pyro_value_get(pair, 0), pyro_value_get(pair, 1), "pickle");
            }
            pyro_value_free(pairs);
        }
        pyro_proxy_free(p);
    }
    pyro_ctx_free(ctx);

    /* values made here */
    CHECK(pyro_value_to_str(NULL) == NULL);
    pyro_value *v = pyro_value_str_len("a\0b", 3);
    CHECK(pyro_value_to_str(v) == NULL); /* C text cannot hold the NUL */
    pyro_value_free(v);
    v = pyro_value_str("plain 'text'\n");
    CHECK_TEXT(pyro_value_to_str(v), "plain 'text'\n");
    pyro_value_free(v);
    v = lit("['plain', b'\\x00', 1.0, None]");
    CHECK_TEXT(pyro_value_to_str(v), "['plain', b'\\x00', 1.0, None]");
    pyro_value_free(v);
    /* an object of another class: its repr (its Python __str__ is not known here) */
    v = pyro_value_object("my.Thing", lit("{'a': 1}"));
    char *r = pyro_value_repr(v);
    CHECK_TEXT(pyro_value_to_str(v), r);
    pyro_string_free(r);
    pyro_value_free(v);
    /* a URI object whose state is not a URI's */
    v = pyro_value_object("Pyro4.core.URI", lit("{'state': (1, 2)}"));
    r = pyro_value_repr(v);
    CHECK_TEXT(pyro_value_to_str(v), r);
    pyro_string_free(r);
    pyro_value_free(v);
}

typedef struct annotations {
    int results, errors;
    size_t count, count_in_error, after_end_count;
    char keys[8][5];
    char values[8][32];
    size_t lens[8];
    int lookup_agrees, out_of_range_refused, key_untouched, null_outs_ok;
} annotations;

static void on_annotated(const pyro_value *v, void *ud) {
    (void)v;
    annotations *a = ud;
    a->results++;
    a->count = pyro_response_annotation_count();
    a->lookup_agrees = 1;
    for (size_t i = 0; i < a->count && i < 8; i++) {
        const uint8_t *data = NULL;
        size_t len = 99;
        CHECK(pyro_response_annotation_at(i, a->keys[i], &data, &len));
        CHECK(data != NULL);
        a->lens[i] = len;
        snprintf(a->values[i], sizeof a->values[i], "%.*s", (int)(len < 31 ? len : 31), data ? (const char *)data : "");
        size_t len2 = 0;
        const uint8_t *same = pyro_response_annotation(a->keys[i], &len2);
        if (same != data || len2 != len) a->lookup_agrees = 0;
    }
    char key[5] = "xxxx";
    const uint8_t *data = (const uint8_t *)"untouched";
    size_t len = 7;
    a->out_of_range_refused = !pyro_response_annotation_at(a->count, key, &data, &len);
    a->key_untouched = strcmp(key, "xxxx") == 0 && len == 7 && strcmp((const char *)data, "untouched") == 0;
    a->null_outs_ok = pyro_response_annotation_at(0, NULL, NULL, NULL);
    done++;
}
static void on_annotated_error(const pyro_error *e, void *ud) {
    (void)e;
    annotations *a = ud;
    a->errors++;
    a->count_in_error = pyro_response_annotation_count();
    done++;
}

static void test_response_annotations_listed(void) {
    pyro_ctx *ctx = ctx_new();
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    annotations a;
    memset(&a, 0, sizeof a);
    done = 0;
    CHECK(pyro_call_async(p, "annotate", lit("([('ANN1', 'one'), ('EMTY', ''), ('XTRA', 'extra data')],)"), NULL,
                          on_annotated, on_annotated_error, &a) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    CHECK(a.results == 1);
    /* the method's, in the order it added them, and the CORR the daemon always adds:
     * last, or first when Pyro4's per-thread annotations dict still holds the CORR of
     * the last message it sent without clearing it (the connect reply, an exception) */
    CHECK(a.count == 4);
    int corr = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(a.keys[i], "CORR") == 0) corr = i;
    CHECK(corr == 0 || corr == 3);
    CHECK(corr < 0 || a.lens[corr] == 16);
    int first = corr == 0 ? 1 : 0;
    CHECK_STR(a.keys[first], "ANN1");
    CHECK_STR(a.values[first], "one");
    CHECK_STR(a.keys[first + 1], "EMTY");
    CHECK(a.lens[first + 1] == 0);
    CHECK_STR(a.keys[first + 2], "XTRA");
    CHECK_STR(a.values[first + 2], "extra data");
    CHECK(a.lookup_agrees);
    CHECK(a.out_of_range_refused && a.key_untouched);
    CHECK(a.null_outs_ok);

    /* none outside a result callback: an error callback, or no callback at all */
    memset(&a, 0, sizeof a);
    a.count_in_error = 99;
    done = 0;
    CHECK(pyro_call_async(p, "boom", NULL, NULL, on_annotated, on_annotated_error, &a) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    CHECK(a.errors == 1 && a.count_in_error == 0);
    CHECK(pyro_response_annotation_count() == 0);
    char key[5] = "xxxx";
    CHECK(!pyro_response_annotation_at(0, key, NULL, NULL) && strcmp(key, "xxxx") == 0);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
}

int main(void) {
    ns_port = free_port(SOCK_STREAM);
    bc_port = free_port(SOCK_DGRAM);
    pid_t ns = name_server_start(ns_port, bc_port);
    if (wait_port(ns_port, 20) != 0) {
        fprintf(stderr, "name server did not start\n");
        return 1;
    }
    char nsarg[64];
    snprintf(nsarg, sizeof nsarg, "127.0.0.1:%d", ns_port);
    const char *extra[] = {"--ns", nsarg, NULL};
    if (test_server_start(&server, extra) != 0) return 1;
    test_server_uri(&server, "test.echo", echo_uri, sizeof echo_uri);
    /* wait for the registration */
    pyro_ctx *ctx = ctx_new();
    for (int i = 0; i < 100; i++) {
        outcome o = {0};
        done = 0;
        pyro_ns_lookup(ctx, "test.echo", false, on_result, on_error, &o);
        run_until(ctx, 1, 10);
        if (o.results) break;
        usleep(100000);
    }
    pyro_ctx_free(ctx);

    RUN(test_uri_as_given_and_resolved());
    RUN(test_resolved_uri_follows_a_move());
    RUN(test_value_to_str_is_pythons());
    RUN(test_response_annotations_listed());
    test_server_stop(&server);
    stop_pid(ns);
    return check_report();
}
