//! FILE_CHECK, sans-IO: what the integer in a tracked file means for a
//! real server, as keepalived's track_file.c (process_track_file,
//! update_track_file_status) and keepalived.conf(5) "Track files" define
//! it. Reading the file, and when, are the engine's.
//!
//! Layer: health (pure).

use crate::spec::{DynamicWeight, Outcome};

/// The values keepalived reads (process_track_file): INT32_MIN to
/// INT32_MAX + 1. Anything else it logs as invalid.
const VALUE_MIN: i64 = i32::MIN as i64;
const VALUE_MAX: i64 = i32::MAX as i64 + 1;

/// Judges the contents of a tracked file.
///
/// The file holds an integer, read as C's strtol with base 0 reads it:
/// optional spaces and sign, then decimal, `0x` hexadecimal or `0` octal
/// (so `010` is 8, as in keepalived). Spaces may follow; anything else
/// fails "not an integer" (keepalived would read the leading number, or 0
/// for text). An empty file reads as 0, as in keepalived.
///
/// With weight 0 a non-zero value fails and 0 passes (`reverse` swaps
/// the two). Otherwise the value × weight, negated by `reverse` and
/// clamped to 32 bits (keepalived's weight_range), is added to the real
/// server's weight; a result at or below -2147483648 (IPVS_WEIGHT_FAULT)
/// fails.
pub fn evaluate(contents: &str, weight: i64, reverse: bool) -> Outcome {
    let value = match parse_c_long(contents) {
        Ok(value) => value,
        Err(()) => return Outcome::fail(format!("not an integer: {}", quote(contents))),
    };
    if !(VALUE_MIN..=VALUE_MAX).contains(&value) {
        return Outcome::fail(format!(
            "value {value} out of range {VALUE_MIN}..={VALUE_MAX}"
        ));
    }
    if weight == 0 {
        // update_track_file_status: `!value != (multiplier == 1)` is a fault.
        let failed = (value != 0) != reverse;
        return match (failed, reverse) {
            (false, _) => Outcome::Pass {
                weight: Some(DynamicWeight::Add(0)),
            },
            (true, false) => Outcome::fail(format!("value {value} is not 0")),
            (true, true) => Outcome::fail("value 0 with reverse"),
        };
    }
    let sign = if reverse { -1 } else { 1 };
    // |value| <= 2^31 and |weight| <= 2^63: the product fits in i128.
    let weighted = i128::from(value) * i128::from(weight) * sign;
    let clamped = weighted.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    if clamped == i128::from(i32::MIN) {
        return Outcome::fail(format!(
            "weighted value {weighted} at or below {} (fault)",
            i32::MIN
        ));
    }
    // Clamped to the i32 range, so it fits in i64.
    let add = i64::try_from(clamped).unwrap_or_default();
    Outcome::Pass {
        weight: Some(DynamicWeight::Add(add)),
    }
}

/// C isspace in the "C" locale.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// strtol(text, NULL, 0) without its silent fallbacks: the whole text but
/// surrounding spaces must be the number. Values too large for an i64 are
/// saturated (they are out of range either way).
fn parse_c_long(text: &str) -> Result<i64, ()> {
    let text = text.trim_matches(is_c_space);
    if text.is_empty() {
        return Ok(0);
    }
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        (16, hex)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, &unsigned[1..])
    } else {
        (10, unsigned)
    };
    if digits.is_empty() {
        return Err(());
    }
    let mut magnitude: i128 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(radix).ok_or(())?;
        // Saturate well above any value we accept.
        magnitude = (magnitude * i128::from(radix) + i128::from(digit)).min(i128::from(u64::MAX));
    }
    let value = if negative { -magnitude } else { magnitude };
    Ok(i64::try_from(value).unwrap_or(if negative { i64::MIN } else { i64::MAX }))
}

