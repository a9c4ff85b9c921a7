//! The bundled list-price table and the billing rules that apply it.
//!
//! Prices are AWS's public on-demand list prices for Linux, shared tenancy, in us-east-1
//! (N. Virginia); us-west-2 (Oregon) lists the same figures for every type here. They come from
//! `shared/reference/aws-prices.md` (AWS list prices published 2024–2025). Other regions are
//! priced from this table too and the quote says so. A live Pricing API lookup replaces the
//! table when a later capability adds it.

use serde::Serialize;

use super::money::Money;

/// Hours in the billing month Prism uses to prorate per-GB-month storage prices: 730
/// (365 days × 24 hours ÷ 12), the figure AWS itself uses in its calculators.
pub const HOURS_PER_MONTH: i64 = 730;

/// Linux instances bill at least this many seconds each time they enter `running`.
pub const MINIMUM_BILLED_SECONDS: i64 = 60;

/// Where the figures of this table were taken from, shown next to every quote.
pub const TABLE_SOURCE: &str = "bundled AWS list prices (us-east-1 on-demand Linux, 2024-2025)";

/// Regions whose list prices equal the table's for every type in it.
const TABLE_REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];

/// (instance type, $/hour in micro-dollars).
const EC2_HOURLY: &[(&str, i64)] = &[
    ("t3.nano", 5_200),
    ("t3.micro", 10_400),
    ("t3.small", 20_800),
    ("t3.medium", 41_600),
    ("t3.large", 83_200),
    ("t3.xlarge", 166_400),
    ("t3.2xlarge", 332_800),
    ("t4g.micro", 8_400),
    ("t4g.small", 16_800),
    ("t4g.medium", 33_600),
    ("t4g.large", 67_200),
    ("t4g.xlarge", 134_400),
    ("t4g.2xlarge", 268_800),
    ("m5.large", 96_000),
    ("m5.xlarge", 192_000),
    ("m5.2xlarge", 384_000),
    ("m5.4xlarge", 768_000),
    ("m5.8xlarge", 1_536_000),
    ("m6i.large", 96_000),
    ("m6i.xlarge", 192_000),
    ("m6i.2xlarge", 384_000),
    ("m6i.4xlarge", 768_000),
    ("c5.large", 85_000),
    ("c5.xlarge", 170_000),
    ("c5.2xlarge", 340_000),
    ("c5.4xlarge", 680_000),
    ("c5.9xlarge", 1_530_000),
    ("r5.large", 126_000),
    ("r5.xlarge", 252_000),
    ("r5.2xlarge", 504_000),
    ("r5.4xlarge", 1_008_000),
    ("r5.8xlarge", 2_016_000),
    ("g4dn.xlarge", 526_000),
    ("g4dn.2xlarge", 752_000),
    ("g4dn.4xlarge", 1_204_000),
    ("g4dn.8xlarge", 2_176_000),
    ("g4dn.12xlarge", 3_912_000),
    ("g5.xlarge", 1_006_000),
    ("g5.2xlarge", 1_212_000),
    ("g5.4xlarge", 1_624_000),
    ("g5.8xlarge", 2_448_000),
    ("p3.2xlarge", 3_060_000),
    ("p3.8xlarge", 12_240_000),
];

/// EBS volume types, $/GB-month in micro-dollars.
const EBS_GB_MONTH: &[(&str, i64)] = &[
    ("gp3", 80_000),
    ("gp2", 100_000),
    ("io1", 125_000),
    ("io2", 125_000),
    ("st1", 45_000),
    ("sc1", 15_000),
    ("standard", 50_000),
];

/// Volume types a workspace's root volume may use: the general-purpose SSDs. (io1 and io2
/// need a provisioned-IOPS figure, priced per IOPS, which launches do not take yet; st1 and
/// sc1 cannot boot.)
pub const ROOT_VOLUME_TYPES: [&str; 2] = ["gp3", "gp2"];

/// An hourly price and how much to trust it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub hourly: Money,
    pub source: String,
    /// False when the region is not one whose prices the table records exactly.
    pub exact_for_region: bool,
}

/// The on-demand hourly price of an instance type in a region, if the table knows the type.
pub fn instance_hourly(instance_type: &str, region: &str) -> Option<Quote> {
    let micros = EC2_HOURLY
        .iter()
        .find(|(name, _)| *name == instance_type)
        .map(|(_, micros)| *micros)?;
    let exact = TABLE_REGIONS.contains(&region);
    let source = if exact {
        TABLE_SOURCE.to_string()
    } else {
        format!("{TABLE_SOURCE}; {region} is not in the table, so this is an estimate")
    };
    Some(Quote {
        hourly: Money::from_micros(micros),
        source,
        exact_for_region: exact,
    })
}

/// The $/GB-month price of an EBS volume type, if known.
pub fn ebs_gb_month(volume_type: &str) -> Option<Money> {
    EBS_GB_MONTH
        .iter()
        .find(|(name, _)| *name == volume_type)
        .map(|(_, micros)| Money::from_micros(*micros))
}

/// The hourly cost of keeping `size_gb` of an EBS volume type.
pub fn ebs_hourly(volume_type: &str, size_gb: i64) -> Option<Money> {
    ebs_gb_month(volume_type)
        .map(|per_gb| per_gb.mul_div(i128::from(size_gb), HOURS_PER_MONTH.into()))
}

/// Every instance type the table prices, for validation and documentation.
pub fn priced_instance_types() -> impl Iterator<Item = &'static str> {
    EC2_HOURLY.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_figures_match_the_table() {
        let quote = instance_hourly("t3.medium", "us-west-2").expect("t3.medium priced");
        assert_eq!(quote.hourly.to_decimal_string(), "0.0416");
        assert!(quote.exact_for_region);
        let gpu = instance_hourly("g4dn.xlarge", "us-east-1").expect("g4dn priced");
        assert_eq!(gpu.hourly.to_decimal_string(), "0.526");
    }

    #[test]
    fn other_regions_are_marked_as_estimates() {
        let quote = instance_hourly("t3.medium", "eu-west-1").expect("priced");
        assert!(!quote.exact_for_region);
        assert!(quote.source.contains("estimate"));
    }

    #[test]
    fn unknown_types_have_no_price() {
        assert_eq!(instance_hourly("x2iedn.32xlarge", "us-east-1"), None);
    }

    #[test]
    fn every_default_size_is_priced() {
        use crate::model::size::{Arch, Family, Size, default_instance_type};
        for family in [
            Family::General,
            Family::Compute,
            Family::Memory,
            Family::Gpu,
        ] {
            for arch in [Arch::X86_64, Arch::Arm64] {
                for size in Size::ALL {
                    if let Some(instance_type) = default_instance_type(family, arch, size) {
                        assert!(
                            instance_hourly(instance_type, "us-east-1").is_some(),
                            "{instance_type} ({family:?}/{arch}/{size}) has no price"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn gp3_hundred_gb_costs_eight_dollars_a_month() {
        let hourly = ebs_hourly("gp3", 100).expect("gp3 priced");
        // $8 / 730 h = $0.010958904… → 10_959 micro-dollars per hour.
        assert_eq!(hourly, Money::from_micros(10_959));
    }
}
