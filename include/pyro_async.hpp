// C++17 API over the pyro_async C API. Header-only.
//
// RAII, move-only handles (Context, Proxy, Value); calls take any callables for the
// result and the error; errors are pyro::Error exceptions (refused calls, bad literals)
// or pyro::Error objects handed to error callbacks. Callbacks run inside
// Context::dispatch on the dispatching thread, exactly once per accepted call.
#ifndef PYRO_ASYNC_HPP
#define PYRO_ASYNC_HPP

#include <cstdint>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pyro_async.h"

namespace pyro {

/// An error: kind, message and, for remote errors, Python class, args and traceback.
class Error : public std::runtime_error {
public:
    Error(pyro_error_kind kind, std::string message, std::string remote_type = {}, std::string traceback = {})
        : std::runtime_error(message), kind_(kind), remote_type_(std::move(remote_type)),
          traceback_(std::move(traceback)) {}

    /// Copies a C error (borrowed).
    static Error from(const pyro_error *e) {
        const char *m = pyro_error_message(e), *t = pyro_error_remote_type(e), *tb = pyro_error_remote_traceback(e);
        return Error(pyro_error_get_kind(e), m ? m : "", t ? t : "", tb ? tb : "");
    }

    pyro_error_kind kind() const noexcept { return kind_; }
    /// e.g. "builtins.ZeroDivisionError"; empty unless kind() == PYRO_ERR_REMOTE.
    const std::string &remote_type() const noexcept { return remote_type_; }
    const std::string &traceback() const noexcept { return traceback_; }

private:
    pyro_error_kind kind_;
    std::string remote_type_, traceback_;
};

namespace detail {
struct ValueDeleter {
    void operator()(pyro_value *v) const noexcept { pyro_value_free(v); }
};
inline std::string take_string(char *s) {
    std::string out = s ? s : "";
    pyro_string_free(s);
    return out;
}
[[noreturn]] inline void throw_owned(pyro_error *e) {
    Error err = Error::from(e);
    pyro_error_free(e);
    throw err;
}
}  // namespace detail

/// A borrowed view of a value (valid as long as what it points into).
class ValueRef {
public:
    explicit ValueRef(const pyro_value *v) noexcept : v_(v) {}
    pyro_value_kind kind() const noexcept { return pyro_value_get_kind(v_); }
    bool is_none() const noexcept { return kind() == PYRO_VALUE_NONE; }
    std::string repr() const { return detail::take_string(pyro_value_repr(v_)); }
    int64_t as_int() const {
        int64_t i;
        if (!pyro_value_as_int(v_, &i)) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not an int64: " + repr());
        return i;
    }
    double as_double() const {
        double d;
        if (!pyro_value_as_float(v_, &d)) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not a number: " + repr());
        return d;
    }
    bool as_bool() const {
        bool b;
        if (!pyro_value_as_bool(v_, &b)) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not a bool: " + repr());
        return b;
    }
    std::string as_string() const {
        size_t len = 0;
        const char *s = pyro_value_as_str(v_, &len);
        if (!s) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not a str: " + repr());
        return std::string(s, len);
    }
    size_t size() const noexcept { return pyro_value_len(v_); }
    ValueRef operator[](size_t i) const {
        const pyro_value *item = pyro_value_get(v_, i);
        if (!item) throw std::out_of_range("pyro::ValueRef index");
        return ValueRef(item);
    }
    ValueRef operator[](const std::string &key) const {
        const pyro_value *item = pyro_value_dict_get_str(v_, key.c_str());
        if (!item) throw std::out_of_range("pyro::ValueRef key " + key);
        return ValueRef(item);
    }
    std::vector<int64_t> as_int_vector() const {
        std::vector<int64_t> out;
        for (size_t i = 0; i < size(); i++) out.push_back((*this)[i].as_int());
        return out;
    }
    std::map<std::string, ValueRef> as_map() const {
        std::map<std::string, ValueRef> out;
        const pyro_value *k, *v;
        for (size_t i = 0; pyro_value_dict_item(v_, i, &k, &v); i++) out.emplace(ValueRef(k).as_string(), ValueRef(v));
        return out;
    }
    const pyro_value *get() const noexcept { return v_; }

private:
    const pyro_value *v_;
};

/// An owned value. Build from C++ values, lists, maps or Python literal text.
class Value {
public:
    Value() : v_(pyro_value_none()) {}
    Value(std::nullptr_t) : Value() {}
    Value(bool b) : v_(pyro_value_bool(b)) {}
    Value(int i) : v_(pyro_value_int(i)) {}
    Value(int64_t i) : v_(pyro_value_int(i)) {}
    Value(double d) : v_(pyro_value_float(d)) {}
    Value(const char *s) : v_(pyro_value_str_len(s, std::char_traits<char>::length(s))) { check("invalid UTF-8"); }
    Value(const std::string &s) : v_(pyro_value_str_len(s.data(), s.size())) { check("invalid UTF-8"); }
    template <typename T>
    Value(const std::vector<T> &items) : v_(pyro_value_list()) {
        for (const auto &i : items) pyro_value_append(v_.get(), Value(i).release());
    }
    template <typename T>
    Value(const std::map<std::string, T> &items) : v_(pyro_value_dict()) {
        for (const auto &kv : items) pyro_value_dict_set(v_.get(), Value(kv.first).release(), Value(kv.second).release());
    }
    /// Takes ownership of a C value.
    static Value adopt(pyro_value *v) { return Value(v, 0); }
    /// Parse Python literal syntax, e.g. "(1, 'a', {'k': 2})"; throws pyro::Error.
    static Value literal(const std::string &text) {
        pyro_error *e = nullptr;
        pyro_value *v = pyro_value_from_literal(text.c_str(), &e);
        if (!v) detail::throw_owned(e);
        return adopt(v);
    }
    /// A tuple of the arguments.
    template <typename... Args>
    static Value tuple(Args &&...args) {
        Value t = adopt(pyro_value_tuple());
        (pyro_value_append(t.v_.get(), Value(std::forward<Args>(args)).release()), ...);
        return t;
    }
    Value(Value &&) noexcept = default;
    Value &operator=(Value &&) noexcept = default;
    Value(const Value &) = delete;
    Value &operator=(const Value &) = delete;
    Value clone() const { return adopt(pyro_value_clone(v_.get())); }

