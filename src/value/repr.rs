//! Python's `repr()` for [`Value`], character for character as CPython 3.11 prints it.

use super::printable::NON_PRINTABLE;
use super::Value;
use num_bigint::BigInt;
use std::fmt::Write;

/// Deeper than this prints `...` instead of recursing further. Decoded values and values
/// built through the C API stop at `serial::MAX_DEPTH`; only a value built deeper in Rust
/// gets here.
const REPR_MAX_DEPTH: usize = 2000;

pub(crate) fn write_repr(v: &Value, out: &mut String) {
    write_at(v, out, 0)
}

fn write_at(v: &Value, out: &mut String, depth: usize) {
    if depth > REPR_MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => push_int(*i, out),
        Value::BigInt(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Float(f) => float_repr_into(*f, out),
        Value::Complex { re, im } => out.push_str(&complex_repr(*re, *im)),
        Value::Str(s) => str_repr(s, out),
        Value::Bytes(b) => bytes_repr(b, out),
        Value::List(items) => seq(out, "[", "]", items, depth),
        Value::Tuple(items) => {
            seq(out, "(", ")", items, depth);
            if items.len() == 1 {
                out.insert(out.len() - 1, ',');
            }
        }
        Value::Set(items) if items.is_empty() => out.push_str("set()"),
        Value::Set(items) => seq(out, "{", "}", items, depth),
        Value::Dict(items) => {
            out.push('{');
            for (i, (k, val)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_at(k, out, depth + 1);
                out.push_str(": ");
                write_at(val, out, depth + 1);
            }
            out.push('}');
        }
        Value::Object(obj) => {
            // As the class dict Pyro4's serializers carry it.
            out.push_str("{'__class__': ");
            str_repr(&obj.class, out);
            match &obj.state {
                Value::Dict(items) => {
                    for (k, val) in items {
                        out.push_str(", ");
                        write_at(k, out, depth + 1);
                        out.push_str(": ");
                        write_at(val, out, depth + 1);
                    }
                }
                other => {
                    out.push_str(", 'state': ");
                    write_at(other, out, depth + 1);
                }
            }
            out.push('}');
        }
    }
}

/// An `i64` in decimal, written directly: going through `write!` (its padding machinery)
/// cost more than the rest of encoding an int.
pub(crate) fn push_int(i: i64, out: &mut String) {
    let mut buf = [0u8; 20]; // i64::MIN has 19 digits
    let mut n = i.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&buf[at..]).expect("ASCII digits"));
}

fn seq(out: &mut String, open: &str, close: &str, items: &[Value], depth: usize) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_at(item, out, depth + 1);
    }
    out.push_str(close);
}

