//! The Costs tab: the hourly cost now and what it comes from, month-to-date spend, the daily
//! history as bars, and each workspace's spend since launch. Every figure is the daemon's;
//! where the daemon gives none the tab says so.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Paragraph, Wrap};

use crate::model::api::{CostHistory, CurrentCosts};
use crate::model::money::Money;
use crate::tui::app::App;
use crate::tui::data::{Availability, state_glyph};
use crate::tui::theme::Theme;
use crate::tui::widgets::{fit, money, panel, per_hour};

/// Micro-dollars as a bar height: bars only need proportions, and negative amounts (none are
/// expected) draw as empty.
fn height(amount: Money) -> u64 {
    u64::try_from(amount.micros()).unwrap_or(0)
}

/// The top of a chart's scale: its largest bar, but never less than a dollar, so that a few
/// cents do not fill the chart as if they were a lot.
fn scale(bars: impl Iterator<Item = Money>) -> u64 {
    bars.map(height).max().unwrap_or(0).max(1_000_000)
}

/// An amount to the cent, or to the hundredth of a cent below a dollar, so that small real
/// spend never reads as "$0.00".
fn amount(value: Money) -> String {
    if value.micros() > 0 && value.micros() < 1_000_000 {
        value.display_usd(4)
    } else {
        value.display_usd(2)
    }
}

fn now_lines(costs: &CurrentCosts, theme: &Theme) -> Vec<Line<'static>> {
    let label = |text: &str| Span::styled(format!("{text:<20}"), theme.muted);
    let mut lines = vec![
        Line::from(vec![
            label("Now"),
            Span::styled(per_hour(Some(costs.total_current_hourly)), theme.title),
            Span::styled(
                format!(
                    "  ({} a day, {} a month at this rate)",
                    money(Some(costs.total_daily_projection), 2),
                    money(Some(costs.total_monthly_projection), 2)
                ),
                theme.muted,
            ),
        ]),
        Line::from(vec![
            label("  of which"),
            Span::raw(format!(
                "compute {} · EBS {} · EFS {}",
                per_hour(Some(costs.cost_breakdown.instances)),
                per_hour(Some(costs.cost_breakdown.ebs_storage)),
                per_hour(Some(costs.cost_breakdown.efs_storage))
            )),
        ]),
        Line::from(vec![
            label(&format!("Month {} (UTC)", costs.month)),
            Span::raw(format!(
                "{} so far · today {}",
                money(Some(costs.month_to_date), 2),
                money(Some(costs.today), 2)
            )),
        ]),
        Line::from(vec![
            label("Hibernation saved"),
            Span::raw(format!(
                "{} this month (about {} over the whole month)",
                money(Some(costs.hibernation_savings.current_month), 2),
                money(Some(costs.hibernation_savings.projected_monthly), 2)
            )),
        ]),
    ];
    if !costs.unpriced_workspaces.is_empty() {
        lines.push(Line::styled(
            format!(
                "! not in any total (no price known): {}",
                costs.unpriced_workspaces.join(", ")
            ),
            theme.warn,
        ));
    }
    lines.push(Line::styled(costs.price_source.clone(), theme.muted));
    lines
}

/// How many of the latest periods fit in a chart `width` cells wide.
fn periods_shown(history: &CostHistory, width: u16) -> usize {
    usize::from(width / 3).max(1).min(history.daily_costs.len())
}

fn history_chart<'a>(history: &'a CostHistory, width: u16, theme: &Theme) -> BarChart<'a> {
    // As many of the latest days as fit, one column each with a gap.
    let skip = history.daily_costs.len() - periods_shown(history, width);
    let bars: Vec<Bar> = history
        .daily_costs
        .iter()
        .skip(skip)
        .map(|day| {
            Bar::default()
                .value(height(day.cost))
                .text_value(String::new())
                .label(Line::from(day.date.format("%d").to_string()))
        })
        .collect();
    BarChart::default()
        .data(BarGroup::default().bars(&bars))
        .max(scale(history.daily_costs.iter().skip(skip).map(|d| d.cost)))
        .bar_width(2)
        .bar_gap(1)
        .bar_style(theme.ok)
        .label_style(theme.muted)
}

