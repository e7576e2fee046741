/* Every refusal says why: pyro_last_error after each kind of refusal (and NULL after
 * success), which functions leave it alone, one per thread; pyro_error_kind_name for
 * every kind; pyro_error_get_kind(NULL). Consumed arguments of refused calls are freed
 * (valgrind checks). */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "outcome.h"
#include "pyro_async.h"
#include "testserver.h"

/* The last error's message, or "(none)". */
static const char *last_message(void) {
    const pyro_error *e = pyro_last_error();
    return e ? pyro_error_message(e) : "(none)";
}

/* The last error is set, of `kind`, and its message is `want`. */
#define CHECK_LAST(kind_, want)                                     \
    do {                                                            \
        CHECK(pyro_last_error() != NULL);                           \
        CHECK(pyro_error_get_kind(pyro_last_error()) == (kind_));   \
        CHECK_STR(last_message(), want);                            \
    } while (0)

#define CHECK_NO_LAST() CHECK_STR(last_message(), "(none)")

static void test_kind_names(void) {
    static const char *names[] = {
        "PYRO_ERR_NONE",          "PYRO_ERR_REMOTE",   "PYRO_ERR_COMMUNICATION",
        "PYRO_ERR_TIMEOUT",       "PYRO_ERR_NAMING",   "PYRO_ERR_PROTOCOL",
        "PYRO_ERR_SERIALIZATION", "PYRO_ERR_SECURITY", "PYRO_ERR_CANCELLED",
        "PYRO_ERR_INVALID_ARGUMENT", "PYRO_ERR_INTERNAL",
    };
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) CHECK_STR(pyro_error_kind_name(k), names[k]);
    CHECK_STR(pyro_error_kind_name(PYRO_ERR_TIMEOUT), "PYRO_ERR_TIMEOUT");
    CHECK_STR(pyro_error_kind_name(PYRO_ERR_INTERNAL), "PYRO_ERR_INTERNAL");
    CHECK_STR(pyro_error_kind_name(-1), "(unknown error kind)");
    CHECK_STR(pyro_error_kind_name(11), "(unknown error kind)");
    CHECK_STR(pyro_error_kind_name(1 << 30), "(unknown error kind)");

    /* as the header says: PYRO_ERR_NONE (0) for NULL */
    CHECK(pyro_error_get_kind(NULL) == PYRO_ERR_NONE);
    CHECK(PYRO_ERR_NONE == 0);
    CHECK(pyro_error_message(NULL) == NULL);
}

static void test_ctx_options(void) {
    CHECK(pyro_last_error() == NULL); /* nothing refused on this thread yet */
    pyro_ctx_options o;
    pyro_ctx_options_init(&o, sizeof o);
    o.serializer = 99;
    CHECK(pyro_ctx_new(&o) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "options->serializer is 99, not a pyro_serializer value (1..4)");

    pyro_ctx_options_init(&o, sizeof o);
    o.worker_threads = 0;
    CHECK(pyro_ctx_new(&o) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "options->worker_threads is 0, not 1..16");

    pyro_ctx_options_init(&o, sizeof o);
    o.max_message_size = 100;
    CHECK(pyro_ctx_new(&o) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "options->max_message_size is 100, less than 1024");

    pyro_ctx_options_init(&o, sizeof o);
    o.ns_host = "\xff\xfe";
    CHECK(pyro_ctx_new(&o) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "options->ns_host is not valid UTF-8");

    /* success clears it */
    pyro_ctx *ctx = pyro_ctx_new(NULL);
    CHECK(ctx != NULL);
    CHECK_NO_LAST();
    pyro_ctx_free(ctx);
}

/* A program built against an older, shorter pyro_ctx_options: its first five fields. */
typedef struct {
    uintptr_t struct_size;
    int serializer;
    uint64_t max_message_size;
    uint32_t connect_timeout_ms;
    uint32_t worker_threads;
} options_v0;
_Static_assert(offsetof(options_v0, worker_threads) == offsetof(pyro_ctx_options, worker_threads),
               "options_v0 is a prefix of pyro_ctx_options");
_Static_assert(sizeof(options_v0) == offsetof(pyro_ctx_options, ns_host), "options_v0 ends at a field");

static void check_canary(const unsigned char *c, size_t n) {
    for (size_t i = 0; i < n; i++) CHECK(c[i] == 0xAB);
}

