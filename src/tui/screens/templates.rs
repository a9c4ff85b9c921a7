//! The Templates tab: the templates the daemon serves, the resolved details of the selected
//! one (after inheritance), and every validation problem, including files that could not be
//! read at all.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::{selected_index, step};
use crate::model::api::{TemplateInfo, TemplateSummary};
use crate::model::pricing;
use crate::model::size::Size;
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::data::Data;
use crate::tui::theme::Theme;
use crate::tui::widgets::panel;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplatesView {
    /// The selected template's slug.
    pub selected: Option<String>,
    pub filter: String,
    /// How far the details pane is scrolled (PgUp / PgDn), in lines.
    pub detail_scroll: u16,
}

fn matches(template: &TemplateSummary, filter: &str) -> bool {
    let haystack = format!(
        "{} {} {} {}",
        template.name, template.slug, template.description, template.package_manager
    )
    .to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|word| haystack.contains(word))
}

impl TemplatesView {
    pub fn shown<'a>(&self, data: &'a Data) -> Vec<&'a TemplateSummary> {
        data.templates()
            .iter()
            .filter(|t| matches(t, &self.filter))
            .collect()
    }

    fn slugs(&self, data: &Data) -> Vec<String> {
        self.shown(data).iter().map(|t| t.slug.clone()).collect()
    }

    pub fn selected_slug(&self, data: &Data) -> Option<String> {
        let slugs = self.slugs(data);
        selected_index(&slugs, self.selected.as_deref()).map(|i| slugs[i].clone())
    }

    /// Up and down choose a template; page up and down scroll its details, which are longer
    /// than a small terminal shows.
    pub fn move_selection(&mut self, action: Action, data: &Data) {
        match action {
            Action::PageDown => self.detail_scroll = self.detail_scroll.saturating_add(8),
            Action::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(8),
            _ => {
                let slugs = self.slugs(data);
                let current = self.selected_slug(data);
                self.selected = step(&slugs, current.as_deref(), action);
                if self.selected != current {
                    self.detail_scroll = 0;
                }
            }
        }
    }
}

fn info_lines(info: &TemplateInfo, region: &str, theme: &Theme) -> Vec<Line<'static>> {
    let label = |text: &str| Span::styled(format!("{text:<11}"), theme.muted);
    let row = |name: &str, value: String| Line::from(vec![label(name), Span::raw(value)]);
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    let mut lines = vec![
        Line::styled(info.name.clone(), theme.title),
        Line::styled(info.description.clone(), theme.text),
        Line::from(""),
    ];
    if !info.inherits.is_empty() {
        lines.push(row("Inherits", info.dependency_chain.join("; ")));
    }
    lines.push(row(
        "System",
        format!(
            "{} · login {} · {} {}",
            info.os.as_deref().unwrap_or("?"),
            info.ssh_user.as_deref().unwrap_or("?"),
            info.family,
            info.architecture
        ),
    ));
    // Each package source on its own line: system packages are not conda's.
    if info.packages_by_source.is_empty() {
        lines.push(row("Packages", list(&info.resolved_packages)));
    }
    for (index, (source, packages)) in info.packages_by_source.iter().enumerate() {
        let name = if index == 0 { "Packages" } else { "" };
        lines.push(row(name, format!("{source}: {}", list(packages))));
    }
    lines.push(row("Users", list(&info.resolved_users)));
    let ports: Vec<String> = info.resolved_ports.iter().map(u16::to_string).collect();
    lines.push(row("Ports", list(&ports)));
    let services: Vec<String> = info
        .services
        .iter()
        .map(|s| match s.port {
            Some(port) => format!("{} :{port} ({})", s.name, s.auth),
            None => s.name.clone(),
        })
        .collect();
    lines.push(row("Services", list(&services)));
    // Sizes in size order, each with its type and list price in the daemon's region.
    let mut sizes: Vec<(&String, &String)> = info.sizes.iter().collect();
    sizes.sort_by_key(|(size, _)| {
        Size::ALL
            .iter()
            .position(|s| s.as_str() == size.as_str())
            .unwrap_or(usize::MAX)
    });
    for (index, (size, kind)) in sizes.iter().enumerate() {
        let mark = if **size == info.default_size {
            " default"
        } else {
            ""
        };
        let price = match pricing::instance_hourly(kind, region) {
            Some(quote) => format!("${}/h", quote.hourly.to_decimal_string()),
            None => "price unknown".into(),
        };
        let name = if index == 0 { "Sizes" } else { "" };
        lines.push(row(name, format!("{size:<7}{kind:<13}{price}{mark}")));
    }
    lines.push(row(
        "Disk",
        format!(
            "{} GB {}{}",
            info.root_volume_gb,
            info.root_volume_type,
            if info.hibernation {
                " · hibernation where the type supports it"
            } else {
                ""
            }
        ),
    ));
    if let Some(minutes) = info.idle_minutes {
        lines.push(row(
            "Idle",
            format!(
                "{} after {minutes} min ({})",
                info.idle_action,
                info.idle_profile.as_deref().unwrap_or("custom")
            ),
        ));
    }
    if let Some(guide) = &info.troubleshooting_guide {
        lines.push(row("Tips", guide.clone()));
    }
    lines.push(Line::styled(
        format!("from {} ({})", info.file, info.source),
        theme.muted,
    ));
    lines
}

