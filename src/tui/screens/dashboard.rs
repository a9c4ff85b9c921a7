//! The Dashboard tab: what is running and what it costs now and this month, recent state
//! changes, budget status, and anything that needs attention.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Sparkline, Table, TableState, Wrap};

use super::selected_index;
use crate::model::api::Workspace;
use crate::model::money::Money;
use crate::model::workspace::WorkspaceState;
use crate::tui::app::App;
use crate::tui::data::{Area, Availability, Tone};
use crate::tui::theme::Theme;
use crate::tui::widgets::{
    age, availability_lines, money, panel, per_hour, state_span, tone_style,
};

/// Workspaces that are running or on their way in or out of running: the ones that cost
/// compute now or are about to.
pub fn running(data: &crate::tui::data::Data) -> Vec<&Workspace> {
    use WorkspaceState as S;
    data.workspaces()
        .iter()
        .filter(|w| {
            matches!(
                w.state,
                S::Running
                    | S::Launching
                    | S::Starting
                    | S::Resuming
                    | S::Stopping
                    | S::Hibernating
            )
        })
        .collect()
}

/// What needs attention, most serious first.
pub fn warnings(app: &App) -> Vec<(Tone, String)> {
    let mut out = Vec::new();
    if let Some(status) = &app.data.status {
        if status.aws_connectivity != "connected" {
            out.push((
                Tone::Danger,
                format!(
                    "AWS unreachable from the daemon: {}",
                    status.aws_error.as_deref().unwrap_or("no answer")
                ),
            ));
        }
        if let Some(error) = &status.refresh_error {
            out.push((Tone::Danger, format!("EC2 refresh failing: {error}")));
        }
    }
    for w in app.data.workspaces() {
        if w.state == WorkspaceState::Failed {
            out.push((
                Tone::Danger,
                format!(
                    "launch of '{}' failed: {}",
                    w.name,
                    w.launch_error.as_deref().unwrap_or("no reason given")
                ),
            ));
        }
        if let Some(ttl) = w.ttl
            && !w.state.is_final()
        {
            if ttl <= app.now {
                out.push((
                    Tone::Warn,
                    format!("'{}' is past its TTL (by {})", w.name, age(app.now - ttl)),
                ));
            } else if ttl - app.now <= chrono::Duration::hours(24) {
                out.push((
                    Tone::Warn,
                    format!("'{}' reaches its TTL in {}", w.name, age(ttl - app.now)),
                ));
            }
        }
        if w.state == WorkspaceState::Running && w.hourly_rate.is_none() {
            out.push((
                Tone::Warn,
                format!("'{}' ({}) has no known price", w.name, w.instance_type),
            ));
        }
    }
    if let Some(validation) = &app.data.validation {
        let bad = validation
            .total_templates
            .saturating_sub(validation.validated)
            + validation.errors.len();
        if bad > 0 {
            out.push((
                Tone::Warn,
                format!("{bad} template file(s) failed validation (see Templates)"),
            ));
        }
    }
    out
}

/// Spend now, from the list: compute and storage of every workspace as it is now.
fn hourly_from_list(app: &App) -> Option<Money> {
    app.data
        .workspaces()
        .iter()
        .map(|w| w.current_hourly_cost)
        .sum::<Option<Money>>()
}

fn summary_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    // Before the first answer there is nothing to sum: no zeros that look like figures.
    if app.data.workspaces.is_none() {
        return vec![Line::styled(
            "waiting for the daemon's first answer…",
            theme.muted,
        )];
    }
    let active = running(&app.data).len();
    let total = app
        .data
        .workspaces()
        .iter()
        .filter(|w| !w.state.is_final())
        .count();
    let mut first = vec![Span::styled(
        format!("{active} active of {total} workspaces"),
        theme.text,
    )];
    match &app.data.costs {
        Availability::Loaded(costs) => {
            first.push(Span::styled(
                format!(
                    " · now {} · today {} · this month {}",
                    per_hour(Some(costs.total_current_hourly)),
                    money(Some(costs.today), 2),
                    money(Some(costs.month_to_date), 2)
                ),
                theme.text,
            ));
        }
        _ => first.push(Span::styled(
            format!(" · now {}", per_hour(hourly_from_list(app))),
            theme.text,
        )),
    }
    let second = match &app.data.costs {
        Availability::Loaded(costs) => Line::styled(
            format!(
                "{} UTC month so far · at today's rate {} a month{}",
                costs.month,
                money(Some(costs.total_monthly_projection), 2),
                if costs.unpriced_workspaces.is_empty() {
                    String::new()
                } else {
                    format!(" · {} unpriced", costs.unpriced_workspaces.len())
                }
            ),
            theme.muted,
        ),
        Availability::NotServed(_) => Line::styled(
            "month-to-date spend: the daemon does not report costs yet",
            theme.muted,
        ),
        Availability::Failed(error) => {
            Line::styled(format!("costs: {}", error.message), theme.warn)
        }
        Availability::Unknown => Line::styled("asking the daemon for costs…", theme.muted),
    };
    vec![Line::from(first), second]
}

