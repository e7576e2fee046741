// Every wrapper of the C++ API (include/pyro_async.hpp) used at least once, against real
// Pyro4 4.82 servers (plain, HMAC, TLS) and a real Pyro4 name server: the C++ side of
// each pyro_* function a user calls.
#include "cpp_test.hpp"

#include <array>
#include <chrono>
#include <complex>
#include <future>
#include <map>

using namespace std::chrono_literals;

namespace {

// One call's outcome.
struct Got {
    int results = 0, errors = 0;
    std::string repr, message, corr, remote_type, traceback, remote_args;
    pyro_error_kind kind = pyro_error_kind(0);
    pyro::ResultFn ok() {
        return [this](pyro::ValueRef r) {
            repr = r.repr();
            if (auto c = pyro::response_annotation("CORR")) corr = *c;
            results++;
        };
    }
    pyro::ErrorFn err() {
        return [this](const pyro::Error &e) {
            kind = e.kind();
            message = e.what();
            remote_type = e.remote_type();
            traceback = e.traceback();
            remote_args = e.remote_args().repr();
            errors++;
        };
    }
    bool done() const { return results + errors > 0; }
};

bool wait(pyro::Context &ctx, const Got &g, double timeout_s = 20) {
    return run_until(ctx, [&] { return g.done(); }, timeout_s);
}

int ns_port, bc_port;

pyro::Options ns_options() {
    return pyro::Options().ns_host("127.0.0.1").ns_port(static_cast<uint16_t>(ns_port))
        .ns_bcport(static_cast<uint16_t>(bc_port)).broadcast_addrs("");
}

}  // namespace

