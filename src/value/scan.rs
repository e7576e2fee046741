//! Word-at-a-time byte scans for the text codecs: string bodies are long runs of
//! ordinary characters, and testing eight bytes per step instead of one is most of the
//! cost of encoding or decoding them. Safe code only (`u64::from_le_bytes` on chunks).
//!
//! Each test below yields a mask with the high bit of every flagged byte set, exactly per
//! byte (no carry or borrow crosses a byte: the high bits are masked off before adding),
//! so the first flagged byte of a little-endian word is `trailing_zeros / 8`.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = !HI;

/// Bytes of `x` that are zero.
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7) + LOW7) | x) & HI
}

/// Bytes of `x` that are not printable ASCII (0x20..0x7f): >= 0x7f is the high bit set or
/// the low seven bits all ones (adding 1 carries into bit 7); < 0x20 is the high bit clear
/// and adding 0x60 to the low seven bits not reaching bit 7.
fn unprintable_bytes(x: u64) -> u64 {
    let low = x & LOW7;
    ((x | (low + LO)) & HI) | (!(low + LO * 0x60) & !x & HI)
}

/// Offset of the first byte flagged by `mask_of` (a per-byte mask as above), falling back
/// to `is_hit` byte by byte for the tail shorter than a word; `hay.len()` if none.
fn find(hay: &[u8], mask_of: impl Fn(u64) -> u64, is_hit: impl Fn(u8) -> bool) -> usize {
    let mut words = hay.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let m = mask_of(u64::from_le_bytes(w.try_into().expect("8-byte chunk")));
        if m != 0 {
            return at + (m.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words
        .remainder()
        .iter()
        .position(|&c| is_hit(c))
        .unwrap_or(hay.len() - at)
}

/// Index of the first byte equal to `a`, `b` or `c`, or `hay.len()`.
pub(crate) fn find_any3(hay: &[u8], a: u8, b: u8, c: u8) -> usize {
    let (wa, wb, wc) = (LO * a as u64, LO * b as u64, LO * c as u64);
    find(
        hay,
        |x| zero_bytes(x ^ wa) | zero_bytes(x ^ wb) | zero_bytes(x ^ wc),
        |x| x == a || x == b || x == c,
    )
}

/// Length of the leading run of printable ASCII (0x20..0x7f) other than `a` and `b`.
pub(crate) fn plain_ascii_run(hay: &[u8], a: u8, b: u8) -> usize {
    let (wa, wb) = (LO * a as u64, LO * b as u64);
    find(
        hay,
        |x| unprintable_bytes(x) | zero_bytes(x ^ wa) | zero_bytes(x ^ wb),
        |x| !(0x20..0x7f).contains(&x) || x == a || x == b,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_at_every_position() {
        for c in 0..=255u8 {
            for at in 0..17 {
                let mut v = vec![b'm'; 17];
                v[at] = c;
                let plain = (0x20..0x7f).contains(&c) && c != b'\\' && c != b'\'';
                assert_eq!(
                    plain_ascii_run(&v, b'\\', b'\''),
                    if plain { 17 } else { at }
                );
                let hit = c == b'"' || c == b'\\' || c == b'\n';
                assert_eq!(find_any3(&v, b'"', b'\\', b'\n'), if hit { at } else { 17 });
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn scans_match_bytewise(hay in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
                                pre in 0usize..30, a: u8, b: u8) {
            // mostly plain text, then arbitrary bytes, so hits land in every position
            let mut v = vec![b'm'; pre];
            v.extend_from_slice(&hay);
            let want3 = v.iter().position(|&x| x == a || x == b || x == b'\n').unwrap_or(v.len());
            proptest::prop_assert_eq!(find_any3(&v, a, b, b'\n'), want3);
            let want = v
                .iter()
                .position(|&x| !((0x20..0x7f).contains(&x) && x != a && x != b))
                .unwrap_or(v.len());
            proptest::prop_assert_eq!(plain_ascii_run(&v, a, b), want);
        }
    }
}
