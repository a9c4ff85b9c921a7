//! Templates: strict parsing, inheritance and validation, as pure functions over file texts.
//!
//! [`Catalog::build`] takes every template file (bundled and the user's own), applies user
//! overrides by name, resolves inheritance and validates each result. A file that fails at any
//! step is reported and left out; every other template still serves.

mod resolve;
mod spec;
mod validate;

pub use resolve::{Origin, Parsed, ResolveError, SourceFile, Template, linearize, resolve};
pub use spec::{
    BaseSpec, IdleAction, IdleSpec, ImageLookup, ImageSpec, InstanceSpec, OsFamily, PackageManager,
    PackageSource, ServiceAuth, ServiceSpec, TemplateSpec, UserSpec, parse, slugify,
};
pub use validate::{CHECKS, TemplateReport, ValidationStatus};

use serde::Serialize;

/// A file that could not take part at all (unparsable, or a duplicate name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileError {
    pub file: String,
    pub message: String,
}

/// All templates known at one moment: the valid ones, and a report on every file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    templates: Vec<Template>,
    reports: Vec<TemplateReport>,
    file_errors: Vec<FileError>,
}

impl Catalog {
    /// Builds a catalog from file texts. Files are considered in the order given; user files
    /// replace bundled files of the same name wherever they appear.
    pub fn build(files: Vec<SourceFile>) -> Catalog {
        let mut catalog = Catalog::default();
        let mut parsed = Vec::new();
        for file in files {
            match parse(&file.text) {
                Ok(spec) => parsed.push(Parsed::new(spec, file.origin, file.path)),
                Err(message) => {
                    let aliases = unparsable_aliases(&file);
                    catalog
                        .reports
                        .push(TemplateReport::unparsable(&file.path, &message, aliases));
                    catalog.file_errors.push(FileError {
                        file: file.path,
                        message,
                    });
                }
            }
        }
        let (specs, rejected) = resolve::apply_overrides(parsed);
        for (file, message) in rejected {
            catalog
                .reports
                .push(TemplateReport::unparsable(&file, &message, Vec::new()));
            catalog.file_errors.push(FileError { file, message });
        }

        // Resolve and validate every spec; remember which names turned out invalid so that
        // their children can say so rather than launch on a broken parent.
        let mut resolved = Vec::new();
        for parsed in &specs {
            let result = resolve(&specs, &parsed.spec.name);
            resolved.push((
                parsed.spec.name.clone(),
                parsed.slug.clone(),
                parsed.path.clone(),
                result,
            ));
        }
        let mut slugs: Vec<(String, String)> = Vec::new();
        let mut invalid: Vec<String> = Vec::new();
        let mut candidates = Vec::new();
        for (name, slug, path, result) in resolved {
            match result {
                Ok(template) => {
                    let mut report = validate::validate(&template);
                    if let Some((_, owner)) = slugs.iter().find(|(slug, _)| *slug == template.slug)
                    {
                        report.add_issue(
                            "names",
                            format!("slug '{}' is already used by '{owner}'", template.slug),
                        );
                    } else {
                        slugs.push((template.slug.clone(), template.name.clone()));
                    }
                    if report.status != ValidationStatus::Valid {
                        invalid.push(name.clone());
                    }
                    candidates.push((template, report));
                }
                Err(error) => {
                    invalid.push(name.clone());
                    catalog
                        .reports
                        .push(TemplateReport::unresolvable(&name, &slug, &path, &error));
                }
            }
        }
        for (template, mut report) in candidates {
            let bad_parent = template
                .resolution_order
                .iter()
                .find(|ancestor| **ancestor != template.name && invalid.contains(ancestor));
            if let Some(parent) = bad_parent {
                let error = ResolveError::InvalidParent {
                    parent: parent.clone(),
                };
                report.add_issue("inheritance", error.to_string());
            }
            if report.status == ValidationStatus::Valid {
                catalog.templates.push(template);
            }
            catalog.reports.push(report);
        }
        catalog.templates.sort_by(|a, b| a.name.cmp(&b.name));
        catalog
    }

    /// Valid templates, sorted by name.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// A report for every file and template, valid or not.
    pub fn reports(&self) -> &[TemplateReport] {
        &self.reports
    }

    pub fn file_errors(&self) -> &[FileError] {
        &self.file_errors
    }

    /// A valid template by exact name, slug, or name in any case.
    pub fn find(&self, key: &str) -> Option<&Template> {
        self.templates
            .iter()
            .find(|t| t.name == key)
            .or_else(|| self.templates.iter().find(|t| t.slug == key))
            .or_else(|| {
                self.templates
                    .iter()
                    .find(|t| t.name.eq_ignore_ascii_case(key))
            })
    }

    /// The report for a template by name or slug, valid or not; for a file that did not
    /// parse, also by its file name without extension or the name it seems to declare.
    pub fn report_for(&self, key: &str) -> Option<&TemplateReport> {
        self.reports.iter().find(|r| r.answers_to(key))
    }
}

