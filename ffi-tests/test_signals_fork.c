/* Signals and fork, against the real Pyro4 server.
 *
 * Signals: every library thread (I/O, resolver workers, decoders) is created with the
 * signals blocked, even when the host unblocks them, so a host that later blocks SIGINT
 * in its own thread and waits for it (signalfd, sigwait) receives it: no library thread
 * takes it (and, with the default disposition, kills the process).
 *
 * Fork: in a child forked from a process with a context, every use of that context
 * fails at once with a clear error, dispatch and free return at once without running,
 * reading or joining anything, and the parent's context goes on undisturbed. */
#define _GNU_SOURCE /* gettid */
#include "check.h"
#include "pyro_async.h"
#include "testserver.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <time.h>

static test_server server;
static char echo_uri[256], localhost_uri[256];

typedef struct outcome {
    int results, errors;
    pyro_error_kind kind;
    pthread_t thread;
} outcome;

static int done_calls;
static void on_result(const pyro_value *v, void *ud) {
    (void)v;
    outcome *o = ud;
    o->results++;
    o->thread = pthread_self();
    done_calls++;
}
static void on_error(const pyro_error *e, void *ud) {
    outcome *o = ud;
    o->errors++;
    o->kind = pyro_error_get_kind(e);
    o->thread = pthread_self();
    done_calls++;
}

static int run_until(pyro_ctx *ctx, int target, double timeout_s) {
    double end = now_s() + timeout_s;
    while (done_calls < target) {
        if (now_s() > end) return -1;
        struct pollfd p = {.fd = pyro_ctx_fd(ctx), .events = POLLIN};
        poll(&p, 1, 50);
        pyro_ctx_dispatch(ctx, 0);
    }
    return 0;
}

/* ('xxxx...',): a reply this big is decoded on the library's decode threads. */
static pyro_value *big_args(size_t n) {
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = 0;
    pyro_value *t = pyro_value_tuple();
    pyro_value_append(t, pyro_value_str(s));
    free(s);
    return t;
}

/* Whether `sig` is blocked in thread `tid` of this process (from /proc: SigBlk). */
static int blocked_in(const char *tid, int sig) {
    char path[512], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1; /* the thread is gone */
    int blocked = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long mask;
        if (sscanf(line, "SigBlk: %llx", &mask) == 1) blocked = (int)((mask >> (sig - 1)) & 1);
    }
    fclose(f);
    return blocked;
}

/* Every thread but the calling one has these signals blocked; returns how many other
 * threads there are (or -1 if one does not). */
static int other_threads_block(const int *sigs, int nsigs) {
    char self[32];
    snprintf(self, sizeof self, "%ld", (long)gettid());
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int others = 0, bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, self) == 0) continue;
        for (int i = 0; i < nsigs; i++) {
            if (blocked_in(e->d_name, sigs[i]) == 0) {
                fprintf(stderr, "  thread %s leaves signal %d unblocked\n", e->d_name, sigs[i]);
                bad++;
            }
        }
        others++;
    }
    closedir(d);
    return bad ? -1 : others;
}

static volatile sig_atomic_t usr1_runs, usr1_off_main;
static pthread_t main_thread;
static void on_usr1(int sig) {
    (void)sig;
    usr1_runs++;
    if (!pthread_equal(pthread_self(), main_thread)) usr1_off_main++;
}

/* The host as a child process of its own: a signal taken by a library thread with the
 * default disposition kills it, which the parent sees. */