fn history_caption(history: &CostHistory) -> String {
    let change = match history.cost_trends.percentage_change {
        Some(change) => format!(" ({change:+.1}%)"),
        None => String::new(),
    };
    let driver = history
        .cost_trends
        .primary_driver
        .as_deref()
        .map(|d| format!(" · most: {d}"))
        .unwrap_or_default();
    format!(
        "{} days from {}: total {}\ntrend {}{change}{driver}",
        history.daily_costs.len(),
        history.start_date,
        amount(history.total_cost),
        history.cost_trends.trend_direction.replace('_', " ")
    )
}

fn render_spend_by_workspace(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = panel("Spend since launch, by workspace", theme);
    // The state glyph tells apart two workspaces of one name (one terminated, one new).
    let mut listed: Vec<(String, Money)> = app
        .data
        .workspaces()
        .iter()
        .filter_map(|w| {
            w.current_spend
                .map(|spend| (format!("{} {}", state_glyph(w.state), w.name), spend))
        })
        .collect();
    listed.sort_by_key(|(_, spend)| std::cmp::Reverse(*spend));
    if listed.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("No priced workspaces listed.", theme.muted)).block(block),
            area,
        );
        return;
    }
    let label_width = usize::from(area.width / 3).clamp(8, 24);
    let bars: Vec<Bar> = listed
        .iter()
        .take(usize::from(area.height.saturating_sub(2)))
        .map(|(name, spend)| {
            Bar::default()
                .value(height(*spend))
                .text_value(amount(*spend))
                .label(Line::from(fit(name, label_width)))
        })
        .collect();
    let chart = BarChart::default()
        .direction(Direction::Horizontal)
        .data(BarGroup::default().bars(&bars))
        .max(scale(listed.iter().map(|(_, spend)| *spend)))
        .bar_width(1)
        .bar_gap(0)
        .bar_style(theme.ok)
        .value_style(theme.text)
        .label_style(theme.text)
        .block(block);
    frame.render_widget(chart, area);
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let top_height = if area.height >= 30 { 9 } else { 8 };
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_height), Constraint::Min(4)]).areas(area);
    let [history_area, by_workspace] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);

    let top_lines = match &app.data.costs {
        Availability::Loaded(costs) => now_lines(costs, theme),
        Availability::NotServed(message) => vec![
            Line::styled("The daemon does not report costs yet.", theme.warn),
            Line::styled(format!("It answered: {message}"), theme.muted),
        ],
        Availability::Failed(error) => {
            vec![Line::styled(
                format!("costs: {}", error.line()),
                theme.danger,
            )]
        }
        Availability::Unknown => vec![Line::styled("asking the daemon…", theme.muted)],
    };
    frame.render_widget(
        Paragraph::new(top_lines)
            .wrap(Wrap { trim: false })
            .block(panel("Costs now", theme)),
        top,
    );

    match app.data.history.loaded() {
        Some(history) => {
            let shown = periods_shown(history, history_area.width.saturating_sub(2));
            let block = panel(&format!("Daily spend, last {shown} UTC days"), theme);
            let inner = block.inner(history_area);
            frame.render_widget(block, history_area);
            let [chart, caption] =
                Layout::vertical([Constraint::Min(2), Constraint::Length(2)]).areas(inner);
            frame.render_widget(history_chart(history, chart.width, theme), chart);
            frame.render_widget(
                Paragraph::new(
                    history_caption(history)
                        .lines()
                        .map(|line| Line::styled(line.to_string(), theme.muted))
                        .collect::<Vec<_>>(),
                ),
                caption,
            );
        }
        None => {
            let block = panel("Daily spend", theme);
            let text = match &app.data.history {
                Availability::NotServed(_) => "The daemon does not report cost history yet.",
                Availability::Failed(_) => "The cost history could not be fetched.",
                _ => "asking the daemon…",
            };
            frame.render_widget(
                Paragraph::new(Line::styled(text, theme.muted)).block(block),
                history_area,
            );
        }
    }
    render_spend_by_workspace(frame, by_workspace, app, theme);
}
