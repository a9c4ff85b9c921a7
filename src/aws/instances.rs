//! EC2 instances: launching, describing, and the lifecycle calls.

use std::collections::BTreeMap;

use aws_config::retry::RetryConfig;
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, HibernationOptionsRequest, HttpTokensState,
    InstanceInterruptionBehavior, InstanceMarketOptionsRequest, InstanceMetadataOptionsRequest,
    InstanceType, MarketType, ResourceType, SpotInstanceType, SpotMarketOptions, Tag,
    TagSpecification, VolumeType,
};
use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::{AwsError, AwsErrorKind, Cloud};
use crate::model::size::Arch;
use crate::model::workspace::Ec2State;

/// What EC2 says about an instance type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeInfo {
    pub instance_type: String,
    pub architectures: Vec<Arch>,
    pub memory_mib: i64,
    pub vcpus: i32,
    pub gpus: i32,
    pub hibernation_supported: bool,
}

pub(super) async fn describe_type(
    ec2: &aws_sdk_ec2::Client,
    instance_type: &str,
) -> Result<TypeInfo, AwsError> {
    let out = ec2
        .describe_instance_types()
        .instance_types(InstanceType::from(instance_type))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeInstanceTypes", e))?;
    let Some(info) = out.instance_types().first() else {
        return Err(AwsError::new(
            "DescribeInstanceTypes",
            AwsErrorKind::InvalidRequest,
            format!("instance type '{instance_type}' does not exist in this region"),
        ));
    };
    let architectures = info
        .processor_info()
        .map(|p| {
            p.supported_architectures()
                .iter()
                .filter_map(|a| Arch::from_ec2(a.as_str()))
                .collect()
        })
        .unwrap_or_default();
    Ok(TypeInfo {
        instance_type: instance_type.to_string(),
        architectures,
        memory_mib: info
            .memory_info()
            .and_then(|m| m.size_in_mib())
            .unwrap_or(0),
        vcpus: info
            .v_cpu_info()
            .and_then(|v| v.default_v_cpus())
            .unwrap_or(0),
        gpus: info
            .gpu_info()
            .map(|g| g.gpus().iter().map(|d| d.count().unwrap_or(0)).sum())
            .unwrap_or(0),
        hibernation_supported: info.hibernation_supported().unwrap_or(false),
    })
}

/// Everything RunInstances needs for one workspace.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    pub region: String,
    pub image_id: String,
    pub root_device_name: String,
    pub instance_type: String,
    pub subnet_id: String,
    pub security_group_id: String,
    pub key_name: String,
    pub user_data: String,
    pub root_volume_gb: i32,
    pub root_volume_type: String,
    /// Hibernation needs an encrypted root volume large enough for memory.
    pub hibernation: bool,
    pub spot: bool,
    /// Idempotency token: the same token never starts a second instance on AWS.
    pub client_token: String,
    pub tags: BTreeMap<String, String>,
}

fn tag_spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(kind);
    for (key, value) in tags {
        spec = spec.tags(Tag::builder().key(key).value(value).build());
    }
    spec.build()
}

/// One instance as EC2 describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub instance_id: String,
    pub region: String,
    pub state: Ec2State,
    pub instance_type: String,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub launch_time: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
    pub hibernation_configured: bool,
    pub spot: bool,
    pub availability_zone: Option<String>,
    pub volume_ids: Vec<String>,
    /// EC2's reason for the last stop names a hibernation.
    pub stopped_by_hibernation: bool,
    pub key_name: Option<String>,
}

