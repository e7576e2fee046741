// C++17 API over the pyro_async C API. Header-only; link libpyro_async.
//
// Handles are RAII and move-only: pyro::Context, pyro::Proxy, pyro::Batch, pyro::Value.
// Callbacks are any callables (lambdas); exactly one of a call's result / error callbacks
// runs exactly once, inside Context::dispatch on the dispatching thread (or inside the
// Context's destructor / close(), for calls still outstanding then). Errors are
// pyro::Error: thrown for refused calls and bad arguments, handed to error callbacks for
// failed calls.
//
// Exceptions thrown by callbacks. No exception ever crosses the library's (Rust) frames:
// every callback the library calls (results, errors, stream items and ends, posted
// functions, batch entries, state and log callbacks) runs inside a trampoline that
// catches everything. The first exception of a round is rethrown by Context::dispatch
// after the C dispatch round returns; the other callbacks of that round still run, and a
// callback that threw counts as having run (exactly once holds). Several exceptions are
// kept in order, per context, and rethrown one per Context::dispatch call, oldest first:
// nothing is lost, and while exceptions are left over the context's fd is kept readable
// so that an event loop calls dispatch again. Only the outermost Context::dispatch on the
// thread rethrows: a dispatch nested inside a callback (waiting for a call it started)
// leaves the exceptions to it. Context::take_exception() and pending_exceptions() read
// the queue without dispatching (for loops that call pyro_ctx_dispatch directly, such as
// pyro::QtDispatcher).
//
// Teardown. Destroying a Context (pyro_ctx_free) runs the callbacks of every call still
// outstanding; exceptions they throw are discarded (a destructor cannot throw), as are
// exceptions not yet rethrown. Context::close() does the same teardown but rethrows the
// oldest such exception afterwards; later Context::dispatch calls on the closed context
// rethrow the rest. No destructor here throws.
#ifndef PYRO_ASYNC_HPP
#define PYRO_ASYNC_HPP

#include <array>
#include <chrono>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pyro_async.h"

namespace pyro {

class Value;
class ValueRef;

/// The library version, e.g. "0.1.0" (pyro_version).
inline std::string_view version() noexcept { return pyro_version(); }

/// An error: kind, message and, for remote errors, the Python class, args and traceback.
/// Copyable (it is an exception); the remote args are shared between copies.
class Error : public std::runtime_error {
public:
    Error(pyro_error_kind kind, const std::string &message, std::string remote_type = {}, std::string traceback = {})
        : std::runtime_error(message), kind_(kind), remote_type_(std::move(remote_type)),
          traceback_(std::move(traceback)) {}

    /// Copies a C error (borrowed), its remote args included.
    static Error from(const pyro_error *e) {
        if (!e) return Error(PYRO_ERR_INVALID_ARGUMENT, "unknown error");
        const char *m = pyro_error_message(e), *t = pyro_error_remote_type(e), *tb = pyro_error_remote_traceback(e);
        Error err(pyro_error_get_kind(e), m ? m : "", t ? t : "", tb ? tb : "");
        if (const pyro_value *a = pyro_error_remote_args(e))
            err.args_ = std::shared_ptr<const pyro_value>(pyro_value_clone(a), [](const pyro_value *v) {
                pyro_value_free(const_cast<pyro_value *>(v));
            });
        return err;
    }

    pyro_error_kind kind() const noexcept { return kind_; }
    /// The kind's name as the C header writes it, e.g. "PYRO_ERR_TIMEOUT".
    const char *kind_name() const noexcept { return pyro_error_kind_name(kind_); }
    bool is_remote() const noexcept { return kind_ == PYRO_ERR_REMOTE; }
    /// e.g. "builtins.ZeroDivisionError"; empty unless kind() == PYRO_ERR_REMOTE.
    const std::string &remote_type() const noexcept { return remote_type_; }
    /// The remote traceback as Pyro4 formats it; empty if there is none.
    const std::string &traceback() const noexcept { return traceback_; }
    /// The remote exception's args tuple (valid as long as this error or a copy lives);
    /// a None reference unless kind() == PYRO_ERR_REMOTE.
    inline ValueRef remote_args() const noexcept;

private:
    pyro_error_kind kind_;
    std::string remote_type_, traceback_;
    std::shared_ptr<const pyro_value> args_;
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
/// Throws an error the caller owns (freed here); `fallback` if the library gave none.
[[noreturn]] inline void throw_owned(pyro_error *e, const char *fallback = "refused") {
    if (!e) throw Error(PYRO_ERR_INVALID_ARGUMENT, fallback);
    std::unique_ptr<pyro_error, void (*)(pyro_error *)> owned(e, pyro_error_free);
    throw Error::from(e);
}
/// The error for a C call that just refused: `what`, followed by the library's reason
/// (pyro_last_error, with its kind) when it gave one.
inline Error refused(const std::string &what, pyro_error_kind fallback_kind = PYRO_ERR_INVALID_ARGUMENT) {
    const pyro_error *le = pyro_last_error();
    if (!le) return Error(fallback_kind, what);
    const char *m = pyro_error_message(le);
    return Error(pyro_error_get_kind(le), what + ": " + (m ? m : ""));
}
inline void require(bool ok, const std::string &what) {
    if (!ok) throw refused(what);
}
template <typename T> struct is_char : std::false_type {};
template <> struct is_char<char> : std::true_type {};
template <> struct is_char<wchar_t> : std::true_type {};
template <> struct is_char<char16_t> : std::true_type {};
template <> struct is_char<char32_t> : std::true_type {};
#ifdef __cpp_char8_t
template <> struct is_char<char8_t> : std::true_type {};
#endif
/// Integer types a Value is built from: every integral type except bool and characters.
template <typename T>
inline constexpr bool is_integer_v = std::is_integral_v<T> && !std::is_same_v<T, bool> && !is_char<T>::value;

/// An int value of any integer type (big ones, e.g. a uint64_t above INT64_MAX, become
/// Python ints through their decimal text).
template <typename I> pyro_value *make_int(I i) {
    constexpr bool fits = std::is_signed_v<I> ? sizeof(I) <= sizeof(int64_t) : sizeof(I) < sizeof(int64_t);
    if constexpr (fits) {
        return pyro_value_int(static_cast<int64_t>(i));
    } else {
        using U = std::make_unsigned_t<I>;
        bool neg = false;
        if constexpr (std::is_signed_v<I>) {
            if (i >= static_cast<I>(std::numeric_limits<int64_t>::min()) &&
                i <= static_cast<I>(std::numeric_limits<int64_t>::max()))
                return pyro_value_int(static_cast<int64_t>(i));
            neg = i < 0;
        } else if (i <= static_cast<I>(std::numeric_limits<int64_t>::max())) {
            return pyro_value_int(static_cast<int64_t>(i));
        }
        U u = neg ? static_cast<U>(U(0) - static_cast<U>(i)) : static_cast<U>(i);
        char buf[64];
        char *p = buf + sizeof buf;
        *--p = '\0';
        do {
            *--p = static_cast<char>('0' + static_cast<int>(u % 10));
            u /= 10;
        } while (u != 0);
        if (neg) *--p = '-';
        return pyro_value_bigint_from_str(p);
    }
}
}  // namespace detail

/// A borrowed view of a value (valid as long as what it points into). A null view reads
/// as None.
class ValueRef {
public:
    ValueRef() noexcept = default;
    explicit ValueRef(const pyro_value *v) noexcept : v_(v) {}

    pyro_value_kind kind() const noexcept { return pyro_value_get_kind(v_); }
    bool is_none() const noexcept { return kind() == PYRO_VALUE_NONE; }
    /// Python's repr().
    std::string repr() const { return detail::take_string(pyro_value_repr(v_)); }
    /// Python's str() (a str's own text; a Pyro4 URI or proxy's URI; else repr()).
    /// Throws pyro::Error for a null view and for text holding a NUL character.
    std::string str() const {
        char *s = pyro_value_to_str(v_);
        if (!s) throw detail::refused("str() refused");
        return detail::take_string(s);
    }
    /// A deep copy (pyro_value_clone).
    inline Value clone() const;

