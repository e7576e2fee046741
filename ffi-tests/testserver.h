/* Start and stop the real Pyro4 test server (tests/fixtures/test_server.py) from C.
 * The server is started with the repo's venv Python ($PYRO_TEST_PYTHON), prints a
 * READY line with its port, and is stopped by pid. Header-only, for ffi-tests/ only. */
#ifndef PYRO_TESTSERVER_H
#define PYRO_TESTSERVER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#ifndef PYRO_SOURCE_DIR
#error "PYRO_SOURCE_DIR must be defined by the build"
#endif

#include "pyro_async.h"

static inline int read_in_dispatch(void) {
    const char *mode = getenv("PYRO_TEST_READ_IN_DISPATCH");
    return mode && strcmp(mode, "1") == 0;
}

/* A context for a test. With PYRO_TEST_READ_IN_DISPATCH=1 in the environment (ctest runs
 * the suites a second time so) replies are read in dispatch. NULL if either step fails. */
static inline pyro_ctx *test_ctx_new(const pyro_ctx_options *options) {
    pyro_ctx *ctx = pyro_ctx_new(options);
    if (ctx && read_in_dispatch()) {
        pyro_error *e = NULL;
        if (!pyro_ctx_read_replies_in_dispatch(ctx, &e)) {
            fprintf(stderr, "cannot read replies in dispatch: %s\n", pyro_error_message(e));
            pyro_error_free(e);
            pyro_ctx_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

typedef struct test_server {
    pid_t pid;
    int port;
    char line[4096];
} test_server;

/* argv_extra: NULL-terminated extra arguments for the fixture, or NULL. Returns 0 on success. */
static inline int test_server_start(test_server *s, const char *const *argv_extra) {
    const char *py = getenv("PYRO_TEST_PYTHON");
    char pybuf[1024];
    if (!py || !*py) {
        snprintf(pybuf, sizeof pybuf, "%s/.venv/bin/python", PYRO_SOURCE_DIR);
        py = pybuf;
    }
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/fixtures/test_server.py", PYRO_SOURCE_DIR);
    const char *argv[64];
    int n = 0;
    argv[n++] = py;
    argv[n++] = script;
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = "0";
    for (int i = 0; argv_extra && argv_extra[i] && n < 62; i++) argv[n++] = argv_extra[i];
    argv[n] = NULL;

    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(py, (char *const *)argv);
        perror("execv test server");
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    s->pid = pid;
    s->port = 0;
    while (fgets(s->line, sizeof s->line, f)) {
        if (strncmp(s->line, "READY", 5) == 0) {
            const char *at = strstr(s->line, "@127.0.0.1:");
            const char *v6 = strstr(s->line, "]:");
            if (at) s->port = atoi(at + strlen("@127.0.0.1:"));
            else if (v6) s->port = atoi(v6 + 2);
            else if (strstr(s->line, "@./u:")) s->port = -1; /* unix socket: no port */
            break;
        }
    }
    fclose(f); /* the server writes nothing more to stdout after READY */
    if (s->port == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "test server did not report READY with a port\n");
        return -1;
    }
    return 0;
}

/* Build "PYRO:<object>@127.0.0.1:<port>" into buf. */
static inline const char *test_server_uri(const test_server *s, const char *object, char *buf, size_t len) {
    snprintf(buf, len, "PYRO:%s@127.0.0.1:%d", object, s->port);
    return buf;
}

static inline void test_server_stop(test_server *s) {
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

/* A free loopback TCP (or UDP) port, by binding port 0 and closing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
static inline int free_port(int type) {
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Start the real Pyro4 name server (tests/fixtures/name_server.py: Pyro4's own
 * NameServerDaemon + BroadcastServer) on 127.0.0.1:port, broadcast responder on
 * 127.0.0.1:bcport (loopback only). Returns its pid or -1. */
static inline pid_t name_server_start(int port, int bcport) {
    const char *py = getenv("PYRO_TEST_PYTHON");
    char pybuf[1024];
    if (!py || !*py) {
        snprintf(pybuf, sizeof pybuf, "%s/.venv/bin/python", PYRO_SOURCE_DIR);
        py = pybuf;
    }
    char p[16], bp[16];
    snprintf(p, sizeof p, "%d", port);
    snprintf(bp, sizeof bp, "%d", bcport);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);
        char script[1024];
        snprintf(script, sizeof script, "%s/tests/fixtures/name_server.py", PYRO_SOURCE_DIR);
        execl(py, py, script, "127.0.0.1", p, bp, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait until something accepts TCP connections on 127.0.0.1:port. */
static inline int wait_port(int port, double timeout_s) {
    for (int i = 0; i < (int)(timeout_s * 20); i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok) return 0;
        usleep(50000);
    }
    return -1;
}

static inline void stop_pid(pid_t pid) {
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

#endif