static int signals_host(void) {
    main_thread = pthread_self();
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL); /* everything unblocked while the library starts */

    pyro_ctx_options o;
    pyro_ctx_options_init(&o, sizeof o);
    o.worker_threads = 2;
    pyro_ctx *ctx = test_ctx_new(&o);
    pyro_proxy *p = pyro_proxy_new(ctx, echo_uri, NULL);
    pyro_proxy *named = pyro_proxy_new(ctx, localhost_uri, NULL); /* a host name: resolver threads */
    outcome a = {0}, b = {0}, c = {0};
    done_calls = 0;
    CHECK(pyro_call_async(p, "echo", big_args(300 * 1000), NULL, on_result, on_error, &a) != 0);
    CHECK(pyro_call_async(p, "echo", big_args(200 * 1000), NULL, on_result, on_error, &b) != 0);
    CHECK(pyro_call_async(named, "echo", pyro_value_from_literal("(1,)", NULL), NULL, on_result, on_error, &c) != 0);
    CHECK(run_until(ctx, 3, 20) == 0);
    CHECK(a.results == 1 && b.results == 1);
    CHECK(c.results + c.errors == 1); /* "localhost" may be ::1 first: either way it resolved */

    /* The I/O thread, a resolver and a decoder exist, and none of them takes a signal. */
    int sigs[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP, SIGCHLD, SIGPIPE};
    int others = other_threads_block(sigs, (int)(sizeof sigs / sizeof sigs[0]));
    CHECK(others >= 3);

    /* SIGUSR1 blocked here, with a handler: nobody may run it until this thread unblocks. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    kill(getpid(), SIGUSR1);
    usleep(100 * 1000);
    CHECK(usr1_runs == 0);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    CHECK(usr1_runs == 1 && usr1_off_main == 0);

    /* SIGINT through a signalfd, SIGTERM through sigwait: default dispositions, so a
     * library thread taking either would end this process. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigset_t just_int;
    sigemptyset(&just_int);
    sigaddset(&just_int, SIGINT);
    int sfd = signalfd(-1, &just_int, SFD_CLOEXEC);
    CHECK(sfd >= 0);
    for (int round = 0; round < 3; round++) {
        /* calls going on meanwhile: every library thread is awake at some point */
        outcome d = {0};
        done_calls = 0;
        CHECK(pyro_call_async(p, "echo", big_args(100 * 1000), NULL, on_result, on_error, &d) != 0);
        kill(getpid(), SIGINT);
        struct pollfd pf = {.fd = sfd, .events = POLLIN};
        CHECK(poll(&pf, 1, 5000) == 1);
        struct signalfd_siginfo si;
        CHECK(read(sfd, &si, sizeof si) == (ssize_t)sizeof si && si.ssi_signo == SIGINT);
        kill(getpid(), SIGTERM);
        sigset_t just_term;
        sigemptyset(&just_term);
        sigaddset(&just_term, SIGTERM);
        int got = 0;
        CHECK(sigwait(&just_term, &got) == 0 && got == SIGTERM);
        CHECK(run_until(ctx, 1, 10) == 0 && d.results == 1);
    }
    close(sfd);
    pyro_proxy_free(p);
    pyro_proxy_free(named);
    pyro_ctx_free(ctx);
    return check_failures ? 1 : 0;
}