    /// An int that fits int64_t (bools count, as in Python); throws pyro::Error otherwise.
    int64_t as_int() const {
        int64_t i;
        if (!pyro_value_as_int(v_, &i)) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not an int64: " + repr());
        return i;
    }
    /// A float (ints and bools convert, big ints approximately).
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
    /// A complex (ints and floats convert with imaginary part 0).
    std::complex<double> as_complex() const {
        double re, im;
        if (!pyro_value_as_complex(v_, &re, &im)) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not a complex: " + repr());
        return {re, im};
    }
    /// Decimal text of an int of any size.
    std::string as_decimal() const {
        char *s = pyro_value_bigint_to_str(v_);
        if (!s) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not an int: " + repr());
        return detail::take_string(s);
    }
    /// A str's UTF-8 text (may contain NUL), borrowed from the value.
    std::string_view as_string_view() const {
        size_t len = 0;
        const char *s = pyro_value_as_str(v_, &len);
        if (!s) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not a str: " + repr());
        return std::string_view(s, len);
    }
    std::string as_string() const { return std::string(as_string_view()); }
    /// A bytes value's bytes (copied).
    std::vector<uint8_t> as_bytes() const {
        size_t len = 0;
        const uint8_t *b = pyro_value_as_bytes(v_, &len);
        if (!b) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not bytes: " + repr());
        return std::vector<uint8_t>(b, b + len);
    }

    /// Items of a list, tuple, set or dict; bytes of a str or bytes; 0 otherwise.
    size_t size() const noexcept { return pyro_value_len(v_); }
    /// How deeply containers nest (pyro_value_depth): 0 for a scalar.
    size_t depth() const noexcept { return pyro_value_depth(v_); }
    /// Item `i` of a list, tuple or set; throws std::out_of_range.
    ValueRef operator[](size_t i) const {
        const pyro_value *item = pyro_value_get(v_, i);
        if (!item) throw std::out_of_range("pyro::ValueRef index " + std::to_string(i));
        return ValueRef(item);
    }
    /// The value of a str key of a dict; throws std::out_of_range.
    ValueRef operator[](const std::string &key) const {
        const pyro_value *item = pyro_value_dict_get_str(v_, key.c_str());
        if (!item) throw std::out_of_range("pyro::ValueRef key " + key);
        return ValueRef(item);
    }
    /// The value for a str key (a scan of the dict), or nothing.
    std::optional<ValueRef> find(const std::string &key) const {
        const pyro_value *item = pyro_value_dict_get_str(v_, key.c_str());
        return item ? std::optional<ValueRef>(ValueRef(item)) : std::nullopt;
    }
    /// The value for any key (Python equality: 1 == 1.0 == True), or nothing.
    std::optional<ValueRef> find(ValueRef key) const {
        const pyro_value *item = pyro_value_dict_get(v_, key.get());
        return item ? std::optional<ValueRef>(ValueRef(item)) : std::nullopt;
    }
    /// An object value's class name, e.g. "Pyro4.core.URI"; throws for other kinds.
    std::string object_class() const {
        const char *c = pyro_value_object_class(v_);
        if (!c) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not an object: " + repr());
        return c;
    }
    /// An object value's state (usually a dict); throws for other kinds.
    ValueRef object_state() const {
        const pyro_value *s = pyro_value_object_state(v_);
        if (!s) throw Error(PYRO_ERR_INVALID_ARGUMENT, "not an object: " + repr());
        return ValueRef(s);
    }

    /// Iterates a list, tuple or set's items, or a dict's keys (as Python does); nothing
    /// for other kinds.
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = ValueRef;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = ValueRef;
        iterator(const pyro_value *c, size_t i) noexcept : c_(c), i_(i) {}
        ValueRef operator*() const noexcept {
            if (pyro_value_get_kind(c_) == PYRO_VALUE_DICT) {
                const pyro_value *k = nullptr, *v = nullptr;
                pyro_value_dict_item(c_, i_, &k, &v);
                return ValueRef(k);
            }
            return ValueRef(pyro_value_get(c_, i_));
        }
        iterator &operator++() noexcept {
            ++i_;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator t = *this;
            ++i_;
            return t;
        }
        bool operator==(const iterator &o) const noexcept { return c_ == o.c_ && i_ == o.i_; }
        bool operator!=(const iterator &o) const noexcept { return !(*this == o); }

    private:
        const pyro_value *c_;
        size_t i_;
    };
    iterator begin() const noexcept { return iterator(v_, 0); }
    iterator end() const noexcept { return iterator(v_, is_container() ? size() : 0); }

    /// A dict's (key, value) pairs in insertion order: `for (auto [k, v] : r.items())`.
    class items_range {
    public:
        class iterator {
        public:
            using iterator_category = std::input_iterator_tag;
            using value_type = std::pair<ValueRef, ValueRef>;
            using difference_type = std::ptrdiff_t;
            using pointer = void;
            using reference = value_type;
            iterator(const pyro_value *d, size_t i) noexcept : d_(d), i_(i) {}
            value_type operator*() const noexcept {
                const pyro_value *k = nullptr, *v = nullptr;
                pyro_value_dict_item(d_, i_, &k, &v);
                return {ValueRef(k), ValueRef(v)};
            }
            iterator &operator++() noexcept {
                ++i_;
                return *this;
            }
            bool operator==(const iterator &o) const noexcept { return d_ == o.d_ && i_ == o.i_; }
            bool operator!=(const iterator &o) const noexcept { return !(*this == o); }

        private:
            const pyro_value *d_;
            size_t i_;
        };
        explicit items_range(const pyro_value *d) noexcept : d_(d) {}
        iterator begin() const noexcept { return iterator(d_, 0); }
        iterator end() const noexcept {
            return iterator(d_, pyro_value_get_kind(d_) == PYRO_VALUE_DICT ? pyro_value_len(d_) : 0);
        }

    private:
        const pyro_value *d_;
    };
    /// A dict's items; empty for other kinds.
    items_range items() const noexcept { return items_range(v_); }

    std::vector<int64_t> as_int_vector() const {
        std::vector<int64_t> out;
        for (ValueRef item : *this) out.push_back(item.as_int());
        return out;
    }
    /// A dict with str keys as a map (the values stay borrowed).
    std::map<std::string, ValueRef> as_map() const {
        std::map<std::string, ValueRef> out;
        for (auto [k, v] : items()) out.emplace(k.as_string(), v);
        return out;
    }
    const pyro_value *get() const noexcept { return v_; }

private:
    bool is_container() const noexcept {
        pyro_value_kind k = kind();
        return k == PYRO_VALUE_LIST || k == PYRO_VALUE_TUPLE || k == PYRO_VALUE_SET || k == PYRO_VALUE_DICT;
    }
    const pyro_value *v_ = nullptr;
};

inline ValueRef Error::remote_args() const noexcept { return ValueRef(args_.get()); }