fn render_summary(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = panel("Spend", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [text, chart] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(summary_lines(app, theme)), text);
    if chart.height == 0 {
        return;
    }
    match app.data.history.loaded() {
        Some(history) if !history.daily_costs.is_empty() => {
            let [label, spark] =
                Layout::horizontal([Constraint::Length(18), Constraint::Min(10)]).areas(chart);
            // Whole cents per day: the sparkline only needs their shape.
            let cents: Vec<u64> = history
                .daily_costs
                .iter()
                .map(|d| u64::try_from(d.cost.micros() / 10_000).unwrap_or(0))
                .collect();
            frame.render_widget(
                Paragraph::new(vec![
                    Line::styled(format!("last {} days", cents.len()), theme.muted),
                    Line::styled(
                        format!("total {}", money(Some(history.total_cost), 2)),
                        theme.muted,
                    ),
                ]),
                label,
            );
            frame.render_widget(Sparkline::default().data(&cents).style(theme.ok), spark);
        }
        _ => {}
    }
}

fn render_active(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let active = running(&app.data);
    let block = panel(&format!("Active now ({})", active.len()), theme);
    if active.is_empty() {
        let text = if app.data.workspaces.is_none() {
            "waiting for the daemon's list…"
        } else {
            "Nothing is running: nothing is costing compute."
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme.muted))
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    // The "for how long" column only where the name still fits beside it.
    let with_age = area.width >= 56;
    let rows = active.iter().map(|w| {
        let mut cells = vec![
            Cell::from(w.name.clone()),
            Cell::from(Line::from(state_span(w.state, theme))),
            Cell::from(money(w.current_hourly_cost, 4)),
        ];
        if with_age {
            cells.push(Cell::from(age(app.now - w.state_since)));
        }
        Row::new(cells)
    });
    let names: Vec<String> = active.iter().map(|w| w.name.clone()).collect();
    let mut state = TableState::default();
    let selected = app.selected_workspace().map(|w| w.name);
    state.select(selected_index(&names, selected.as_deref()));
    let mut widths = vec![
        Constraint::Min(10),
        Constraint::Length(12),
        Constraint::Length(8),
    ];
    let mut header = vec!["Name", "State", "$/h now"];
    if with_age {
        widths.push(Constraint::Length(7));
        header.push("For");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title))
        .row_highlight_style(theme.selected)
        .highlight_symbol("> ")
        .block(block);
    frame.render_stateful_widget(table, area, &mut state);
}

fn render_warnings(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let warnings = warnings(app);
    let lines: Vec<Line> = if app.data.workspaces.is_none() {
        vec![Line::styled(
            "nothing known yet: the daemon has not answered",
            theme.muted,
        )]
    } else if warnings.is_empty() {
        vec![Line::styled("ok: nothing needs attention", theme.ok)]
    } else {
        warnings
            .into_iter()
            .map(|(tone, text)| Line::styled(format!("! {text}"), tone_style(tone, theme)))
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel("Warnings", theme)),
        area,
    );
}

fn render_activity(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines: Vec<Line> = app
        .data
        .events
        .iter()
        .take(usize::from(area.height.saturating_sub(3)))
        .map(|event| {
            Line::from(vec![
                Span::styled(format!("{} ", event.timestamp.format("%H:%M")), theme.muted),
                Span::raw(format!("{} ", event.name)),
                state_span(event.new_state, theme),
                Span::styled(format!(" ({})", event.reason), theme.muted),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            if app.data.streaming {
                "No state changes since the dashboard opened."
            } else {
                "No live updates: the event stream is not connected."
            },
            theme.muted,
        ));
    }
    let idle = match app.data.areas.get(&Area::Idle) {
        Some(Availability::NotServed(_)) => {
            "idle actions: the daemon does not run idle detection yet"
        }
        Some(Availability::Loaded(())) => "idle actions: see the Idle tab",
        _ => "idle actions: unknown",
    };
    lines.push(Line::styled(idle, theme.muted));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(panel("Recent activity (UTC)", theme)),
        area,
    );
}

fn render_budgets(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lines = availability_lines(app, Area::Budgets, theme);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel("Budgets", theme)),
        area,
    );
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let summary_height = if area.height >= 30 { 7 } else { 5 };
    let [summary, middle, bottom] = Layout::vertical([
        Constraint::Length(summary_height),
        Constraint::Percentage(50),
        Constraint::Percentage(50),
    ])
    .areas(area);
    render_summary(frame, summary, app, theme);
    let [active, warn] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    render_active(frame, active, app, theme);
    render_warnings(frame, warn, app, theme);
    let [activity, budgets] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    render_activity(frame, activity, app, theme);
    render_budgets(frame, budgets, app, theme);
}
