//! The calendar of the cost reports: a range of whole UTC days, and its split into days, ISO
//! weeks (Monday first) or calendar months.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike as _, Days, Months, NaiveDate, NaiveTime, Utc};

/// The longest range a history covers, in days: a leap year.
pub const MAX_RANGE_DAYS: i64 = 366;

/// The days a history covers when the request names no start: 30, ending on the end date.
pub const DEFAULT_RANGE_DAYS: u64 = 30;

/// How finely a history is split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Granularity {
    #[default]
    Daily,
    /// ISO weeks, Monday first.
    Weekly,
    Monthly,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Daily => "daily",
            Granularity::Weekly => "weekly",
            Granularity::Monthly => "monthly",
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A granularity name that is none of `daily`, `weekly`, `monthly`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("granularity '{0}' is not one of daily, weekly, monthly")]
pub struct UnknownGranularity(pub String);

impl FromStr for Granularity {
    type Err = UnknownGranularity;
    fn from_str(text: &str) -> Result<Granularity, UnknownGranularity> {
        [
            Granularity::Daily,
            Granularity::Weekly,
            Granularity::Monthly,
        ]
        .into_iter()
        .find(|g| g.as_str() == text)
        .ok_or_else(|| UnknownGranularity(text.to_string()))
    }
}

/// Why a date range cannot be reported on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("start_date {start} is after end_date {end}")]
    StartAfterEnd { start: NaiveDate, end: NaiveDate },
    #[error("{start} to {end} spans {days} days; a history covers at most {MAX_RANGE_DAYS}")]
    TooLong {
        start: NaiveDate,
        end: NaiveDate,
        days: i64,
    },
    #[error("{0} is too close to the end of the calendar")]
    OutOfCalendar(NaiveDate),
}

/// Whole UTC days from `start` to `end`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateRange {
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<DateRange, RangeError> {
        if start > end {
            return Err(RangeError::StartAfterEnd { start, end });
        }
        let days = (end - start).num_days() + 1;
        if days > MAX_RANGE_DAYS {
            return Err(RangeError::TooLong { start, end, days });
        }
        // Every period ends at the midnight after `end`, which must exist.
        end.checked_add_days(Days::new(1))
            .ok_or(RangeError::OutOfCalendar(end))?;
        Ok(DateRange { start, end })
    }

    /// The range a request asks for, filling what it leaves out: the end defaults to `today`,
    /// the start to [`DEFAULT_RANGE_DAYS`] days ending on the end.
    pub fn with_defaults(
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Result<DateRange, RangeError> {
        let end = end.unwrap_or(today);
        let start = match start {
            Some(start) => start,
            None => end
                .checked_sub_days(Days::new(DEFAULT_RANGE_DAYS - 1))
                .ok_or(RangeError::OutOfCalendar(end))?,
        };
        DateRange::new(start, end)
    }

    /// How many days the range covers.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// The range as instants: from midnight starting `start` to the midnight after `end`.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (midnight(self.start), midnight(day_after(self.end)))
    }

    /// The range cut into periods, oldest first. The first and last are cut at the range's
    /// edges, so a weekly history starting on a Thursday begins with a four-day period.
    pub fn periods(&self, granularity: Granularity) -> Vec<Period> {
        let stop = day_after(self.end);
        let mut periods = Vec::new();
        let mut first = self.start;
        while first < stop {
            let next = next_boundary(first, granularity).min(stop);
            periods.push(Period { first, until: next });
            first = next;
        }
        periods
    }
}

/// One period of a history: the days from `first` up to, not including, `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub first: NaiveDate,
    pub until: NaiveDate,
}

impl Period {
    pub fn start(&self) -> DateTime<Utc> {
        midnight(self.first)
    }

    pub fn end(&self) -> DateTime<Utc> {
        midnight(self.until)
    }
}

/// 00:00 UTC on `day`.
pub fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// 00:00 UTC on the first of the month `now` is in.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    midnight(first_of_month(now.date_naive()))
}

/// 00:00 UTC on the first of the month after the one `now` is in.
pub fn next_month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    midnight(next_boundary(now.date_naive(), Granularity::Monthly))
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The day after `day`; the calendar's last day stands for itself rather than panicking
/// (ranges that reach it are refused by [`DateRange::new`]).
pub(super) fn day_after(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(Days::new(1)).unwrap_or(day)
}

