//! The Workspaces tab: every workspace in a table, a filter, and the selected one's details
//! with the actions its state allows.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{selected_index, step};
use crate::model::api::Workspace;
use crate::model::workspace::WorkspaceState;
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::data::Data;
use crate::tui::theme::Theme;
use crate::tui::widgets::{age, fit, money, panel, per_hour, state_span};

/// Selection and filter, kept apart from the drawing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkspacesView {
    /// The selected workspace, by [`key_of`].
    pub selected: Option<String>,
    pub filter: String,
}

/// What tells workspaces apart in the list: a name can come back after a terminate, so the
/// name alone is not enough; name and creation time are.
pub fn key_of(workspace: &Workspace) -> String {
    format!(
        "{}@{}",
        workspace.name,
        workspace.created_at.timestamp_micros()
    )
}

/// Whether a workspace matches a filter: every word appears somewhere in its name, state,
/// template, type, region or project (case-insensitive).
pub fn matches(workspace: &Workspace, filter: &str) -> bool {
    let haystack = format!(
        "{} {} {} {} {} {}",
        workspace.name,
        workspace.state,
        workspace.template,
        workspace.instance_type,
        workspace.region,
        workspace.project.as_deref().unwrap_or("")
    )
    .to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|word| haystack.contains(word))
}

impl WorkspacesView {
    /// The workspaces shown, in the daemon's order, after the filter.
    pub fn shown<'a>(&self, data: &'a Data) -> Vec<&'a Workspace> {
        data.workspaces()
            .iter()
            .filter(|w| matches(w, &self.filter))
            .collect()
    }

    fn keys(&self, data: &Data) -> Vec<String> {
        self.shown(data).iter().map(|w| key_of(w)).collect()
    }

    /// The selected workspace (the first row when nothing is selected yet).
    pub fn selected<'a>(&self, data: &'a Data) -> Option<&'a Workspace> {
        let shown = self.shown(data);
        let keys: Vec<String> = shown.iter().map(|w| key_of(w)).collect();
        selected_index(&keys, self.selected.as_deref()).map(|i| shown[i])
    }

    pub fn select(&mut self, workspace: &Workspace) {
        self.selected = Some(key_of(workspace));
    }

    /// Selects the workspace with this name (the live one when a name was reused).
    pub fn select_name(&mut self, data: &Data, name: &str) {
        if let Some(workspace) = data.workspace(name) {
            self.select(workspace);
        }
    }

    pub fn move_selection(&mut self, action: Action, data: &Data) {
        let keys = self.keys(data);
        let current = self.selected(data).map(key_of);
        self.selected = step(&keys, current.as_deref(), action);
    }
}

/// "in 3h 10m", "passed 2h ago", or "none".
pub fn ttl_text(ttl: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match ttl {
        None => "none".to_string(),
        Some(deadline) if deadline > now => format!("in {}", age(deadline - now)),
        Some(deadline) => format!("passed {} ago", age(now - deadline)),
    }
}

/// The actions a state allows, as (action, label) for the hint bar and the details pane.
pub fn actions_for(state: WorkspaceState) -> Vec<(Action, &'static str)> {
    use WorkspaceState as S;
    let mut actions = match state {
        S::Running => vec![
            (Action::Connect, "connect"),
            (Action::Stop, "stop"),
            (Action::Hibernate, "hibernate"),
        ],
        S::Stopped => vec![(Action::Start, "start")],
        S::Hibernated => vec![(Action::Start, "resume")],
        _ => Vec::new(),
    };
    if !state.is_final() {
        actions.push((Action::Extend, "extend"));
    }
    if !matches!(state, S::Terminated | S::Failed | S::Terminating) {
        actions.push((Action::Terminate, "terminate"));
    }
    actions
}

/// The table's columns for a width: everything from 110 cells, the essentials below 80, and
/// names cut with an ellipsis to what is left, so no cell is silently clipped mid-word.
fn table(app: &App, shown: &[&Workspace], width: u16, theme: &Theme) -> Table<'static> {
    let wide = width >= 110;
    let narrow = width < 80;
    // (header, width) of the fixed columns after the name.
    let mut fixed: Vec<(&str, u16)> = vec![("State", 15)];
    if !narrow {
        fixed.push(("Type", 11));
    }
    fixed.push(("$/h now", 9));
    if !narrow {
        fixed.push(("Spent", 8));
    }
    fixed.push(("TTL", 13));
    if wide {
        fixed.extend([("Region", 12), ("Project", 16)]);
    }
    // Borders 2, the highlight symbol 2, one space between columns.
    let used: u16 = fixed.iter().map(|(_, w)| w + 1).sum::<u16>() + 4;
    let name_width = usize::from(width.saturating_sub(used).max(8));
    let rows = shown.iter().map(|w| {
        let state = match (w.state, w.launch_progress) {
            (WorkspaceState::Launching, Some(p)) => Line::from(vec![
                state_span(w.state, theme),
                Span::styled(format!(" {p}%"), theme.muted),
            ]),
            _ => Line::from(state_span(w.state, theme)),
        };
        let mut cells = vec![Cell::from(fit(&w.name, name_width)), Cell::from(state)];
        for (header, _) in fixed.iter().skip(1) {
            cells.push(Cell::from(match *header {
                "Type" => w.instance_type.clone(),
                "$/h now" => money(w.current_hourly_cost, 4),
                "Spent" => money(w.current_spend, 2),
                "TTL" => ttl_text(w.ttl, app.now),
                "Region" => w.region.clone(),
                _ => fit(w.project.as_deref().unwrap_or(""), 16),
            }));
        }
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Min(8)];
    widths.extend(fixed.iter().map(|(_, w)| Constraint::Length(*w)));
    let mut header = vec!["Name"];
    header.extend(fixed.iter().map(|(h, _)| *h));
    Table::new(rows, widths)
        .header(Row::new(header).style(theme.title))
        .row_highlight_style(theme.selected)
        .highlight_symbol("> ")
}