fn to_chrono(time: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

fn observe(region: &str, instance: &aws_sdk_ec2::types::Instance) -> Option<Observed> {
    let state_name = instance.state()?.name()?.as_str().to_string();
    let state = Ec2State::from_name(&state_name)?;
    let tags = instance
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let reason = instance
        .state_reason()
        .and_then(|r| r.code())
        .unwrap_or_default();
    Some(Observed {
        instance_id: instance.instance_id()?.to_string(),
        region: region.to_string(),
        state,
        instance_type: instance
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        public_ip: instance.public_ip_address().map(str::to_string),
        private_ip: instance.private_ip_address().map(str::to_string),
        launch_time: instance.launch_time().and_then(to_chrono),
        tags,
        hibernation_configured: instance
            .hibernation_options()
            .and_then(|h| h.configured())
            .unwrap_or(false),
        spot: instance
            .instance_lifecycle()
            .is_some_and(|l| l.as_str() == "spot"),
        availability_zone: instance
            .placement()
            .and_then(|p| p.availability_zone())
            .map(str::to_string),
        volume_ids: instance
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs()?.volume_id().map(str::to_string))
            .collect(),
        stopped_by_hibernation: reason.contains("Hibernate"),
        key_name: instance.key_name().map(str::to_string),
    })
}

