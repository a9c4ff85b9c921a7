//! Finding the machine image for a template in a region and architecture.

use aws_sdk_ec2::types::Filter;

use super::{AwsError, AwsErrorKind, Cloud};
use crate::model::size::Arch;
use crate::model::template::ImageLookup;

/// The image a launch will use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedImage {
    pub image_id: String,
    pub name: String,
    pub root_device_name: String,
}

fn image_arch(image: &aws_sdk_ec2::types::Image) -> Option<Arch> {
    image
        .architecture()
        .and_then(|a| Arch::from_ec2(a.as_str()))
}

fn resolved(image: &aws_sdk_ec2::types::Image) -> Option<ResolvedImage> {
    Some(ResolvedImage {
        image_id: image.image_id()?.to_string(),
        name: image.name().unwrap_or_default().to_string(),
        root_device_name: image.root_device_name().unwrap_or("/dev/xvda").to_string(),
    })
}

impl Cloud {
    /// Resolves a template's image for `arch` in `region`: through the SSM public parameter,
    /// or the newest available image matching the name filter and owners.
    pub async fn resolve_image(
        &self,
        region: &str,
        lookup: &ImageLookup,
        arch: Arch,
    ) -> Result<ResolvedImage, AwsError> {
        let ec2 = self.ec2(region);
        match lookup {
            ImageLookup::Missing => Err(AwsError::new(
                "ResolveImage",
                AwsErrorKind::InvalidRequest,
                "the template names no base image",
            )),
            ImageLookup::Ssm(parameter) => {
                let out = self
                    .ssm(region)
                    .get_parameter()
                    .name(parameter)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetParameter", e))?;
                let image_id = out
                    .parameter()
                    .and_then(|p| p.value())
                    .ok_or_else(|| {
                        AwsError::new(
                            "GetParameter",
                            AwsErrorKind::NotFound,
                            format!("{parameter} has no value"),
                        )
                    })?
                    .to_string();
                let images = ec2
                    .describe_images()
                    .image_ids(&image_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeImages", e))?;
                let image = images.images().first().ok_or_else(|| {
                    AwsError::new(
                        "DescribeImages",
                        AwsErrorKind::NotFound,
                        format!(
                            "{parameter} points at {image_id}, which EC2 does not know in {region}"
                        ),
                    )
                })?;
                if let Some(found) = image_arch(image)
                    && found != arch
                {
                    return Err(AwsError::new(
                        "ResolveImage",
                        AwsErrorKind::InvalidRequest,
                        format!(
                            "{parameter} is a {found} image but the instance type needs {arch}"
                        ),
                    ));
                }
                resolved(image).ok_or_else(|| {
                    AwsError::new("DescribeImages", AwsErrorKind::Other, "image without an id")
                })
            }
            ImageLookup::Filter {
                owners,
                name,
                arch: wanted,
            } => {
                let out = ec2
                    .describe_images()
                    .set_owners(Some(owners.clone()))
                    .filters(Filter::builder().name("name").values(name).build())
                    .filters(
                        Filter::builder()
                            .name("architecture")
                            .values(wanted.as_str())
                            .build(),
                    )
                    .filters(Filter::builder().name("state").values("available").build())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeImages", e))?;
                // ISO 8601 creation dates sort as text; the newest image wins.
                let newest = out
                    .images()
                    .iter()
                    .filter(|i| image_arch(i).is_none_or(|a| a == *wanted))
                    .max_by(|a, b| a.creation_date().cmp(&b.creation_date()));
                newest.and_then(resolved).ok_or_else(|| {
                    AwsError::new(
                        "DescribeImages",
                        AwsErrorKind::NotFound,
                        format!(
                            "no {wanted} image named '{name}' owned by {} in {region}",
                            owners.join(", ")
                        ),
                    )
                })
            }
        }
    }
}