/// A file's name without its directory: the list is narrow and the directory is the same
/// for every user template.
fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or(path.to_string(), |name| name.to_string_lossy().into_owned())
}

/// The files whose templates cannot be used, each once, in order.
fn invalid_files(app: &App) -> Vec<String> {
    let Some(validation) = &app.data.validation else {
        return Vec::new();
    };
    let mut files: Vec<String> = Vec::new();
    let candidates = validation
        .validation_results
        .iter()
        .filter(|r| r.status != "valid")
        .map(|r| &r.file)
        .chain(validation.errors.iter().map(|e| &e.file));
    for file in candidates {
        let name = file_name(file);
        if !files.contains(&name) {
            files.push(name);
        }
    }
    files
}

/// Every template that cannot be used (they are not in the list, so this is the only place
/// their reasons show), and the selected template's own warnings: each message once per file.
fn problems(app: &App, slug: Option<&str>) -> Vec<(bool, String)> {
    let Some(validation) = &app.data.validation else {
        return Vec::new();
    };
    let name = slug.and_then(|s| app.data.templates().iter().find(|t| t.slug == s));
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut add = |invalid: bool, file: &str, issue: &str| {
        let text = format!("{}: {issue}", file_name(file));
        if !out.iter().any(|(_, seen)| *seen == text) {
            out.push((invalid, text));
        }
    };
    for result in &validation.validation_results {
        let ours = name.is_some_and(|t| t.name == result.template);
        let invalid = result.status != "valid";
        if ours || invalid {
            for issue in &result.issues {
                add(invalid, &result.file, issue);
            }
        }
    }
    for error in &validation.errors {
        add(true, &error.file, &error.message);
    }
    out
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let view = &app.templates;
    let shown = view.shown(&app.data);
    let [list_area, info_area] =
        Layout::horizontal([Constraint::Percentage(36), Constraint::Percentage(64)]).areas(area);

    let validation = app.data.validation.as_ref();
    let title = match validation {
        Some(v) => format!(
            "Templates ({} valid of {}{})",
            v.validated,
            v.total_templates,
            if v.errors.is_empty() {
                String::new()
            } else {
                format!(", {} unreadable", v.errors.len())
            }
        ),
        None => format!("Templates ({})", shown.len()),
    };
    let title = if view.filter.is_empty() {
        title
    } else {
        format!("{title} filter: {}", view.filter)
    };
    let block = panel(&title, theme);
    if app.data.templates.is_none() {
        frame.render_widget(
            Paragraph::new(Line::styled("waiting for the daemon…", theme.muted)).block(block),
            list_area,
        );
    } else {
        let mut items: Vec<ListItem> = shown
            .iter()
            .map(|t| {
                let mark = if t.source == "user" { " (yours)" } else { "" };
                ListItem::new(Line::from(vec![
                    Span::raw(t.name.clone()),
                    Span::styled(mark, theme.muted),
                ]))
            })
            .collect();
        // Templates that cannot be used, after the usable ones (so selection indices stay
        // those of the usable list), each file once, by its file name, marked so they are seen
        // without colour too. Their problems are in the details pane.
        items.extend(
            invalid_files(app).into_iter().map(|file| {
                ListItem::new(Line::styled(format!("! {file} (invalid)"), theme.danger))
            }),
        );
        let slugs: Vec<String> = shown.iter().map(|t| t.slug.clone()).collect();
        let mut state = ListState::default();
        state.select(selected_index(&slugs, view.selected.as_deref()));
        frame.render_stateful_widget(
            List::new(items)
                .block(block)
                .highlight_style(theme.selected)
                .highlight_symbol("> "),
            list_area,
            &mut state,
        );
    }

    let slug = view.selected_slug(&app.data);
    let region = app
        .data
        .status
        .as_ref()
        .map_or("us-east-1".to_string(), |s| s.region.clone());
    let mut lines = match slug.as_ref().and_then(|s| app.data.template_info.get(s)) {
        Some(info) => info_lines(info, &region, theme),
        None if slug.is_some() => vec![Line::styled("loading the resolved template…", theme.muted)],
        None => vec![Line::styled("Select a template.", theme.muted)],
    };
    let problems = problems(app, slug.as_deref());
    if !problems.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::styled("Validation problems", theme.title));
        for (invalid, text) in problems {
            let style = if invalid { theme.danger } else { theme.warn };
            lines.push(Line::styled(format!("! {text}"), style));
        }
    }
    let key = app
        .keymap
        .first_key(Action::Launch)
        .unwrap_or_else(|| ":launch".into());
    if !app.settings.readonly && slug.is_some() {
        lines.push(Line::styled(
            format!("Enter or {key} launches from this template."),
            theme.muted,
        ));
    }
    let title = if view.detail_scroll > 0 {
        "Resolved (PgUp/PgDn scroll)"
    } else {
        "Resolved (PgDn for more)"
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((view.detail_scroll, 0))
            .block(panel(title, theme)),
        info_area,
    );
}
