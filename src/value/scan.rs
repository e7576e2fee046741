//! Word-at-a-time byte scans for the text codecs: string bodies are long runs of
//! ordinary characters, and testing eight bytes per step instead of one is most of the
//! cost of encoding or decoding them. Safe code only (`u64::from_le_bytes` on chunks).

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// True if some byte of `x` is zero (exact: the classic `(x - 0x01..) & !x & 0x80..`).
fn has_zero(x: u64) -> bool {
    x.wrapping_sub(LO) & !x & HI != 0
}

/// True if some byte of `x` is below `n` (exact for `n <= 128`).
fn has_less(x: u64, n: u8) -> bool {
    x.wrapping_sub(LO * n as u64) & !x & HI != 0
}

fn words(hay: &[u8]) -> impl Iterator<Item = u64> + '_ {
    hay.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunk")))
}

/// Index of the first byte equal to `a`, `b` or `c`, or `hay.len()`.
pub(crate) fn find_any3(hay: &[u8], a: u8, b: u8, c: u8) -> usize {
    let (wa, wb, wc) = (LO * a as u64, LO * b as u64, LO * c as u64);
    let skip = 8 * words(hay)
        .take_while(|&x| !(has_zero(x ^ wa) || has_zero(x ^ wb) || has_zero(x ^ wc)))
        .count();
    skip + hay[skip..]
        .iter()
        .position(|&x| x == a || x == b || x == c)
        .unwrap_or(hay.len() - skip)
}

/// Length of the leading run of printable ASCII (0x20..0x7f) other than `a` and `b`.
pub(crate) fn plain_ascii_run(hay: &[u8], a: u8, b: u8) -> usize {
    let (wa, wb, wdel) = (LO * a as u64, LO * b as u64, LO * 0x7f);
    let plain = |x: u64| {
        x & HI == 0
            && !has_less(x, 0x20)
            && !has_zero(x ^ wdel)
            && !has_zero(x ^ wa)
            && !has_zero(x ^ wb)
    };
    let skip = 8 * words(hay).take_while(|&x| plain(x)).count();
    skip + hay[skip..]
        .iter()
        .position(|&x| !((0x20..0x7f).contains(&x) && x != a && x != b))
        .unwrap_or(hay.len() - skip)
}

#[cfg(test)]
mod tests {
    use super::*;

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