/// An owned value. Built from C++ values: every integer type, bool, floating point,
/// std::complex, strings (UTF-8), nullptr / std::nullopt-less std::optional (None),
/// std::vector / std::array (list), std::set / std::unordered_set (set), std::map /
/// std::unordered_map (dict), std::pair / std::tuple (tuple), a ValueRef (copied), or with
/// the factories: bytes, bigint, complex, list, tuple, set, dict, object, literal.
/// Characters (char, wchar_t, ...) are refused at compile time: pass a string or cast to
/// an integer type. Every way of putting one value inside another throws pyro::Error
/// (PYRO_ERR_INVALID_ARGUMENT) when the library refuses the item (an unhashable set
/// element or dict key, or nesting PYRO_VALUE_MAX_DEPTH levels deep).
class Value {
public:
    /// None.
    Value() : v_(pyro_value_none()) { check("out of memory"); }
    Value(std::nullptr_t) : Value() {}
    /// A bool; only a real bool (no pointer or integer conversion ends here).
    template <typename B, std::enable_if_t<std::is_same_v<B, bool>, int> = 0>
    Value(B b) : v_(pyro_value_bool(b)) {
        check("out of memory");
    }
    /// An int, from any integer type (int, long, long long, unsigned ..., size_t, int64_t).
    template <typename I, std::enable_if_t<detail::is_integer_v<I>, int> = 0>
    Value(I i) : v_(detail::make_int(i)) {
        check("out of memory");
    }
    /// A float, from float, double or long double.
    template <typename F, std::enable_if_t<std::is_floating_point_v<F>, int> = 0>
    Value(F f) : v_(pyro_value_float(static_cast<double>(f))) {
        check("out of memory");
    }
    Value(char) = delete;
    Value(wchar_t) = delete;
    Value(char16_t) = delete;
    Value(char32_t) = delete;
#ifdef __cpp_char8_t
    Value(char8_t) = delete;
#endif
    template <typename F>
    Value(const std::complex<F> &c)
        : v_(pyro_value_complex(static_cast<double>(c.real()), static_cast<double>(c.imag()))) {
        check("out of memory");
    }
    /// A str from NUL-terminated UTF-8; throws for NULL or invalid UTF-8.
    Value(const char *s) : v_(s ? pyro_value_str_len(s, std::strlen(s)) : nullptr) {
        check(s ? "invalid UTF-8 in str" : "NULL string");
    }
    Value(std::string_view s) : v_(pyro_value_str_len(s.data(), s.size())) { check("invalid UTF-8 in str"); }
    Value(const std::string &s) : Value(std::string_view(s)) {}
    /// A deep copy of a borrowed value.
    Value(ValueRef r) : v_(r.get() ? pyro_value_clone(r.get()) : pyro_value_none()) { check("out of memory"); }

    template <typename T, typename A> Value(const std::vector<T, A> &items) : Value(list()) {
        for (const auto &i : items) append(item(i));
    }
    Value(std::vector<Value> &&items) : Value(list()) {
        for (auto &i : items) append(std::move(i));
    }
    template <typename T, size_t N> Value(const std::array<T, N> &items) : Value(list()) {
        for (const auto &i : items) append(item(i));
    }
    template <typename T, typename C, typename A> Value(const std::set<T, C, A> &items) : Value(set()) {
        for (const auto &i : items) append(item(i));
    }
    template <typename T, typename H, typename E, typename A>
    Value(const std::unordered_set<T, H, E, A> &items) : Value(set()) {
        for (const auto &i : items) append(item(i));
    }
    template <typename K, typename V, typename C, typename A> Value(const std::map<K, V, C, A> &items) : Value(dict()) {
        for (const auto &kv : items) insert(item(kv.first), item(kv.second));
    }
    template <typename K, typename V, typename H, typename E, typename A>
    Value(const std::unordered_map<K, V, H, E, A> &items) : Value(dict()) {
        for (const auto &kv : items) insert(item(kv.first), item(kv.second));
    }
    template <typename A, typename B> Value(const std::pair<A, B> &p) : Value(tuple()) {
        append(item(p.first));
        append(item(p.second));
    }
    template <typename... Ts> Value(const std::tuple<Ts...> &t) : Value(tuple()) {
        std::apply([this](const auto &...xs) { (append(item(xs)), ...); }, t);
    }
    /// None when empty.
    template <typename T> Value(const std::optional<T> &o) : Value(o ? item(*o) : Value()) {}

    Value(Value &&) noexcept = default;
    Value &operator=(Value &&) noexcept = default;
    Value(const Value &) = delete;
    Value &operator=(const Value &) = delete;

    /// Takes ownership of a C value (NULL gives an empty handle: no value, e.g. "no kwargs").
    static Value adopt(pyro_value *v) noexcept { return Value(v, adopt_tag{}); }
    static Value none() { return Value(); }
    /// A bytes value (copied).
    static Value bytes(const void *data, size_t len) {
        return checked(pyro_value_bytes(static_cast<const uint8_t *>(data), len), "NULL bytes");
    }
    static Value bytes(std::string_view data) { return bytes(data.data(), data.size()); }
    static Value bytes(const std::vector<uint8_t> &data) { return bytes(data.data(), data.size()); }
    /// An int of any size from decimal text (optional sign); throws on bad text.
    static Value bigint(const std::string &decimal) {
        return checked(pyro_value_bigint_from_str(decimal.c_str()), "not a decimal integer: " + decimal);
    }
    static Value complex(double re, double im) { return checked(pyro_value_complex(re, im), "out of memory"); }
    /// A list / tuple / set of the arguments (each converted as by the constructors).
    template <typename... Args> static Value list(Args &&...args) {
        Value l = checked(pyro_value_list(), "out of memory");
        (l.append(item(std::forward<Args>(args))), ...);
        return l;
    }
    template <typename... Args> static Value tuple(Args &&...args) {
        Value t = checked(pyro_value_tuple(), "out of memory");
        (t.append(item(std::forward<Args>(args))), ...);
        return t;
    }
    template <typename... Args> static Value set(Args &&...args) {
        Value s = checked(pyro_value_set(), "out of memory");
        (s.append(item(std::forward<Args>(args))), ...);
        return s;
    }
    /// An empty dict (fill with insert).
    static Value dict() { return checked(pyro_value_dict(), "out of memory"); }
    /// An object of class `class_name` with `state` (nothing: an empty dict).
    static Value object(const std::string &class_name, std::optional<Value> state = std::nullopt) {
        pyro_value *s = state ? state->release() : nullptr;
        return checked(pyro_value_object(class_name.c_str(), s), "object refused (class name or state depth)");
    }
    /// Parse Python literal syntax, e.g. "(1, 'a', {'k': 2})"; throws pyro::Error.
    static Value literal(const std::string &text) {
        pyro_error *e = nullptr;
        pyro_value *v = pyro_value_from_literal(text.c_str(), &e);
        if (!v) detail::throw_owned(e, "bad literal");
        return adopt(v);
    }

    /// Append to a list or tuple, add to a set; throws pyro::Error (INVALID_ARGUMENT) if
    /// the library refuses (not a sequence, unhashable set element, too deep), leaving this
    /// value unchanged.
    Value &append(Value item) & {
        if (!pyro_value_append(v_.get(), item.release()))
            throw Error(PYRO_ERR_INVALID_ARGUMENT,
                        "item refused by pyro_value_append (not a list, tuple or set; unhashable set element; or "
                        "nesting PYRO_VALUE_MAX_DEPTH deep)");
        return *this;
    }
    Value &&append(Value item) && { return std::move(append(std::move(item))); }
    /// dict[key] = val; throws pyro::Error (INVALID_ARGUMENT) if the library refuses (not a
    /// dict, unhashable key, too deep), leaving this value unchanged.
    Value &insert(Value key, Value val) & {
        if (!pyro_value_dict_set(v_.get(), key.release(), val.release()))
            throw Error(PYRO_ERR_INVALID_ARGUMENT,
                        "entry refused by pyro_value_dict_set (not a dict; unhashable key; or nesting "
                        "PYRO_VALUE_MAX_DEPTH deep)");
        return *this;
    }
    Value &&insert(Value key, Value val) && { return std::move(insert(std::move(key), std::move(val))); }

    Value clone() const { return v_ ? checked(pyro_value_clone(v_.get()), "out of memory") : adopt(nullptr); }
    /// A borrowed view, valid while this value lives unchanged.
    ValueRef ref() const & noexcept { return ValueRef(v_.get()); }
    /// Not on a temporary: the view would dangle once the full expression ends (e.g. in
    /// `for (auto x : Value::literal("[1]").ref())`). Name the value first.
    ValueRef ref() const && = delete;
    pyro_value_kind kind() const noexcept { return ref().kind(); }
    std::string repr() const { return ref().repr(); }
    std::string str() const { return ref().str(); }
    /// Hand ownership to a C function that consumes it.
    pyro_value *release() noexcept { return v_.release(); }
    pyro_value *get() const noexcept { return v_.get(); }

private:
    struct adopt_tag {};
    Value(pyro_value *v, adopt_tag) noexcept : v_(v) {}
    static Value checked(pyro_value *v, const std::string &what) {
        if (!v) throw Error(PYRO_ERR_INVALID_ARGUMENT, what);
        return adopt(v);
    }
    void check(const char *what) const {
        if (!v_) throw Error(PYRO_ERR_INVALID_ARGUMENT, what);
    }
    // An item for a container: Values are moved (rvalues) or copied (lvalues).
    static Value item(Value &&v) noexcept { return std::move(v); }
    static Value item(Value &v) { return v.clone(); }
    static Value item(const Value &v) { return v.clone(); }
    template <typename T> static Value item(T &&x) { return Value(std::forward<T>(x)); }

