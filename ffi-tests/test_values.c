/* The value C API: constructors, literals, repr (against CPython's own repr), accessors,
 * ownership, NULL handling and the nesting limit. Runs under valgrind/ASan in CI: no leaks allowed. */
#include "check.h"
#include "pyro_async.h"
#include "repr_cases.h"

#include <math.h>
#include <stdlib.h>

static void check_repr(pyro_value *v, const char *want) {
    char *r = pyro_value_repr(v);
    CHECK_STR(r, want);
    pyro_string_free(r);
    pyro_value_free(v);
}

static void test_literals_match_python_repr(void) {
    size_t n = sizeof repr_cases / sizeof repr_cases[0];
    CHECK(n >= 40);
    for (size_t i = 0; i < n; i++) {
        pyro_error *err = NULL;
        pyro_value *v = pyro_value_from_literal(repr_cases[i][0], &err);
        CHECK(v != NULL);
        if (!v) {
            fprintf(stderr, "  literal %s: %s\n", repr_cases[i][0], pyro_error_message(err));
            pyro_error_free(err);
            continue;
        }
        CHECK(err == NULL);
        check_repr(v, repr_cases[i][1]);
    }
}

static void test_constructors(void) {
    check_repr(pyro_value_none(), "None");
    check_repr(pyro_value_bool(true), "True");
    check_repr(pyro_value_int(-7), "-7");
    check_repr(pyro_value_float(1.5), "1.5");
    check_repr(pyro_value_float(1e16), "1e+16");
    check_repr(pyro_value_float(NAN), "nan");
    check_repr(pyro_value_complex(0, 2), "2j");
    check_repr(pyro_value_str("h\xc3\xa9llo \xe2\x98\x83"), "'h\xc3\xa9llo \xe2\x98\x83'");
    CHECK(pyro_value_str("\xff\xfe") == NULL); /* invalid UTF-8 */
    check_repr(pyro_value_str_len("a\0b", 3), "'a\\x00b'");
    check_repr(pyro_value_bytes((const uint8_t *)"\x00\xff", 2), "b'\\x00\\xff'");
    check_repr(pyro_value_bigint_from_str("-123456789012345678901234567890"), "-123456789012345678901234567890");
    CHECK(pyro_value_bigint_from_str("12x") == NULL);

    pyro_value *t = pyro_value_tuple();
    CHECK(pyro_value_append(t, pyro_value_int(1)));
    check_repr(t, "(1,)");

    pyro_value *l = pyro_value_list();
    CHECK(pyro_value_append(l, pyro_value_str("a")));
    pyro_value *inner = pyro_value_tuple();
    pyro_value_append(inner, pyro_value_none());
    pyro_value_append(inner, pyro_value_bool(false));
    CHECK(pyro_value_append(l, inner));
    check_repr(l, "['a', (None, False)]");

    pyro_value *s = pyro_value_set();
    CHECK(pyro_value_append(s, pyro_value_int(5)));
    CHECK(pyro_value_append(s, pyro_value_int(5))); /* equal element: ignored */
    CHECK(!pyro_value_append(s, pyro_value_list())); /* unhashable: refused, still consumed */
    check_repr(s, "{5}");
    check_repr(pyro_value_set(), "set()");

    pyro_value *d = pyro_value_dict();
    CHECK(pyro_value_dict_set(d, pyro_value_str("b"), pyro_value_int(1)));
    CHECK(pyro_value_dict_set(d, pyro_value_str("a"), pyro_value_int(2)));
    CHECK(pyro_value_dict_set(d, pyro_value_str("b"), pyro_value_int(3))); /* replace keeps position */
    CHECK(!pyro_value_dict_set(d, pyro_value_dict(), pyro_value_int(4))); /* unhashable key */
    check_repr(d, "{'b': 3, 'a': 2}");

    check_repr(pyro_value_object("mymod.Thing", pyro_value_from_literal("{'x': 1}", NULL)),
               "{'__class__': 'mymod.Thing', 'x': 1}");
}