    ValueRef ref() const noexcept { return ValueRef(v_.get()); }
    std::string repr() const { return ref().repr(); }
    /// Hand ownership to a C function that consumes it.
    pyro_value *release() noexcept { return v_.release(); }

private:
    Value(pyro_value *v, int) : v_(v) {}
    void check(const char *what) const {
        if (!v_) throw Error(PYRO_ERR_INVALID_ARGUMENT, what);
    }
    std::unique_ptr<pyro_value, detail::ValueDeleter> v_;
};

using ResultFn = std::function<void(ValueRef)>;
using ErrorFn = std::function<void(const Error &)>;

namespace detail {
struct Callbacks {
    ResultFn on_result;
    ErrorFn on_error;
};
// Every accepted call completes exactly once, so the callbacks are freed exactly once.
inline void result_trampoline(const pyro_value *v, void *ud) {
    std::unique_ptr<Callbacks> cb(static_cast<Callbacks *>(ud));
    if (cb->on_result) cb->on_result(ValueRef(v));
}
inline void error_trampoline(const pyro_error *e, void *ud) {
    std::unique_ptr<Callbacks> cb(static_cast<Callbacks *>(ud));
    if (cb->on_error) cb->on_error(Error::from(e));
}
inline void post_trampoline(void *ud) {
    std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()> *>(ud));
    (*f)();
}
}  // namespace detail

/// A client context (one I/O thread, one fd to watch).
class Context {
public:
    Context() : ctx_(pyro_ctx_new(nullptr)) {
        if (!ctx_) throw Error(PYRO_ERR_COMMUNICATION, "cannot create pyro_ctx");
    }
    explicit Context(const pyro_ctx_options &o) : ctx_(pyro_ctx_new(&o)) {
        if (!ctx_) throw Error(PYRO_ERR_INVALID_ARGUMENT, "invalid pyro_ctx_options");
    }
    ~Context() {
        if (ctx_) pyro_ctx_free(ctx_);
    }
    Context(Context &&o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
    Context &operator=(Context &&o) noexcept {
        std::swap(ctx_, o.ctx_);
        return *this;
    }
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    int fd() const noexcept { return pyro_ctx_fd(ctx_); }
    size_t dispatch(size_t max = 0) noexcept { return pyro_ctx_dispatch(ctx_, max); }
    bool cancel(pyro_call_id id) noexcept { return pyro_call_cancel(ctx_, id); }
    /// Run `f` on the dispatching thread (callable from any thread).
    bool post(std::function<void()> f) {
        auto *p = new std::function<void()>(std::move(f));
        if (pyro_ctx_post(ctx_, detail::post_trampoline, p)) return true;
        delete p;
        return false;
    }
    /// Busy-poll window of the I/O thread (see pyro_ctx_set_busy_poll); throws
    /// pyro::Error (INVALID_ARGUMENT) above 10 ms.
    void set_busy_poll(std::chrono::microseconds window) {
        if (window.count() < 0 || window.count() > 10000 ||
            !pyro_ctx_set_busy_poll(ctx_, static_cast<uint32_t>(window.count())))
            throw Error(PYRO_ERR_INVALID_ARGUMENT, "busy-poll window must be 0..10000 us");
    }
    /// Read replies in dispatch (see pyro_ctx_read_replies_in_dispatch): call before
    /// fd() and before attaching a loop adapter. Throws pyro::Error when refused.
    void read_replies_in_dispatch() {
        pyro_error *e = nullptr;
        if (!pyro_ctx_read_replies_in_dispatch(ctx_, &e))
            detail::throw_owned(e);
    }
    pyro_ctx *get() const noexcept { return ctx_; }

private:
    pyro_ctx *ctx_;
};

/// A proxy for one remote object.
class Proxy {
public:
    Proxy(Context &ctx, const std::string &uri) {
        pyro_error *e = nullptr;
        p_ = pyro_proxy_new(ctx.get(), uri.c_str(), &e);
        if (!p_) detail::throw_owned(e);
    }
    ~Proxy() {
        if (p_) pyro_proxy_free(p_);
    }
    Proxy(Proxy &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Proxy &operator=(Proxy &&o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    Proxy(const Proxy &) = delete;
    Proxy &operator=(const Proxy &) = delete;

    /// Call `method(*args, **kwargs)`; exactly one of the callbacks runs later in
    /// Context::dispatch. Throws pyro::Error if the call is refused.
    pyro_call_id call(const std::string &method, Value args, ResultFn on_result, ErrorFn on_error = {},
                      Value kwargs = Value::adopt(nullptr)) {
        auto *cb = new detail::Callbacks{std::move(on_result), std::move(on_error)};
        pyro_value *kw = kwargs.release();
        pyro_call_id id = pyro_call_async(p_, method.c_str(), args.release(), kw, detail::result_trampoline,
                                          detail::error_trampoline, cb);
        if (id == 0) {
            delete cb;
            throw Error(PYRO_ERR_INVALID_ARGUMENT, "call to " + method + " refused (arguments or state)");
        }
        return id;
    }
    pyro_proxy *get() const noexcept { return p_; }

private:
    pyro_proxy *p_ = nullptr;
};

}  // namespace pyro

#endif