static void test_version_and_options() {
    std::string want = std::to_string(PYRO_ASYNC_VERSION_MAJOR) + "." + std::to_string(PYRO_ASYNC_VERSION_MINOR) +
                       "." + std::to_string(PYRO_ASYNC_VERSION_PATCH);
    CHECK(pyro::version() == want);
    pyro::Options o = ns_options();
    o.serializer(PYRO_SERIALIZER_SERPENT)
        .max_message_size(1 << 20)
        .connect_timeout(5s)
        .worker_threads(2)
        .patience(100ms, 0)
        .max_retries(0)
        .call_timeout(0ms);
    pyro_ctx_options c = o.c_options();
    CHECK(c.max_message_size == (1 << 20) && c.connect_timeout_ms == 5000 && c.worker_threads == 2);
    CHECK(c.ns_host && std::string(c.ns_host) == "127.0.0.1" && c.broadcast_addrs && !*c.broadcast_addrs);
    pyro::Context ctx(o);
    CHECK(ctx.is_open() && ctx.get() && ctx.fd() >= 0);
    pyro::Context raw(c);
    CHECK(raw.is_open());
    CHECK(throws_kind([] { pyro::Context bad(pyro::Options().worker_threads(99)); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([] { pyro::Options().call_timeout(-1ms); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(pyro::Options().call_timeout(500us).c_options().call_timeout_ms == 1);  // rounded up, not "none"
    CHECK(pyro::Options().call_timeout(0ms).c_options().call_timeout_ms == 0);
    pyro::Context moved = std::move(ctx);
    CHECK(moved.is_open() && !ctx.is_open() && ctx.fd() == -1 && ctx.dispatch() == 0);
    CHECK(throws_kind([&] { pyro::Proxy p(ctx, "PYRO:x@127.0.0.1:1"); }, PYRO_ERR_INVALID_ARGUMENT));
}

static void test_values_and_refs() {
    pyro::Value v = pyro::Value::literal("{'s': 'h\\x00i', 'b': b'\\x00\\x01', 'c': (1+2j), 'n': 1000000000000000000000000000000, "
                                         "'l': [1, [2, 3]], 'set': {7}, 1: 'int key', 'f': 1.5, 't': True}");
    pyro::ValueRef r = v.ref();
    CHECK(r.kind() == PYRO_VALUE_DICT && r.size() == 9 && r.depth() == 3);
    CHECK(r["s"].as_string_view() == std::string_view("h\0i", 3) && r["s"].as_string().size() == 3);
    CHECK((r["b"].as_bytes() == std::vector<uint8_t>{0, 1}));
    CHECK(r["c"].as_complex() == std::complex<double>(1, 2));
    CHECK(r["n"].kind() == PYRO_VALUE_BIGINT && r["n"].as_decimal() == "1" + std::string(30, '0'));
    CHECK(r["f"].as_double() == 1.5 && r["t"].as_bool() && r["t"].as_int() == 1);
    CHECK(r["l"][1][0].as_int() == 2);
    CHECK(r.find("missing") == std::nullopt && r.find("f").has_value());
    pyro::Value one(1.0);  // Python equality: 1.0 == 1
    CHECK(r.find(one.ref()) && r.find(one.ref())->as_string() == "int key");
    CHECK(throws_kind([&] { r["s"].as_int(); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { r["s"].as_bytes(); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { r["s"].as_complex(); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { r["s"].as_decimal(); }, PYRO_ERR_INVALID_ARGUMENT));
    bool oor = false;
    try {
        r["l"][5];
    } catch (const std::out_of_range &) {
        oor = true;
    }
    CHECK(oor);
    // iteration: sequence items, dict keys, dict items
    int64_t sum = 0;
    for (pyro::ValueRef item : r["l"][1]) sum += item.as_int();
    CHECK(sum == 5);
    size_t keys = 0;
    for (pyro::ValueRef k : r) keys += k.kind() == PYRO_VALUE_STR || k.kind() == PYRO_VALUE_INT;
    CHECK(keys == 9);
    std::string joined;
    pyro::Value ab = pyro::Value::literal("{'a': 1, 'b': 2}");
    for (auto [k, val] : ab.ref().items())
        joined += k.as_string() + "=" + val.repr() + ";";
    CHECK(joined == "a=1;b=2;");
    pyro::Value five(5);
    for (pyro::ValueRef x : five.ref()) (void)x, joined += "!";  // scalars: nothing
    CHECK(joined == "a=1;b=2;");
    pyro::Value s12 = pyro::Value::set(1, 2);
    CHECK(s12.ref().as_int_vector().size() == 2);
    pyro::Value x1 = pyro::Value::literal("{'x': 1}");
    auto m = x1.ref().as_map();
    CHECK(m.size() == 1 && m.at("x").as_int() == 1);
    // clone, complex, object
    pyro::Value c = r["l"].clone();
    CHECK(c.repr() == "[1, [2, 3]]" && c.get() != r["l"].get());
    CHECK(pyro::Value::complex(0, 1).repr() == "1j" && pyro::Value::complex(0, 1).kind() == PYRO_VALUE_COMPLEX);
    pyro::Value obj = pyro::Value::object("mymod.Thing", pyro::Value::dict().insert("a", 1));
    CHECK(obj.kind() == PYRO_VALUE_OBJECT && obj.ref().object_class() == "mymod.Thing");
    CHECK(obj.ref().object_state()["a"].as_int() == 1);
    pyro::Value empty_obj = pyro::Value::object("mymod.Empty");
    CHECK(empty_obj.ref().object_state().size() == 0);
    CHECK(throws_kind([&] { five.ref().object_class(); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { five.ref().object_state(); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(pyro::Value::none().kind() == PYRO_VALUE_NONE && pyro::ValueRef().is_none());
    pyro::Value released = pyro::Value::list(1);
    pyro_value *raw = released.release();
    pyro::Value adopted = pyro::Value::adopt(raw);
    CHECK(adopted.repr() == "[1]" && released.get() == nullptr);
}

static void test_calls_and_proxy_options(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    CHECK(p.get() != nullptr);
    CHECK(!p.handshake_reply() && !p.metadata());  // not connected yet
    p.set_handshake(pyro::Value::literal("{'token': 42}"));
    std::vector<pyro_conn_state> states;
    p.set_state_callback([&](pyro_conn_state s) { states.push_back(s); });
    std::vector<std::string> logs;
    ctx.set_log_callback(PYRO_LOG_DEBUG, [&](pyro_log_level, std::string_view m) { logs.emplace_back(m); });
    p.bind();
    Got ping;
    p.ping(ping.ok(), ping.err());
    CHECK(wait(ctx, ping) && ping.repr == "None");
    CHECK(!states.empty() && states.back() == PYRO_STATE_CONNECTED);
    CHECK(run_until(ctx, [&] { return !logs.empty(); }));
    ctx.set_log_callback(PYRO_LOG_ERROR, {});
    auto hs = p.handshake_reply();
    CHECK(hs && hs->repr() == "{'you_said': {'token': 42}}");
    auto meta = p.metadata();
    CHECK(meta && meta->ref()["oneway"].size() == 1 && meta->ref()["methods"].size() >= 5);

    // call with kwargs; attributes
    Got va;
    p.call("varargs", pyro::Value::tuple("a"), va.ok(), va.err(), pyro::Value::dict().insert("k", 1));
    Got ga;
    p.get_attr("value", ga.ok(), ga.err());
    Got sa;
    p.set_attr("value", 7, sa.ok(), sa.err());
    Got ga2;
    p.get_attr("value", ga2.ok(), ga2.err());
    CHECK(run_until(ctx, [&] { return va.done() && ga.done() && sa.done() && ga2.done(); }));
    CHECK(va.repr == "(('a',), {'k': 1})");
    CHECK(ga.repr == "42" && sa.repr == "None" && ga2.repr == "7");

    // move-only callbacks (a promise), empty ones (the outcome is dropped)
    std::promise<int64_t> promise;
    std::future<int64_t> future = promise.get_future();
    p.call("echo", pyro::Value::tuple(5),
           [pr = std::move(promise)](pyro::ValueRef r) mutable { pr.set_value(r.as_int()); });
    pyro::ResultFn empty_fn;
    int (*no_fn)(pyro::ValueRef) = nullptr;
    p.call("echo", pyro::Value::tuple(6), empty_fn, nullptr);
    p.call("boom", pyro::Value::tuple(), no_fn, pyro::ErrorFn());
    p.call("echo", pyro::Value::tuple(7), {});
    Got last;
    p.call("echo", pyro::Value::tuple(8), last.ok(), last.err());
    CHECK(wait(ctx, last) && last.repr == "8" && ctx.pending_exceptions() == 0);
    CHECK(future.wait_for(0s) == std::future_status::ready && future.get() == 5);

    // oneway: written, not waited for; the server ran it
    Got ow;
    p.oneway("oneway_inc", pyro::Value::tuple(), ow.ok(), ow.err());
    CHECK(wait(ctx, ow) && ow.repr == "None");
    p.oneway("oneway_inc", pyro::Value::list());  // no callbacks at all
    Got count;
    for (int i = 0; i < 100 && count.repr != "2"; i++) {
        count = Got();
        p.call("get_oneway_count", pyro::Value::tuple(), count.ok(), count.err());
        CHECK(wait(ctx, count));
    }
    CHECK(count.repr == "2");

    // remote errors with class, traceback and args
    Got boom, custom;
    p.call("boom", pyro::Value::tuple(), boom.ok(), boom.err());
    p.call("custom_error", pyro::Value::tuple("detail"), custom.ok(), custom.err());
    CHECK(run_until(ctx, [&] { return boom.done() && custom.done(); }));
    CHECK(boom.kind == PYRO_ERR_REMOTE && boom.remote_type == "builtins.ZeroDivisionError");
    CHECK(boom.traceback.find("Traceback") != std::string::npos && boom.remote_args.find("division") != std::string::npos);
    CHECK(custom.remote_type == "__main__.CustomError" && custom.remote_args == "('detail', 42)");

    // correlation id and annotations, response annotations inside the result callback
    std::array<uint8_t, 16> corr;
    for (int i = 0; i < 16; i++) corr[i] = static_cast<uint8_t>(0xA0 + i);
    p.set_correlation_id(corr);
    p.set_annotation("XTRA", "abc");
    CHECK(throws_kind([&] { p.set_annotation("TOOLONG", "abc"); }, PYRO_ERR_INVALID_ARGUMENT));
    Got annotated;
    p.call("echo", pyro::Value::tuple(1), annotated.ok(), annotated.err());
    CHECK(wait(ctx, annotated) && annotated.repr == "1");
    CHECK(annotated.corr == std::string(reinterpret_cast<const char *>(corr.data()), 16));
    CHECK(!pyro::response_annotation("CORR"));  // outside a callback
    p.remove_annotation("XTRA");
    p.clear_correlation_id();
    Got fresh;
    p.call("echo", pyro::Value::tuple(2), fresh.ok(), fresh.err());
    CHECK(wait(ctx, fresh) && fresh.corr.size() == 16 && fresh.corr != annotated.corr);

    // compression both ways
    p.set_compression(true);
    Got big;
    p.call("echo", pyro::Value::tuple(std::string(20000, 'z')), big.ok(), big.err());
    CHECK(wait(ctx, big) && big.repr.size() == 20002);
    p.set_compression(false);

    // serializer: json turns tuples into lists
    pyro::Proxy js(ctx, uri);
    js.set_serializer(PYRO_SERIALIZER_JSON);
    Got jr;
    js.call("echo", pyro::Value::tuple(pyro::Value::tuple(1, 2)), jr.ok(), jr.err());
    CHECK(wait(ctx, jr) && jr.repr == "[1, 2]");
    CHECK(throws_kind([&] { js.set_serializer(static_cast<pyro_serializer>(99)); }, PYRO_ERR_INVALID_ARGUMENT));

    // deadline
    p.set_timeout(200ms);
    Got slow;
    p.call("slow", pyro::Value::tuple(2), slow.ok(), slow.err());
    CHECK(wait(ctx, slow) && slow.kind == PYRO_ERR_TIMEOUT);
    p.set_timeout(0ms);
    p.set_max_retries(1);
    Got after;
    p.call("echo", pyro::Value::tuple("after"), after.ok(), after.err());
    CHECK(wait(ctx, after) && after.repr == "'after'");
    p.release();

    // cancel, pending, post, busy poll
    Got c;
    pyro_call_id id = p.call("slow", pyro::Value::tuple(5), c.ok(), c.err());
    CHECK(ctx.cancel(id));
    CHECK(wait(ctx, c) && c.kind == PYRO_ERR_CANCELLED);
    CHECK(!ctx.cancel(id));
    CHECK(ctx.pending() == 0);
    bool posted = false;
    CHECK(ctx.post([&] { posted = true; }));
    CHECK(run_until(ctx, [&] { return posted; }));
    ctx.set_busy_poll(100us);
    ctx.set_busy_poll(0us);
    // exceptions seen without Context::dispatch (a loop calling pyro_ctx_dispatch itself)
    ctx.post([] { throw std::runtime_error("seen by take_exception"); });
    CHECK(pyro_ctx_dispatch(ctx.get(), 0) >= 1);  // (state changes may run too)
    CHECK(ctx.pending_exceptions() == 1);
    std::exception_ptr e = ctx.take_exception();
    std::string what;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception &x) {
        what = x.what();
    }
    CHECK(what == "seen by take_exception" && !ctx.take_exception());
    // refused calls throw
    CHECK(throws_kind([&] { p.call("echo", pyro::Value(1), c.ok()); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { p.call("echo", pyro::Value::tuple(), c.ok(), {}, pyro::Value(1)); },
                      PYRO_ERR_INVALID_ARGUMENT));
    pyro::Proxy gone = std::move(js);
    CHECK(throws_kind([&] { js.call("echo", pyro::Value::tuple(), c.ok()); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { js.set_compression(true); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([&] { js.batch(); }, PYRO_ERR_INVALID_ARGUMENT));
}

static void test_streams_and_batches(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    std::vector<int64_t> items;
    int ends = 0;
    Got serr;
    p.stream("count", pyro::Value::tuple(3), [&](pyro::ValueRef v) { items.push_back(v.as_int()); }, [&] { ends++; },
             serr.err());
    CHECK(run_until(ctx, [&] { return ends + serr.errors > 0; }));
    CHECK((items == std::vector<int64_t>{0, 1, 2}) && ends == 1);
    // cancel from outside, after the first item
    items.clear();
    Got cerr;
    pyro_call_id sid = p.stream(
        "count", pyro::Value::tuple(100000), [&](pyro::ValueRef v) { items.push_back(v.as_int()); }, [&] { ends++; },
        cerr.err());
    CHECK(run_until(ctx, [&] { return !items.empty(); }));
    CHECK(ctx.cancel(sid));
    CHECK(wait(ctx, cerr) && cerr.kind == PYRO_ERR_CANCELLED && ends == 1 && items.size() < 100000);
    // a plain method is not a stream
    Got notstream;
    p.stream("echo", pyro::Value::tuple(1), [](pyro::ValueRef) {}, [] {}, notstream.err());
    CHECK(wait(ctx, notstream) && notstream.kind == PYRO_ERR_PROTOCOL);

    // batch: results in order; the first remote failure stops it
    Got b1, b2, b3, b4;
    pyro::Batch b = p.batch();
    b.add("echo", pyro::Value::tuple(1), b1.ok(), b1.err())
        .add("varargs", pyro::Value::list(), b2.ok(), b2.err(), pyro::Value::dict().insert("k", "v"))
        .add("boom", pyro::Value::tuple(), b3.ok(), b3.err())
        .add("echo", pyro::Value::tuple(4), b4.ok(), b4.err());
    CHECK(b.size() == 4);
    CHECK(b.send() != 0);
    CHECK(throws_kind([&] { b.send(); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(run_until(ctx, [&] { return b4.done(); }));
    CHECK(b1.repr == "1" && b2.repr == "((), {'k': 'v'})");
    CHECK(b3.kind == PYRO_ERR_REMOTE && b4.kind == PYRO_ERR_CANCELLED);
    // oneway batch
    Got o1, o2;
    pyro::Batch ob = p.batch();
    ob.add("oneway_inc", pyro::Value::tuple(), o1.ok(), o1.err()).add("oneway_inc", pyro::Value::tuple(), o2.ok());
    CHECK(ob.send(true) != 0);
    CHECK(run_until(ctx, [&] { return o1.done() && o2.done(); }) && o1.repr == "None" && o2.repr == "None");
    // empty, refused, unsent and moved batches
    pyro::Batch empty = p.batch();
    CHECK(throws_kind([&] { empty.send(); }, PYRO_ERR_INVALID_ARGUMENT));
    pyro::Batch bad = p.batch();
    CHECK(throws_kind([&] { bad.add("echo", pyro::Value(1)); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(bad.size() == 0);
    int never = 0;
    {
        pyro::Batch unsent = p.batch();
        unsent.add("echo", pyro::Value::tuple(1), [&](pyro::ValueRef) { never++; });
        pyro::Batch moved = std::move(unsent);
        moved = p.batch();  // the first batch is dropped here
        moved.add("echo", pyro::Value::tuple(1), [&](pyro::ValueRef) { never++; });
    }
    ctx.dispatch();
    CHECK(never == 0);
}

static void test_hmac() {
    test_server s;
    const char *extra[] = {"--hmac", "sesame", nullptr};
    CHECK(test_server_start(&s, extra) == 0);
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    p.set_hmac_key("sesame");
    Got g;
    p.call("echo", pyro::Value::tuple("signed"), g.ok(), g.err());
    CHECK(wait(ctx, g) && g.repr == "'signed'");
    p.clear_hmac_key();
    p.release();
    Got u;
    p.call("echo", pyro::Value::tuple("unsigned"), u.ok(), u.err());
    CHECK(wait(ctx, u) && u.errors == 1);
    test_server_stop(&s);
}

static void test_tls() {
    char dir[] = "/tmp/pyro_cpp_tls_XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    std::string cmd = std::string(PYRO_SOURCE_DIR) + "/scripts/gen-test-certs.sh " + dir + " >/dev/null";
    CHECK(system(cmd.c_str()) == 0);
    std::string d(dir);
    test_server s;
    const char *extra[] = {"--ssl-dir", dir, "--ssl-require-client", nullptr};
    CHECK(test_server_start(&s, extra) == 0);
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    pyro::Context ctx = test_ctx_new_cpp();
    pyro::Proxy p(ctx, uri);
    p.set_tls(d + "/ca.crt", d + "/client.crt", d + "/client.key");
    Got g;
    p.call("echo", pyro::Value::tuple("mutual"), g.ok(), g.err());
    CHECK(wait(ctx, g) && g.repr == "'mutual'");
    if (g.errors) fprintf(stderr, "  %s\n", g.message.c_str());
    pyro::Proxy plain(ctx, uri);
    plain.set_tls(d + "/ca.crt");
    plain.disable_tls();
    plain.set_timeout(3s);
    Got pe;
    plain.call("echo", pyro::Value::tuple(1), pe.ok(), pe.err());
    CHECK(wait(ctx, pe) && pe.errors == 1);
    CHECK(throws_kind([&] { plain.set_tls("/nonexistent/ca.pem"); }, PYRO_ERR_SECURITY));
    test_server_stop(&s);
    cmd = "rm -rf " + d;
    CHECK(system(cmd.c_str()) == 0);
}

static void test_name_server(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp(ns_options());
    Got ping, count, lookup, lookup_meta, list, list_meta, reg, reg_again, unknown;
    ctx.ns_ping(ping.ok(), ping.err());
    ctx.ns_count(count.ok(), count.err());
    ctx.ns_lookup("test.echo", lookup.ok(), lookup.err());
    ctx.ns_lookup("test.echo", lookup_meta.ok(), lookup_meta.err(), true);
    pyro::NsQuery q;
    q.prefix = "test.";
    ctx.ns_list(std::move(q), list.ok(), list.err());
    pyro::NsQuery qm;
    qm.metadata_all = pyro::Value::set("test.meta.echo");
    qm.return_metadata = true;
    ctx.ns_list(std::move(qm), list_meta.ok(), list_meta.err());
    ctx.ns_register("cpp.extra", "PYRO:x@127.0.0.1:1", reg.ok(), reg.err(), false, pyro::Value::list("m1"));
    ctx.ns_lookup("no.such.name", unknown.ok(), unknown.err());
    CHECK(run_until(ctx, [&] {
        return ping.done() && count.done() && lookup.done() && lookup_meta.done() && list.done() && list_meta.done() &&
               reg.done() && unknown.done();
    }));
    CHECK(ping.repr == "None" && count.repr == "3");
    CHECK(lookup.repr.find("Pyro4.core.URI") != std::string::npos);
    CHECK(lookup_meta.repr.find("test.meta.any") != std::string::npos);
    CHECK(list.repr.find("'test.echo': 'PYRO:test.echo@127.0.0.1:") != std::string::npos);
    CHECK(list_meta.repr.find("test.echo") != std::string::npos && list_meta.repr.find("session") == std::string::npos);
    CHECK(reg.results == 1 && unknown.kind == PYRO_ERR_REMOTE);
    ctx.ns_register("cpp.extra", "PYRO:y@127.0.0.1:1", reg_again.ok(), reg_again.err(), true);
    Got rm, rmp, rmr;
    ctx.ns_register("cpp.p.one", "PYRO:z@127.0.0.1:1");
    ctx.ns_register("cpp.r.two", "PYRO:z@127.0.0.1:1");
    ctx.ns_remove("cpp.extra", rm.ok(), rm.err());
    ctx.ns_remove_prefix("cpp.p.", rmp.ok(), rmp.err());
    ctx.ns_remove_regex("cpp\\.r\\..*", rmr.ok(), rmr.err());
    CHECK(run_until(ctx, [&] { return reg_again.done() && rm.done() && rmp.done() && rmr.done(); }));
    CHECK(reg_again.kind == PYRO_ERR_REMOTE);  // safe: the name exists
    CHECK(rm.repr == "1" && rmp.repr == "1" && rmr.repr == "1");

    // the URI the name server gave, as an object value and as a proxy
    pyro::Value uri_obj;
    Got l2;
    ctx.ns_lookup("test.echo", [&](pyro::ValueRef r) { uri_obj = r.clone(); l2.results++; }, l2.err());
    CHECK(wait(ctx, l2) && uri_obj.ref().object_class() == "Pyro4.core.URI");
    CHECK(uri_obj.ref().object_state().kind() != PYRO_VALUE_NONE);
    pyro::Proxy via = pyro::Proxy::from_value(ctx, uri_obj.ref());
    Got e1;
    via.call("echo", pyro::Value::tuple("via uri object"), e1.ok(), e1.err());
    CHECK(wait(ctx, e1) && e1.repr == "'via uri object'");
    pyro::Proxy via_text = pyro::Proxy::from_value(ctx, pyro::Value(uri));
    Got e2;
    via_text.call("echo", pyro::Value::tuple(2), e2.ok(), e2.err());
    CHECK(wait(ctx, e2) && e2.repr == "2");
    CHECK(throws_kind([&] { pyro::Proxy::from_value(ctx, pyro::Value(5)); }, PYRO_ERR_INVALID_ARGUMENT));
    // an autoproxy returned by a method
    pyro::Value auto_proxy;
    Got mp;
    via.call("make_proxy", pyro::Value::tuple(), [&](pyro::ValueRef r) { auto_proxy = r.clone(); mp.results++; },
             mp.err());
    CHECK(wait(ctx, mp));
    pyro::Proxy session = pyro::Proxy::from_value(ctx, auto_proxy.ref());
    Got rec;
    session.call("record", pyro::Value::tuple(9), rec.ok(), rec.err());
    CHECK(wait(ctx, rec) && rec.repr == "9");
    // PYRONAME: and the name server's own proxy
    pyro::Proxy named(ctx, "PYRONAME:test.echo");
    Got e3;
    named.call("echo", pyro::Value::tuple("by name"), e3.ok(), e3.err());
    CHECK(wait(ctx, e3) && e3.repr == "'by name'");
    pyro::Proxy nsp = pyro::Proxy::name_server(ctx);
    Got nping;
    nsp.call("ping", pyro::Value::tuple(), nping.ok(), nping.err());
    CHECK(wait(ctx, nping) && nping.repr == "None");
    // patience gives up after its tries
    pyro::Proxy never(ctx, "PYRONAME:never.there");
    never.set_patience(100ms, 3);
    Got nv;
    double t0 = now_s();
    never.call("echo", pyro::Value::tuple(1), nv.ok(), nv.err());
    CHECK(wait(ctx, nv) && nv.kind == PYRO_ERR_NAMING && now_s() - t0 >= 0.2);
    never.set_patience(0ms, 0);
}

// The C++ side of pyro_call_sync, pyro_last_error / pyro_error_kind_name,
// pyro_proxy_uri / pyro_proxy_resolved_uri, pyro_value_to_str and
// pyro_response_annotation_count / _at.
static void test_sync_uris_str_annotations(const char *uri) {
    pyro::Context ctx = test_ctx_new_cpp(ns_options());
    pyro::Proxy p(ctx, uri);
    // call_sync: result, kwargs, remote error, timeout
    pyro::Value r41 = p.call_sync("echo", pyro::Value::tuple(41));
    CHECK(r41.ref().as_int() == 41);
    CHECK(p.call_sync("varargs", pyro::Value::tuple("a"), pyro::Value::dict().insert("k", 1)).repr() ==
          "(('a',), {'k': 1})");
    pyro::Value in_time = p.call_sync("slow", pyro::Value::tuple(0.1, "in time"), std::nullopt, 5s);
    CHECK(in_time.ref().as_string() == "in time");
    try {
        p.call_sync("boom", pyro::Value::tuple());
        CHECK(false);
    } catch (const pyro::Error &e) {
        CHECK(e.kind() == PYRO_ERR_REMOTE && std::string(e.kind_name()) == "PYRO_ERR_REMOTE");
        CHECK(!e.remote_type().empty());
    }
    pyro::Proxy slow(ctx, uri);
    try {
        slow.call_sync("slow", pyro::Value::tuple(3), std::nullopt, 200ms);
        CHECK(false);
    } catch (const pyro::Error &e) {
        CHECK(e.kind() == PYRO_ERR_TIMEOUT && std::string(e.kind_name()) == "PYRO_ERR_TIMEOUT");
    }
    // refused inside one of the context's own callbacks
    Got inside;
    pyro_error_kind inside_kind = pyro_error_kind(0);
    p.call("echo", pyro::Value::tuple(1), [&](pyro::ValueRef) {
        try {
            p.call_sync("echo", pyro::Value::tuple(2));
        } catch (const pyro::Error &e) {
            inside_kind = e.kind();
        }
        inside.results++;
    });
    CHECK(wait(ctx, inside) && inside_kind == PYRO_ERR_INVALID_ARGUMENT);
    CHECK(std::string(pyro::Error(PYRO_ERR_NAMING, "x").kind_name()) == "PYRO_ERR_NAMING");
    CHECK(std::string(pyro::Error(pyro_error_kind(999), "x").kind_name()) == "(unknown error kind)");

    // refusals carry the library's reason (pyro_last_error)
    try {
        pyro::Context bad(pyro::Options().worker_threads(99));
        CHECK(false);
    } catch (const pyro::Error &e) {
        CHECK(e.kind() == PYRO_ERR_INVALID_ARGUMENT);
        CHECK(std::string(e.what()).find("worker_threads") != std::string::npos);
    }
    try {
        p.call("", pyro::Value::tuple(), {});
        CHECK(false);
    } catch (const pyro::Error &e) {
        CHECK(e.kind() == PYRO_ERR_INVALID_ARGUMENT && std::string(e.what()).find("refused: ") != std::string::npos);
    }
    pyro::Proxy moved = std::move(slow);
    try {
        slow.bind();
        CHECK(false);
    } catch (const pyro::Error &e) {
        CHECK(e.kind() == PYRO_ERR_INVALID_ARGUMENT && std::string(e.what()).find("bind: moved-from proxy: ") == 0);
    }

    // uri() / resolved_uri()
    CHECK(p.uri() == uri && p.resolved_uri() && *p.resolved_uri() == uri);
    CHECK(slow.uri().empty() && !slow.resolved_uri());
    pyro::Proxy named(ctx, "PYRONAME:test.echo");
    CHECK(named.uri() == "PYRONAME:test.echo" && !named.resolved_uri());
    pyro::Value by_name = named.call_sync("echo", pyro::Value::tuple("by name"));
    CHECK(by_name.ref().as_string() == "by name");
    CHECK(named.resolved_uri() && *named.resolved_uri() == uri);

    // str()
    CHECK(pyro::Value("text").str() == "text" && pyro::Value("text").repr() == "'text'");
    CHECK(pyro::Value::tuple(1, "a").str() == "(1, 'a')");
    pyro::Value uri_obj;
    Got l;
    ctx.ns_lookup("test.echo", [&](pyro::ValueRef r) { uri_obj = r.clone(); l.results++; }, l.err());
    CHECK(wait(ctx, l) && uri_obj.str() == uri);
    CHECK(throws_kind([] { pyro::ValueRef().str(); }, PYRO_ERR_INVALID_ARGUMENT));
    CHECK(throws_kind([] { pyro::Value(std::string_view("a\0b", 3)).str(); }, PYRO_ERR_INVALID_ARGUMENT));

    // response_annotations(): the daemon's CORR and the server's own
    std::vector<std::pair<std::string, std::vector<uint8_t>>> anns;
    Got an;
    p.call("annotate", pyro::Value::tuple(pyro::Value::list(pyro::Value::tuple("XAAA", "one"),
                                                            pyro::Value::tuple("XBBB", ""))),
           [&](pyro::ValueRef) {
               anns = pyro::response_annotations();
               an.results++;
           },
           an.err());
    CHECK(wait(ctx, an) && anns.size() == 3);
    std::map<std::string, std::string> by_key;
    for (auto &kv : anns) by_key[kv.first] = std::string(kv.second.begin(), kv.second.end());
    CHECK(by_key.size() == 3 && by_key["CORR"].size() == 16 && by_key["XAAA"] == "one" && by_key.count("XBBB") &&
          by_key["XBBB"].empty());
    CHECK(pyro::response_annotations().empty());  // outside a result callback
}

int main() {
    RUN(test_version_and_options());
    RUN(test_values_and_refs());
    ns_port = free_port(SOCK_STREAM);
    bc_port = free_port(SOCK_DGRAM);
    pid_t ns = name_server_start(ns_port, bc_port);
    if (wait_port(ns_port, 20) != 0) {
        fprintf(stderr, "name server did not start\n");
        return 1;
    }
    std::string nsarg = "127.0.0.1:" + std::to_string(ns_port);
    const char *extra[] = {"--ns", nsarg.c_str(), nullptr};
    test_server s;
    if (test_server_start(&s, extra) != 0) return 1;
    char uri[128];
    test_server_uri(&s, "test.echo", uri, sizeof uri);
    {  // wait for the server's registration
        pyro::Context ctx(ns_options());
        for (int i = 0; i < 100; i++) {
            Got g;
            ctx.ns_lookup("test.echo", g.ok(), g.err());
            run_until(ctx, [&] { return g.done(); }, 10);
            if (g.results) break;
            usleep(100000);
        }
    }
    RUN(test_calls_and_proxy_options(uri));
    RUN(test_streams_and_batches(uri));
    RUN(test_hmac());
    RUN(test_tls());
    RUN(test_name_server(uri));
    RUN(test_sync_uris_str_annotations(uri));
    test_server_stop(&s);
    stop_pid(ns);
    return check_report();
}
