//! Where a workspace is placed and how it is reached: subnet, security group, key pair.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, LocationType, ResourceType, Tag, TagSpecification,
};

use super::instances::key_blob;
use super::{AwsError, AwsErrorKind, Cloud};

/// The subnet chosen for a launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkPlan {
    pub vpc_id: String,
    pub subnet_id: String,
    pub availability_zone: String,
}

/// One inbound rule: a TCP port open to a CIDR block.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecurityGroupRule {
    pub port: u16,
    pub cidr: String,
}

/// What happened to the key pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPairOutcome {
    /// It already existed in the region.
    Existing,
    /// The user's public key was imported.
    Imported,
    /// EC2 made a new key; here is the private half, shown once.
    Created { private_key: String },
}

impl Cloud {
    /// Picks a subnet of the default VPC in an availability zone that offers `instance_type`.
    pub async fn plan_network(
        &self,
        region: &str,
        instance_type: &str,
    ) -> Result<NetworkPlan, AwsError> {
        let ec2 = self.ec2(region);
        let offerings = ec2
            .describe_instance_type_offerings()
            .location_type(LocationType::AvailabilityZone)
            .filters(
                Filter::builder()
                    .name("instance-type")
                    .values(instance_type)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeInstanceTypeOfferings", e))?;
        let zones: BTreeSet<String> = offerings
            .instance_type_offerings()
            .iter()
            .filter_map(|o| o.location().map(str::to_string))
            .collect();
        if zones.is_empty() {
            return Err(AwsError::new(
                "DescribeInstanceTypeOfferings",
                AwsErrorKind::Capacity,
                format!("{instance_type} is not offered in any availability zone of {region}"),
            ));
        }
        let vpcs = ec2
            .describe_vpcs()
            .filters(Filter::builder().name("is-default").values("true").build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeVpcs", e))?;
        let vpc_id = vpcs
            .vpcs()
            .first()
            .and_then(|v| v.vpc_id())
            .ok_or_else(|| {
                AwsError::new(
                    "DescribeVpcs",
                    AwsErrorKind::NotFound,
                    format!(
                        "{region} has no default VPC; create one with `aws ec2 create-default-vpc`"
                    ),
                )
            })?
            .to_string();
        let subnets = ec2
            .describe_subnets()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSubnets", e))?;
        let mut usable: Vec<(bool, String, String)> = subnets
            .subnets()
            .iter()
            .filter_map(|s| {
                let zone = s.availability_zone()?.to_string();
                zones.contains(&zone).then(|| {
                    (
                        !s.default_for_az().unwrap_or(false),
                        zone,
                        s.subnet_id().unwrap_or_default().to_string(),
                    )
                })
            })
            .collect();
        // Default subnets first, then by zone name, so the choice is stable.
        usable.sort();
        let (_, availability_zone, subnet_id) = usable.into_iter().next().ok_or_else(|| {
            AwsError::new(
                "DescribeSubnets",
                AwsErrorKind::Capacity,
                format!(
                    "the default VPC in {region} has no subnet in a zone offering {instance_type} ({})",
                    zones.into_iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        Ok(NetworkPlan {
            vpc_id,
            subnet_id,
            availability_zone,
        })
    }

    /// Finds or creates the security group `name` in `vpc_id` and makes sure every rule is in
    /// it. Safe to call concurrently: a lost creation race is settled by looking again.
    pub async fn ensure_security_group(
        &self,
        region: &str,
        vpc_id: &str,
        name: &str,
        description: &str,
        rules: &[SecurityGroupRule],
    ) -> Result<String, AwsError> {
        let ec2 = self.ec2(region);
        let group_id = match self.find_group(region, vpc_id, name).await? {
            Some((id, _)) => id,
            None => {
                let created = ec2
                    .create_security_group()
                    .group_name(name)
                    .description(description)
                    .vpc_id(vpc_id)
                    .tag_specifications(
                        TagSpecification::builder()
                            .resource_type(ResourceType::SecurityGroup)
                            .tags(Tag::builder().key("prism:managed").value("true").build())
                            .build(),
                    )
                    .send()
                    .await;
                match created {
                    Ok(out) => out.group_id().unwrap_or_default().to_string(),
                    Err(e) => {
                        let error = AwsError::from_sdk("CreateSecurityGroup", e);
                        if !error.code_is("InvalidGroup.Duplicate") {
                            return Err(error);
                        }
                        self.find_group(region, vpc_id, name)
                            .await?
                            .map(|(id, _)| id)
                            .ok_or(error)?
                    }
                }
            }
        };
        let existing = self
            .find_group(region, vpc_id, name)
            .await?
            .map(|(_, rules)| rules)
            .unwrap_or_default();
        let missing: Vec<&SecurityGroupRule> =
            rules.iter().filter(|r| !existing.contains(r)).collect();
        if missing.is_empty() {
            return Ok(group_id);
        }
        let mut request = ec2.authorize_security_group_ingress().group_id(&group_id);
        for rule in missing {
            request = request.ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(i32::from(rule.port))
                    .to_port(i32::from(rule.port))
                    .ip_ranges(
                        IpRange::builder()
                            .cidr_ip(&rule.cidr)
                            .description("Prism workspace access")
                            .build(),
                    )
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(group_id),
            Err(e) => {
                let error = AwsError::from_sdk("AuthorizeSecurityGroupIngress", e);
                if error.code_is("InvalidPermission.Duplicate") {
                    Ok(group_id)
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn find_group(
        &self,
        region: &str,
        vpc_id: &str,
        name: &str,
    ) -> Result<Option<(String, Vec<SecurityGroupRule>)>, AwsError> {
        let out = self
            .ec2(region)
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(name).build())
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
        Ok(out.security_groups().first().map(|group| {
            let rules = group
                .ip_permissions()
                .iter()
                .filter(|p| p.ip_protocol() == Some("tcp") && p.from_port() == p.to_port())
                .flat_map(|p| {
                    let port = p.from_port().and_then(|port| u16::try_from(port).ok());
                    p.ip_ranges().iter().filter_map(move |range| {
                        Some(SecurityGroupRule {
                            port: port?,
                            cidr: range.cidr_ip()?.to_string(),
                        })
                    })
                })
                .collect();
            (group.group_id().unwrap_or_default().to_string(), rules)
        }))
    }

    /// Makes sure key pair `name` exists: imports `public_key` when given, otherwise has EC2
    /// create one and returns its private key for the caller to keep.
    pub async fn ensure_key_pair(
        &self,
        region: &str,
        name: &str,
        public_key: Option<&str>,
    ) -> Result<KeyPairOutcome, AwsError> {
        let ec2 = self.ec2(region);
        let existing = ec2.describe_key_pairs().key_names(name).send().await;
        match existing {
            Ok(out) if !out.key_pairs().is_empty() => return Ok(KeyPairOutcome::Existing),
            Ok(_) => {}
            Err(e) => {
                let error = AwsError::from_sdk("DescribeKeyPairs", e);
                if !error.is_not_found() {
                    return Err(error);
                }
            }
        }
        let outcome = match public_key {
            Some(key) => ec2
                .import_key_pair()
                .key_name(name)
                .public_key_material(key_blob(key))
                .send()
                .await
                .map(|_| KeyPairOutcome::Imported)
                .map_err(|e| AwsError::from_sdk("ImportKeyPair", e)),
            None => ec2
                .create_key_pair()
                .key_name(name)
                .send()
                .await
                .map(|out| KeyPairOutcome::Created {
                    private_key: out.key_material().unwrap_or_default().to_string(),
                })
                .map_err(|e| AwsError::from_sdk("CreateKeyPair", e)),
        };
        match outcome {
            Err(error) if error.code_is("InvalidKeyPair.Duplicate") => Ok(KeyPairOutcome::Existing),
            other => other,
        }
    }
}