static void test_accessors(void) {
    CHECK(pyro_value_from_literal("{'big': 2**64}", NULL) == NULL); /* an expression, not a literal */
    pyro_value *v = pyro_value_from_literal(
        "{'n': 7, 'f': 2.5, 's': 'h\\u00e9', 'b': b'\\x00z', 'l': [1, 2], 't': True, 'big': 18446744073709551616}",
        NULL);
    CHECK(pyro_value_get_kind(v) == PYRO_VALUE_DICT);
    CHECK(pyro_value_len(v) == 7);
    int64_t i = 0;
    CHECK(pyro_value_as_int(pyro_value_dict_get_str(v, "n"), &i) && i == 7);
    double f = 0;
    CHECK(pyro_value_as_float(pyro_value_dict_get_str(v, "f"), &f) && f == 2.5);
    CHECK(pyro_value_as_float(pyro_value_dict_get_str(v, "n"), &f) && f == 7.0);
    size_t len = 0;
    const char *str = pyro_value_as_str(pyro_value_dict_get_str(v, "s"), &len);
    CHECK(str && len == 3 && strcmp(str, "h\xc3\xa9") == 0);
    const uint8_t *b = pyro_value_as_bytes(pyro_value_dict_get_str(v, "b"), &len);
    CHECK(b && len == 2 && b[0] == 0 && b[1] == 'z');
    const pyro_value *l = pyro_value_dict_get_str(v, "l");
    CHECK(pyro_value_get_kind(l) == PYRO_VALUE_LIST && pyro_value_len(l) == 2);
    CHECK(pyro_value_as_int(pyro_value_get(l, 1), &i) && i == 2);
    CHECK(pyro_value_get(l, 2) == NULL);
    bool t = false;
    CHECK(pyro_value_as_bool(pyro_value_dict_get_str(v, "t"), &t) && t);
    const pyro_value *big = pyro_value_dict_get_str(v, "big");
    CHECK(pyro_value_get_kind(big) == PYRO_VALUE_BIGINT);
    CHECK(!pyro_value_as_int(big, &i));
    char *bs = pyro_value_bigint_to_str(big);
    CHECK_STR(bs, "18446744073709551616");
    pyro_string_free(bs);
    pyro_value *key = pyro_value_str("f");
    CHECK(pyro_value_dict_get(v, key) == pyro_value_dict_get_str(v, "f"));
    pyro_value_free(key);
    /* iteration in insertion order */
    const pyro_value *k, *val;
    size_t n = 0;
    for (size_t j = 0; pyro_value_dict_item(v, j, &k, &val); j++) n++;
    CHECK(n == 7);
    CHECK(pyro_value_dict_item(v, 0, &k, &val) && strcmp(pyro_value_as_str(k, NULL), "n") == 0);
    /* wrong kinds */
    CHECK(pyro_value_as_str(pyro_value_dict_get_str(v, "n"), &len) == NULL);
    CHECK(!pyro_value_as_bool(pyro_value_dict_get_str(v, "n"), &t));
    CHECK(pyro_value_dict_get_str(v, "missing") == NULL);
    /* a str with an embedded NUL keeps its length */
    pyro_value *nul = pyro_value_str_len("a\0b", 3);
    CHECK(pyro_value_as_str(nul, &len) != NULL && len == 3);
    pyro_value *copy = pyro_value_clone(v);
    char *r1 = pyro_value_repr(v), *r2 = pyro_value_repr(copy);
    CHECK_STR(r1, r2);
    pyro_string_free(r1);
    pyro_string_free(r2);
    pyro_value_free(copy);
    pyro_value_free(nul);
    pyro_value_free(v);
}