/// The first day of the period after the one `day` is in.
fn next_boundary(day: NaiveDate, granularity: Granularity) -> NaiveDate {
    let next = match granularity {
        Granularity::Daily => day.checked_add_days(Days::new(1)),
        Granularity::Weekly => {
            let to_monday = 7 - u64::from(day.weekday().num_days_from_monday());
            day.checked_add_days(Days::new(to_monday))
        }
        Granularity::Monthly => first_of_month(day).checked_add_months(Months::new(1)),
    };
    // Past the calendar's end there is no next period; stopping there ends the split.
    next.unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use rstest::rstest;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("RFC 3339")
            .with_timezone(&Utc)
    }

    #[rstest]
    #[case("daily", Granularity::Daily)]
    #[case("weekly", Granularity::Weekly)]
    #[case("monthly", Granularity::Monthly)]
    fn granularities_parse_and_print(#[case] text: &str, #[case] granularity: Granularity) {
        assert_eq!(text.parse::<Granularity>(), Ok(granularity));
        assert_eq!(granularity.to_string(), text);
    }

    #[rstest]
    #[case("hourly")]
    #[case("Daily")]
    #[case("")]
    fn other_granularities_are_refused(#[case] text: &str) {
        assert_eq!(
            text.parse::<Granularity>(),
            Err(UnknownGranularity(text.to_string()))
        );
    }

    #[rstest]
    #[case(None, None, "2026-11-04", "2026-12-03")]
    #[case(None, Some("2026-02-10"), "2026-01-12", "2026-02-10")]
    #[case(Some("2026-12-01"), None, "2026-12-01", "2026-12-03")]
    #[case(Some("2026-12-03"), Some("2026-12-03"), "2026-12-03", "2026-12-03")]
    fn ranges_fill_in_defaults(
        #[case] start: Option<&str>,
        #[case] end: Option<&str>,
        #[case] expected_start: &str,
        #[case] expected_end: &str,
    ) {
        let range = DateRange::with_defaults(start.map(day), end.map(day), day("2026-12-03"))
            .expect("valid");
        assert_eq!(range.start, day(expected_start));
        assert_eq!(range.end, day(expected_end));
    }

    #[test]
    fn the_default_range_is_thirty_days() {
        let range = DateRange::with_defaults(None, None, day("2026-12-03")).expect("valid");
        assert_eq!(range.days(), 30);
    }

    #[rstest]
    #[case("2026-12-04", "2026-12-03", "is after")]
    #[case("2025-12-01", "2026-12-03", "spans 368 days")]
    fn bad_ranges_are_refused(#[case] start: &str, #[case] end: &str, #[case] says: &str) {
        let error = DateRange::new(day(start), day(end)).expect_err("refused");
        assert!(error.to_string().contains(says), "{error}");
    }

    #[rstest]
    // 2024 is a leap year: 366 days is the longest range allowed.
    #[case("2024-01-01", "2024-12-31", true)]
    #[case("2023-12-31", "2024-12-31", false)]
    #[case("2026-03-01", "2027-02-28", true)]
    fn the_longest_range_is_a_leap_year(
        #[case] start: &str,
        #[case] end: &str,
        #[case] allowed: bool,
    ) {
        assert_eq!(DateRange::new(day(start), day(end)).is_ok(), allowed);
    }

    #[test]
    fn a_range_ending_on_the_last_day_of_the_calendar_is_refused() {
        let end = NaiveDate::MAX;
        let start = end.checked_sub_days(Days::new(3)).expect("date");
        assert_eq!(
            DateRange::new(start, end),
            Err(RangeError::OutOfCalendar(end))
        );
    }

    #[rstest]
    // One period per day, the last one included.
    #[case::daily(
        Granularity::Daily,
        "2026-02-27",
        "2026-03-02",
        &["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
    )]
    // 2026-12-03 is a Thursday: the first week is cut to Thursday–Sunday.
    #[case::weekly(
        Granularity::Weekly,
        "2026-12-03",
        "2026-12-20",
        &["2026-12-03", "2026-12-07", "2026-12-14"]
    )]
    #[case::one_monday(Granularity::Weekly, "2026-12-07", "2026-12-07", &["2026-12-07"])]
    // A week across the new year is one period.
    #[case::new_year(
        Granularity::Weekly,
        "2026-12-28",
        "2027-01-05",
        &["2026-12-28", "2027-01-04"]
    )]
    #[case::monthly(
        Granularity::Monthly,
        "2026-01-15",
        "2026-03-01",
        &["2026-01-15", "2026-02-01", "2026-03-01"]
    )]
    #[case::across_years(
        Granularity::Monthly,
        "2026-11-30",
        "2027-01-31",
        &["2026-11-30", "2026-12-01", "2027-01-01"]
    )]
    fn ranges_split_into_calendar_periods(
        #[case] granularity: Granularity,
        #[case] start: &str,
        #[case] end: &str,
        #[case] firsts: &[&str],
    ) {
        let range = DateRange::new(day(start), day(end)).expect("valid");
        let periods = range.periods(granularity);
        let got: Vec<NaiveDate> = periods.iter().map(|p| p.first).collect();
        let want: Vec<NaiveDate> = firsts.iter().map(|d| day(d)).collect();
        assert_eq!(got, want);
        // The periods tile the range exactly.
        assert_eq!(periods.first().map(|p| p.first), Some(range.start));
        assert_eq!(periods.last().map(|p| p.until), Some(day_after(range.end)));
        for pair in periods.windows(2) {
            assert_eq!(pair[0].until, pair[1].first);
        }
    }

    #[test]
    fn periods_begin_and_end_at_utc_midnight() {
        let range = DateRange::new(day("2026-03-28"), day("2026-03-29")).expect("valid");
        let periods = range.periods(Granularity::Daily);
        assert_eq!(periods[1].start(), at("2026-03-29T00:00:00Z"));
        assert_eq!(periods[1].end(), at("2026-03-30T00:00:00Z"));
        assert_eq!(
            range.bounds(),
            (at("2026-03-28T00:00:00Z"), at("2026-03-30T00:00:00Z"))
        );
    }

    #[rstest]
    #[case("2026-12-03T17:45:12Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")]
    #[case("2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")]
    #[case("2028-02-29T23:59:59Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z")]
    fn months_are_utc_calendar_months(#[case] now: &str, #[case] start: &str, #[case] next: &str) {
        assert_eq!(month_start(at(now)), at(start));
        assert_eq!(next_month_start(at(now)), at(next));
    }

    #[test]
    fn midnight_is_utc() {
        assert_eq!(
            midnight(day("2026-12-03")),
            Utc.with_ymd_and_hms(2026, 12, 3, 0, 0, 0)
                .single()
                .expect("valid")
        );
    }
}