static void test_ctx_options_layouts(void) {
    /* older program, newer library: nothing written past its struct, and the fields it
     * lacks are defaults (the canary, read as ns_host or broadcast_addrs, would crash or
     * be refused) */
    struct {
        options_v0 o;
        unsigned char canary[64];
    } old;
    memset(&old, 0xAB, sizeof old);
    pyro_ctx_options_init((pyro_ctx_options *)&old.o, sizeof old.o);
    CHECK_NO_LAST();
    check_canary(old.canary, sizeof old.canary);
    CHECK(old.o.struct_size == sizeof old.o);
    CHECK(old.o.max_message_size == 64u << 20);
    CHECK(old.o.worker_threads == 2);
    old.o.worker_threads = 1;
    pyro_ctx *ctx = pyro_ctx_new((const pyro_ctx_options *)&old.o);
    CHECK(ctx != NULL);
    CHECK_NO_LAST();
    check_canary(old.canary, sizeof old.canary);
    pyro_ctx_free(ctx);

    /* newer program, older library: its unknown fields are zeroed by init, accepted
     * while zero, refused once set */
    struct {
        pyro_ctx_options o;
        uint64_t newer_field;
    } newer;
    memset(&newer, 0xAB, sizeof newer);
    pyro_ctx_options_init(&newer.o, sizeof newer);
    CHECK(newer.o.struct_size == sizeof newer);
    CHECK(newer.newer_field == 0);
    ctx = pyro_ctx_new(&newer.o);
    CHECK(ctx != NULL);
    pyro_ctx_free(ctx);
    newer.newer_field = 1;
    CHECK(pyro_ctx_new(&newer.o) == NULL);
    CHECK(pyro_error_get_kind(pyro_last_error()) == PYRO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "the program was built against a newer pyro_async.h") != NULL);

    /* not initialised */
    pyro_ctx_options zero;
    memset(&zero, 0, sizeof zero);
    CHECK(pyro_ctx_new(&zero) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT,
               "options->struct_size is 0: pyro_ctx_options was not initialised with "
               "pyro_ctx_options_init(&o, sizeof o)");

    /* too small to hold even struct_size: refused, nothing written */
    unsigned char tiny[4 + 16];
    memset(tiny, 0xAB, sizeof tiny);
    pyro_ctx_options_init((pyro_ctx_options *)(void *)tiny, 4);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT,
               "size is 4: pyro_ctx_options was not initialised with pyro_ctx_options_init(&o, sizeof o)");
    check_canary(tiny, sizeof tiny);
}

