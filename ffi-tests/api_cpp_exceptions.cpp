// The C++ API's exception contract against the real Pyro4 server: exceptions thrown by
// callbacks never cross the library (no "Rust cannot catch foreign exceptions" abort);
// Context::dispatch rethrows them after the round, oldest first, one per call; the other
// callbacks still run and each callback runs exactly once; teardown swallows (destructor)
// or reports (close()). Also: Value constructors for every integer type, bool, strings,
// containers, without ambiguity, and refused items throw instead of being dropped.
#include "cpp_test.hpp"

#include <complex>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

// ---- Value construction: compile-time checks --------------------------------------
static_assert(std::is_constructible_v<pyro::Value, int>);
static_assert(std::is_constructible_v<pyro::Value, long>);
static_assert(std::is_constructible_v<pyro::Value, long long>);
static_assert(std::is_constructible_v<pyro::Value, unsigned>);
static_assert(std::is_constructible_v<pyro::Value, unsigned long>);
static_assert(std::is_constructible_v<pyro::Value, unsigned long long>);
static_assert(std::is_constructible_v<pyro::Value, size_t>);
static_assert(std::is_constructible_v<pyro::Value, int64_t>);
static_assert(std::is_constructible_v<pyro::Value, uint64_t>);
static_assert(std::is_constructible_v<pyro::Value, short>);
static_assert(std::is_constructible_v<pyro::Value, int8_t>);
static_assert(std::is_constructible_v<pyro::Value, uint16_t>);
static_assert(std::is_constructible_v<pyro::Value, float>);
static_assert(std::is_constructible_v<pyro::Value, bool>);
static_assert(std::is_constructible_v<pyro::Value, const char *>);
static_assert(std::is_constructible_v<pyro::Value, std::string_view>);
// a pointer is not a bool, a character is not an int
static_assert(!std::is_constructible_v<pyro::Value, int *>);
static_assert(!std::is_constructible_v<pyro::Value, const void *>);
static_assert(!std::is_constructible_v<pyro::Value, char>);
static_assert(!std::is_copy_constructible_v<pyro::Value>);
static_assert(std::is_nothrow_move_constructible_v<pyro::Value>);
static_assert(!std::is_copy_constructible_v<pyro::Context> && std::is_nothrow_move_constructible_v<pyro::Context>);
static_assert(!std::is_copy_constructible_v<pyro::Proxy> && std::is_nothrow_move_constructible_v<pyro::Proxy>);
static_assert(!std::is_copy_constructible_v<pyro::Batch> && std::is_nothrow_move_constructible_v<pyro::Batch>);
static_assert(std::is_nothrow_destructible_v<pyro::Context> && std::is_nothrow_destructible_v<pyro::Proxy>);
// callbacks: any fitting callable, move-only ones too; not a non-callable
static_assert(std::is_constructible_v<pyro::OnResult, void (*)(pyro::ValueRef)>);
static_assert(std::is_constructible_v<pyro::OnResult, pyro::ResultFn>);
static_assert(!std::is_constructible_v<pyro::OnResult, int>);
static_assert(!std::is_constructible_v<pyro::OnResult, void (*)(int *)>);
static_assert(!std::is_copy_constructible_v<pyro::OnResult>);
// a view of a temporary Value would dangle: ref() is for named values only
template <typename T, typename = void> struct can_ref : std::false_type {};
template <typename T> struct can_ref<T, std::void_t<decltype(std::declval<T>().ref())>> : std::true_type {};
static_assert(can_ref<pyro::Value &>::value && can_ref<const pyro::Value &>::value && !can_ref<pyro::Value>::value);

static void check_repr(const pyro::Value &v, const char *want) {
    std::string r = v.repr();
    CHECK_STR(r.c_str(), want);
}

static int64_t as_int(const pyro::Value &v) { return v.ref().as_int(); }
static bool as_bool(const pyro::Value &v) { return v.ref().as_bool(); }
static double as_double(const pyro::Value &v) { return v.ref().as_double(); }
static size_t size(const pyro::Value &v) { return v.ref().size(); }

