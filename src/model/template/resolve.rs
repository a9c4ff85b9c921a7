//! Inheritance: turning a set of template files into resolved templates.
//!
//! # Merge rules
//!
//! A template's ancestors are put in a stable order first: depth-first through `inherits` in the
//! order written, each ancestor placed after its own parents and only once (so in a diamond the
//! shared grandparent is applied once, first). The specs are then folded in that order, the
//! template itself last:
//!
//! - **Scalars** (description, package manager, troubleshooting, and each field of `base`,
//!   `instance` and `idle`): the later value wins; an absent value leaves the earlier one.
//!   `base.image` counts as one scalar: a child that names an image replaces it whole.
//! - **Lists** (packages of each source, ports, setup commands): earlier entries then later
//!   ones, each value kept once at its first position.
//! - **Named lists** (users, services): merged by name; a later definition replaces the earlier
//!   one in its place, new names are appended.
//! - **Maps** (packages by source, environment, instance sizes): merged per key by the rules
//!   above for the values.
//! - `name`, `slug` and `inherits` belong to each template and are never inherited.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::spec::{
    BaseSpec, IdleAction, IdleSpec, ImageSpec, InstanceSpec, OsFamily, PackageManager,
    PackageSource, ServiceSpec, TemplateSpec, UserSpec, slugify,
};
use crate::model::size::{Arch, Family, Size};

/// Where a template file came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Bundled,
    User,
}

/// A template file handed to the catalog: its origin, a path for messages, and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub origin: Origin,
    pub path: String,
    pub text: String,
}

/// A template with its inheritance applied: what a launch uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub inherits: Vec<String>,
    /// Ancestors in the order they were applied, then this template.
    pub resolution_order: Vec<String>,
    /// Each path from a root ancestor to this template, as "A → B → C".
    pub dependency_chain: Vec<String>,
    pub origin: Origin,
    pub path: String,
    pub base: BaseSpec,
    pub package_manager: PackageManager,
    pub packages: BTreeMap<PackageSource, Vec<String>>,
    pub users: Vec<UserSpec>,
    pub services: Vec<ServiceSpec>,
    /// SSH, the services' ports and the template's extra ports, each once.
    pub ports: Vec<u16>,
    pub instance: InstanceSpec,
    pub idle: IdleSpec,
    pub setup: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub troubleshooting: Option<String>,
}

impl Template {
    pub fn os(&self) -> Option<OsFamily> {
        self.base.os
    }

    pub fn family(&self) -> Family {
        self.instance.family.unwrap_or_default()
    }

    pub fn architecture(&self) -> Arch {
        self.instance.architecture.unwrap_or_default()
    }

    pub fn default_size(&self) -> Size {
        self.instance.default_size.unwrap_or(Size::M)
    }

    pub fn root_volume_gb(&self) -> u32 {
        self.instance.root_volume_gb.unwrap_or(20)
    }

    pub fn root_volume_type(&self) -> &str {
        self.instance.root_volume_type.as_deref().unwrap_or("gp3")
    }

    pub fn wants_hibernation(&self) -> bool {
        self.instance.hibernation.unwrap_or(false)
    }

    pub fn idle_action(&self) -> IdleAction {
        self.idle.action.unwrap_or(IdleAction::Stop)
    }

    /// The instance type for a size: the template's own override, or the shared table.
    pub fn instance_type_for(&self, size: Size) -> Option<String> {
        self.instance.sizes.get(&size).cloned().or_else(|| {
            crate::model::size::default_instance_type(self.family(), self.architecture(), size)
                .map(str::to_string)
        })
    }

    /// Every package in install order (system, conda, pip), each once.
    pub fn all_packages(&self) -> Vec<String> {
        let mut all = Vec::new();
        for list in self.packages.values() {
            extend_unique(&mut all, list.iter().cloned());
        }
        all
    }

    pub fn user_names(&self) -> Vec<String> {
        self.users.iter().map(|u| u.name.clone()).collect()
    }

