/* Every PYRO: location form against a real Pyro4 daemon: IPv4, a host name (resolved on
 * a worker thread), IPv6 [::1], and a unix domain socket. */
#include "check.h"
#include "pyro_async.h"
#include "testserver.h"

#include <poll.h>
#include <pthread.h>

static int done;
static char got[256];
static pyro_error_kind kind;
static void on_result(const pyro_value *v, void *ud) {
    (void)ud;
    char *r = pyro_value_repr(v);
    snprintf(got, sizeof got, "%s", r);
    pyro_string_free(r);
    done++;
}
static void on_error(const pyro_error *e, void *ud) {
    (void)ud;
    kind = pyro_error_get_kind(e);
    snprintf(got, sizeof got, "error: %s", pyro_error_message(e));
    done++;
}

static void echo_via(pyro_ctx *ctx, const char *uri, const char *want) {
    pyro_error *err = NULL;
    pyro_proxy *p = pyro_proxy_new(ctx, uri, &err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "  %s: %s\n", uri, pyro_error_message(err));
        pyro_error_free(err);
        return;
    }
    done = 0;
    got[0] = 0;
    CHECK(pyro_call_async(p, "echo", pyro_value_from_literal("('where',)", NULL), NULL, on_result, on_error, NULL));
    for (int i = 0; i < 400 && !done; i++) {
        struct pollfd f = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&f, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    if (want) {
        CHECK_STR(got, want);
    }
    pyro_proxy_free(p);
}

static int log_lines, log_wrong_thread;
static char last_log[512];
static pthread_t main_thread;
static void on_log(pyro_log_level level, const char *msg, void *ud) {
    (void)level;
    (void)ud;
    if (!pthread_equal(pthread_self(), main_thread)) log_wrong_thread++;
    snprintf(last_log, sizeof last_log, "%s", msg);
    log_lines++;
}

int main(void) {
    main_thread = pthread_self();
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", PYRO_ASYNC_VERSION_MAJOR, PYRO_ASYNC_VERSION_MINOR,
             PYRO_ASYNC_VERSION_PATCH);
    CHECK_STR(pyro_version(), version);
    pyro_ctx *ctx = test_ctx_new(NULL);
    CHECK(pyro_ctx_set_log_callback(ctx, PYRO_LOG_DEBUG, on_log, NULL));
    char uri[512];
    test_server v4, v6, ux;
    CHECK(test_server_start(&v4, NULL) == 0);
    snprintf(uri, sizeof uri, "PYRO:test.echo@127.0.0.1:%d", v4.port);
    echo_via(ctx, uri, "'where'");
    snprintf(uri, sizeof uri, "PYRO:test.echo@localhost:%d", v4.port);
    echo_via(ctx, uri, "'where'");
    snprintf(uri, sizeof uri, "PYRO:test.echo@no-such-host.invalid:%d", v4.port);
    echo_via(ctx, uri, NULL);
    CHECK(kind == PYRO_ERR_COMMUNICATION && strstr(got, "resolve"));
    CHECK(log_lines > 0 && log_wrong_thread == 0); /* messages came through dispatch */
    CHECK(strstr(last_log, "no-such-host.invalid") != NULL);
    test_server_stop(&v4);

    const char *six[] = {"--host", "::1", NULL};
    if (test_server_start(&v6, six) == 0) {
        snprintf(uri, sizeof uri, "PYRO:test.echo@[::1]:%d", v6.port);
        echo_via(ctx, uri, "'where'");
        test_server_stop(&v6);
    } else {
        fprintf(stderr, "IPv6 loopback unavailable here; skipped\n");
    }

    char path[] = "/tmp/pyro_sock_XXXXXX";
    CHECK(mkdtemp(path) != NULL);
    char sock[100];
    snprintf(sock, sizeof sock, "%s/echo.sock", path);
    const char *ua[] = {"--unixsocket", sock, NULL};
    CHECK(test_server_start(&ux, ua) == 0);
    snprintf(uri, sizeof uri, "PYRO:test.echo@./u:%s", sock);
    echo_via(ctx, uri, "'where'");
    test_server_stop(&ux);
    unlink(sock);
    rmdir(path);

    /* malformed URIs are refused with a clear INVALID_ARGUMENT error */
    const char *bad[] = {"PYRO:obj", "PYRO:o@h:99999", "PYRO:o@::1:5", "HTTP:x@h:1", "PYRONAME:", "PYROMETA:a,,b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pyro_error *err = NULL;
        CHECK(pyro_proxy_new(ctx, bad[i], &err) == NULL);
        CHECK(err && pyro_error_get_kind(err) == PYRO_ERR_INVALID_ARGUMENT);
        CHECK(err && strstr(pyro_error_message(err), bad[i]) != NULL);
        pyro_error_free(err);
    }
    pyro_ctx_free(ctx);
    return check_report();
}