static void test_null_and_closed(void) {
    CHECK(pyro_ctx_fd(NULL) == -1);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "ctx is NULL");
    CHECK(pyro_ctx_dispatch(NULL, 0) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "ctx is NULL");

    pyro_ctx *ctx = pyro_ctx_new(NULL);
    CHECK(pyro_ctx_dispatch(ctx, 0) == 0); /* nothing to run: a success */
    CHECK_NO_LAST();

    /* an out-parameter gets the same error */
    pyro_error *e = NULL;
    CHECK(pyro_proxy_new(ctx, NULL, &e) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "uri is NULL");
    CHECK(e != NULL && e != pyro_last_error());
    CHECK_STR(pyro_error_message(e), "uri is NULL");
    pyro_error_free(e);
    CHECK(pyro_proxy_new(ctx, "no uri at all", NULL) == NULL);
    CHECK(pyro_last_error() != NULL);
    CHECK(strstr(last_message(), "no uri at all") != NULL);
    fprintf(stderr, "  bad uri: %s\n", last_message());

    pyro_proxy *p = pyro_proxy_new(ctx, "PYRO:obj@127.0.0.1:1", NULL);
    CHECK(p != NULL);
    CHECK_NO_LAST();

    /* refused calls: every consumed argument is freed (valgrind) */
    CHECK(pyro_call_async(NULL, "echo", pyro_value_tuple(), NULL, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "proxy is NULL");
    CHECK(pyro_call_async(p, NULL, pyro_value_tuple(), pyro_value_dict(), NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "method is NULL");
    CHECK(pyro_call_async(p, "echo", pyro_value_int(1), NULL, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "args is an int, not a tuple or list");
    CHECK(pyro_call_async(p, "echo", NULL, pyro_value_from_literal("[1]", NULL), NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "kwargs is a list, not a dict");
    CHECK(pyro_call_async(p, "echo", NULL, pyro_value_from_literal("{'a': 1, 2: 'x'}", NULL), NULL, NULL,
                          NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "kwargs has a key that is an int, not a str: 2");
    CHECK(pyro_call_async(p, "", NULL, NULL, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "method name is empty");
    CHECK(pyro_call_oneway(p, "\xc3", NULL, NULL, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "method is not valid UTF-8");
    CHECK(pyro_set_attr(p, "x", NULL, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "value is NULL");
    CHECK(pyro_get_attr(p, NULL, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "name is NULL");
    CHECK(!pyro_proxy_set_serializer(p, 7));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "serializer is 7, not a pyro_serializer value (1..4)");
    CHECK(!pyro_proxy_set_annotation(p, "TOOLONG", NULL, 0));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "key \"TOOLONG\" is not 4 printable ASCII characters");
    CHECK(!pyro_proxy_set_annotation(p, "HMAC", NULL, 0));
    CHECK(strstr(last_message(), "HMAC") != NULL);
    CHECK(pyro_proxy_handshake_reply(p) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "the proxy has not connected yet");
    CHECK(pyro_response_annotation("CORR", NULL) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "pyro_response_annotation is called outside a result callback");
    CHECK(!pyro_ctx_set_busy_poll(ctx, 20000));
    CHECK(pyro_error_get_kind(pyro_last_error()) == PYRO_ERR_INVALID_ARGUMENT);
    fprintf(stderr, "  busy poll: %s\n", last_message());
    CHECK(!pyro_call_cancel(ctx, 12345));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT,
               "call 12345 is not pending (it completed or was cancelled, or was never issued)");
    CHECK(!pyro_ctx_post(ctx, NULL, NULL));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "fn is NULL");

    /* batches */
    pyro_batch *b = pyro_batch_new(p);
    CHECK(!pyro_batch_add(b, "m", pyro_value_str("not a tuple"), NULL, NULL, NULL, NULL));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "args is a str, not a tuple or list");
    CHECK(pyro_batch_send(b, false) == 0); /* and freed */
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "batch has no calls");

    /* the name server functions convert their arguments inside the guard too */
    CHECK(pyro_ns_lookup(ctx, NULL, false, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "name is NULL");
    CHECK(pyro_ns_register(NULL, "n", "PYRO:x@h:1", false, pyro_value_from_literal("['m']", NULL), NULL, NULL,
                           NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "ctx is NULL");
    CHECK(pyro_ns_list(ctx, NULL, NULL, pyro_value_int(3), pyro_value_list(), false, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "metadata_all is an int, not a set, list or tuple of str");

    /* a closed context refuses calls on its proxies */
    pyro_ctx_free(ctx);
    CHECK(pyro_call_async(p, "echo", pyro_value_tuple(), NULL, NULL, NULL, NULL) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "context is closed");
    pyro_proxy_free(p);
}

static void test_values(void) {
    pyro_value *list = pyro_value_from_literal("[1]", NULL);
    CHECK_NO_LAST();
    pyro_value *s = pyro_value_str("text");
    pyro_value *d = pyro_value_from_literal("{'k': 1}", NULL);
    int64_t i;
    CHECK(!pyro_value_as_int(s, &i));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "v is a str, not an int");
    CHECK(!pyro_value_as_int(pyro_value_get(list, 0), NULL));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "out is NULL");
    CHECK(pyro_value_as_int(pyro_value_get(list, 0), &i) && i == 1);
    CHECK_NO_LAST();
    CHECK(pyro_value_get(list, 5) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "index 5 is out of range for a list of length 1");
    CHECK(pyro_value_get(s, 0) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "seq is a str, not a list, tuple or set");
    CHECK(pyro_value_dict_get_str(d, "nope") == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "key 'nope' is not in the dict");
    CHECK(pyro_value_dict_get_str(list, "k") == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "dict is a list, not a dict");
    CHECK(pyro_value_as_str(NULL, NULL) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "v is NULL");
    CHECK(pyro_value_get_kind(NULL) == PYRO_VALUE_NONE);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "v is NULL");
    CHECK(pyro_value_len(pyro_value_get(list, 0)) == 0);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "v is an int, which has no length");
    CHECK(pyro_value_len(list) == 1);
    CHECK_NO_LAST();
    CHECK(!pyro_value_append(s, pyro_value_int(1)));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "seq is a str, not a list, tuple or set");
    pyro_value *set = pyro_value_set();
    CHECK(!pyro_value_append(set, pyro_value_list()));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "item is a list, which is unhashable");
    CHECK(!pyro_value_dict_set(d, pyro_value_dict(), pyro_value_none()));
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "key is a dict, which is unhashable");
    CHECK(pyro_value_str_len(NULL, 3) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "s is NULL and len is 3");
    CHECK(pyro_value_str("\xe2\x82") == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "s is not valid UTF-8 (at byte 0)");
    CHECK(pyro_value_bigint_from_str("12x") == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "decimal is not an integer in decimal: '12x'");
    CHECK(pyro_value_object(NULL, pyro_value_dict()) == NULL);
    CHECK_LAST(PYRO_ERR_INVALID_ARGUMENT, "class_name is NULL");

    /* literal text: the out-parameter and the last error agree */
    pyro_error *e = NULL;
    CHECK(pyro_value_from_literal("(1,", &e) == NULL);
    CHECK(pyro_error_get_kind(e) == PYRO_ERR_SERIALIZATION);
    CHECK(pyro_error_get_kind(pyro_last_error()) == PYRO_ERR_SERIALIZATION);
    CHECK_STR(last_message(), pyro_error_message(e));
    fprintf(stderr, "  bad literal: %s\n", last_message());
    pyro_error_free(e);

    /* reading the reason, freeing things and naming kinds leave it as it is */
    CHECK(pyro_value_get(list, 9) == NULL);
    const pyro_error *last = pyro_last_error();
    pyro_value_free(s);
    pyro_value_free(set);
    pyro_string_free(NULL);
    pyro_error_free(NULL);
    (void)pyro_error_kind_name(pyro_error_get_kind(last));
    (void)pyro_error_remote_type(last);
    (void)pyro_version();
    CHECK(pyro_last_error() == last);
    CHECK_STR(pyro_error_message(last), "index 9 is out of range for a list of length 1");
    CHECK(pyro_error_remote_type(last) == NULL && pyro_error_remote_args(last) == NULL);

    pyro_value_free(list);
    pyro_value_free(d);
}