/// The start of the contents for a reason, quoted and escaped.
fn quote(text: &str) -> String {
    const SHOWN: usize = 40;
    let shown: String = text.chars().take(SHOWN).collect();
    let more = if text.chars().nth(SHOWN).is_some() {
        "..."
    } else {
        ""
    };
    format!("\"{}{more}\"", shown.escape_debug())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn add(weight: i64) -> Outcome {
        Outcome::Pass {
            weight: Some(DynamicWeight::Add(weight)),
        }
    }

    #[test]
    fn weight_zero_passes_on_zero_only() {
        assert_eq!(evaluate("0\n", 0, false), add(0));
        assert_eq!(evaluate("3\n", 0, false), Outcome::fail("value 3 is not 0"));
        assert_eq!(evaluate("-1", 0, false), Outcome::fail("value -1 is not 0"));
    }

    #[test]
    fn weight_zero_with_reverse_fails_on_zero() {
        // update_track_file_status with weight_multiplier -1.
        assert_eq!(
            evaluate("0", 0, true),
            Outcome::fail("value 0 with reverse")
        );
        assert_eq!(evaluate("7", 0, true), add(0));
    }

    #[test]
    fn value_times_weight_is_added() {
        assert_eq!(evaluate("5", 10, false), add(50));
        assert_eq!(evaluate("-5", 10, false), add(-50));
        assert_eq!(evaluate("0", 10, false), add(0));
    }

    #[test]
    fn reverse_negates() {
        assert_eq!(evaluate("5", 10, true), add(-50));
        assert_eq!(evaluate("-5", 10, true), add(50));
    }

    #[test]
    fn results_at_or_below_int_min_fail() {
        assert_eq!(
            evaluate("-2147483648", 1, false),
            Outcome::fail("weighted value -2147483648 at or below -2147483648 (fault)")
        );
        assert_eq!(
            evaluate("2147483648", 1, true),
            Outcome::fail("weighted value -2147483648 at or below -2147483648 (fault)")
        );
        assert_eq!(
            evaluate("-3", 1_000_000_000, false),
            Outcome::fail("weighted value -3000000000 at or below -2147483648 (fault)")
        );
        assert_eq!(evaluate("-2147483647", 1, false), add(-2147483647));
    }

    #[test]
    fn large_results_are_clamped() {
        // keepalived's weight_range.
        assert_eq!(evaluate("2147483648", 1, false), add(i64::from(i32::MAX)));
        assert_eq!(evaluate("3", i64::MAX, false), add(i64::from(i32::MAX)));
        assert!(!evaluate("-3", i64::MAX, false).is_pass());
        assert!(!evaluate("3", i64::MIN, false).is_pass());
    }

    #[test]
    fn values_outside_keepalived_range_fail() {
        assert_eq!(
            evaluate("2147483649", 1, false),
            Outcome::fail("value 2147483649 out of range -2147483648..=2147483648")
        );
        assert_eq!(
            evaluate("-2147483649", 0, false),
            Outcome::fail("value -2147483649 out of range -2147483648..=2147483648")
        );
        assert!(!evaluate("99999999999999999999999999", 1, false).is_pass());
    }

    #[test]
    fn numbers_read_as_strtol_base_0() {
        assert_eq!(evaluate("  +12 \n", 1, false), add(12));
        assert_eq!(evaluate("0x1F", 1, false), add(31));
        assert_eq!(evaluate("-0x10", 1, false), add(-16));
        assert_eq!(evaluate("010", 1, false), add(8), "a leading 0 is octal");
        assert_eq!(evaluate("\t\x0b7\x0c", 1, false), add(7));
    }

    #[test]
    fn empty_file_reads_as_zero() {
        assert_eq!(evaluate("", 0, false), add(0));
        assert_eq!(evaluate(" \n", 5, false), add(0));
    }

    #[test]
    fn text_is_not_an_integer() {
        let cases = [
            ("up", "not an integer: \"up\""),
            ("5 apples", "not an integer: \"5 apples\""),
            ("08", "not an integer: \"08\""),
            ("0x", "not an integer: \"0x\""),
            ("-", "not an integer: \"-\""),
            ("1\n2\n", "not an integer: \"1\\n2\\n\""),
        ];
        for (text, reason) in cases {
            assert_eq!(evaluate(text, 1, false), Outcome::fail(reason), "{text:?}");
        }
        let long = "x".repeat(100);
        assert_eq!(
            evaluate(&long, 1, false),
            Outcome::fail(format!("not an integer: \"{}...\"", "x".repeat(40)))
        );
    }

    proptest! {
        /// Fuzz: any text gives an outcome, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>(), weight in any::<i64>(), reverse in any::<bool>()) {
            let _ = evaluate(&text, weight, reverse);
        }

        /// Model: a decimal value in range passes with value × weight
        /// (signed by reverse) unless that is at or below i32::MIN.
        #[test]
        fn weighted_verdict_follows_the_model(
            value in -2147483648i64..=2147483648,
            weight in -1_000_000i64..=1_000_000,
            reverse in any::<bool>(),
        ) {
            prop_assume!(weight != 0);
            let got = evaluate(&format!("{value}\n"), weight, reverse);
            let product = value * weight * if reverse { -1 } else { 1 };
            if product <= i64::from(i32::MIN) {
                prop_assert!(!got.is_pass());
            } else {
                prop_assert_eq!(got, add(product.min(i64::from(i32::MAX))));
            }
        }
    }
}