static void test_library_threads_leave_signals_to_the_host(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(signals_host());
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) fprintf(stderr, "  the host was killed by signal %d\n", WTERMSIG(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- fork */

static int child_callbacks;
static void child_cb(const pyro_value *v, void *ud) {
    (void)v;
    (void)ud;
    child_callbacks++;
}
static void child_err(const pyro_error *e, void *ud) {
    (void)e;
    (void)ud;
    child_callbacks++;
}
static void posted(void *ud) {
    (void)ud;
    child_callbacks++;
}

/* The parent's context, kept in globals: the child leaves it allocated on purpose. */
static pyro_ctx *parent_ctx;
static pyro_proxy *parent_proxy;

static int forked_child(pyro_call_id in_flight) {
    alarm(20); /* a hang ends the child with SIGALRM, which the parent reports */
    int bad = 0;
    double t0 = now_s();
    /* calls refused at once: nothing may be written on the parent's connections */
    if (pyro_call_async(parent_proxy, "echo", pyro_value_from_literal("(1,)", NULL), NULL, child_cb, child_err,
                        NULL) != 0)
        bad |= 1;
    pyro_error *e = NULL;
    pyro_proxy *np = pyro_proxy_new(parent_ctx, echo_uri, &e);
    if (np != NULL || e == NULL || pyro_error_get_kind(e) != PYRO_ERR_INVALID_ARGUMENT ||
        strstr(pyro_error_message(e), "fork") == NULL)
        bad |= 2;
    if (e) fprintf(stderr, "  child: %s\n", pyro_error_message(e));
    pyro_error_free(e);
    if (pyro_ctx_fd(parent_ctx) != -1) bad |= 4;
    if (pyro_ctx_post(parent_ctx, posted, NULL)) bad |= 8;
    if (pyro_call_cancel(parent_ctx, in_flight)) bad |= 16;
    /* dispatch runs, reads and clears nothing, also while the parent's reply comes in */
    for (int i = 0; i < 30; i++) {
        if (pyro_ctx_dispatch(parent_ctx, 0) != 0) bad |= 32;
        usleep(50 * 1000);
    }
    pyro_proxy_free(parent_proxy);
    pyro_ctx_free(parent_ctx); /* joins nothing, runs nothing */
    if (child_callbacks != 0) bad |= 64;
    if (now_s() - t0 > 5) bad |= 128;
    /* the child can make a context of its own */
    pyro_ctx *mine = pyro_ctx_new(NULL);
    pyro_proxy *p = pyro_proxy_new(mine, echo_uri, NULL);
    outcome o = {0};
    done_calls = 0;
    if (!p || pyro_call_async(p, "echo", pyro_value_from_literal("(2,)", NULL), NULL, on_result, on_error, &o) == 0)
        bad |= 256;
    if (run_until(mine, 1, 10) != 0 || o.results != 1) bad |= 512;
    pyro_proxy_free(p);
    pyro_ctx_free(mine);
    if (bad) fprintf(stderr, "  child failures: %#x\n", bad);
    return bad ? 1 : 0;
}

static void test_fork_child_gets_errors_not_hangs(void) {
    parent_ctx = test_ctx_new(NULL);
    parent_proxy = pyro_proxy_new(parent_ctx, echo_uri, NULL);
    outcome warm = {0}, slow = {0};
    done_calls = 0;
    CHECK(pyro_call_async(parent_proxy, "echo", pyro_value_from_literal("(0,)", NULL), NULL, on_result, on_error,
                          &warm) != 0);
    CHECK(run_until(parent_ctx, 1, 10) == 0 && warm.results == 1);
    /* in flight across the fork: its reply arrives while the child dispatches */
    done_calls = 0;
    pyro_call_id id = pyro_call_async(parent_proxy, "slow", pyro_value_from_literal("(0.5, 'late')", NULL), NULL,
                                      on_result, on_error, &slow);
    CHECK(id != 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* Ends by exec, as a forked child usually does: what the parent's threads held
         * in this copy of its memory is then simply gone, not a leak for valgrind. */
        execl("/bin/sh", "sh", "-c", forked_child(id) ? "exit 1" : "exit 0", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) fprintf(stderr, "  the child was killed by signal %d\n", WTERMSIG(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the parent's context is undisturbed: its reply was not stolen, new calls work */
    CHECK(run_until(parent_ctx, 1, 10) == 0);
    CHECK(slow.results == 1 && slow.errors == 0);
    outcome after = {0};
    done_calls = 0;
    CHECK(pyro_call_async(parent_proxy, "echo", pyro_value_from_literal("(3,)", NULL), NULL, on_result, on_error,
                          &after) != 0);
    CHECK(run_until(parent_ctx, 1, 10) == 0 && after.results == 1);
    pyro_proxy_free(parent_proxy);
    pyro_ctx_free(parent_ctx);
}

int main(void) {
    if (test_server_start(&server, NULL) != 0) return 1;
    test_server_uri(&server, "test.echo", echo_uri, sizeof echo_uri);
    snprintf(localhost_uri, sizeof localhost_uri, "PYRO:test.echo@localhost:%d", server.port);
    RUN(test_library_threads_leave_signals_to_the_host());
    RUN(test_fork_child_gets_errors_not_hangs());
    test_server_stop(&server);
    return check_report();
}