    std::unique_ptr<pyro_value, detail::ValueDeleter> v_;
};

inline Value ValueRef::clone() const { return Value(*this); }

/// Inside a result callback only: the reply's annotation `key` (4 characters, e.g.
/// "CORR"), copied; nothing if absent or outside a result callback.
inline std::optional<std::string> response_annotation(const std::string &key) {
    size_t len = 0;
    const uint8_t *d = pyro_response_annotation(key.c_str(), &len);
    if (!d) return std::nullopt;
    return std::string(reinterpret_cast<const char *>(d), len);
}

/// Inside a result callback only: all the reply's annotations (4-character key, bytes),
/// copied, in the order the reply carries them; empty outside a result callback.
inline std::vector<std::pair<std::string, std::vector<uint8_t>>> response_annotations() {
    std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
    out.reserve(pyro_response_annotation_count());
    char key[5] = {0};
    const uint8_t *d = nullptr;
    size_t len = 0;
    for (size_t i = 0; pyro_response_annotation_at(i, key, &d, &len); i++)
        out.emplace_back(std::string(key), std::vector<uint8_t>(d, d + len));
    return out;
}

/// A callback: any callable with a fitting signature, move-only ones included (a lambda
/// holding a std::promise or a std::unique_ptr), or nothing ({} or nullptr, or an empty
/// std::function / function pointer): the outcome is then dropped. Move-only.
template <typename Sig> class Callback;
template <typename R, typename... A> class Callback<R(A...)> {
    template <typename T> struct is_function : std::false_type {};
    template <typename S> struct is_function<std::function<S>> : std::true_type {};

public:
    Callback() noexcept = default;
    Callback(std::nullptr_t) noexcept {}
    template <typename F, typename D = std::decay_t<F>,
              std::enable_if_t<!std::is_same_v<D, Callback> && std::is_invocable_r_v<R, D &, A...>, int> = 0>
    Callback(F &&f) {
        if constexpr (std::is_pointer_v<D> || std::is_member_pointer_v<D> || is_function<D>::value) {
            if (!f) return;
        }
        impl_ = std::make_unique<Impl<D>>(std::forward<F>(f));
    }
    Callback(Callback &&) noexcept = default;
    Callback &operator=(Callback &&) noexcept = default;
    explicit operator bool() const noexcept { return impl_ != nullptr; }
    /// Calls the callable; only when there is one.
    R operator()(A... a) { return impl_->call(std::forward<A>(a)...); }

private:
    struct Base {
        virtual ~Base() = default;
        virtual R call(A... a) = 0;
    };
    template <typename D> struct Impl final : Base {
        template <typename F> explicit Impl(F &&x) : f(std::forward<F>(x)) {}
        R call(A... a) override {
            if constexpr (std::is_void_v<R>)
                std::invoke(f, std::forward<A>(a)...);  // a result, if any, is ignored
            else
                return std::invoke(f, std::forward<A>(a)...);
        }
        D f;
    };
    std::unique_ptr<Base> impl_;
};

using OnResult = Callback<void(ValueRef)>;
using OnError = Callback<void(const Error &)>;
using OnEnd = Callback<void()>;
using OnState = Callback<void(pyro_conn_state)>;
using OnLog = Callback<void(pyro_log_level, std::string_view)>;
/// std::function types that fit the callbacks (to store one; any callable is accepted).
using ResultFn = std::function<void(ValueRef)>;
using ErrorFn = std::function<void(const Error &)>;
using EndFn = std::function<void()>;
using StateFn = std::function<void(pyro_conn_state)>;
using LogFn = std::function<void(pyro_log_level, std::string_view)>;

namespace detail {
struct StateSlot;

// What a Context shares with its proxies and callbacks: the C context, the exceptions
// callbacks threw (oldest first), the log callback and the proxies' state callbacks.
struct CtxState {
    pyro_ctx *ctx = nullptr;
    std::mutex mu;
    std::deque<std::exception_ptr> errors;
    std::shared_ptr<OnLog> log;
    std::vector<std::unique_ptr<StateSlot>> slots;
    // The Context was destroyed inside one of its callbacks: the dispatch running that
    // round frees the C context when the round is over (`self` keeps this alive until).
    bool orphaned = false;
    std::shared_ptr<CtxState> self;

    void capture(std::exception_ptr e) noexcept {
        try {
            std::lock_guard<std::mutex> lock(mu);
            errors.push_back(std::move(e));
        } catch (...) {
            // out of memory while recording: this exception is lost
        }
    }
    std::exception_ptr take(bool *more = nullptr) noexcept {
        std::lock_guard<std::mutex> lock(mu);
        std::exception_ptr e;
        if (!errors.empty()) {
            e = std::move(errors.front());
            errors.pop_front();
        }
        if (more) *more = !errors.empty();
        return e;
    }
    size_t pending() noexcept {
        std::lock_guard<std::mutex> lock(mu);
        return errors.size();
    }
};

// A proxy's state callback. The library may still call it after the proxy is freed or
// the callback replaced (state changes already queued), so its address stays valid as
// long as the context's state: a freed proxy's slot is emptied and kept.
struct StateSlot {
    CtxState *st;
    std::shared_ptr<OnState> fn;  // guarded by st->mu
};

// Marks, per thread, the contexts whose callbacks are running (nesting allowed).
struct CallbackScope {
    const CtxState *st;
    CallbackScope *prev;
    static CallbackScope *&top() noexcept {
        static thread_local CallbackScope *t = nullptr;
        return t;
    }
    explicit CallbackScope(const CtxState *s) noexcept : st(s), prev(top()) { top() = this; }
    ~CallbackScope() { top() = prev; }
    CallbackScope(const CallbackScope &) = delete;
    CallbackScope &operator=(const CallbackScope &) = delete;
    static bool inside(const CtxState *s) noexcept {
        for (CallbackScope *p = top(); p; p = p->prev)
            if (p->st == s) return true;
        return false;
    }
};

// Runs a user callback with its holder `h` (freed here too when `owned`): nothing
// escapes to the library, exceptions go to the context. The holder (the user's callable
// and its captures) is destroyed inside the callback scope, so that a capture's
// destructor that destroys the Context is seen as running inside a callback.
template <typename H, typename F> inline void run_callback(H *h, bool owned, F &&f) noexcept {
    CtxState *st = h->st;
    CallbackScope scope(st);
    std::unique_ptr<H> holder(owned ? h : nullptr);
    try {
        f(*h);
    } catch (...) {
        st->capture(std::current_exception());
    }
}

struct CallHolder {
    CtxState *st;
    OnResult on_result;
    OnError on_error;
};
// Every accepted call completes exactly once, so its holder is freed exactly once.
inline void result_trampoline(const pyro_value *v, void *ud) noexcept {
    run_callback(static_cast<CallHolder *>(ud), true, [&](CallHolder &h) {
        if (h.on_result) h.on_result(ValueRef(v));
    });
}
inline void error_trampoline(const pyro_error *e, void *ud) noexcept {
    run_callback(static_cast<CallHolder *>(ud), true, [&](CallHolder &h) {
        if (h.on_error) h.on_error(Error::from(e));
    });
}

struct StreamHolder {
    CtxState *st;
    OnResult on_item;
    OnEnd on_end;
    OnError on_error;
};
// Items, then exactly one of end / error (which frees the holder).
inline void item_trampoline(const pyro_value *v, void *ud) noexcept {
    run_callback(static_cast<StreamHolder *>(ud), false, [&](StreamHolder &h) {
        if (h.on_item) h.on_item(ValueRef(v));
    });
}
inline void end_trampoline(void *ud) noexcept {
    run_callback(static_cast<StreamHolder *>(ud), true, [&](StreamHolder &h) {
        if (h.on_end) h.on_end();
    });
}
inline void stream_error_trampoline(const pyro_error *e, void *ud) noexcept {
    run_callback(static_cast<StreamHolder *>(ud), true, [&](StreamHolder &h) {
        if (h.on_error) h.on_error(Error::from(e));
    });
}

struct PostHolder {
    CtxState *st;
    Callback<void()> fn;
};
inline void post_trampoline(void *ud) noexcept {
    run_callback(static_cast<PostHolder *>(ud), true, [&](PostHolder &h) {
        if (h.fn) h.fn();
    });
}
// Keeps the fd readable while exceptions are left to rethrow.
inline void wake_trampoline(void *) noexcept {}

// State and log callbacks can be replaced (or their proxy destroyed) while they run:
// each call holds its own reference to the callable.
template <typename Fn> struct SharedCall {
    CtxState *st;
    std::shared_ptr<Fn> fn;
};
inline void state_trampoline(pyro_conn_state s, void *ud) noexcept {
    auto *slot = static_cast<StateSlot *>(ud);
    SharedCall<OnState> call{slot->st, nullptr};
    {
        std::lock_guard<std::mutex> lock(slot->st->mu);
        call.fn = slot->fn;
    }
    if (call.fn) run_callback(&call, false, [&](SharedCall<OnState> &c) {
            std::shared_ptr<OnState> fn = std::move(c.fn);  // released inside the scope
            if (*fn) (*fn)(s);
        });
}

inline void log_trampoline(pyro_log_level level, const char *message, void *ud) noexcept {
    auto *st = static_cast<CtxState *>(ud);
    SharedCall<OnLog> call{st, nullptr};
    {
        std::lock_guard<std::mutex> lock(st->mu);
        call.fn = st->log;
    }
    if (call.fn) run_callback(&call, false, [&](SharedCall<OnLog> &c) {
            std::shared_ptr<OnLog> fn = std::move(c.fn);
            if (*fn) (*fn)(level, message ? std::string_view(message) : std::string_view());
        });
}

inline void free_ctx(CtxState &st) noexcept {
    if (pyro_ctx *c = std::exchange(st.ctx, nullptr)) pyro_ctx_free(c);
}
// Frees the C context and drops what the destroyed Context left: its exceptions, its
// log callback, the reference that kept an orphaned state alive.
inline void discard(CtxState &st) noexcept {
    free_ctx(st);
    std::deque<std::exception_ptr> errors;
    std::shared_ptr<OnLog> log;
    std::shared_ptr<CtxState> self;
    {
        std::lock_guard<std::mutex> lock(st.mu);
        errors.swap(st.errors);
        log.swap(st.log);
        self.swap(st.self);
    }
}

// Whole milliseconds, rounded up (a 500 us deadline is 1 ms, not "none").
template <typename Rep, typename Period> uint32_t to_ms(std::chrono::duration<Rep, Period> d, const char *what) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
    if (ms < 0 || static_cast<unsigned long long>(ms) > std::numeric_limits<uint32_t>::max())
        throw Error(PYRO_ERR_INVALID_ARGUMENT, std::string(what) + " out of range (0 .. 2^32-1 ms)");
    return static_cast<uint32_t>(ms);
}

