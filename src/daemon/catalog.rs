//! The live template catalog: bundled templates compiled into the binary, plus the user's
//! template directory, rebuilt whenever a file there changes.
//!
//! Readers take an `Arc` of the current catalog and keep it for the request; a rebuild swaps in
//! a new one, so nobody ever sees a half-loaded set.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use include_dir::{Dir, include_dir};
use notify::event::{EventKind, RemoveKind};
use notify::{Event, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::error::ApiError;
use crate::model::template::{Catalog, Origin, SourceFile, Template};

/// The bundled templates, embedded at compile time so an installed binary needs no data files.
static BUNDLED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

fn is_template_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    )
}

/// Whether a change seen in the template directory can change the catalog: a template file
/// was created, written, renamed, removed or had its permissions changed, or the directory
/// itself went away. Opening and reading are not changes, and must not count: every reload
/// opens the directory and its files, so counting them made each reload trigger the next.
fn changes_templates(event: &Event) -> bool {
    if event.need_rescan() {
        return true;
    }
    match event.kind {
        EventKind::Access(_) => false,
        EventKind::Remove(RemoveKind::Folder) => true,
        EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Any
        | EventKind::Other => event.paths.iter().any(|p| is_template_file(p)),
    }
}

/// Bundled template files, sorted by path.
pub fn bundled_files() -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = BUNDLED
        .files()
        .filter(|f| is_template_file(f.path()))
        .map(|f| SourceFile {
            origin: Origin::Bundled,
            path: format!("templates/{}", f.path().display()),
            text: f.contents_utf8().unwrap_or_default().to_string(),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The user's template files, sorted by path. Unreadable files are reported as files with
/// text that cannot parse, so they show up in validation rather than vanish.
fn user_files(dir: &Path) -> Vec<SourceFile> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_template_file(p))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| format!("# unreadable: {e}\n:::"));
            SourceFile {
                origin: Origin::User,
                path: path.display().to_string(),
                text,
            }
        })
        .collect()
}

/// A valid template by name or slug, or why there is none: 404 `TEMPLATE_NOT_FOUND`, or 422
/// `TEMPLATE_INVALID` with the validation's findings for a template (or a file that did not
/// parse) that answers to `key`.
pub fn lookup(catalog: &Catalog, key: &str) -> Result<Template, ApiError> {
    match catalog.find(key) {
        Some(template) => Ok(template.clone()),
        None => Err(match catalog.report_for(key) {
            Some(report) => ApiError::template_invalid(key, report),
            None => ApiError::template_not_found(key),
        }),
    }
}

/// The shared, reloadable catalog.
#[derive(Clone, Debug)]
pub struct TemplateRegistry {
    current: Arc<RwLock<Arc<Catalog>>>,
    user_dir: Option<PathBuf>,
}

impl TemplateRegistry {
    /// Loads bundled templates and those in `user_dir`.
    pub fn load(user_dir: Option<PathBuf>) -> TemplateRegistry {
        let registry = TemplateRegistry {
            current: Arc::default(),
            user_dir,
        };
        registry.reload();
        registry
    }

    /// The catalog as it is now.
    pub fn current(&self) -> Arc<Catalog> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Rebuilds the catalog from disk. Only a catalog that differs from the current one is
    /// swapped in and announced; re-reading unchanged files is logged at debug.
    pub fn reload(&self) {
        let mut files = bundled_files();
        if let Some(dir) = &self.user_dir {
            files.extend(user_files(dir));
        }
        let catalog = Catalog::build(files);
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if **current == catalog {
            tracing::debug!(
                templates = catalog.templates().len(),
                "template catalog unchanged after re-reading the files"
            );
            return;
        }
        for error in catalog.file_errors() {
            tracing::warn!(file = %error.file, "template skipped: {}", error.message);
        }
        for report in catalog.reports().iter().filter(|r| !r.issues.is_empty()) {
            tracing::warn!(template = %report.template, issues = ?report.issues, "template invalid");
        }
        tracing::info!(
            templates = catalog.templates().len(),
            "template catalog loaded"
        );
        *current = Arc::new(catalog);
    }

    /// Watches the user directory and reloads, debounced, when a template file in it changes.
    /// The directory is created if missing so that files added later are seen. Dropping the
    /// returned watcher stops watching.
    pub fn watch(
        &self,
    ) -> Result<Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>, String> {
        let Some(dir) = self.user_dir.clone() else {
            return Ok(None);
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create template directory {}: {e}", dir.display()))?;
        let registry = self.clone();
        let mut debouncer = new_debouncer(
            Duration::from_millis(250),
            None,
            move |result: DebounceEventResult| match result {
                Ok(events) if events.iter().any(|e| changes_templates(&e.event)) => {
                    registry.reload();
                }
                Ok(_) => {}
                Err(errors) => tracing::warn!(?errors, "template directory watch error"),
            },
        )
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        Ok(Some(debouncer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::template::ValidationStatus;
    use crate::model::userdata::{WorkspaceSetup, render};

    /// Regression: an `ls` of the template directory (an open event) made the daemon reload,
    /// and each reload's own open made it reload again, about four times a second.
    #[test]
    fn opening_and_reading_are_not_template_changes() {
        use notify::event::{
            AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, ModifyKind, RenameMode,
        };
        let event = |kind: EventKind, path: &str| Event::new(kind).add_path(PathBuf::from(path));
        let dir = "/home/r/.config/prism/templates";
        let file = "/home/r/.config/prism/templates/lab.yml";
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
        ] {
            assert!(
                !changes_templates(&event(kind, dir)),
                "{kind:?} on the directory"
            );
            assert!(!changes_templates(&event(kind, file)), "{kind:?} on a file");
        }
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Remove(RemoveKind::File),
        ] {
            assert!(changes_templates(&event(kind, file)), "{kind:?}");
            assert!(
                !changes_templates(&event(kind, "/home/r/.config/prism/templates/notes.txt")),
                "{kind:?} on a file that is not a template"
            );
        }
        assert!(changes_templates(&event(
            EventKind::Remove(RemoveKind::Folder),
            dir
        )));
    }

    #[test]
    fn every_bundled_template_is_valid() {
        let catalog = Catalog::build(bundled_files());
        assert!(
            catalog.file_errors().is_empty(),
            "{:?}",
            catalog.file_errors()
        );
        for report in catalog.reports() {
            assert_eq!(report.status, ValidationStatus::Valid, "{report:?}");
        }
        assert_eq!(catalog.templates().len(), bundled_files().len());
    }

    #[test]
    fn the_contracts_templates_are_bundled() {
        let catalog = Catalog::build(bundled_files());
        for name in [
            "Python Machine Learning (Simplified)",
            "R Research Environment (Simplified)",
            "Rocky Linux 9 Base",
            "Rocky Linux 9 + Conda Stack",
        ] {
            assert!(catalog.find(name).is_some(), "{name} is not bundled");
        }
        let conda = catalog
            .find("Rocky Linux 9 + Conda Stack")
            .expect("bundled");
        assert_eq!(
            conda.resolution_order,
            vec!["Rocky Linux 9 Base", "Rocky Linux 9 + Conda Stack"]
        );
    }

    /// The exact boot script of every bundled template, so a change to one is seen in review.
    #[test]
    fn bundled_user_data() {
        let catalog = Catalog::build(bundled_files());
        let setup = WorkspaceSetup {
            workspace: "example-box",
            service_secret: "SECRET-PLACEHOLDER",
        };
        for template in catalog.templates() {
            let script = render(template, &setup).expect("renders");
            insta::assert_snapshot!(format!("user_data_{}", template.slug), script);
        }
    }
}