/* One per thread: a refusal on another thread is that thread's. */
static void *refuse_on_thread(void *arg) {
    char *out = arg;
    CHECK(pyro_last_error() == NULL);
    CHECK(pyro_value_get_kind(NULL) == PYRO_VALUE_NONE);
    snprintf(out, 128, "%s", last_message());
    return NULL;
}

static void test_threads(void) {
    CHECK(pyro_value_depth(NULL) == 0);
    const pyro_error *mine = pyro_last_error();
    char theirs[128] = "";
    pthread_t t;
    pthread_create(&t, NULL, refuse_on_thread, theirs);
    pthread_join(t, NULL);
    CHECK_STR(theirs, "v is NULL");
    CHECK(pyro_last_error() == mine);
    CHECK_STR(last_message(), "v is NULL");
}

/* Inside callbacks the host's calls set it as usual; the dispatch's own success clears it. */
static char in_callback[256];
static void refuse_in_callback(void *ud) {
    (void)ud;
    CHECK(pyro_value_as_bool(NULL, NULL) == false);
    snprintf(in_callback, sizeof in_callback, "%s", last_message());
    done++;
}

static char annotation_reason[256];
static void on_result_annotations(const pyro_value *v, void *ud) {
    (void)v;
    outcome *o = ud;
    CHECK(pyro_response_annotation("NONE", NULL) == NULL);
    snprintf(annotation_reason, sizeof annotation_reason, "%s", last_message());
    o->results++;
    done++;
}

static void test_with_server(void) {
    test_server s;
    CHECK(test_server_start(&s, NULL) == 0);
    char uri[256];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro_ctx *ctx = test_ctx_new(NULL);
    CHECK(ctx != NULL);
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);

    done = 0;
    CHECK(pyro_ctx_post(ctx, refuse_in_callback, NULL));
    CHECK_NO_LAST();
    CHECK(run_until(ctx, 1, 10) == 0);
    CHECK_STR(in_callback, "v is NULL");
    CHECK_NO_LAST();

    outcome o = {0};
    done = 0;
    CHECK(pyro_call_async(p, "echo", pyro_value_from_literal("(1,)", NULL), NULL, on_result_annotations, on_error,
                          &o) != 0);
    CHECK_NO_LAST();
    CHECK(run_until(ctx, 1, 10) == 0);
    CHECK(o.results == 1);
    CHECK_STR(annotation_reason, "the reply has no \"NONE\" annotation");
    CHECK_NO_LAST();

    /* connected now: the handshake reply is there */
    pyro_value *hs = pyro_proxy_handshake_reply(p);
    CHECK(hs != NULL);
    CHECK_NO_LAST();
    pyro_value_free(hs);

    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
    test_server_stop(&s);
}

int main(void) {
    RUN(test_kind_names());
    RUN(test_ctx_options());
    RUN(test_ctx_options_layouts());
    RUN(test_null_and_closed());
    RUN(test_values());
    RUN(test_threads());
    RUN(test_with_server());
    return check_report();
}