    /// The account services run as and researchers log in to for them.
    pub fn primary_user(&self) -> Option<&str> {
        self.users.first().map(|u| u.name.as_str())
    }

    /// The services as a workspace records them at launch: each with the account it runs as
    /// settled (its own, else the first user, else the image's login user).
    pub fn services_with_accounts(&self) -> Vec<ServiceSpec> {
        self.services
            .iter()
            .map(|service| {
                let mut service = service.clone();
                service.user = service
                    .user
                    .or_else(|| self.primary_user().map(str::to_string))
                    .or_else(|| self.base.ssh_user.clone());
                service
            })
            .collect()
    }

    /// Whether `key` (a name or slug, any case) names this template.
    pub fn answers_to(&self, key: &str) -> bool {
        self.name == key || self.slug == key || self.name.eq_ignore_ascii_case(key)
    }
}

/// Why a template could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// `cycle` runs from a template back to itself; `lead_in` is the path from the template
    /// being resolved to the cycle, empty when that template is itself in the cycle.
    #[error("{}", cycle_message(.lead_in, .cycle))]
    Cycle {
        lead_in: Vec<String>,
        cycle: Vec<String>,
    },
    #[error("parent template '{missing}' not found (chain: {})", .chain.join(" → "))]
    MissingParent { missing: String, chain: Vec<String> },
    #[error("parent template '{parent}' is invalid, so this template is too")]
    InvalidParent { parent: String },
}

fn cycle_message(lead_in: &[String], cycle: &[String]) -> String {
    let cycle_text = cycle.join(" → ");
    match cycle.first() {
        Some(entry) if !lead_in.is_empty() => {
            let mut path = lead_in.to_vec();
            path.push(entry.clone());
            format!(
                "{} leads into the inheritance cycle {cycle_text}",
                path.join(" → ")
            )
        }
        _ => format!("inheritance cycle: {cycle_text}"),
    }
}

/// Finds the spec a parent reference points at: by slug first (slugs are identifiers, and a
/// bundled template's slug must not be shadowed by a user template that happens to be named
/// like it), then by exact name, then by name in any case.
fn find_spec<'a>(specs: &'a [Parsed], key: &str) -> Option<&'a Parsed> {
    specs
        .iter()
        .find(|p| p.slug == key)
        .or_else(|| specs.iter().find(|p| p.spec.name == key))
        .or_else(|| specs.iter().find(|p| p.spec.name.eq_ignore_ascii_case(key)))
}

/// A parsed file with its slug settled.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub spec: TemplateSpec,
    pub slug: String,
    pub origin: Origin,
    pub path: String,
}

impl Parsed {
    pub fn new(spec: TemplateSpec, origin: Origin, path: String) -> Parsed {
        let slug = spec.slug.clone().unwrap_or_else(|| slugify(&spec.name));
        Parsed {
            spec,
            slug,
            origin,
            path,
        }
    }
}

/// Orders `name`'s ancestors depth-first, parents before children, each once.
pub fn linearize(specs: &[Parsed], name: &str) -> Result<Vec<String>, ResolveError> {
    fn visit(
        specs: &[Parsed],
        name: &str,
        stack: &mut Vec<String>,
        done: &mut HashSet<String>,
        out: &mut Vec<String>,
    ) -> Result<(), ResolveError> {
        if let Some(at) = stack.iter().position(|n| n == name) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(name.to_string());
            return Err(ResolveError::Cycle {
                lead_in: stack[..at].to_vec(),
                cycle,
            });
        }
        if done.contains(name) {
            return Ok(());
        }
        let Some(parsed) = specs.iter().find(|p| p.spec.name == name) else {
            return Err(ResolveError::MissingParent {
                missing: name.to_string(),
                chain: stack.clone(),
            });
        };
        stack.push(name.to_string());
        for parent in &parsed.spec.inherits {
            let Some(found) = find_spec(specs, parent) else {
                let mut chain = stack.clone();
                chain.push(parent.clone());
                return Err(ResolveError::MissingParent {
                    missing: parent.clone(),
                    chain,
                });
            };
            let parent_name = found.spec.name.clone();
            visit(specs, &parent_name, stack, done, out)?;
        }
        stack.pop();
        done.insert(name.to_string());
        out.push(name.to_string());
        Ok(())
    }
    let mut out = Vec::new();
    visit(specs, name, &mut Vec::new(), &mut HashSet::new(), &mut out)?;
    Ok(out)
}