// Starts a call with a CallHolder; the holder belongs to the library once accepted.
template <typename Start>
pyro_call_id start_call(CtxState *st, OnResult on_result, OnError on_error, const std::string &what, Start &&start) {
    auto h = std::make_unique<CallHolder>(CallHolder{st, std::move(on_result), std::move(on_error)});
    pyro_call_id id = start(h.get());
    if (id == 0) throw refused(what + " refused");
    h.release();
    return id;
}
inline const char *opt_cstr(const std::optional<std::string> &s) noexcept { return s ? s->c_str() : nullptr; }
inline pyro_value *opt_release(std::optional<Value> &v) noexcept { return v ? v->release() : nullptr; }
}  // namespace detail

/// Context options (pyro_ctx_options, initialised with the defaults and the environment).
/// Setters chain: `pyro::Context ctx(pyro::Options().call_timeout(2s).max_retries(1));`
class Options {
public:
    Options() noexcept { pyro_ctx_options_init(&o_, sizeof o_); }
    Options &serializer(pyro_serializer s) noexcept {
        o_.serializer = s;
        return *this;
    }
    Options &max_message_size(uint64_t bytes) noexcept {
        o_.max_message_size = bytes;
        return *this;
    }
    template <typename R, typename P> Options &connect_timeout(std::chrono::duration<R, P> d) {
        o_.connect_timeout_ms = detail::to_ms(d, "connect timeout");
        return *this;
    }
    Options &worker_threads(uint32_t n) noexcept {
        o_.worker_threads = n;
        return *this;
    }
    Options &ns_host(std::string host) {
        ns_host_ = std::move(host);
        return *this;
    }
    Options &ns_port(uint16_t port) noexcept {
        o_.ns_port = port;
        return *this;
    }
    Options &ns_bcport(uint16_t port) noexcept {
        o_.ns_bcport = port;
        return *this;
    }
    /// Comma-separated broadcast addresses; "" disables broadcast discovery.
    Options &broadcast_addrs(std::string addrs) {
        broadcast_addrs_ = std::move(addrs);
        return *this;
    }
    /// Patience for new proxies (tries 0: not patient; see Proxy::set_patience).
    template <typename R, typename P> Options &patience(std::chrono::duration<R, P> interval, uint32_t max_tries) {
        o_.patience_interval_ms = detail::to_ms(interval, "patience interval");
        o_.patience_max_tries = max_tries;
        return *this;
    }
    Options &max_retries(uint32_t n) noexcept {
        o_.max_retries = n;
        return *this;
    }
    /// Default per-call deadline of new proxies (0: none).
    template <typename R, typename P> Options &call_timeout(std::chrono::duration<R, P> d) {
        o_.call_timeout_ms = detail::to_ms(d, "call timeout");
        return *this;
    }
    /// The C options; their strings point into this object.
    pyro_ctx_options c_options() const noexcept {
        pyro_ctx_options o = o_;
        if (ns_host_) o.ns_host = ns_host_->c_str();
        if (broadcast_addrs_) o.broadcast_addrs = broadcast_addrs_->c_str();
        return o;
    }

private:
    pyro_ctx_options o_;
    std::optional<std::string> ns_host_, broadcast_addrs_;
};

/// Filters of Context::ns_list (all optional).
struct NsQuery {
    std::optional<std::string> prefix, regex;
    std::optional<Value> metadata_all, metadata_any;  // sets or lists of str
    bool return_metadata = false;
};

class Proxy;
class Batch;

