/* PYRO_LOGLEVEL and PYRO_LOGFILE, read when a context is created, make the library log
 * without any code in the host: connection, handshake and call-timeout lines in the
 * file; nothing without the variable, and nothing there while the host has its own log
 * callback. Against the real Pyro4 server. */
#include "check.h"
#include "outcome.h"
#include "pyro_async.h"
#include "testserver.h"

#include <stdlib.h>
#include <string.h>

static char uri[128];

/* One echo call and one call that times out, on a context made with the environment as
 * it is now. With `host_cb`, the host installs a log callback first. */
static int host_lines;
static void on_log(pyro_log_level level, const char *message, void *ud) {
    (void)level, (void)message, (void)ud;
    host_lines++;
}

static void session(int host_cb) {
    pyro_ctx *ctx = test_ctx_new(NULL);
    CHECK(ctx != NULL);
    if (host_cb) CHECK(pyro_ctx_set_log_callback(ctx, PYRO_LOG_DEBUG, on_log, NULL));
    pyro_proxy *p = pyro_proxy_new(ctx, uri, NULL);
    CHECK(p != NULL);
    outcome o;
    memset(&o, 0, sizeof o);
    done = 0;
    CHECK(pyro_call_async(p, "echo", pyro_value_from_literal("(1,)", NULL), NULL, on_result, on_error, &o) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    CHECK(o.results == 1);
    CHECK(pyro_proxy_set_timeout(p, 100));
    memset(&o, 0, sizeof o);
    done = 0;
    CHECK(pyro_call_async(p, "slow", pyro_value_from_literal("(1,)", NULL), NULL, on_result, on_error, &o) != 0);
    CHECK(run_until(ctx, 1, 20) == 0);
    CHECK(o.errors == 1);
    pyro_proxy_free(p);
    pyro_ctx_free(ctx);
}

static char *slurp(const char *path) {
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return buf;
}

static void check_has(const char *text, const char *want, int line) {
    check_count++;
    if (!strstr(text, want)) {
        check_failures++;
        fprintf(stderr, "%s:%d: log lacks \"%s\"; log:\n%s\n", __FILE__, line, want, text);
    }
}
#define CHECK_HAS(text, want) check_has((text), (want), __LINE__)

int main(void) {
    test_server s;
    if (test_server_start(&s, NULL) != 0) return 1;
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    char path[] = "/tmp/pyro_env_log_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);

    unsetenv("PYRO_LOGLEVEL");
    setenv("PYRO_LOGFILE", path, 1);
    session(0);
    CHECK_STR(slurp(path), ""); /* off unless asked for */

    setenv("PYRO_LOGLEVEL", "debug", 1); /* any case, as Pyro4 */
    session(0);
    const char *log = slurp(path);
    CHECK_HAS(log, "pyro_async DEBUG: ");
    CHECK_HAS(log, "pyro_async INFO: ");
    CHECK_HAS(log, ": Connecting\n");
    CHECK_HAS(log, ": connected, handshake done\n");
    CHECK_HAS(log, "timed out");
    CHECK_HAS(log, "retired");
    size_t before = strlen(log);

    /* the host's callback takes the messages instead */
    host_lines = 0;
    session(1);
    CHECK(strlen(slurp(path)) == before);
    CHECK(host_lines > 0);

    /* INFO leaves out DEBUG */
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    setenv("PYRO_LOGLEVEL", "INFO", 1);
    session(0);
    log = slurp(path);
    CHECK_HAS(log, ": connected, handshake done\n");
    CHECK(strstr(log, "DEBUG") == NULL);

    unlink(path);
    test_server_stop(&s);
    return check_report();
}