/// Every path from a root ancestor down to `name`, joined with arrows.
fn chains(specs: &[Parsed], name: &str) -> Vec<String> {
    fn paths(specs: &[Parsed], name: &str, depth: usize) -> Vec<Vec<String>> {
        let parents = specs
            .iter()
            .find(|p| p.spec.name == name)
            .map(|p| p.spec.inherits.clone())
            .unwrap_or_default();
        if parents.is_empty() || depth > 32 {
            return vec![vec![name.to_string()]];
        }
        let mut out = Vec::new();
        for parent in parents {
            let parent_name = find_spec(specs, &parent).map_or(parent, |p| p.spec.name.clone());
            for mut path in paths(specs, &parent_name, depth + 1) {
                path.push(name.to_string());
                out.push(path);
            }
        }
        out
    }
    paths(specs, name, 0)
        .into_iter()
        .map(|p| p.join(" → "))
        .collect()
}

fn extend_unique<T: PartialEq>(into: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    for item in items {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

fn merge_named<T: Clone>(into: &mut Vec<T>, items: &[T], key: impl Fn(&T) -> &str) {
    for item in items {
        match into.iter().position(|existing| key(existing) == key(item)) {
            Some(at) => into[at] = item.clone(),
            None => into.push(item.clone()),
        }
    }
}

fn later<T: Clone>(into: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        into.clone_from(value);
    }
}

/// The fold state: everything a spec contributes, merged so far.
#[derive(Default)]
struct Merged {
    description: Option<String>,
    base: BaseSpec,
    package_manager: Option<PackageManager>,
    packages: BTreeMap<PackageSource, Vec<String>>,
    users: Vec<UserSpec>,
    services: Vec<ServiceSpec>,
    ports: Vec<u16>,
    instance: InstanceSpec,
    idle: IdleSpec,
    setup: Vec<String>,
    environment: BTreeMap<String, String>,
    troubleshooting: Option<String>,
}

impl Merged {
    fn apply(&mut self, spec: &TemplateSpec) {
        later(&mut self.description, &spec.description);
        if let Some(base) = &spec.base {
            later(&mut self.base.os, &base.os);
            later(&mut self.base.ssh_user, &base.ssh_user);
            later::<ImageSpec>(&mut self.base.image, &base.image);
        }
        later(&mut self.package_manager, &spec.package_manager);
        for (source, list) in &spec.packages {
            extend_unique(
                self.packages.entry(*source).or_default(),
                list.iter().cloned(),
            );
        }
        merge_named(&mut self.users, &spec.users, |u| u.name.as_str());
        merge_named(&mut self.services, &spec.services, |s| s.name.as_str());
        extend_unique(&mut self.ports, spec.ports.iter().copied());
        if let Some(instance) = &spec.instance {
            later(&mut self.instance.family, &instance.family);
            later(&mut self.instance.architecture, &instance.architecture);
            later(&mut self.instance.default_size, &instance.default_size);
            for (size, instance_type) in &instance.sizes {
                self.instance.sizes.insert(*size, instance_type.clone());
            }
            later(&mut self.instance.root_volume_gb, &instance.root_volume_gb);
            later(
                &mut self.instance.root_volume_type,
                &instance.root_volume_type,
            );
            later(&mut self.instance.hibernation, &instance.hibernation);
        }
        if let Some(idle) = &spec.idle {
            later(&mut self.idle.profile, &idle.profile);
            later(&mut self.idle.idle_minutes, &idle.idle_minutes);
            later(&mut self.idle.action, &idle.action);
        }
        extend_unique(&mut self.setup, spec.setup.iter().cloned());
        for (key, value) in &spec.environment {
            self.environment.insert(key.clone(), value.clone());
        }
        later(&mut self.troubleshooting, &spec.troubleshooting);
    }
}

/// Resolves one template against all parsed specs.
pub fn resolve(specs: &[Parsed], name: &str) -> Result<Template, ResolveError> {
    let order = linearize(specs, name)?;
    let mut merged = Merged::default();
    for ancestor in &order {
        if let Some(parsed) = specs.iter().find(|p| &p.spec.name == ancestor) {
            merged.apply(&parsed.spec);
        }
    }
    let Some(own) = specs.iter().find(|p| p.spec.name == name) else {
        return Err(ResolveError::MissingParent {
            missing: name.to_string(),
            chain: vec![],
        });
    };

    let mut ports = vec![22];
    extend_unique(&mut ports, merged.services.iter().filter_map(|s| s.port));
    extend_unique(&mut ports, merged.ports.iter().copied());

    let os = merged.base.os;
    let package_manager = merged
        .package_manager
        .or_else(|| os.map(OsFamily::system_manager))
        .unwrap_or(PackageManager::Dnf);

    Ok(Template {
        name: own.spec.name.clone(),
        slug: own.slug.clone(),
        description: merged.description.unwrap_or_default(),
        inherits: own.spec.inherits.clone(),
        resolution_order: order,
        dependency_chain: chains(specs, name),
        origin: own.origin.clone(),
        path: own.path.clone(),
        base: merged.base,
        package_manager,
        packages: merged.packages,
        users: merged.users,
        services: merged.services,
        ports,
        instance: merged.instance,
        idle: merged.idle,
        setup: merged.setup,
        environment: merged.environment,
        troubleshooting: merged.troubleshooting,
    })
}

/// Indexes specs by name, with user files replacing bundled files of the same name.
///
/// Returns the specs that take part and, for each file that does not, why: a second file of
/// the same origin claiming a name already taken is reported, and the first one kept.
pub fn apply_overrides(parsed: Vec<Parsed>) -> (Vec<Parsed>, Vec<(String, String)>) {
    let mut chosen: Vec<Parsed> = Vec::new();
    let mut rejected = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for candidate in parsed {
        let key = candidate.spec.name.to_lowercase();
        match by_name.get(&key).copied() {
            None => {
                by_name.insert(key, chosen.len());
                chosen.push(candidate);
            }
            Some(at)
                if chosen[at].origin == Origin::Bundled && candidate.origin == Origin::User =>
            {
                // An override without its own slug keeps the bundled one, so that scripts
                // naming the slug keep working.
                let mut candidate = candidate;
                if candidate.spec.slug.is_none() {
                    candidate.slug = chosen[at].slug.clone();
                }
                chosen[at] = candidate;
            }
            Some(at)
                if chosen[at].origin == Origin::User && candidate.origin == Origin::Bundled =>
            {
                // The user's file already overrides this bundled one.
                if chosen[at].spec.slug.is_none() {
                    chosen[at].slug = candidate.slug;
                }
            }
            Some(at) => rejected.push((
                candidate.path.clone(),
                format!(
                    "template name '{}' is already defined in {}; this file is ignored",
                    candidate.spec.name, chosen[at].path
                ),
            )),
        }
    }
    (chosen, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::template::spec::parse;

    fn specs(files: &[&str]) -> Vec<Parsed> {
        files
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Parsed::new(
                    parse(text).expect("test spec parses"),
                    Origin::Bundled,
                    format!("f{i}"),
                )
            })
            .collect()
    }

    #[test]
    fn scalars_child_wins_lists_concatenate_maps_merge_per_key() {
        let all = specs(&[
            "name: Base\ndescription: base\npackage_manager: dnf\npackages:\n  system: [git, tmux]\n\
             ports: [80]\nenvironment: {A: '1', B: '1'}\ninstance:\n  root_volume_gb: 20\n  \
             family: general\n",
            "name: Child\ninherits: [Base]\npackage_manager: conda\npackages:\n  system: [tmux, htop]\n  \
             conda: [numpy]\nports: [8888, 80]\nenvironment: {B: '2'}\ninstance:\n  root_volume_gb: 50\n",
        ]);
        let child = resolve(&all, "Child").expect("resolves");
        assert_eq!(child.description, "base");
        assert_eq!(child.package_manager, PackageManager::Conda);
        assert_eq!(
            child.packages[&PackageSource::System],
            vec!["git", "tmux", "htop"]
        );
        assert_eq!(child.packages[&PackageSource::Conda], vec!["numpy"]);
        assert_eq!(child.ports, vec![22, 80, 8888]);
        assert_eq!(child.environment["A"], "1");
        assert_eq!(child.environment["B"], "2");
        assert_eq!(child.instance.root_volume_gb, Some(50));
        assert_eq!(child.instance.family, Some(Family::General));
        assert_eq!(child.dependency_chain, vec!["Base → Child"]);
    }

    #[test]
    fn named_lists_replace_in_place() {
        let all = specs(&[
            "name: Base\nusers:\n  - {name: rocky}\n  - {name: alice}\n",
            "name: Child\ninherits: [Base]\nusers:\n  - {name: rocky, sudo: true}\n  - {name: bob}\n",
        ]);
        let child = resolve(&all, "Child").expect("resolves");
        assert_eq!(child.user_names(), vec!["rocky", "alice", "bob"]);
        assert!(child.users[0].sudo);
    }

    #[test]
    fn diamond_applies_the_shared_parent_once_in_a_stable_order() {
        let all = specs(&[
            "name: Root\nsetup: [root]\n",
            "name: Left\ninherits: [Root]\nsetup: [left]\n",
            "name: Right\ninherits: [Root]\nsetup: [right]\n",
            "name: Leaf\ninherits: [Left, Right]\nsetup: [leaf]\n",
        ]);
        let leaf = resolve(&all, "Leaf").expect("resolves");
        assert_eq!(leaf.resolution_order, vec!["Root", "Left", "Right", "Leaf"]);
        assert_eq!(leaf.setup, vec!["root", "left", "right", "leaf"]);
        assert_eq!(
            leaf.dependency_chain,
            vec!["Root → Left → Leaf", "Root → Right → Leaf"]
        );
    }

    #[test]
    fn later_parents_win_over_earlier_ones() {
        let all = specs(&[
            "name: A\ndescription: from a\n",
            "name: B\ndescription: from b\n",
            "name: C\ninherits: [A, B]\n",
        ]);
        assert_eq!(resolve(&all, "C").expect("resolves").description, "from b");
    }

    #[test]
    fn cycles_are_named_in_full() {
        let all = specs(&[
            "name: A\ninherits: [C]\n",
            "name: B\ninherits: [A]\n",
            "name: C\ninherits: [B]\n",
        ]);
        let err = resolve(&all, "A").expect_err("cycle");
        assert_eq!(
            err,
            ResolveError::Cycle {
                lead_in: vec![],
                cycle: vec!["A".into(), "C".into(), "B".into(), "A".into()]
            }
        );
        assert_eq!(err.to_string(), "inheritance cycle: A → C → B → A");
    }

    /// Regression: a child of a cycle was reported with the cycle alone ("Child: inheritance
    /// cycle: A → B → A"), which did not say how the child is involved.
    #[test]
    fn a_child_of_a_cycle_is_told_its_path_into_it() {
        let all = specs(&[
            "name: Child\ninherits: [Middle]\n",
            "name: Middle\ninherits: [A]\n",
            "name: A\ninherits: [B]\n",
            "name: B\ninherits: [A]\n",
        ]);
        let err = resolve(&all, "Child").expect_err("cycle");
        assert_eq!(
            err.to_string(),
            "Child → Middle → A leads into the inheritance cycle A → B → A"
        );
    }

    #[test]
    fn self_inheritance_is_a_cycle() {
        let all = specs(&["name: A\ninherits: [A]\n"]);
        assert!(matches!(
            resolve(&all, "A"),
            Err(ResolveError::Cycle { .. })
        ));
    }

    #[test]
    fn missing_parents_are_named_with_the_chain() {
        let all = specs(&["name: A\ninherits: [B]\n", "name: B\ninherits: [Nope]\n"]);
        let err = resolve(&all, "A").expect_err("missing");
        assert_eq!(
            err,
            ResolveError::MissingParent {
                missing: "Nope".into(),
                chain: vec!["A".into(), "B".into(), "Nope".into()]
            }
        );
    }

    #[test]
    fn parents_may_be_named_by_slug() {
        let all = specs(&[
            "name: Rocky Linux 9 Base\n",
            "name: C\ninherits: [rocky-linux-9-base]\n",
        ]);
        let c = resolve(&all, "C").expect("resolves");
        assert_eq!(c.resolution_order, vec!["Rocky Linux 9 Base", "C"]);
    }

    /// Regression: a user template *named* like a bundled template's slug captured every
    /// `inherits:` that meant the bundled one.
    #[test]
    fn parent_references_prefer_slugs_over_look_alike_names() {
        let bundled = Parsed::new(
            parse("name: Rocky Linux 9 Base\nslug: rocky-9-base\ndescription: real\n").expect("ok"),
            Origin::Bundled,
            "b".into(),
        );
        let impostor = Parsed::new(
            parse("name: rocky-9-base\ndescription: impostor\n").expect("ok"),
            Origin::User,
            "u".into(),
        );
        let child = Parsed::new(
            parse("name: Child\ninherits: [rocky-9-base]\n").expect("ok"),
            Origin::User,
            "c".into(),
        );
        let all = vec![bundled, impostor, child];
        let resolved = resolve(&all, "Child").expect("resolves");
        assert_eq!(
            resolved.resolution_order,
            vec!["Rocky Linux 9 Base", "Child"]
        );
        assert_eq!(resolved.description, "real");
    }

    #[test]
    fn services_contribute_ports() {
        let all = specs(&["name: J\nservices:\n  - {name: jupyter, port: 8888, auth: token}\n"]);
        assert_eq!(resolve(&all, "J").expect("resolves").ports, vec![22, 8888]);
    }

    #[test]
    fn user_files_override_bundled_files_of_the_same_name() {
        let bundled = Parsed::new(
            parse("name: T\ndescription: old\n").expect("ok"),
            Origin::Bundled,
            "b".into(),
        );
        let user = Parsed::new(
            parse("name: t\ndescription: new\n").expect("ok"),
            Origin::User,
            "u".into(),
        );
        let (chosen, rejected) = apply_overrides(vec![bundled.clone(), user.clone()]);
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].path, "u");
        assert_eq!(chosen[0].slug, "t", "an override keeps the bundled slug");
        assert!(rejected.is_empty());
        // Order of discovery does not matter.
        let (chosen, _) = apply_overrides(vec![user, bundled]);
        assert_eq!(chosen[0].path, "u");
        assert_eq!(chosen[0].slug, "t");
    }

    #[test]
    fn duplicate_names_within_one_origin_are_reported() {
        let a = Parsed::new(
            parse("name: T\n").expect("ok"),
            Origin::User,
            "a.yml".into(),
        );
        let b = Parsed::new(
            parse("name: T\n").expect("ok"),
            Origin::User,
            "b.yml".into(),
        );
        let (chosen, rejected) = apply_overrides(vec![a, b]);
        assert_eq!(chosen.len(), 1);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0, "b.yml");
        assert!(rejected[0].1.contains("a.yml"));
    }
}