fn is_printable(c: char) -> bool {
    let cp = c as u32;
    NON_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// `repr(str)`: CPython's quote choice and escapes.
pub(crate) fn str_repr(s: &str, out: &mut String) {
    let bytes = s.as_bytes();
    out.reserve(s.len() + 2);
    // The leading run of printable ASCII without `\` or `'` is copied as written whichever
    // quote is chosen (a `"` quote means the string has no `"`); it is often all of it.
    let plain = super::scan::plain_ascii_run(bytes, b'\\', b'\'');
    let quote = if bytes[plain..].contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    out.push_str(&s[..plain]);
    // Further runs of printable ASCII other than the quote and backslash are copied as
    // slices too; only the other characters go through the escaping match.
    let mut rest = &s[plain..];
    while !rest.is_empty() {
        let run = super::scan::plain_ascii_run(rest.as_bytes(), b'\\', quote as u8);
        out.push_str(&rest[..run]);
        rest = &rest[run..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
}

/// `repr(bytes)`.
pub(crate) fn bytes_repr(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push('b');
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            c if !(0x20..0x7f).contains(&c) => {
                let _ = write!(out, "\\x{c:02x}");
            }
            c => out.push(c as char),
        }
    }
    out.push(quote as char);
}

/// `repr(float)`: shortest round-trip digits, CPython's switch to exponent notation.
pub fn float_repr(f: f64) -> String {
    let mut s = String::new();
    float_repr_into(f, &mut s);
    s
}

/// Append `repr(float)` to `out`, without allocating.
pub(crate) fn float_repr_into(f: f64, out: &mut String) {
    format_float(f, true, out)
}

/// A small text buffer on the stack: the digit strings of one float (at most 17 digits,
/// "{:e}" at most 24 bytes) need no heap allocation.
struct StackText {
    buf: [u8; 32],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText {
            buf: [0; 32],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("only ASCII is written")
    }
}

impl Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        // too long would be a bug (text of one f64); fmt reports it as an error
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// CPython's `PyOS_double_to_string(f, 'r', ...)`; `add_dot_0` as for `float.__repr__`
/// (complex parts are printed without it).
fn format_float(f: f64, add_dot_0: bool, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
        return;
    }
    let mut sci = StackText::new();
    write!(sci, "{:e}", f.abs()).expect("{:e} of an f64 fits 32 bytes");
    let (mantissa, exp) = sci.as_str().split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let mut digits = StackText::new();
    for c in mantissa.chars().filter(|c| c.is_ascii_digit()) {
        digits.write_char(c).expect("at most 17 digits");
    }
    if let Some(even) = tie_to_even(digits.as_str(), exp, f) {
        digits = StackText::new();
        write!(digits, "{even}").expect("at most 19 digits");
    }
    let digits = digits.as_str();
    let decpt = exp + 1;
    let s = out;
    if f.is_sign_negative() {
        s.push('-');
    }
    if f == 0.0 {
        s.push('0');
        if add_dot_0 {
            s.push_str(".0");
        }
        return;
    }
    if decpt <= -4 || decpt > 16 {
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(s, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    } else if decpt <= 0 {
        s.push_str("0.");
        for _ in 0..(-decpt) {
            s.push('0');
        }
        s.push_str(digits);
    } else if decpt as usize >= digits.len() {
        s.push_str(digits);
        for _ in 0..(decpt as usize - digits.len()) {
            s.push('0');
        }
        if add_dot_0 {
            s.push_str(".0");
        }
    } else {
        s.push_str(&digits[..decpt as usize]);
        s.push('.');
        s.push_str(&digits[decpt as usize..]);
    }
}

/// Rust's shortest round-trip digits break an exact tie between two equally short, equally
/// close digit strings upward; Python's dtoa picks the one with an even last digit. `digits`
/// (value `digits * 10**(exp - len + 1)`) is Rust's choice; returns Python's when it differs.
fn tie_to_even(digits: &str, exp: i32, f: f64) -> Option<u64> {
    let n = digits.len();
    if n > 19 {
        return None;
    }
    let d: u64 = digits.parse().ok()?;
    if d % 2 == 0 {
        return None;
    }
    let p = exp - (n as i32 - 1);
    let bits = f.abs().to_bits();
    let bexp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, e2) = if bexp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), bexp - 1075)
    };
    for cand in [d - 1, d + 1] {
        if cand == 0 || cand.ilog10() as usize + 1 != n {
            continue;
        }
        // Is |f| exactly halfway between d and cand? (At most one candidate can be, so
        // testing this before the costlier read-back keeps the first-match result.)
        if !is_exact_half(mant, e2, d + cand, p) {
            continue;
        }
        // Does the candidate read back as the same float?
        let mut text = StackText::new();
        write!(text, "{cand}").expect("at most 20 digits");
        let text = text.as_str();
        let mut sci = StackText::new();
        write!(sci, "{}.{}e{}", &text[..1], &text[1..], exp).expect("fits 32 bytes");
        if sci.as_str().parse::<f64>().ok() != Some(f.abs()) {
            continue;
        }
        return Some(cand);
    }
    None
}

/// `2 * mant * 2**e2 == sum * 10**p`, exactly: in u128 when that cannot overflow (all
/// floats of everyday size), else with big ints.
fn is_exact_half(mant: u64, e2: i32, sum: u64, p: i32) -> bool {
    fn shl(x: u128, s: u32) -> Option<u128> {
        (s < 128 && x.leading_zeros() >= s).then(|| x << s)
    }
    fn mul_pow10(x: u128, k: u32) -> Option<u128> {
        x.checked_mul(10u128.checked_pow(k)?)
    }
    let small = || -> Option<bool> {
        let mut a = u128::from(mant) * 2;
        let mut b = u128::from(sum);
        if e2 >= 0 {
            a = shl(a, e2 as u32)?;
        } else {
            b = shl(b, e2.unsigned_abs())?;
        }
        if p >= 0 {
            b = mul_pow10(b, p as u32)?;
        } else {
            a = mul_pow10(a, p.unsigned_abs())?;
        }
        Some(a == b)
    };
    small().unwrap_or_else(|| {
        let mut a = BigInt::from(mant) * 2u8;
        let mut b = BigInt::from(sum);
        if e2 >= 0 {
            a <<= e2 as usize;
        } else {
            b <<= (-e2) as usize;
        }
        let ten = BigInt::from(10u8);
        if p >= 0 {
            b *= num_traits::pow(ten, p as usize);
        } else {
            a *= num_traits::pow(ten, (-p) as usize);
        }
        a == b
    })
}

