//! Money as exact integer micro-dollars.
//!
//! Every amount Prism computes (hourly rates, spend, savings) is a [`Money`]: a signed count of
//! millionths of a US dollar. Nothing is ever held in a float. At the JSON boundary an amount is
//! written as a plain JSON number in decimal (`0.0416`), produced from the integer without any
//! float in between, so the contract's number fields keep their shape.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};

/// Micro-dollars in one dollar.
pub const MICROS_PER_DOLLAR: i64 = 1_000_000;

/// An exact amount of US dollars, stored as micro-dollars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Why a decimal string is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not a decimal amount")]
    NotDecimal(String),
    #[error("'{0}' has more than 6 decimal places; amounts are kept to the micro-dollar")]
    TooPrecise(String),
    #[error("'{0}' is too large to be an amount of money")]
    Overflow(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    pub const fn from_dollars(dollars: i64) -> Money {
        Money(dollars * MICROS_PER_DOLLAR)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self × numerator ÷ denominator`, rounded half away from zero, computed in 128 bits so
    /// that rates multiplied by long durations cannot overflow on the way.
    pub fn mul_div(self, numerator: i128, denominator: i128) -> Money {
        assert!(denominator != 0, "mul_div by zero");
        let product = i128::from(self.0) * numerator;
        let half = denominator.abs() / 2;
        let rounded = if (product >= 0) == (denominator > 0) {
            (product.abs() + half) / denominator.abs()
        } else {
            -((product.abs() + half) / denominator.abs())
        };
        Money(i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN }))
    }

    /// The exact decimal form with trailing zeros dropped: `0.0416`, `12`, `-3.5`.
    pub fn to_decimal_string(self) -> String {
        let negative = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let whole = abs / MICROS_PER_DOLLAR as u64;
        let frac = abs % MICROS_PER_DOLLAR as u64;
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        out.push_str(&whole.to_string());
        if frac != 0 {
            let digits = format!("{frac:06}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        out
    }

    /// A display form in dollars rounded half away from zero to `places` decimals, e.g.
    /// `$0.04` for two places. Rounding happens only here, for people to read.
    pub fn display_usd(self, places: u32) -> String {
        let places = places.min(6);
        let step = 10_i64.pow(6 - places);
        let rounded = self.mul_div(1, step as i128).0;
        let negative = rounded < 0;
        let abs = rounded.unsigned_abs();
        let scale = 10_u64.pow(places);
        let whole = abs / scale;
        let frac = abs % scale;
        let sign = if negative { "-" } else { "" };
        if places == 0 {
            format!("{sign}${}", group_thousands(whole))
        } else {
            format!(
                "{sign}${}.{frac:0width$}",
                group_thousands(whole),
                width = places as usize
            )
        }
    }

    /// Parses a decimal such as `0.0416`, `75000.0`, `-2`, or `1.5e-2`. More than six decimal
    /// places is an error rather than a silent rounding.
    pub fn parse_decimal(text: &str) -> Result<Money, MoneyError> {
        let bad = || MoneyError::NotDecimal(text.to_string());
        let trimmed = text.trim();
        let (mantissa, exponent) = match trimmed.find(['e', 'E']) {
            Some(at) => {
                let exp: i32 = trimmed[at + 1..].parse().map_err(|_| bad())?;
                (&trimmed[..at], exp)
            }
            None => (trimmed, 0),
        };
        let (negative, digits) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        // All digits as one integer, and the power of ten that scales it to dollars.
        let all_digits = format!("{whole}{frac}");
        let all_digits = all_digits.trim_start_matches('0');
        let scale = i64::from(exponent) - frac.len() as i64 + 6;
        let value: i128 = if all_digits.is_empty() {
            0
        } else if scale >= 0 {
            let base: i128 = all_digits
                .parse()
                .map_err(|_| MoneyError::Overflow(text.to_string()))?;
            let factor = 10_i128
                .checked_pow(u32::try_from(scale).map_err(|_| MoneyError::Overflow(text.into()))?)
                .ok_or_else(|| MoneyError::Overflow(text.to_string()))?;
            base.checked_mul(factor)
                .ok_or_else(|| MoneyError::Overflow(text.to_string()))?
        } else {
            // Negative scale: the digits dropped must all be zero.
            let drop = usize::try_from(-scale).unwrap_or(usize::MAX);
            if drop >= all_digits.len() {
                return Err(MoneyError::TooPrecise(text.to_string()));
            }
            let (keep, dropped) = all_digits.split_at(all_digits.len() - drop);
            if dropped.chars().any(|c| c != '0') {
                return Err(MoneyError::TooPrecise(text.to_string()));
            }
            keep.parse()
                .map_err(|_| MoneyError::Overflow(text.to_string()))?
        };
        let signed = if negative { -value } else { value };
        i64::try_from(signed)
            .map(Money)
            .map_err(|_| MoneyError::Overflow(text.to_string()))
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal_string())
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Money, MoneyError> {
        Money::parse_decimal(s)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(self.0.saturating_neg())
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // serde_json is built with `arbitrary_precision`, so a Number made from the exact
        // decimal text is written out verbatim: no float is involved.
        let number = serde_json::Number::from_str(&self.to_decimal_string())
            .map_err(serde::ser::Error::custom)?;
        number.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        Money::parse_decimal(&number.to_string()).map_err(serde::de::Error::custom)
    }
}

/// In the OpenAPI document an amount is a plain JSON number (as it is on the wire), with the
/// registered `decimal` format so that tools know to read it as an exact decimal.
impl utoipa::PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .format(Some(SchemaFormat::Custom("decimal".to_string())))
            .description(Some(
                "An exact amount of US dollars, to the micro-dollar: a JSON number with at most \
                 six decimal places, such as 0.0416. Read it as a decimal, not a binary float, \
                 to keep it exact.",
            ))
            .examples(serde_json::to_value(Money::from_micros(41_600)).ok())
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("0.0416", 41_600)]
    #[case("75000.0", 75_000_000_000)]
    #[case("-2", -2_000_000)]
    #[case("1.5e-2", 15_000)]
    #[case("1E3", 1_000_000_000)]
    #[case("0.000001", 1)]
    #[case("12.3400000", 12_340_000)]
    #[case(".5", 500_000)]
    fn parses_exact_decimals(#[case] text: &str, #[case] micros: i64) {
        assert_eq!(Money::parse_decimal(text), Ok(Money::from_micros(micros)));
    }

    #[rstest]
    #[case("0.0000001")]
    #[case("1e-7")]
    fn refuses_sub_micro_amounts(#[case] text: &str) {
        assert!(matches!(
            Money::parse_decimal(text),
            Err(MoneyError::TooPrecise(_))
        ));
    }

    #[rstest]
    #[case("")]
    #[case("abc")]
    #[case("1.2.3")]
    #[case("--1")]
    #[case("NaN")]
    fn refuses_non_numbers(#[case] text: &str) {
        assert!(Money::parse_decimal(text).is_err());
    }

    #[test]
    fn refuses_overflow() {
        assert!(matches!(
            Money::parse_decimal("1e30"),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[rstest]
    #[case(41_600, "0.0416")]
    #[case(0, "0")]
    #[case(-3_500_000, "-3.5")]
    #[case(526_000, "0.526")]
    fn decimal_string_is_exact(#[case] micros: i64, #[case] text: &str) {
        assert_eq!(Money::from_micros(micros).to_decimal_string(), text);
    }

    #[test]
    fn json_round_trip_keeps_digits() {
        let json = serde_json::to_string(&Money::from_micros(41_600)).expect("serialize");
        assert_eq!(json, "0.0416");
        let back: Money = serde_json::from_str("12450.30").expect("deserialize");
        assert_eq!(back, Money::from_micros(12_450_300_000));
    }

    #[test]
    fn schema_is_an_exact_decimal_number() {
        let schema =
            serde_json::to_value(<Money as utoipa::PartialSchema>::schema()).expect("serialize");
        assert_eq!(schema["type"], "number");
        assert_eq!(schema["format"], "decimal");
        assert_eq!(schema["examples"][0].to_string(), "0.0416");
        let text = schema["description"].as_str().unwrap_or_default();
        assert!(
            text.contains("US dollars") && text.contains("micro-dollar"),
            "{text}"
        );
    }

    #[rstest]
    #[case(41_600, 2, "$0.04")]
    #[case(5_000, 2, "$0.01")]
    #[case(-5_000, 2, "-$0.01")]
    #[case(1_234_567_890_000, 2, "$1,234,567.89")]
    #[case(999_999, 0, "$1")]
    fn display_rounds_half_away_from_zero(
        #[case] micros: i64,
        #[case] places: u32,
        #[case] shown: &str,
    ) {
        assert_eq!(Money::from_micros(micros).display_usd(places), shown);
    }

    #[test]
    fn mul_div_rounds_and_does_not_overflow() {
        let rate = Money::from_micros(41_600);
        // One hour of seconds at an hourly rate is the rate itself.
        assert_eq!(rate.mul_div(3600, 3600), rate);
        // A year of seconds in 128-bit arithmetic.
        assert_eq!(
            rate.mul_div(365 * 24 * 3600, 3600),
            Money::from_micros(364_416_000)
        );
        assert_eq!(Money::from_micros(1).mul_div(1, 2), Money::from_micros(1));
        assert_eq!(Money::from_micros(-1).mul_div(1, 2), Money::from_micros(-1));
    }
}