/// The keys a researcher may use for a file that did not parse: its file stem, and the `name`
/// (and that name's slug) a lenient read of the YAML finds, so that asking for the template
/// they meant says it is invalid rather than missing.
fn unparsable_aliases(file: &SourceFile) -> Vec<String> {
    let mut aliases = Vec::new();
    if let Some(stem) = std::path::Path::new(&file.path)
        .file_stem()
        .and_then(|s| s.to_str())
    {
        aliases.push(stem.to_string());
    }
    let loose: Option<serde_yaml_ng::Value> = serde_yaml_ng::from_str(&file.text).ok();
    if let Some(name) = loose
        .as_ref()
        .and_then(|v| v.get("name"))
        .and_then(|v| v.as_str())
    {
        aliases.push(name.to_string());
        aliases.push(slugify(name));
    }
    if let Some(slug) = loose
        .as_ref()
        .and_then(|v| v.get("slug"))
        .and_then(|v| v.as_str())
    {
        aliases.push(slug.to_string());
    }
    aliases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(origin: Origin, path: &str, text: &str) -> SourceFile {
        SourceFile {
            origin,
            path: path.into(),
            text: text.into(),
        }
    }

    const GOOD: &str =
        "name: Good\nbase:\n  os: rocky\n  ssh_user: rocky\n  image: {ssm: '/x/{arch}'}\n";

    #[test]
    fn one_bad_file_does_not_hide_the_others() {
        let catalog = Catalog::build(vec![
            file(Origin::Bundled, "good.yml", GOOD),
            file(Origin::Bundled, "bad.yml", "name: Bad\nunknown_key: 1\n"),
        ]);
        assert_eq!(catalog.templates().len(), 1, "{:?}", catalog.reports());
        assert_eq!(catalog.file_errors().len(), 1);
        assert_eq!(catalog.file_errors()[0].file, "bad.yml");
        assert!(catalog.find("Good").is_some());
        assert!(catalog.find("good").is_some());
    }

    #[test]
    fn children_of_invalid_parents_are_invalid_too() {
        let catalog = Catalog::build(vec![
            file(
                Origin::Bundled,
                "p.yml",
                "name: Parent\nports: [0]\nbase: {os: rocky}\n",
            ),
            file(
                Origin::Bundled,
                "c.yml",
                &format!("{GOOD}inherits: [Parent]\n"),
            ),
        ]);
        assert!(catalog.find("Good").is_none());
        let report = catalog.report_for("Good").expect("reported");
        assert!(
            report.issues.iter().any(|i| i.contains("Parent")),
            "{report:?}"
        );
    }

    #[test]
    fn cycles_on_disk_are_reported_not_served() {
        let catalog = Catalog::build(vec![
            file(Origin::User, "a.yml", &format!("{GOOD}inherits: [B]\n")),
            file(Origin::User, "b.yml", "name: B\ninherits: [Good]\n"),
        ]);
        assert!(catalog.templates().is_empty());
        let report = catalog.report_for("Good").expect("reported");
        assert!(
            report.issues.iter().any(|i| i.contains("Good → B → Good")),
            "{report:?}"
        );
    }

    /// Regression: an invalid template was "invalid" by name but "not found" by slug, and a
    /// file that did not parse was "not found" under any name.
    #[test]
    fn invalid_templates_are_found_by_name_slug_or_file() {
        let catalog = Catalog::build(vec![
            file(
                Origin::User,
                "a.yml",
                &format!("{GOOD}inherits: [B]\nslug: good-one\n"),
            ),
            file(Origin::User, "b.yml", "name: B\ninherits: [Good]\n"),
            file(
                Origin::User,
                "/t/broken-lab.yml",
                "name: Broken Lab\npackges: [x]\n",
            ),
            file(Origin::User, "/t/garbled.yml", "name: [unclosed\n"),
        ]);
        assert!(catalog.find("Good").is_none());
        for key in ["Good", "good", "good-one", "B", "b"] {
            let report = catalog.report_for(key).expect(key);
            assert_eq!(report.status, ValidationStatus::Invalid, "{key}");
        }
        for key in ["broken-lab", "Broken Lab", "broken lab"] {
            let report = catalog.report_for(key).expect(key);
            assert!(report.issues[0].contains("packges"), "{key}: {report:?}");
        }
        assert!(catalog.report_for("garbled").is_some(), "by file stem");
        assert!(catalog.report_for("nothing-like-it").is_none());
    }

    #[test]
    fn duplicate_slugs_are_refused() {
        let catalog = Catalog::build(vec![
            file(Origin::Bundled, "a.yml", GOOD),
            file(
                Origin::Bundled,
                "b.yml",
                &GOOD.replace("name: Good", "name: Other\nslug: good"),
            ),
        ]);
        assert_eq!(catalog.templates().len(), 1);
    }
}
