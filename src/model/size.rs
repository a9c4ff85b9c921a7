//! T-shirt sizes and the instance types they stand for.
//!
//! A researcher asks for `M` or `GPU-S`; the template says which family of machines it wants
//! (general, compute, memory or GPU) and which CPU architecture. This module turns the three
//! into an EC2 instance type. A template may replace any entry through its `instance.sizes`
//! map; everything else comes from the table below.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A workspace size as a researcher names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    XS,
    S,
    M,
    L,
    XL,
    GpuS,
    GpuM,
    GpuL,
    GpuXL,
}

impl Size {
    pub const ALL: [Size; 9] = [
        Size::XS,
        Size::S,
        Size::M,
        Size::L,
        Size::XL,
        Size::GpuS,
        Size::GpuM,
        Size::GpuL,
        Size::GpuXL,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::XS => "XS",
            Size::S => "S",
            Size::M => "M",
            Size::L => "L",
            Size::XL => "XL",
            Size::GpuS => "GPU-S",
            Size::GpuM => "GPU-M",
            Size::GpuL => "GPU-L",
            Size::GpuXL => "GPU-XL",
        }
    }

    pub fn is_gpu(self) -> bool {
        matches!(self, Size::GpuS | Size::GpuM | Size::GpuL | Size::GpuXL)
    }

    /// The plain size a GPU size corresponds to, for looking up a GPU family's table.
    fn rank(self) -> usize {
        match self {
            Size::XS => 0,
            Size::S | Size::GpuS => 1,
            Size::M | Size::GpuM => 2,
            Size::L | Size::GpuL => 3,
            Size::XL | Size::GpuXL => 4,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason a size name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown size '{0}'; use one of XS, S, M, L, XL, GPU-S, GPU-M, GPU-L, GPU-XL")]
pub struct UnknownSize(pub String);

impl FromStr for Size {
    type Err = UnknownSize;
    fn from_str(text: &str) -> Result<Size, UnknownSize> {
        let upper = text.trim().to_ascii_uppercase().replace('_', "-");
        Size::ALL
            .into_iter()
            .find(|size| size.as_str() == upper)
            .ok_or_else(|| UnknownSize(text.to_string()))
    }
}

impl Serialize for Size {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The kind of machine a template is built for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    #[default]
    General,
    Compute,
    Memory,
    Gpu,
}

/// A CPU architecture as EC2 names it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Arch {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// Reads an architecture as EC2's DescribeInstanceTypes reports it.
    pub fn from_ec2(name: &str) -> Option<Arch> {
        match name {
            "x86_64" | "x86_64_mac" => Some(Arch::X86_64),
            "arm64" | "arm64_mac" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// XS, S, M, L, XL for each family and architecture. GPU sizes use the GPU row of the table
/// whatever the template's family, because asking for a GPU size means asking for a GPU.
fn table(family: Family, arch: Arch) -> Option<[&'static str; 5]> {
    use Arch::*;
    use Family::*;
    Some(match (family, arch) {
        (General, X86_64) => [
            "t3.small",
            "t3.medium",
            "t3.large",
            "t3.xlarge",
            "t3.2xlarge",
        ],
        (General, Arm64) => [
            "t4g.small",
            "t4g.medium",
            "t4g.large",
            "t4g.xlarge",
            "t4g.2xlarge",
        ],
        (Compute, X86_64) => [
            "c5.large",
            "c5.large",
            "c5.xlarge",
            "c5.2xlarge",
            "c5.4xlarge",
        ],
        (Memory, X86_64) => [
            "r5.large",
            "r5.large",
            "r5.xlarge",
            "r5.2xlarge",
            "r5.4xlarge",
        ],
        (Gpu, X86_64) => [
            "g4dn.xlarge",
            "g4dn.xlarge",
            "g4dn.2xlarge",
            "g5.2xlarge",
            "g5.4xlarge",
        ],
        // Graviton compute and memory rows are not in the bundled price table; rather than
        // launch something we cannot price, these combinations have no default.
        (Compute, Arm64) | (Memory, Arm64) | (Gpu, Arm64) => return None,
    })
}

/// The instance type for a size, before any template override.
pub fn default_instance_type(family: Family, arch: Arch, size: Size) -> Option<&'static str> {
    let family = if size.is_gpu() { Family::Gpu } else { family };
    table(family, arch).map(|row| row[size.rank()])
}

/// A best guess at an instance type's architecture from its name alone, used only where EC2
/// has not been asked yet (template validation). Graviton families carry a `g` among the letters
/// after the generation digit: `t4g`, `m7gd`, `c6gn`, `g5g`; `g4dn` and `p3` do not.
pub fn guess_arch(instance_type: &str) -> Arch {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family == "a1" {
        return Arch::Arm64;
    }
    let after_letters = family.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = after_letters.trim_start_matches(|c: char| c.is_ascii_digit());
    if suffix.contains('g') {
        Arch::Arm64
    } else {
        Arch::X86_64
    }
}

/// Whether a string has the shape of an EC2 instance type (`family.size`).
pub fn looks_like_instance_type(text: &str) -> bool {
    let Some((family, size)) = text.split_once('.') else {
        return false;
    };
    let family_ok = !family.is_empty()
        && family.len() <= 16
        && family.starts_with(|c: char| c.is_ascii_lowercase())
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let size_ok = !size.is_empty()
        && size.len() <= 16
        && size
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    family_ok && size_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("s", Size::S)]
    #[case("XL", Size::XL)]
    #[case("gpu-s", Size::GpuS)]
    #[case("GPU_XL", Size::GpuXL)]
    #[case(" m ", Size::M)]
    fn sizes_parse_case_insensitively(#[case] text: &str, #[case] size: Size) {
        assert_eq!(text.parse::<Size>(), Ok(size));
        assert_eq!(size.as_str().parse::<Size>(), Ok(size));
    }

    #[test]
    fn unknown_size_names_the_choices() {
        let err = "XXL".parse::<Size>().expect_err("XXL is not a size");
        assert!(err.to_string().contains("GPU-S"), "{err}");
    }

    #[rstest]
    #[case(Family::General, Arch::X86_64, Size::M, "t3.large")]
    #[case(Family::General, Arch::Arm64, Size::S, "t4g.medium")]
    #[case(Family::General, Arch::X86_64, Size::GpuS, "g4dn.xlarge")]
    #[case(Family::Gpu, Arch::X86_64, Size::L, "g5.2xlarge")]
    #[case(Family::Memory, Arch::X86_64, Size::XL, "r5.4xlarge")]
    fn sizes_map_per_family_and_arch(
        #[case] family: Family,
        #[case] arch: Arch,
        #[case] size: Size,
        #[case] expected: &str,
    ) {
        assert_eq!(default_instance_type(family, arch, size), Some(expected));
    }

    #[test]
    fn arm_gpu_has_no_default() {
        assert_eq!(
            default_instance_type(Family::General, Arch::Arm64, Size::GpuS),
            None
        );
    }

    #[rstest]
    #[case("t4g.micro", Arch::Arm64)]
    #[case("m7gd.large", Arch::Arm64)]
    #[case("c6gn.xlarge", Arch::Arm64)]
    #[case("g5g.xlarge", Arch::Arm64)]
    #[case("g4dn.xlarge", Arch::X86_64)]
    #[case("p3.2xlarge", Arch::X86_64)]
    #[case("t3.medium", Arch::X86_64)]
    #[case("a1.large", Arch::Arm64)]
    fn arch_guess_follows_graviton_naming(#[case] instance_type: &str, #[case] arch: Arch) {
        assert_eq!(guess_arch(instance_type), arch);
    }

    #[rstest]
    #[case("t3.medium", true)]
    #[case("u-6tb1.metal", true)]
    #[case("t3", false)]
    #[case("T3.medium", false)]
    #[case("t3.medium; rm -rf /", false)]
    #[case(".large", false)]
    fn instance_type_shape(#[case] text: &str, #[case] ok: bool) {
        assert_eq!(looks_like_instance_type(text), ok);
    }
}