impl Cloud {
    /// Starts one instance. The SDK's own retries are off for this call: after an unclear
    /// failure the caller looks for the instance by its launch tag before trying again, so a
    /// lost response can never become a second instance (moto, unlike AWS, ignores the client
    /// token).
    pub async fn run_instance(&self, spec: &LaunchSpec) -> Result<Observed, AwsError> {
        let ec2 = self.ec2(&spec.region);
        let user_data = base64::engine::general_purpose::STANDARD.encode(&spec.user_data);
        let mut ebs = EbsBlockDevice::builder()
            .volume_size(spec.root_volume_gb)
            .volume_type(VolumeType::from(spec.root_volume_type.as_str()))
            .delete_on_termination(true);
        if spec.hibernation {
            ebs = ebs.encrypted(true);
        }
        let mut request = ec2
            .run_instances()
            .image_id(&spec.image_id)
            .instance_type(InstanceType::from(spec.instance_type.as_str()))
            .min_count(1)
            .max_count(1)
            .key_name(&spec.key_name)
            .subnet_id(&spec.subnet_id)
            .security_group_ids(&spec.security_group_id)
            .user_data(user_data)
            .client_token(&spec.client_token)
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(&spec.root_device_name)
                    .ebs(ebs.build())
                    .build(),
            )
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_tokens(HttpTokensState::Required)
                    .build(),
            )
            .tag_specifications(tag_spec(ResourceType::Instance, &spec.tags))
            .tag_specifications(tag_spec(ResourceType::Volume, &spec.tags));
        if spec.hibernation {
            request = request.hibernation_options(
                HibernationOptionsRequest::builder()
                    .configured(true)
                    .build(),
            );
        }
        if spec.spot {
            // Persistent with stop-on-interruption, so a spot workspace can be stopped and
            // started like any other instead of vanishing.
            request = request.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::Persistent)
                            .instance_interruption_behavior(InstanceInterruptionBehavior::Stop)
                            .build(),
                    )
                    .build(),
            );
        }
        let out = request
            .customize()
            .config_override(
                aws_sdk_ec2::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RunInstances", e))?;
        out.instances()
            .first()
            .and_then(|i| observe(&spec.region, i))
            .ok_or_else(|| {
                AwsError::new(
                    "RunInstances",
                    AwsErrorKind::Other,
                    "EC2 returned no instance",
                )
            })
    }

    async fn describe(
        &self,
        region: &str,
        filters: Vec<Filter>,
        ids: Vec<String>,
    ) -> Result<Vec<Observed>, AwsError> {
        let mut pages = self
            .ec2(region)
            .describe_instances()
            .set_filters(Some(filters))
            .set_instance_ids(if ids.is_empty() { None } else { Some(ids) })
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeInstances", e))?;
            for reservation in page.reservations() {
                found.extend(
                    reservation
                        .instances()
                        .iter()
                        .filter_map(|i| observe(region, i)),
                );
            }
        }
        Ok(found)
    }

    /// Every instance in `region` that Prism manages for `owner`, all pages.
    pub async fn describe_managed(
        &self,
        region: &str,
        owner: &str,
    ) -> Result<Vec<Observed>, AwsError> {
        let filters = vec![
            Filter::builder()
                .name("tag:prism:managed")
                .values("true")
                .build(),
            Filter::builder()
                .name("tag:prism:owner")
                .values(owner)
                .build(),
        ];
        self.describe(region, filters, vec![]).await
    }

    /// The instance started for a launch token, if any reached EC2.
    pub async fn find_launch(
        &self,
        region: &str,
        launch_token: &str,
    ) -> Result<Option<Observed>, AwsError> {
        let filters = vec![
            Filter::builder()
                .name("tag:prism:launch-token")
                .values(launch_token)
                .build(),
        ];
        let mut found = self.describe(region, filters, vec![]).await?;
        // Should there ever be two, the oldest is the one the launch meant; the caller
        // terminates the rest.
        found.sort_by_key(|o| o.launch_time);
        Ok(found.into_iter().next())
    }

    /// Every instance carrying a launch token, oldest first.
    pub async fn find_launch_all(
        &self,
        region: &str,
        launch_token: &str,
    ) -> Result<Vec<Observed>, AwsError> {
        let filters = vec![
            Filter::builder()
                .name("tag:prism:launch-token")
                .values(launch_token)
                .build(),
        ];
        let mut found = self.describe(region, filters, vec![]).await?;
        found.sort_by_key(|o| (o.launch_time, o.instance_id.clone()));
        Ok(found)
    }

    /// One instance by id; `None` when EC2 no longer knows it.
    pub async fn describe_one(
        &self,
        region: &str,
        instance_id: &str,
    ) -> Result<Option<Observed>, AwsError> {
        match self
            .describe(region, vec![], vec![instance_id.to_string()])
            .await
        {
            Ok(found) => Ok(found.into_iter().next()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn stop(
        &self,
        region: &str,
        instance_id: &str,
        hibernate: bool,
    ) -> Result<(), AwsError> {
        self.ec2(region)
            .stop_instances()
            .instance_ids(instance_id)
            .hibernate(hibernate)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("StopInstances", e))?;
        Ok(())
    }

    pub async fn start(&self, region: &str, instance_id: &str) -> Result<(), AwsError> {
        self.ec2(region)
            .start_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("StartInstances", e))?;
        Ok(())
    }

    pub async fn terminate(&self, region: &str, instance_id: &str) -> Result<(), AwsError> {
        self.ec2(region)
            .terminate_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TerminateInstances", e))?;
        Ok(())
    }

    /// Sets (adds or replaces) tags on an instance.
    pub async fn set_tags(
        &self,
        region: &str,
        instance_id: &str,
        tags: &[(&str, String)],
    ) -> Result<(), AwsError> {
        let mut request = self.ec2(region).create_tags().resources(instance_id);
        for (key, value) in tags {
            request = request.tags(Tag::builder().key(*key).value(value).build());
        }
        request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateTags", e))?;
        Ok(())
    }

    /// Snapshots every EBS volume attached to an instance; returns the snapshot ids.
    pub async fn snapshot_volumes(
        &self,
        region: &str,
        instance_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, AwsError> {
        let ec2 = self.ec2(region);
        let volumes = ec2
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("attachment.instance-id")
                    .values(instance_id)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVolumes", e))?;
        let mut snapshots = Vec::new();
        for volume in volumes.volumes() {
            let Some(volume_id) = volume.volume_id() else {
                continue;
            };
            let out = ec2
                .create_snapshot()
                .volume_id(volume_id)
                .description(format!(
                    "Prism backup of {volume_id} from {instance_id} before terminate"
                ))
                .tag_specifications(tag_spec(ResourceType::Snapshot, tags))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateSnapshot", e))?;
            if let Some(id) = out.snapshot_id() {
                snapshots.push(id.to_string());
            }
        }
        Ok(snapshots)
    }
}

/// Base64 of a public key, as ImportKeyPair wants it (the SDK encodes the blob itself).
pub(super) fn key_blob(public_key: &str) -> Blob {
    Blob::new(public_key.trim().as_bytes().to_vec())
}
