//! The only code that knows the AWS SDK.
//!
//! [`Cloud`] is built once per daemon from the standard credential and region chain
//! (`AWS_PROFILE`, `~/.aws`, SSO, instance roles; `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>` redirect it, which is how tests aim it at moto). It keeps one
//! client per region and the few lookups worth caching; nothing here is built per request.

mod error;
mod images;
mod instances;
mod network;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use error::{AwsError, AwsErrorKind};
pub use images::ResolvedImage;
pub use instances::{LaunchSpec, Observed, TypeInfo};
pub use network::{KeyPairOutcome, NetworkPlan, SecurityGroupRule};

use crate::model::size::Arch;

/// Settings for the SDK that Prism chooses rather than the environment.
#[derive(Clone, Debug)]
pub struct CloudSettings {
    /// The region used when a workspace names none; `None` takes the SDK chain's region.
    pub region: Option<String>,
    /// Attempts per call, including the first (standard retry mode with back-off).
    pub max_attempts: u32,
    /// Limit on one call including its retries.
    pub operation_timeout: Duration,
}

impl Default for CloudSettings {
    fn default() -> Self {
        CloudSettings {
            region: None,
            max_attempts: 3,
            operation_timeout: Duration::from_secs(30),
        }
    }
}

/// Clients for one region.
#[derive(Clone, Debug)]
struct RegionClients {
    ec2: aws_sdk_ec2::Client,
    ssm: aws_sdk_ssm::Client,
}

/// A handle on AWS shared by the whole daemon.
#[derive(Clone, Debug)]
pub struct Cloud {
    base: SdkConfig,
    default_region: String,
    sts: aws_sdk_sts::Client,
    regions: Arc<Mutex<HashMap<String, RegionClients>>>,
    type_info: Arc<Mutex<HashMap<(String, String), TypeInfo>>>,
}

/// Caller identity as STS reports it.
#[derive(Clone, Debug)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

impl Cloud {
    /// Loads credentials, region and endpoints from the standard chain.
    pub async fn connect(settings: &CloudSettings) -> Result<Cloud, AwsError> {
        let retry = RetryConfig::standard()
            .with_max_attempts(settings.max_attempts.max(1))
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(5));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(15))
            .operation_timeout(settings.operation_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let base = loader.load().await;
        let default_region = base.region().map(|r| r.to_string()).ok_or_else(|| {
            AwsError::new(
                "configure",
                AwsErrorKind::InvalidRequest,
                "no AWS region is set: set `region` in Prism's config, PRISM_REGION, AWS_REGION, \
                 or a region in your AWS profile",
            )
        })?;
        let sts = aws_sdk_sts::Client::new(&base);
        Ok(Cloud {
            base,
            default_region,
            sts,
            regions: Arc::default(),
            type_info: Arc::default(),
        })
    }

    /// The region used when a workspace does not name one.
    pub fn default_region(&self) -> &str {
        &self.default_region
    }

    fn clients(&self, region: &str) -> RegionClients {
        let mut regions = self
            .regions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        regions
            .entry(region.to_string())
            .or_insert_with(|| {
                let region = Region::new(region.to_string());
                let ec2 = aws_sdk_ec2::config::Builder::from(&self.base)
                    .region(region.clone())
                    .build();
                let ssm = aws_sdk_ssm::config::Builder::from(&self.base)
                    .region(region)
                    .build();
                RegionClients {
                    ec2: aws_sdk_ec2::Client::from_conf(ec2),
                    ssm: aws_sdk_ssm::Client::from_conf(ssm),
                }
            })
            .clone()
    }

    pub(crate) fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        self.clients(region).ec2
    }

    pub(crate) fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        self.clients(region).ssm
    }

    /// Who AWS thinks we are; the cheapest call that proves credentials work.
    pub async fn identity(&self) -> Result<Identity, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetCallerIdentity", e))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    /// The regions enabled for this account.
    pub async fn regions(&self) -> Result<Vec<String>, AwsError> {
        let out = self
            .ec2(&self.default_region)
            .describe_regions()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeRegions", e))?;
        let mut names: Vec<String> = out
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// What EC2 says about an instance type in a region, cached for the daemon's life.
    pub async fn type_info(&self, region: &str, instance_type: &str) -> Result<TypeInfo, AwsError> {
        let key = (region.to_string(), instance_type.to_string());
        if let Some(info) = self
            .type_info
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
        {
            return Ok(info.clone());
        }
        let info = instances::describe_type(&self.ec2(region), instance_type).await?;
        self.type_info
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, info.clone());
        Ok(info)
    }
}

/// The architecture to build for: EC2's answer for the type, preferring x86_64 when a type
/// supports both.
pub fn pick_arch(info: &TypeInfo) -> Option<Arch> {
    if info.architectures.contains(&Arch::X86_64) {
        Some(Arch::X86_64)
    } else {
        info.architectures.first().copied()
    }
}