/// A client context: one I/O thread, one fd to watch for readability; call dispatch()
/// when it is readable.
class Context {
public:
    Context() : Context(nullptr) {}
    explicit Context(const Options &o) : Context(o.c_options()) {}
    explicit Context(const pyro_ctx_options &o) : Context(&o) {}
    /// Frees the context (see the top of this file: outstanding calls' callbacks run,
    /// their exceptions are discarded). Destroyed inside one of its own callbacks (where
    /// the library refuses to free it), the context is freed by the Context::dispatch
    /// running that round, once the round is over; if the round was run by
    /// pyro_ctx_dispatch directly (an adapter), it is left allocated (leaked) rather
    /// than freed under its running callback.
    ~Context() { teardown(); }
    Context(Context &&o) noexcept = default;
    Context &operator=(Context &&o) noexcept {
        if (this != &o) {
            teardown();
            st_ = std::move(o.st_);
        }
        return *this;
    }
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    /// The fd to watch (borrowed); -1 for a closed or moved-from context.
    int fd() const noexcept { return pyro_ctx_fd(c()); }
    /// Runs up to `max` pending callbacks (0: all) and returns how many ran; then
    /// rethrows the oldest exception a callback threw (see the top of this file).
    size_t dispatch(size_t max = 0) {
        std::shared_ptr<detail::CtxState> st = st_;  // a callback may destroy *this
        if (!st) return 0;
        size_t n = st->ctx ? pyro_ctx_dispatch(st->ctx, max) : 0;
        if (detail::CallbackScope::inside(st.get())) return n;  // the outer dispatch rethrows
        if (st->orphaned) {  // destroyed by a callback of this round: tear down now
            detail::discard(*st);
            return n;
        }
        bool more = false;
        std::exception_ptr e = st->take(&more);
        if (!e) return n;
        if (more && st->ctx) pyro_ctx_post(st->ctx, detail::wake_trampoline, nullptr);
        std::rethrow_exception(e);
    }
    /// Completions waiting for dispatch.
    size_t pending() const noexcept { return pyro_ctx_pending(c()); }
    /// Exceptions thrown by callbacks and not yet rethrown.
    size_t pending_exceptions() const noexcept { return st_ ? st_->pending() : 0; }
    /// The oldest exception not yet rethrown, removed from the queue; null if none.
    std::exception_ptr take_exception() noexcept { return st_ ? st_->take() : nullptr; }
    /// Cancels a pending call or stream (its error callback gets PYRO_ERR_CANCELLED at the
    /// next dispatch); false if it already completed.
    bool cancel(pyro_call_id id) noexcept { return pyro_call_cancel(c(), id); }
    /// Runs `f` on the dispatching thread in the next dispatch (callable from any thread);
    /// false (f never runs) once the context is closed.
    bool post(Callback<void()> f) {
        if (!st_ || !st_->ctx) return false;
        auto h = std::make_unique<detail::PostHolder>(detail::PostHolder{st_.get(), std::move(f)});
        if (!pyro_ctx_post(st_->ctx, detail::post_trampoline, h.get())) return false;
        h.release();
        return true;
    }
    /// Busy-poll window of the I/O thread (pyro_ctx_set_busy_poll); throws pyro::Error
    /// (INVALID_ARGUMENT) above 10 ms.
    template <typename R, typename P> void set_busy_poll(std::chrono::duration<R, P> window) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(window).count();
        if (us < 0 || us > 10000 || !pyro_ctx_set_busy_poll(c(), static_cast<uint32_t>(us)))
            throw Error(PYRO_ERR_INVALID_ARGUMENT, "busy-poll window must be 0..10000 us");
    }
    /// Read replies in dispatch (pyro_ctx_read_replies_in_dispatch): call before fd()
    /// and before attaching a loop adapter. Throws pyro::Error when refused.
    void read_replies_in_dispatch() {
        pyro_error *e = nullptr;
        if (!pyro_ctx_read_replies_in_dispatch(c(), &e)) detail::throw_owned(e, "closed context");
    }
    /// Routes the library's messages at `max_level` and more severe to `fn`, called inside
    /// dispatch (an empty fn stops logging). A message queued before a change goes to the
    /// callback current when it is dispatched.
    void set_log_callback(pyro_log_level max_level, OnLog fn) {
        if (!st_) throw Error(PYRO_ERR_INVALID_ARGUMENT, "moved-from context");
        std::shared_ptr<OnLog> f = fn ? std::make_shared<OnLog>(std::move(fn)) : nullptr;
        {
            std::lock_guard<std::mutex> lock(st_->mu);
            st_->log = f;
        }
        if (!pyro_ctx_set_log_callback(st_->ctx, max_level, f ? detail::log_trampoline : nullptr, st_.get()))
            throw Error(PYRO_ERR_INVALID_ARGUMENT, "closed context");
    }

    /// Frees the context now, as the destructor does, then rethrows the oldest exception
    /// not yet rethrown (those thrown by the callbacks teardown ran included; later
    /// dispatch() calls rethrow the rest). Throws pyro::Error from inside one of the
    /// context's own callbacks (the library refuses to free it then). Afterwards the
    /// context is closed: calls and proxies are refused, fd() is -1.
    void close() {
        std::shared_ptr<detail::CtxState> st = st_;  // a teardown callback may destroy *this
        if (!st) return;
        if (detail::CallbackScope::inside(st.get()))
            throw Error(PYRO_ERR_INVALID_ARGUMENT, "Context::close() inside one of the context's own callbacks");
        detail::free_ctx(*st);
        if (std::exception_ptr e = st->take()) std::rethrow_exception(e);
    }
    bool is_open() const noexcept { return c() != nullptr; }

    // --- name server (located as configured by the Options) ---
    /// Looks a name up: the URI (an object of class "Pyro4.core.URI"), or (uri, metadata).
    pyro_call_id ns_lookup(const std::string &name, OnResult on_result, OnError on_error = {},
                           bool return_metadata = false) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "ns_lookup", [&](void *h) {
            return pyro_ns_lookup(c(), name.c_str(), return_metadata, detail::result_trampoline,
                                  detail::error_trampoline, h);
        });
    }
    /// Lists registrations: a dict name -> URI text (or -> (uri, metadata)).
    pyro_call_id ns_list(NsQuery query, OnResult on_result, OnError on_error = {}) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "ns_list", [&](void *h) {
            return pyro_ns_list(c(), detail::opt_cstr(query.prefix), detail::opt_cstr(query.regex),
                                detail::opt_release(query.metadata_all), detail::opt_release(query.metadata_any),
                                query.return_metadata, detail::result_trampoline, detail::error_trampoline, h);
        });
    }
    /// Registers name -> uri (URI text), with optional metadata (a set or list of str).
    /// With `safe`, an existing name is an error instead of being replaced.
    pyro_call_id ns_register(const std::string &name, const std::string &uri, OnResult on_result = {},
                             OnError on_error = {}, bool safe = false, std::optional<Value> metadata = std::nullopt) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "ns_register", [&](void *h) {
            return pyro_ns_register(c(), name.c_str(), uri.c_str(), safe, detail::opt_release(metadata),
                                    detail::result_trampoline, detail::error_trampoline, h);
        });
    }
    /// Removes a name; the result is the number removed.
    pyro_call_id ns_remove(const std::string &name, OnResult on_result = {}, OnError on_error = {}) {
        return ns_remove_impl(name.c_str(), nullptr, nullptr, std::move(on_result), std::move(on_error));
    }
    /// Removes every name under `prefix`.
    pyro_call_id ns_remove_prefix(const std::string &prefix, OnResult on_result = {}, OnError on_error = {}) {
        return ns_remove_impl(nullptr, prefix.c_str(), nullptr, std::move(on_result), std::move(on_error));
    }
    /// Removes every name matching `regex`.
    pyro_call_id ns_remove_regex(const std::string &regex, OnResult on_result = {}, OnError on_error = {}) {
        return ns_remove_impl(nullptr, nullptr, regex.c_str(), std::move(on_result), std::move(on_error));
    }
    pyro_call_id ns_ping(OnResult on_result, OnError on_error = {}) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "ns_ping", [&](void *h) {
            return pyro_ns_ping(c(), detail::result_trampoline, detail::error_trampoline, h);
        });
    }
    /// The number of registrations.
    pyro_call_id ns_count(OnResult on_result, OnError on_error = {}) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "ns_count", [&](void *h) {
            return pyro_ns_count(c(), detail::result_trampoline, detail::error_trampoline, h);
        });
    }

    pyro_ctx *get() const noexcept { return c(); }

private:
    explicit Context(const pyro_ctx_options *o) : st_(std::make_shared<detail::CtxState>()) {
        st_->ctx = pyro_ctx_new(o);
        if (!st_->ctx)
            throw detail::refused(o ? "invalid pyro_ctx_options" : "cannot create pyro_ctx",
                                  o ? PYRO_ERR_INVALID_ARGUMENT : PYRO_ERR_COMMUNICATION);
    }
    pyro_ctx *c() const noexcept { return st_ ? st_->ctx : nullptr; }
    detail::CtxState *state() const {
        if (!st_) throw Error(PYRO_ERR_INVALID_ARGUMENT, "moved-from context");
        return st_.get();
    }
    pyro_call_id ns_remove_impl(const char *name, const char *prefix, const char *regex, OnResult on_result,
                                OnError on_error) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "ns_remove", [&](void *h) {
            return pyro_ns_remove(c(), name, prefix, regex, detail::result_trampoline, detail::error_trampoline, h);
        });
    }
    void teardown() noexcept {
        if (!st_) return;
        if (st_->ctx && detail::CallbackScope::inside(st_.get())) {
            // Refused by the library now (see ~Context): left to the running dispatch.
            detail::CtxState &st = *st_;
            st.orphaned = true;
            st.self = std::move(st_);
            return;
        }
        detail::discard(*st_);
        st_.reset();
    }
    friend class Proxy;
    std::shared_ptr<detail::CtxState> st_;
};

