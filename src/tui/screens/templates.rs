//! The Templates tab: the templates the daemon serves, the resolved details of the selected
//! one (after inheritance), and every validation problem, including files that could not be
//! read at all.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::{selected_index, step};
use crate::model::api::{TemplateInfo, TemplateSummary};
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

    pub fn move_selection(&mut self, action: Action, data: &Data) {
        let slugs = self.slugs(data);
        let current = self.selected_slug(data);
        self.selected = step(&slugs, current.as_deref(), action);
    }
}

fn info_lines(info: &TemplateInfo, theme: &Theme) -> Vec<Line<'static>> {
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
    if !info.dependency_chain.is_empty() {
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
    lines.push(row(
        "Packages",
        format!(
            "{}: {}",
            info.package_manager,
            list(&info.resolved_packages)
        ),
    ));
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
    let sizes: Vec<String> = info
        .sizes
        .iter()
        .map(|(size, kind)| {
            let mark = if *size == info.default_size { "*" } else { "" };
            format!("{size}{mark} {kind}")
        })
        .collect();
    lines.push(row("Sizes", list(&sizes)));
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

fn problem_lines(app: &App, slug: Option<&str>, theme: &Theme) -> Vec<Line<'static>> {
    let Some(validation) = &app.data.validation else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let name = slug.and_then(|s| app.data.templates().iter().find(|t| t.slug == s));
    // The selected template's own issues, and every invalid template's (they are not in the
    // list, so this is the only place they show).
    for result in &validation.validation_results {
        let ours = name.is_some_and(|t| t.name == result.template);
        let invalid = result.status != "valid";
        if !(ours || invalid) {
            continue;
        }
        let style = if invalid { theme.danger } else { theme.warn };
        for issue in &result.issues {
            lines.push(Line::styled(
                format!("! {} ({}): {issue}", result.template, result.file),
                style,
            ));
        }
    }
    for error in &validation.errors {
        lines.push(Line::styled(
            format!("! {}: {}", error.file, error.message),
            theme.danger,
        ));
    }
    lines
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
        let items: Vec<ListItem> = shown
            .iter()
            .map(|t| {
                let mark = if t.source == "user" { " (yours)" } else { "" };
                ListItem::new(Line::from(vec![
                    Span::raw(t.name.clone()),
                    Span::styled(mark, theme.muted),
                ]))
            })
            .collect();
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
    let mut lines = match slug.as_ref().and_then(|s| app.data.template_info.get(s)) {
        Some(info) => info_lines(info, theme),
        None if slug.is_some() => vec![Line::styled("loading the resolved template…", theme.muted)],
        None => vec![Line::styled("Select a template.", theme.muted)],
    };
    let problems = problem_lines(app, slug.as_deref(), theme);
    if !problems.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::styled("Validation problems", theme.title));
        lines.extend(problems);
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
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel("Resolved", theme)),
        info_area,
    );
}