/// The details of one workspace.
pub fn details(workspace: &Workspace, app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let w = workspace;
    let label = |text: &str| Span::styled(format!("{text:<10}"), theme.muted);
    let mut state = vec![
        label("State"),
        state_span(w.state, theme),
        Span::styled(
            format!(" for {}", age(app.now - w.state_since)),
            theme.muted,
        ),
    ];
    if let Some(progress) = w.launch_progress {
        state.push(Span::styled(format!(" · launch {progress}%"), theme.text));
    }
    let mut lines = vec![Line::from(state)];
    if let Some(error) = &w.launch_error {
        lines.push(Line::from(vec![
            label("Error"),
            Span::styled(error.clone(), theme.danger),
        ]));
    }
    let size = w
        .size
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    lines.push(Line::from(vec![
        label("Instance"),
        Span::styled(
            format!(
                "{} · {}{size} · {}{}",
                w.id.as_deref().unwrap_or("not in EC2 yet"),
                w.instance_type,
                w.region,
                if w.spot { " · spot" } else { "" }
            ),
            theme.text,
        ),
    ]));
    // A terminated workspace's last addresses belong to nobody now.
    let address = if w.state.is_final() {
        "none (gone)".to_string()
    } else {
        format!(
            "{} (private {})",
            w.public_ip.as_deref().unwrap_or("none"),
            w.private_ip.as_deref().unwrap_or("none")
        )
    };
    lines.push(Line::from(vec![
        label("Address"),
        Span::styled(address, theme.text),
    ]));
    lines.push(Line::from(vec![
        label("Template"),
        Span::styled(w.template.clone(), theme.text),
    ]));
    lines.push(Line::from(vec![
        label("Cost"),
        Span::styled(
            format!(
                "{} compute · {} now · {} since launch",
                per_hour(w.hourly_rate),
                per_hour(w.current_hourly_cost),
                money(w.current_spend, 2)
            ),
            theme.text,
        ),
    ]));
    if let Some(source) = &w.price_source {
        lines.push(Line::from(vec![
            label(""),
            Span::styled(source.clone(), theme.muted),
        ]));
    }
    let ttl = match w.ttl {
        Some(deadline) => format!(
            "{} ({})",
            deadline.format("%Y-%m-%d %H:%M UTC"),
            ttl_text(w.ttl, app.now)
        ),
        None => "none".into(),
    };
    lines.push(Line::from(vec![
        label("TTL"),
        Span::styled(ttl, theme.text),
    ]));
    lines.push(Line::from(vec![
        label("Hibernate"),
        Span::styled(
            if w.hibernation_capable {
                "configured: memory is kept when hibernated"
            } else {
                "not configured: hibernate would stop instead"
            },
            theme.text,
        ),
    ]));
    if w.project.is_some() || w.budget.is_some() {
        lines.push(Line::from(vec![
            label("Project"),
            Span::styled(
                format!(
                    "{}{}",
                    w.project.as_deref().unwrap_or("none"),
                    w.budget
                        .as_deref()
                        .map(|b| format!(" · budget {b}"))
                        .unwrap_or_default()
                ),
                theme.text,
            ),
        ]));
    }
    lines
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let view = &app.workspaces;
    let shown = view.shown(&app.data);
    let side_by_side = area.width >= 150;
    let (list_area, detail_area) = if side_by_side {
        let [a, b] = Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
            .areas(area);
        (a, b)
    } else {
        let detail_rows = if area.height >= 30 { 13 } else { 9 };
        let chunks = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(4), Constraint::Length(detail_rows)])
            .split(area);
        (chunks[0], chunks[1])
    };

    let total = app.data.workspaces().len();
    let title = if view.filter.is_empty() {
        format!("Workspaces ({total})")
    } else {
        format!(
            "Workspaces ({} of {total}, filter: {})",
            shown.len(),
            view.filter
        )
    };
    let block = panel(&title, theme);
    if app.data.workspaces.is_none() {
        let text = Paragraph::new(Line::styled("waiting for the daemon's list…", theme.muted))
            .block(block);
        frame.render_widget(text, list_area);
    } else if shown.is_empty() {
        let text = if total == 0 {
            let key = app
                .keymap
                .first_key(Action::Launch)
                .unwrap_or_else(|| ":launch".into());
            format!("No workspaces yet. Press {key} to launch one.")
        } else {
            "No workspace matches the filter (Esc clears it).".to_string()
        };
        frame.render_widget(Paragraph::new(text).block(block), list_area);
    } else {
        let keys: Vec<String> = shown.iter().map(|w| key_of(w)).collect();
        let mut state = TableState::default();
        state.select(selected_index(&keys, view.selected.as_deref()));
        frame.render_stateful_widget(
            table(app, &shown, list_area.width, theme).block(block),
            list_area,
            &mut state,
        );
    }

    let selected = view.selected(&app.data);
    let detail_block = panel(
        &selected.map_or("Details".to_string(), |w| w.name.clone()),
        theme,
    );
    let lines = match selected {
        Some(w) => details(w, app, theme),
        None => vec![Line::styled(
            "Select a workspace to see its details.",
            theme.muted,
        )],
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(detail_block),
        detail_area,
    );
}