/// A proxy for one remote object. Outlives its Context safely (calls are then refused).
class Proxy {
public:
    /// `PYRO:obj@host:port`, `PYRONAME:name`, `PYROMETA:meta`, ...; throws pyro::Error.
    Proxy(Context &ctx, const std::string &uri) : st_(ctx.st_) {
        pyro_error *e = nullptr;
        p_ = pyro_proxy_new(ctx.c(), uri.c_str(), &e);
        if (!p_) detail::throw_owned(e, "closed context");
    }
    /// A proxy for the name server itself (pyro_ns_proxy_new).
    static Proxy name_server(Context &ctx) {
        pyro_error *e = nullptr;
        pyro_proxy *p = pyro_ns_proxy_new(ctx.c(), &e);
        if (!p) detail::throw_owned(e, "name server proxy refused");
        return Proxy(ctx.st_, p);
    }
    /// A proxy for a Pyro4 proxy or URI value a call returned, or URI text
    /// (pyro_value_to_proxy); throws pyro::Error for other values.
    static Proxy from_value(Context &ctx, ValueRef v) {
        pyro_proxy *p = pyro_value_to_proxy(ctx.c(), v.get());
        if (!p) throw detail::refused("not a proxy or URI (or a closed context): " + v.repr());
        return Proxy(ctx.st_, p);
    }
    static Proxy from_value(Context &ctx, const Value &v) { return from_value(ctx, v.ref()); }
    /// Frees the proxy; its pending calls complete with PYRO_ERR_CANCELLED at the next
    /// dispatch.
    ~Proxy() { reset(); }
    Proxy(Proxy &&o) noexcept
        : p_(std::exchange(o.p_, nullptr)), st_(std::move(o.st_)), slot_(std::exchange(o.slot_, nullptr)) {}
    Proxy &operator=(Proxy &&o) noexcept {
        if (this != &o) {
            reset();
            p_ = std::exchange(o.p_, nullptr);
            st_ = std::move(o.st_);
            slot_ = std::exchange(o.slot_, nullptr);
        }
        return *this;
    }
    Proxy(const Proxy &) = delete;
    Proxy &operator=(const Proxy &) = delete;

    /// Calls `method(*args, **kwargs)` (args a tuple or list); exactly one of the
    /// callbacks runs later in Context::dispatch. Throws pyro::Error if refused.
    pyro_call_id call(const std::string &method, Value args, OnResult on_result, OnError on_error = {},
                      std::optional<Value> kwargs = std::nullopt) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "call to " + method, [&](void *h) {
            return pyro_call_async(p_, method.c_str(), args.release(), detail::opt_release(kwargs),
                                   detail::result_trampoline, detail::error_trampoline, h);
        });
    }
    /// Calls `method(*args, **kwargs)` and waits for its reply on this thread
    /// (pyro_call_sync): returns the result or throws pyro::Error (remote exception,
    /// communication error, PYRO_ERR_TIMEOUT after `timeout` (0: only the proxy's own
    /// deadline), PYRO_ERR_CANCELLED, or INVALID_ARGUMENT when refused, e.g. inside one
    /// of the context's own callbacks). Other calls' callbacks still run in dispatch.
    Value call_sync(const std::string &method, Value args, std::optional<Value> kwargs = std::nullopt,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
        uint32_t ms = detail::to_ms(timeout, "timeout");
        pyro_value *result = nullptr;
        pyro_error *e = nullptr;
        if (!pyro_call_sync(p_, method.c_str(), args.release(), detail::opt_release(kwargs), ms, &result, &e))
            detail::throw_owned(e, "call_sync refused");
        return Value::adopt(result);
    }
    /// Sends `method` without waiting for a reply; `on_result` gets None once written.
    pyro_call_id oneway(const std::string &method, Value args, OnResult on_result = {}, OnError on_error = {},
                        std::optional<Value> kwargs = std::nullopt) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "oneway " + method, [&](void *h) {
            return pyro_call_oneway(p_, method.c_str(), args.release(), detail::opt_release(kwargs),
                                    detail::result_trampoline, detail::error_trampoline, h);
        });
    }
    /// Streams a remote generator's items to `on_item`, then exactly one of `on_end` or
    /// `on_error` runs. Context::cancel(id) stops it (PYRO_ERR_CANCELLED). An exception
    /// from `on_item` does not stop the stream: cancel it to stop.
    pyro_call_id stream(const std::string &method, Value args, OnResult on_item, OnEnd on_end,
                        OnError on_error = {}, std::optional<Value> kwargs = std::nullopt) {
        auto h = std::make_unique<detail::StreamHolder>(
            detail::StreamHolder{state(), std::move(on_item), std::move(on_end), std::move(on_error)});
        pyro_call_id id = pyro_call_stream(p_, method.c_str(), args.release(), detail::opt_release(kwargs),
                                           detail::item_trampoline, detail::end_trampoline,
                                           detail::stream_error_trampoline, h.get());
        if (id == 0) throw detail::refused("stream " + method + " refused");
        h.release();
        return id;
    }
    /// Reads a remote attribute.
    pyro_call_id get_attr(const std::string &name, OnResult on_result, OnError on_error = {}) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "get_attr " + name, [&](void *h) {
            return pyro_get_attr(p_, name.c_str(), detail::result_trampoline, detail::error_trampoline, h);
        });
    }
    /// Sets a remote attribute; `on_result` gets None.
    pyro_call_id set_attr(const std::string &name, Value value, OnResult on_result = {}, OnError on_error = {}) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "set_attr " + name, [&](void *h) {
            return pyro_set_attr(p_, name.c_str(), value.release(), detail::result_trampoline,
                                 detail::error_trampoline, h);
        });
    }
    /// Pings the daemon (connects first if needed); `on_result` gets None.
    pyro_call_id ping(OnResult on_result, OnError on_error = {}) {
        return detail::start_call(state(), std::move(on_result), std::move(on_error), "ping", [&](void *h) {
            return pyro_proxy_ping(p_, detail::result_trampoline, detail::error_trampoline, h);
        });
    }
    /// A batch of calls sent as one message.
    inline Batch batch();

    /// Connects now instead of at the first call.
    void bind() { detail::require(pyro_proxy_bind(p_), "bind: moved-from proxy"); }
    /// Closes the connection; the next call connects again.
    void release() { detail::require(pyro_proxy_release(p_), "release: moved-from proxy"); }
    /// Deadline of each later call (0: none).
    template <typename R, typename P> void set_timeout(std::chrono::duration<R, P> d) {
        detail::require(pyro_proxy_set_timeout(p_, detail::to_ms(d, "timeout")), "set_timeout: moved-from proxy");
    }
    /// Retries of a call whose connection died (a retried call may run twice).
    void set_max_retries(uint32_t n) { detail::require(pyro_proxy_set_max_retries(p_, n), "set_max_retries refused"); }
    /// Patience: retry every `interval` (0: the default 2 s) up to `max_tries` times while
    /// the name or the server is not there; max_tries 0 turns it off.
    template <typename R, typename P> void set_patience(std::chrono::duration<R, P> interval, uint32_t max_tries) {
        detail::require(pyro_proxy_set_patience(p_, detail::to_ms(interval, "patience interval"), max_tries),
                        "set_patience refused");
    }
    void set_serializer(pyro_serializer s) {
        detail::require(pyro_proxy_set_serializer(p_, s), "set_serializer refused (unknown serializer)");
    }
    /// Reports connection state changes inside dispatch (an empty fn stops). A change
    /// queued before a replacement goes to the callback current when it is dispatched;
    /// none runs once the proxy is destroyed (the library may still deliver changes it
    /// queued before: a small slot per proxy that set a callback stays with the Context
    /// until it is destroyed, so that they find nothing to call).
    void set_state_callback(OnState fn) {
        detail::CtxState *st = state();
        detail::require(p_ != nullptr, "set_state_callback: moved-from proxy");
        std::shared_ptr<OnState> f = fn ? std::make_shared<OnState>(std::move(fn)) : nullptr;
        {
            std::lock_guard<std::mutex> lock(st->mu);
            if (!slot_) {
                st->slots.push_back(std::make_unique<detail::StateSlot>(detail::StateSlot{st, nullptr}));
                slot_ = st->slots.back().get();
            }
            slot_->fn = f;
        }
        detail::require(pyro_proxy_set_state_callback(p_, f ? detail::state_trampoline : nullptr, slot_),
                        "set_state_callback refused");
    }
    /// HMAC key (Pyro4's _pyroHmacKey), copied.
    void set_hmac_key(std::string_view key) {
        detail::require(pyro_proxy_set_hmac_key(p_, reinterpret_cast<const uint8_t *>(key.data()), key.size()),
                        "set_hmac_key refused");
    }
    void clear_hmac_key() { detail::require(pyro_proxy_set_hmac_key(p_, nullptr, 0), "clear_hmac_key refused"); }
    /// zlib-compress request data (when it helps).
    void set_compression(bool on) { detail::require(pyro_proxy_set_compression(p_, on), "set_compression refused"); }
    /// An annotation sent with every later request: `key` is 4 ASCII characters, `data`
    /// at most 65535 bytes; throws pyro::Error otherwise.
    void set_annotation(const std::string &key, std::string_view data) {
        detail::require(pyro_proxy_set_annotation(p_, key.c_str(), reinterpret_cast<const uint8_t *>(data.data()),
                                                  data.size()),
                        "set_annotation refused (key must be 4 ASCII characters, data at most 65535 bytes)");
    }
    void remove_annotation(const std::string &key) {
        detail::require(pyro_proxy_set_annotation(p_, key.c_str(), nullptr, 0), "remove_annotation refused");
    }
    /// The 16-byte correlation id ("CORR") sent with later requests.
    void set_correlation_id(const std::array<uint8_t, 16> &id) {
        detail::require(pyro_proxy_set_correlation_id(p_, id.data()), "set_correlation_id refused");
    }
    void clear_correlation_id() {
        detail::require(pyro_proxy_set_correlation_id(p_, nullptr), "clear_correlation_id refused");
    }
    /// Data sent with the connect handshake (default "hello"), from the next connection.
    void set_handshake(Value data) {
        detail::require(pyro_proxy_set_handshake(p_, data.release()), "set_handshake refused");
    }
    /// The server's reply to the last handshake; nothing before the first connection.
    std::optional<Value> handshake_reply() const {
        pyro_value *v = pyro_proxy_handshake_reply(p_);
        return v ? std::optional<Value>(Value::adopt(v)) : std::nullopt;
    }
    /// The object's metadata from the last handshake ({'methods': ..., 'oneway': ...,
    /// 'attrs': ...}); nothing before the first connection.
    std::optional<Value> metadata() const {
        pyro_value *v = pyro_proxy_metadata(p_);
        return v ? std::optional<Value>(Value::adopt(v)) : std::nullopt;
    }
    /// TLS from the next connection: the server's certificate must chain to `ca_file`
    /// (PEM); with a client certificate and key (both or neither) the proxy authenticates
    /// itself. Throws pyro::Error (SECURITY or INVALID_ARGUMENT) if the files are unusable.
    void set_tls(const std::string &ca_file, const std::optional<std::string> &client_cert = std::nullopt,
                 const std::optional<std::string> &client_key = std::nullopt) {
        pyro_error *e = nullptr;
        if (!pyro_proxy_set_tls(p_, ca_file.c_str(), detail::opt_cstr(client_cert), detail::opt_cstr(client_key), &e))
            detail::throw_owned(e, "set_tls refused");
    }
    void disable_tls() {
        pyro_error *e = nullptr;
        if (!pyro_proxy_set_tls(p_, nullptr, nullptr, nullptr, &e)) detail::throw_owned(e, "disable_tls refused");
    }

    /// The URI the proxy was made with, unchanged; empty for a moved-from proxy.
    std::string uri() const { return detail::take_string(pyro_proxy_uri(p_)); }
    /// The `PYRO:obj@host:port` URI its calls go to; for a PYRONAME:/PYROMETA: proxy,
    /// nothing until a call (or bind()) resolved the name, or after its connection failed.
    std::optional<std::string> resolved_uri() const {
        char *s = pyro_proxy_resolved_uri(p_);
        if (!s) return std::nullopt;
        return detail::take_string(s);
    }

    pyro_proxy *get() const noexcept { return p_; }