/// `repr(complex)`.
pub fn complex_repr(re: f64, im: f64) -> String {
    let mut imag = String::new();
    format_float(im, false, &mut imag);
    if re == 0.0 && re.is_sign_positive() {
        imag.push('j');
        return imag;
    }
    let sign = if imag.starts_with('-') { "" } else { "+" };
    let mut real = String::new();
    format_float(re, false, &mut real);
    format!("({real}{sign}{imag}j)")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The allocating formatter this module had before, as the reference for the new one.
    /// `repr(float)`: shortest round-trip digits, CPython's switch to exponent notation.
    fn float_repr_reference(f: f64) -> String {
        format_float_reference(f, true)
    }

    /// CPython's `PyOS_double_to_string(f, 'r', ...)`; `add_dot_0` as for `float.__repr__`
    /// (complex parts are printed without it).
    fn format_float_reference(f: f64, add_dot_0: bool) -> String {
        if f.is_nan() {
            return "nan".into();
        }
        if f.is_infinite() {
            return if f > 0.0 { "inf".into() } else { "-inf".into() };
        }
        let sci = format!("{:e}", f.abs());
        let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
        let exp: i32 = exp.parse().expect("integer exponent");
        let mut digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
        if let Some(even) = tie_to_even_reference(&digits, exp, f) {
            digits = even;
        }
        let decpt = exp + 1;
        let mut s = String::new();
        if f.is_sign_negative() {
            s.push('-');
        }
        if f == 0.0 {
            s.push('0');
            if add_dot_0 {
                s.push_str(".0");
            }
            return s;
        }
        if decpt <= -4 || decpt > 16 {
            s.push_str(&digits[..1]);
            if digits.len() > 1 {
                s.push('.');
                s.push_str(&digits[1..]);
            }
            let e = decpt - 1;
            let _ = write!(s, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
        } else if decpt <= 0 {
            s.push_str("0.");
            for _ in 0..(-decpt) {
                s.push('0');
            }
            s.push_str(&digits);
        } else if decpt as usize >= digits.len() {
            s.push_str(&digits);
            for _ in 0..(decpt as usize - digits.len()) {
                s.push('0');
            }
            if add_dot_0 {
                s.push_str(".0");
            }
        } else {
            s.push_str(&digits[..decpt as usize]);
            s.push('.');
            s.push_str(&digits[decpt as usize..]);
        }
        s
    }

    /// Rust's shortest round-trip digits break an exact tie between two equally short, equally
    /// close digit strings upward; Python's dtoa picks the one with an even last digit. `digits`
    /// (value `digits * 10**(exp - len + 1)`) is Rust's choice; returns Python's when it differs.
    fn tie_to_even_reference(digits: &str, exp: i32, f: f64) -> Option<String> {
        let n = digits.len();
        if n > 19 {
            return None;
        }
        let d: u64 = digits.parse().ok()?;
        if d % 2 == 0 {
            return None;
        }
        let p = exp - (n as i32 - 1);
        for cand in [d - 1, d + 1] {
            let text = cand.to_string();
            if text.len() != n || cand == 0 {
                continue;
            }
            // Does the candidate read back as the same float?
            let sci = format!("{}.{}e{}", &text[..1], &text[1..], exp);
            if sci.parse::<f64>().ok() != Some(f.abs()) {
                continue;
            }
            // Is |f| exactly halfway between d and cand, i.e. 2|f| == (d + cand) * 10**p ?
            let bits = f.abs().to_bits();
            let bexp = ((bits >> 52) & 0x7ff) as i32;
            let frac = bits & ((1u64 << 52) - 1);
            let (mant, e2) = if bexp == 0 {
                (frac, -1074)
            } else {
                (frac | (1u64 << 52), bexp - 1075)
            };
            let mut a = BigInt::from(mant) * 2u8;
            let mut b = BigInt::from(d + cand);
            if e2 >= 0 {
                a <<= e2 as usize;
            } else {
                b <<= (-e2) as usize;
            }
            let ten = BigInt::from(10u8);
            if p >= 0 {
                b *= num_traits::pow(ten, p as usize);
            } else {
                a *= num_traits::pow(ten, (-p) as usize);
            }
            if a == b {
                return Some(text);
            }
        }
        None
    }

    /// `repr(complex)`.
    fn complex_repr_reference(re: f64, im: f64) -> String {
        let imag = format_float_reference(im, false);
        if re == 0.0 && re.is_sign_positive() {
            return format!("{imag}j");
        }
        let sign = if imag.starts_with('-') { "" } else { "+" };
        format!("({}{sign}{imag}j)", format_float_reference(re, false))
    }

    fn r(v: Value) -> String {
        v.repr()
    }

    #[test]
    fn floats_like_python() {
        let cases = [
            (1.5, "1.5"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123456789.125, "123456789.125"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (2.5e-7, "2.5e-07"),
            // an exact tie between two shortest digit strings: Python picks the even one
            (1616811183465406.0 + 0.25, "1616811183465406.2"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "{f:e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn floats_match_reference(
            bits: u64,
            k in -100_000_000i64..100_000_000,
            scale in -30i32..30,
            twos in 0u32..60,
        ) {
            let decimal = k as f64 * 10f64.powi(scale);
            let dyadic = k as f64 / (1u64 << twos) as f64 + 0.5;
            for f in [f64::from_bits(bits), decimal, dyadic, decimal * 0.5, decimal + 0.25] {
                proptest::prop_assert_eq!(float_repr(f), float_repr_reference(f), "{:e}", f);
                proptest::prop_assert_eq!(complex_repr(f, -f), complex_repr_reference(f, -f));
            }
        }
    }

    #[test]
    fn complex_like_python() {
        assert_eq!(complex_repr(1.0, 2.0), "(1+2j)");
        assert_eq!(complex_repr(0.0, 2.0), "2j");
        assert_eq!(complex_repr(-0.0, -1.0), "(-0-1j)");
        assert_eq!(complex_repr(1.5, f64::INFINITY), "(1.5+infj)");
        assert_eq!(complex_repr(f64::NAN, f64::NAN), "(nan+nanj)");
        assert_eq!(complex_repr(0.0, -0.0), "-0j");
        assert_eq!(complex_repr(1e20, 1.0), "(1e+20+1j)");
    }

    #[test]
    fn strings_like_python() {
        assert_eq!(r(Value::str("héllo ☃")), "'héllo ☃'");
        assert_eq!(r(Value::str("it's")), "\"it's\"");
        assert_eq!(r(Value::str("'\"")), "'\\'\"'");
        assert_eq!(
            r(Value::str("a\0b\x7f\u{85}\u{a0}\u{ad}")),
            "'a\\x00b\\x7f\\x85\\xa0\\xad'"
        );
        assert_eq!(
            r(Value::str("\u{2028}\u{fffe}\u{e000}")),
            "'\\u2028\\ufffe\\ue000'"
        );
        assert_eq!(r(Value::str("\u{1f600}\u{e0001}")), "'😀\\U000e0001'");
        assert_eq!(r(Value::str("tab\t\\")), "'tab\\t\\\\'");
    }

    /// The straightforward per-char `repr(str)` the run-copying one must match exactly.
    fn str_repr_reference(s: &str) -> String {
        let quote = if s.contains('\'') && !s.contains('"') {
            '"'
        } else {
            '\''
        };
        let mut out = String::new();
        out.push(quote);
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if c == quote => {
                    out.push('\\');
                    out.push(c);
                }
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if (c as u32) < 0x7f => out.push(c),
                c if is_printable(c) => out.push(c),
                c if (c as u32) <= 0xff => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if (c as u32) <= 0xffff => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
        }
        out.push(quote);
        out
    }

    proptest::proptest! {
        #[test]
        fn str_repr_matches_reference(s in "[ -~\\\\'\"\\t\\n\\r\\x00-\\x1f\\x7f\\u{80}-\\u{3000}\\u{1f600}\\u{e0001}]{0,40}", t in ".{0,20}") {
            for s in [s.as_str(), t.as_str()] {
                let mut out = String::from("x");
                str_repr(s, &mut out);
                proptest::prop_assert_eq!(&out[1..], str_repr_reference(s));
            }
        }
    }

    #[test]
    fn ints_like_python() {
        for i in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            12345,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(r(Value::Int(i)), i.to_string());
        }
    }

    #[test]
    fn bytes_and_containers_like_python() {
        assert_eq!(
            r(Value::Bytes(vec![0, 0xff, b'a', b'\''])),
            "b\"\\x00\\xffa'\""
        );
        assert_eq!(r(Value::Tuple(vec![Value::Int(1)])), "(1,)");
        assert_eq!(r(Value::Tuple(vec![])), "()");
        assert_eq!(r(Value::Set(vec![])), "set()");
        assert_eq!(r(Value::Set(vec![Value::Int(5)])), "{5}");
        assert_eq!(
            r(Value::Dict(vec![(
                Value::str("k"),
                Value::List(vec![Value::None, Value::Bool(true)])
            )])),
            "{'k': [None, True]}"
        );
    }
}