static void test_null_and_errors(void) {
    int64_t i;
    size_t len;
    CHECK(pyro_value_repr(NULL) == NULL);
    CHECK(pyro_value_get_kind(NULL) == PYRO_VALUE_NONE);
    CHECK(!pyro_value_as_int(NULL, &i));
    CHECK(pyro_value_as_str(NULL, &len) == NULL);
    CHECK(pyro_value_get(NULL, 0) == NULL);
    CHECK(pyro_value_dict_get_str(NULL, "x") == NULL);
    CHECK(pyro_value_len(NULL) == 0);
    CHECK(!pyro_value_append(NULL, pyro_value_int(1))); /* item consumed: no leak */
    pyro_value *tup = pyro_value_tuple();
    CHECK(!pyro_value_append(tup, NULL));
    pyro_value_free(tup);
    CHECK(pyro_value_clone(NULL) == NULL);
    pyro_value_free(NULL);
    pyro_string_free(NULL);
    pyro_error_free(NULL);
    pyro_value *notseq = pyro_value_int(3);
    CHECK(!pyro_value_append(notseq, pyro_value_int(1)));
    pyro_value_free(notseq);

    pyro_error *err = NULL;
    CHECK(pyro_value_from_literal("(1, 2", &err) == NULL);
    CHECK(err != NULL);
    CHECK(pyro_error_get_kind(err) == PYRO_ERR_SERIALIZATION);
    CHECK(pyro_error_message(err) && strstr(pyro_error_message(err), "offset"));
    CHECK(pyro_error_remote_type(err) == NULL);
    pyro_error_free(err);
    err = NULL;
    CHECK(pyro_value_from_literal(NULL, &err) == NULL);
    CHECK(pyro_error_get_kind(err) == PYRO_ERR_INVALID_ARGUMENT);
    pyro_error_free(err);
    CHECK(pyro_value_from_literal("[[[[", NULL) == NULL); /* error out-param may be NULL */
}

/* `levels` containers made by `make`, each holding the previous one, around an int: one
 * append per level, as a host builds a nested value. */
static pyro_value *nested(size_t levels, pyro_value *(*make)(void)) {
    pyro_value *v = pyro_value_int(1);
    for (size_t i = 0; i < levels; i++) {
        pyro_value *outer = make();
        if (!pyro_value_append(outer, v)) {
            pyro_value_free(outer);
            return NULL;
        }
        v = outer;
    }
    return v;
}

static void test_depth_limit_on_append(void) {
    CHECK(pyro_value_depth(NULL) == 0);
    CHECK(pyro_value_depth(pyro_value_get(NULL, 0)) == 0);
    pyro_value *scalar = pyro_value_int(1);
    CHECK(pyro_value_depth(scalar) == 0);
    pyro_value_free(scalar);

    /* The reported crash: each new list gets the previous one appended. The limit stops the
     * chain exactly at PYRO_VALUE_MAX_DEPTH; the refused item is freed (valgrind checks). */
    pyro_value *chain = pyro_value_list();
    size_t first_refused = 0;
    for (size_t i = 1; i <= 2 * PYRO_VALUE_MAX_DEPTH && !first_refused; i++) {
        pyro_value *outer = pyro_value_list();
        if (pyro_value_append(outer, chain)) {
            chain = outer;
        } else {
            first_refused = i;
            CHECK(pyro_value_len(outer) == 0); /* unchanged */
            pyro_value_free(outer);
        }
    }
    CHECK(first_refused == PYRO_VALUE_MAX_DEPTH);

    /* Exactly at the limit: accepted, and it can be copied, printed and freed. */
    pyro_value *max = nested(PYRO_VALUE_MAX_DEPTH, pyro_value_list);
    CHECK(max != NULL);
    CHECK(pyro_value_depth(max) == PYRO_VALUE_MAX_DEPTH);
    pyro_value *copy = pyro_value_clone(max);
    CHECK(pyro_value_depth(copy) == PYRO_VALUE_MAX_DEPTH);
    char *r = pyro_value_repr(copy);
    CHECK(r && strlen(r) == 2 * PYRO_VALUE_MAX_DEPTH + 1);
    CHECK(r && r[0] == '[' && r[PYRO_VALUE_MAX_DEPTH - 1] == '[' && r[PYRO_VALUE_MAX_DEPTH] == '1' &&
          r[PYRO_VALUE_MAX_DEPTH + 1] == ']');
    pyro_string_free(r);
    pyro_value_free(copy);
    /* One level more: refused, and the item is consumed. */
    pyro_value *tup = pyro_value_tuple();
    CHECK(!pyro_value_append(tup, max));
    CHECK(pyro_value_len(tup) == 0);
    pyro_value_free(tup);

    /* Sets take hashable items: nested tuples. */
    pyro_value *set = pyro_value_set();
    CHECK(pyro_value_append(set, nested(PYRO_VALUE_MAX_DEPTH - 1, pyro_value_tuple)));
    CHECK(pyro_value_depth(set) == PYRO_VALUE_MAX_DEPTH);
    CHECK(!pyro_value_append(set, nested(PYRO_VALUE_MAX_DEPTH, pyro_value_tuple)));
    CHECK(pyro_value_len(set) == 1);
    pyro_value_free(set);
}