private:
    Proxy(std::shared_ptr<detail::CtxState> st, pyro_proxy *p) noexcept : p_(p), st_(std::move(st)) {}
    detail::CtxState *state() const {
        if (!st_) throw Error(PYRO_ERR_INVALID_ARGUMENT, "moved-from proxy");
        return st_.get();
    }
    void reset() noexcept {
        if (p_) pyro_proxy_free(std::exchange(p_, nullptr));
        if (slot_) {
            std::shared_ptr<OnState> old;
            std::lock_guard<std::mutex> lock(st_->mu);
            old.swap(slot_->fn);  // destroyed after the lock is released
            slot_ = nullptr;
        }
        st_.reset();
    }
    friend class Batch;
    pyro_proxy *p_ = nullptr;
    std::shared_ptr<detail::CtxState> st_;
    detail::StateSlot *slot_ = nullptr;
};

/// Several calls sent as one message (Pyro4's batch): add calls, then send() once.
/// Destroying an unsent batch drops its calls (their callbacks never run).
class Batch {
public:
    explicit Batch(Proxy &p) : st_(p.st_) {
        reserve();
        b_ = pyro_batch_new(p.p_);
        detail::require(b_ != nullptr, "batch of a moved-from proxy");
    }
    ~Batch() { pyro_batch_free(b_); }
    Batch(Batch &&o) noexcept
        : b_(std::exchange(o.b_, nullptr)), st_(std::move(o.st_)), holders_(std::move(o.holders_)) {}
    Batch &operator=(Batch &&o) noexcept {
        if (this != &o) {
            pyro_batch_free(std::exchange(b_, o.b_));
            o.b_ = nullptr;
            st_ = std::move(o.st_);
            holders_ = std::move(o.holders_);
        }
        return *this;
    }
    Batch(const Batch &) = delete;
    Batch &operator=(const Batch &) = delete;

    /// Adds a call; its callbacks run in order with the others when the reply arrives.
    Batch &add(const std::string &method, Value args, OnResult on_result = {}, OnError on_error = {},
               std::optional<Value> kwargs = std::nullopt) {
        detail::require(b_ != nullptr, "batch already sent");
        holders_.reserve(holders_.size() + 1);
        auto h = std::make_unique<detail::CallHolder>(
            detail::CallHolder{st_.get(), std::move(on_result), std::move(on_error)});
        if (!pyro_batch_add(b_, method.c_str(), args.release(), detail::opt_release(kwargs),
                            detail::result_trampoline, detail::error_trampoline, h.get()))
            throw detail::refused("batch call to " + method + " refused");
        holders_.push_back(std::move(h));
        return *this;
    }
    size_t size() const noexcept { return holders_.size(); }
    /// Sends the batch (oneway: no reply awaited; each on_result gets None once written).
    /// Every added call then gets exactly one callback; returns the batch's id (cancel
    /// cancels them all). Throws pyro::Error if refused (empty or already sent).
    pyro_call_id send(bool oneway = false) {
        detail::require(b_ != nullptr, "batch already sent");
        pyro_call_id id = pyro_batch_send(std::exchange(b_, nullptr), oneway);
        if (id == 0) {
            holders_.clear();
            throw detail::refused("batch refused");
        }
        for (auto &h : holders_) h.release();
        holders_.clear();
        return id;
    }

private:
    void reserve() { holders_.reserve(4); }
    pyro_batch *b_ = nullptr;
    std::shared_ptr<detail::CtxState> st_;
    std::vector<std::unique_ptr<detail::CallHolder>> holders_;
};

inline Batch Proxy::batch() { return Batch(*this); }

}  // namespace pyro

#endif