static void test_value_constructors() {
    CHECK(pyro::Value(42LL).kind() == PYRO_VALUE_INT && as_int(pyro::Value(42LL)) == 42);
    CHECK(pyro::Value(42u).kind() == PYRO_VALUE_INT && as_int(pyro::Value(42u)) == 42);
    CHECK(pyro::Value(size_t{7}).kind() == PYRO_VALUE_INT && as_int(pyro::Value(size_t{7})) == 7);
    CHECK(as_int(pyro::Value(42L)) == 42 && as_int(pyro::Value(42UL)) == 42);
    CHECK(as_int(pyro::Value(42ULL)) == 42 && as_int(pyro::Value(int64_t{-3})) == -3);
    CHECK(as_int(pyro::Value(short{-2})) == -2 && as_int(pyro::Value(uint16_t{65535})) == 65535);
    CHECK(as_int(pyro::Value(int8_t{-5})) == -5 && as_int(pyro::Value(uint8_t{200})) == 200);
    CHECK(as_int(pyro::Value(INT64_MIN)) == INT64_MIN);
    // above INT64_MAX: a Python int all the same
    pyro::Value big(UINT64_MAX);
    CHECK(big.kind() == PYRO_VALUE_BIGINT);
    std::string dec = big.ref().as_decimal();
    CHECK_STR(dec.c_str(), "18446744073709551615");
    CHECK(pyro::Value(uint64_t{1} << 63).kind() == PYRO_VALUE_BIGINT);
    CHECK(pyro::Value((uint64_t{1} << 63) - 1).kind() == PYRO_VALUE_INT);
    // bool is a bool, not an int; a string literal is a str, not a bool
    CHECK(pyro::Value(true).kind() == PYRO_VALUE_BOOL && as_bool(pyro::Value(true)));
    CHECK(pyro::Value(false).kind() == PYRO_VALUE_BOOL && !as_bool(pyro::Value(false)));
    check_repr(pyro::Value(true), "True");
    CHECK(pyro::Value("x").kind() == PYRO_VALUE_STR);
    check_repr(pyro::Value("x"), "'x'");
    CHECK(pyro::Value(std::string("s")).kind() == PYRO_VALUE_STR);
    CHECK(size(pyro::Value(std::string_view("a\0b", 3))) == 3);
    CHECK(pyro::Value(2.5f).kind() == PYRO_VALUE_FLOAT && as_double(pyro::Value(2.5f)) == 2.5);
    CHECK(pyro::Value(2.5).kind() == PYRO_VALUE_FLOAT);
    CHECK(pyro::Value(nullptr).kind() == PYRO_VALUE_NONE && pyro::Value().kind() == PYRO_VALUE_NONE);
    check_repr(pyro::Value(std::complex<double>(1, -2)), "(1-2j)");
    check_repr(pyro::Value::bytes("ab\0c", 4), "b'ab\\x00c'");
    check_repr(pyro::Value::bytes(std::vector<uint8_t>{1, 255}), "b'\\x01\\xff'");
    check_repr(pyro::Value::bigint("-123456789012345678901234567890"), "-123456789012345678901234567890");
    // containers
    check_repr(pyro::Value(std::vector<bool>{true, false}), "[True, False]");
    check_repr(pyro::Value(std::vector<unsigned>{1u, 2u}), "[1, 2]");
    check_repr(pyro::Value(std::set<int>{3, 1}), "{1, 3}");
    check_repr(pyro::Value(std::map<int, std::string>{{2, "b"}, {1, "a"}}), "{1: 'a', 2: 'b'}");
    check_repr(pyro::Value(std::unordered_map<std::string, int>{{"k", 1}}), "{'k': 1}");
    check_repr(pyro::Value(std::make_pair(1, "a")), "(1, 'a')");
    check_repr(pyro::Value(std::make_tuple(1u, 2.5, true, std::string("s"), nullptr)), "(1, 2.5, True, 's', None)");
    check_repr(pyro::Value(std::optional<int>()), "None");
    check_repr(pyro::Value(std::optional<int>(5)), "5");
    check_repr(pyro::Value(std::array<long long, 2>{1, 2}), "[1, 2]");
    std::vector<pyro::Value> vs;
    vs.emplace_back(1);
    vs.emplace_back("two");
    check_repr(pyro::Value(vs), "[1, 'two']");  // copied
    check_repr(pyro::Value(std::move(vs)), "[1, 'two']");  // moved
    pyro::Value inner = pyro::Value::list(1, 2);
    check_repr(pyro::Value::tuple(inner, pyro::Value::set(3), pyro::Value::dict().insert("k", 1u)),
               "([1, 2], {3}, {'k': 1})");
    check_repr(inner, "[1, 2]");  // an lvalue item is copied, not taken
    check_repr(pyro::Value(inner.ref()), "[1, 2]");
    check_repr(pyro::Value::list().append(1).append("x"), "[1, 'x']");
    // invalid UTF-8 and NULL strings throw
    CHECK(throws_kind([] { pyro::Value v("\xff"); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([] { pyro::Value v(static_cast<const char *>(nullptr)); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([] { pyro::Value::bigint("12x"); }, PYRO_ERR_INVALID_ARGUMENT));
}

static void test_refused_items_throw() {
    // a chain of lists 999 deep may go into a container, which is then 1000 deep
    pyro::Value v = pyro::Value::list();
    for (int d = 1; d < PYRO_VALUE_MAX_DEPTH - 1; d++) {
        pyro::Value outer = pyro::Value::list();
        outer.append(std::move(v));
        v = std::move(outer);
    }
    CHECK(v.ref().depth() == PYRO_VALUE_MAX_DEPTH - 1);
    pyro::Value holder = pyro::Value::list();
    holder.append(std::move(v));
    CHECK(holder.ref().depth() == PYRO_VALUE_MAX_DEPTH);
    // ... but nothing that deep goes into anything: append, insert (key and value),
    // the variadic factories and the container constructors all throw
    pyro::Value l = pyro::Value::list(0);
    CHECK(throws_kind([&] { l.append(holder.clone()); }, PYRO_ERR_INVALID_ARGUMENT));
    check_repr(l, "[0]");  // unchanged
    pyro::Value d = pyro::Value::dict();
    CHECK(throws_kind([&] { d.insert("k", holder.clone()); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(d.ref().size() == 0);
    CHECK(throws_kind([&] { pyro::Value::tuple(1, holder.clone()); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { pyro::Value::list(holder); }, PYRO_ERR_INVALID_ARGUMENT));
    std::vector<pyro::Value> deep;
    deep.push_back(holder.clone());
    CHECK(throws_kind([&] { pyro::Value x(std::move(deep)); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { pyro::Value::object("m.C", holder.clone()); }, PYRO_ERR_INVALID_ARGUMENT));
    // unhashable set elements and dict keys, appending to a non-container
    pyro::Value s = pyro::Value::set(1);
    CHECK(throws_kind([&] { s.append(pyro::Value::list()); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { d.insert(pyro::Value::list(), 1); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { pyro::Value(5).append(1); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { pyro::Value(5).insert(1, 2); }, PYRO_ERR_INVALID_ARGUMENT));
    check_repr(s, "{1}");
}

struct NotAStdException {
    int code;
};

// Posted functions all run in the next round: the first exception comes out of that
// dispatch, the other posted functions have run, and the second exception comes out of
// the next dispatch (the fd stays readable meanwhile); then nothing more.
static void test_post_round_order() {
    pyro::Context ctx = test_ctx_new_cpp();
    std::vector<int> ran;
    ctx.post([&] { ran.push_back(1); throw std::runtime_error("first"); });
    ctx.post([&] { ran.push_back(2); });
    ctx.post([&] { ran.push_back(3); throw NotAStdException{3}; });
    ctx.post([&] { ran.push_back(4); });
    std::string first;
    try {
        ctx.dispatch();
    } catch (const std::runtime_error &e) {
        first = e.what();
    }
    CHECK_STR(first.c_str(), "first");
    CHECK((ran == std::vector<int>{1, 2, 3, 4}));
    CHECK(ctx.pending_exceptions() == 1);
    CHECK(fd_readable(ctx));  // an event loop comes back for the rest
    int code = 0;
    try {
        ctx.dispatch();
    } catch (const NotAStdException &e) {
        code = e.code;
    }
    CHECK(code == 3);
    CHECK(ctx.pending_exceptions() == 0);
    bool threw = false;
    try {
        ctx.dispatch();
    } catch (...) {
        threw = true;
    }
    CHECK(!threw);
    CHECK(ran.size() == 4);  // exactly once
}

// Call callbacks: a throwing result callback and a throwing error callback; the other
// calls complete; each callback runs once.
static void test_call_callbacks(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    int results[3] = {0, 0, 0}, errors = 0;
    for (int i = 0; i < 3; i++)
        p.call("echo", pyro::Value::tuple(i), [&, i](pyro::ValueRef r) {
            results[i]++;
            CHECK(r.as_int() == i);
            if (i == 1) throw std::runtime_error("result 1 threw");
        });
    p.call("boom", pyro::Value::tuple(), [](pyro::ValueRef) {}, [&](const pyro::Error &e) {
        errors++;
        throw e;  // a pyro::Error thrown from an error callback
    });
    std::vector<std::string> caught;
    // (with replies read in dispatch all four may run in one round: the second
    // exception then waits in the queue for the next dispatch)
    CHECK(run_collecting(
        ctx, [&] { return results[0] + results[1] + results[2] + errors == 4 && ctx.pending_exceptions() == 0; },
        caught));
    CHECK(results[0] == 1 && results[1] == 1 && results[2] == 1 && errors == 1);
    CHECK(caught.size() == 2);
    CHECK(caught.size() == 2 && caught[0] == "result 1 threw");
    CHECK(caught.size() == 2 && caught[1] == "integer division or modulo by zero");
    CHECK(ctx.pending_exceptions() == 0);
}

// A batch's calls complete in one round: the middle one throws, the others run.
static void test_batch_round(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    std::vector<int> ran;
    pyro::Batch b = p.batch();
    b.add("echo", pyro::Value::tuple(1), [&](pyro::ValueRef) { ran.push_back(1); });
    b.add("echo", pyro::Value::tuple(2), [&](pyro::ValueRef) {
        ran.push_back(2);
        throw std::runtime_error("batch 2 threw");
    });
    b.add("echo", pyro::Value::tuple(3), [&](pyro::ValueRef) { ran.push_back(3); });
    b.send();
    std::vector<std::string> caught;
    CHECK(run_collecting(ctx, [&] { return ran.size() == 3; }, caught));
    CHECK((ran == std::vector<int>{1, 2, 3}));
    CHECK(caught.size() == 1 && caught[0] == "batch 2 threw");
}

// Stream: an item callback that throws (the stream goes on), then a throwing end.
static void test_stream_callbacks(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    std::vector<int64_t> items;
    int ends = 0, errors = 0;
    p.stream(
        "count", pyro::Value::tuple(5),
        [&](pyro::ValueRef v) {
            items.push_back(v.as_int());
            if (v.as_int() == 2) throw std::runtime_error("item 2 threw");
        },
        [&] {
            ends++;
            throw std::runtime_error("end threw");
        },
        [&](const pyro::Error &) { errors++; });
    std::vector<std::string> caught;
    CHECK(run_collecting(ctx, [&] { return ends + errors > 0 && ctx.pending_exceptions() == 0; }, caught));
    CHECK((items == std::vector<int64_t>{0, 1, 2, 3, 4}));
    CHECK(ends == 1 && errors == 0);
    CHECK((caught == std::vector<std::string>{"item 2 threw", "end threw"}));

    // a stream's error callback throwing, after a cancel from the item callback
    pyro_call_id id = 0;
    int cancelled = 0;
    items.clear();
    id = p.stream(
        "count", pyro::Value::tuple(100), [&](pyro::ValueRef v) {
            items.push_back(v.as_int());
            if (items.size() == 1) ctx.cancel(id);
        },
        [&] { ends++; },
        [&](const pyro::Error &e) {
            cancelled += e.kind() == PYRO_ERR_CANCELLED;
            throw std::runtime_error("stream error threw");
        });
    caught.clear();
    CHECK(run_collecting(ctx, [&] { return cancelled > 0 && ctx.pending_exceptions() == 0; }, caught));
    CHECK(cancelled == 1 && ends == 1);
    CHECK((caught == std::vector<std::string>{"stream error threw"}));
}

// State and log callbacks.
static void test_state_and_log_callbacks(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    std::vector<pyro_conn_state> states;
    p.set_state_callback([&](pyro_conn_state s) {
        states.push_back(s);
        if (s == PYRO_STATE_CONNECTED) throw std::logic_error("state threw");
    });
    int logs = 0;
    ctx.set_log_callback(PYRO_LOG_DEBUG, [&](pyro_log_level, std::string_view msg) {
        CHECK(!msg.empty());
        if (logs++ == 0) throw std::runtime_error("log threw");
    });
    int done = 0;
    p.call("echo", pyro::Value::tuple("x"), [&](pyro::ValueRef) { done++; });
    std::vector<std::string> caught;
    bool state_seen = false;
    CHECK(run_collecting(ctx, [&] {
        for (auto &c : caught) state_seen |= c == "state threw";
        return done == 1 && state_seen && ctx.pending_exceptions() == 0;
    }, caught));
    CHECK(state_seen);
    bool log_seen = false;
    for (auto &c : caught) log_seen |= c == "log threw";
    CHECK(log_seen);
    CHECK(caught.size() == 2);
    CHECK(!states.empty() && logs >= 1);
    // replacing and removing the callbacks from inside themselves is safe
    pyro::Proxy p2(ctx, uri);
    int replaced = 0;
    p2.set_state_callback([&](pyro_conn_state) {
        replaced++;
        p2.set_state_callback({});
    });
    ctx.set_log_callback(PYRO_LOG_DEBUG, [&](pyro_log_level, std::string_view) {
        ctx.set_log_callback(PYRO_LOG_ERROR, {});
    });
    done = 0;
    p2.call("echo", pyro::Value::tuple("y"), [&](pyro::ValueRef) { done++; });
    CHECK(run_until(ctx, [&] { return done == 1; }));
    CHECK(replaced >= 1);
}

// A callback that waits for a call it started dispatches inside the round; the inner
// dispatch leaves the exception to the outermost one.
static void test_nested_dispatch(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    int outer = 0, inner = 0;
    bool inner_dispatch_threw = false;
    p.call("echo", pyro::Value::tuple(1), [&](pyro::ValueRef) {
        outer++;
        p.call("echo", pyro::Value::tuple(2), [&](pyro::ValueRef) {
            inner++;
            throw std::runtime_error("inner threw");
        });
        try {
            CHECK(run_until(ctx, [&] { return inner == 1; }));
        } catch (...) {
            inner_dispatch_threw = true;
        }
    });
    std::vector<std::string> caught;
    CHECK(run_collecting(ctx, [&] { return outer == 1 && inner == 1 && !caught.empty(); }, caught));
    CHECK(!inner_dispatch_threw);
    CHECK((caught == std::vector<std::string>{"inner threw"}));
}

// Exceptions stay with their own context.
static void test_per_context(const char *uri) {
    pyro::Context a = test_ctx_new_cpp(), b = test_ctx_new_cpp();
    pyro::Proxy pa(a, uri), pb(b, uri);
    int done_a = 0, done_b = 0;
    pa.call("echo", pyro::Value::tuple(1), [&](pyro::ValueRef) {
        done_a++;
        throw std::runtime_error("a threw");
    });
    pb.call("echo", pyro::Value::tuple(2), [&](pyro::ValueRef) { done_b++; });
    CHECK(run_until(b, [&] { return done_b == 1; }));  // b never throws a's exception
    std::vector<std::string> caught;
    CHECK(run_collecting(a, [&] { return done_a == 1 && !caught.empty(); }, caught));
    CHECK((caught == std::vector<std::string>{"a threw"}));
    CHECK(b.pending_exceptions() == 0);
}

// Teardown: the destructor runs outstanding callbacks and swallows what they throw;
// close() reports it; closing from inside a callback throws (and is reported).
static void test_teardown(const char *uri) {
    int cancelled = 0;
    {
        pyro::Context ctx = test_ctx_new_cpp();
        pyro::Proxy p(ctx, uri);
        p.call("slow", pyro::Value::tuple(5), [](pyro::ValueRef) {}, [&](const pyro::Error &e) {
            cancelled += e.kind() == PYRO_ERR_CANCELLED;
            throw std::runtime_error("teardown threw");
        });
        ctx.post([] { throw std::runtime_error("posted, never dispatched"); });
    }  // no abort, no exception out of ~Context / ~Proxy
    CHECK(cancelled == 1);

    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    p.call("slow", pyro::Value::tuple(5), [](pyro::ValueRef) {}, [&](const pyro::Error &e) {
        cancelled += e.kind() == PYRO_ERR_CANCELLED;
        throw std::runtime_error("close threw 1");
    });
    p.call("slow", pyro::Value::tuple(5), [](pyro::ValueRef) {}, [&](const pyro::Error &) {
        cancelled++;
        throw std::runtime_error("close threw 2");
    });
    std::string got;
    try {
        ctx.close();
    } catch (const std::exception &e) {
        got = e.what();
    }
    CHECK_STR(got.c_str(), "close threw 1");
    CHECK(cancelled == 3);
    CHECK(!ctx.is_open() && ctx.fd() == -1);
    got.clear();
    try {
        ctx.dispatch();  // the rest, one per call
    } catch (const std::exception &e) {
        got = e.what();
    }
    CHECK_STR(got.c_str(), "close threw 2");
    CHECK(ctx.dispatch() == 0);
    CHECK(throws_kind([&] { p.call("echo", pyro::Value::tuple(1), [](pyro::ValueRef) {}); },
                      PYRO_ERR_INVALID_ARGUMENT));  // refused: the context is closed
    CHECK(!ctx.post([] {}));

    pyro::Context ctx2 = test_ctx_new_cpp();
    bool close_refused = false;
    ctx2.post([&] { ctx2.close(); });
    try {
        ctx2.dispatch();
    } catch (const pyro::Error &e) {
        close_refused = e.kind() == PYRO_ERR_INVALID_ARGUMENT;
    }
    CHECK(close_refused && ctx2.is_open());
}

// A proxy freed by its own callback, and callbacks holding move-only state.
static void test_proxy_freed_in_callback(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp();
    auto p = std::make_unique<pyro::Proxy>(ctx, uri);
    int done = 0;
    auto owned = std::make_unique<int>(7);
    p->call("echo", pyro::Value::tuple(1), [&, o = std::shared_ptr<int>(std::move(owned))](pyro::ValueRef) {
        CHECK(*o == 7);
        p.reset();
        done++;
        throw std::runtime_error("after freeing");
    });
    std::vector<std::string> caught;
    CHECK(run_collecting(ctx, [&] { return done == 1 && !caught.empty(); }, caught));
    CHECK(!p);
}

// A Context destroyed by one of its own callbacks is freed when that dispatch round is
// over: the outstanding calls' callbacks run then, nothing leaks, nothing dangles.
static void test_context_destroyed_in_callback(const char *uri) {
    auto ctx = std::make_unique<pyro::Context>(test_ctx_new_cpp());
    auto p = std::make_unique<pyro::Proxy>(*ctx, uri);
    int cancelled = 0, destroyed = 0;
    p->call("slow", pyro::Value::tuple(5), [](pyro::ValueRef) {}, [&](const pyro::Error &e) {
        cancelled += e.kind() == PYRO_ERR_CANCELLED;
        throw std::runtime_error("discarded with the context");
    });
    // destroyed by the callback itself, and by a capture's destructor after it ran
    ctx->post([&] {
        ctx.reset();
        destroyed++;
    });
    pyro::Context *raw = ctx.get();
    bool threw = false;
    try {
        raw->dispatch();  // *raw is destroyed during this call
    } catch (...) {
        threw = true;
    }
    CHECK(!ctx && destroyed == 1 && cancelled == 1 && !threw);
    p.reset();  // a proxy outliving its context

    auto ctx2 = std::make_unique<pyro::Context>(test_ctx_new_cpp());
    std::shared_ptr<void> on_destroy(nullptr, [&](void *) { ctx2.reset(); });  // runs when the capture goes
    ctx2->post([h = std::move(on_destroy)] {});
    raw = ctx2.get();
    raw->dispatch();
    CHECK(!ctx2);
}

int main() {
    RUN(test_value_constructors());
    RUN(test_refused_items_throw());
    test_server s;
    if (test_server_start(&s, nullptr) != 0) return 1;
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    RUN(test_post_round_order());
    RUN(test_call_callbacks(uri));
    RUN(test_batch_round(uri));
    RUN(test_stream_callbacks(uri));
    RUN(test_state_and_log_callbacks(uri));
    RUN(test_nested_dispatch(uri));
    RUN(test_per_context(uri));
    RUN(test_teardown(uri));
    RUN(test_proxy_freed_in_callback(uri));
    RUN(test_context_destroyed_in_callback(uri));
    test_server_stop(&s);
    return check_report();
}