static void test_depth_limit_on_dict_object_literal(void) {
    pyro_value *d = pyro_value_dict();
    CHECK(pyro_value_dict_set(d, nested(PYRO_VALUE_MAX_DEPTH - 1, pyro_value_tuple),
                              nested(PYRO_VALUE_MAX_DEPTH - 1, pyro_value_list)));
    CHECK(pyro_value_depth(d) == PYRO_VALUE_MAX_DEPTH);
    /* too deep a value or key: refused, both consumed, the dict unchanged */
    CHECK(!pyro_value_dict_set(d, pyro_value_int(2), nested(PYRO_VALUE_MAX_DEPTH, pyro_value_list)));
    CHECK(!pyro_value_dict_set(d, nested(PYRO_VALUE_MAX_DEPTH, pyro_value_tuple), pyro_value_int(2)));
    CHECK(pyro_value_len(d) == 1);
    pyro_value *copy = pyro_value_clone(d);
    CHECK(pyro_value_depth(copy) == PYRO_VALUE_MAX_DEPTH);
    pyro_value_free(copy);
    pyro_value_free(d);

    /* an object is one level above its state */
    pyro_value *obj = pyro_value_object("m.C", nested(PYRO_VALUE_MAX_DEPTH - 1, pyro_value_list));
    CHECK(obj != NULL);
    CHECK(pyro_value_depth(obj) == PYRO_VALUE_MAX_DEPTH);
    char *r = pyro_value_repr(obj);
    CHECK(r && strncmp(r, "{'__class__': 'm.C', 'state': [[", 32) == 0);
    pyro_string_free(r);
    pyro_value_free(obj);
    CHECK(pyro_value_object("m.C", nested(PYRO_VALUE_MAX_DEPTH, pyro_value_list)) == NULL);

    /* literal text: the same limit, with an error that names it */
    size_t n = PYRO_VALUE_MAX_DEPTH + 1;
    char *text = malloc(2 * n + 1);
    memset(text, '[', n);
    memset(text + n, ']', n);
    text[2 * n] = 0;
    text[2 * n - 1] = 0; /* one pair of brackets fewer: exactly at the limit */
    pyro_value *ok = pyro_value_from_literal(text + 1, NULL);
    CHECK(ok && pyro_value_depth(ok) == PYRO_VALUE_MAX_DEPTH);
    pyro_value_free(ok);
    text[2 * n - 1] = ']';
    pyro_error *err = NULL;
    CHECK(pyro_value_from_literal(text, &err) == NULL);
    CHECK(pyro_error_get_kind(err) == PYRO_ERR_SERIALIZATION);
    CHECK(pyro_error_message(err) && strstr(pyro_error_message(err), "PYRO_VALUE_MAX_DEPTH"));
    pyro_error_free(err);
    free(text);
}

int main(void) {
    RUN(test_literals_match_python_repr());
    RUN(test_constructors());
    RUN(test_accessors());
    RUN(test_null_and_errors());
    RUN(test_depth_limit_on_append());
    RUN(test_depth_limit_on_dict_object_literal());
    return check_report();
}
