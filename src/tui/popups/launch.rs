//! The launch form: template, name (checked as it is typed), size, spot, region and project.
//!
//! The name is checked by the same rule the daemon applies, and against the workspaces on
//! screen, so most mistakes show before anything is sent; the daemon still has the last word
//! and its refusal appears in the form, which stays open to fix it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Outcome, button, frame_box, while_pending};
use crate::model::api::{LaunchRequest, TemplateSummary};
use crate::model::pricing;
use crate::model::size::Size;
use crate::model::workspace::validate_name;
use crate::tui::app::{App, Mutation};
use crate::tui::data::Data;
use crate::tui::theme::Theme;
use crate::tui::widgets::fit;
use crate::tui::widgets::text_input::TextInput;

/// The form's fields, in tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Template,
    Name,
    Size,
    Spot,
    Region,
    Project,
    Submit,
}

const FIELDS: [Field; 7] = [
    Field::Template,
    Field::Name,
    Field::Size,
    Field::Spot,
    Field::Region,
    Field::Project,
    Field::Submit,
];

#[derive(Clone, Debug, PartialEq)]
pub struct LaunchForm {
    pub template: String,
    pub focus: Field,
    pub name: TextInput,
    /// The size chosen; `None` shows the template's default.
    pub size: Option<String>,
    pub spot: bool,
    pub region: TextInput,
    pub project: TextInput,
    pub pending: Option<Mutation>,
    pub error: Option<String>,
}

fn region_ok(text: &str) -> bool {
    text.is_empty()
        || (text.split('-').count() >= 3
            && text.len() <= 32
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
}

fn project_ok(text: &str) -> bool {
    text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c))
}

impl LaunchForm {
    /// Opens the form on `template` (name or slug) or the first template.
    pub fn open(data: &Data, template: Option<&str>) -> Result<LaunchForm, String> {
        let templates = data.templates();
        let chosen = match template {
            Some(wanted) => templates
                .iter()
                .find(|t| t.slug == wanted || t.name == wanted)
                .ok_or_else(|| format!("no template '{wanted}' (see the Templates tab)"))?,
            None => templates.first().ok_or("no templates to launch from")?,
        };
        Ok(LaunchForm {
            template: chosen.slug.clone(),
            focus: if template.is_some() {
                Field::Name
            } else {
                Field::Template
            },
            name: TextInput::new(63),
            size: None,
            spot: false,
            region: TextInput::new(32),
            project: TextInput::new(128),
            pending: None,
            error: None,
        })
    }

    pub fn template_slug(&self, _data: &Data) -> Option<String> {
        Some(self.template.clone())
    }

    fn summary<'a>(&self, data: &'a Data) -> Option<&'a TemplateSummary> {
        data.templates().iter().find(|t| t.slug == self.template)
    }

    /// The sizes the template offers, in size order, with their instance types; empty until
    /// the template's details have arrived.
    pub fn sizes(&self, data: &Data) -> Vec<(String, String)> {
        let Some(info) = data.template_info.get(&self.template) else {
            return Vec::new();
        };
        let mut sizes: Vec<(String, String)> = info
            .sizes
            .iter()
            .map(|(size, kind)| (size.clone(), kind.clone()))
            .collect();
        let rank = |label: &str| {
            Size::ALL
                .iter()
                .position(|s| s.as_str() == label)
                .unwrap_or(usize::MAX)
        };
        sizes.sort_by_key(|(size, _)| rank(size));
        sizes
    }

    /// The size that will be sent.
    pub fn size_label(&self, data: &Data) -> Option<String> {
        self.size.clone().or_else(|| {
            data.template_info
                .get(&self.template)
                .map(|info| info.default_size.clone())
                .or_else(|| self.summary(data).map(|t| t.default_size.clone()))
        })
    }

    /// Why the name cannot be used, if it cannot.
    pub fn name_problem(&self, data: &Data) -> Option<String> {
        let name = self.name.value();
        if let Err(error) = validate_name(name) {
            return Some(error.to_string());
        }
        let taken = data
            .workspaces()
            .iter()
            .any(|w| w.name == name && !w.state.is_final());
        taken.then(|| format!("a workspace named '{name}' already exists"))
    }

    fn problem(&self, field: Field, data: &Data) -> Option<String> {
        match field {
            Field::Name => self.name_problem(data),
            Field::Region if !region_ok(self.region.value()) => {
                Some("a region looks like us-east-1".into())
            }
            Field::Project if !project_ok(self.project.value()) => {
                Some("letters, digits, spaces and _.:/=+-@ only".into())
            }
            Field::Template if self.summary(data).is_none() => {
                Some("this template is no longer offered".into())
            }
            _ => None,
        }
    }

    /// The request the form describes, or the first field that needs fixing.
    pub fn request(&self, data: &Data) -> Result<LaunchRequest, (Field, String)> {
        for field in FIELDS {
            if let Some(problem) = self.problem(field, data) {
                return Err((field, problem));
            }
        }
        let optional = |input: &TextInput| {
            let text = input.value().trim();
            (!text.is_empty()).then(|| text.to_string())
        };
        Ok(LaunchRequest {
            name: self.name.value().to_string(),
            template: self.template.clone(),
            size: self.size_label(data),
            spot: self.spot.then_some(true),
            region: optional(&self.region),
            project: optional(&self.project),
            ..LaunchRequest::default()
        })
    }

    fn step_focus(&mut self, forward: bool) {
        let at = FIELDS.iter().position(|f| *f == self.focus).unwrap_or(0);
        let next = if forward {
            (at + 1) % FIELDS.len()
        } else {
            (at + FIELDS.len() - 1) % FIELDS.len()
        };
        self.focus = FIELDS[next];
    }

    fn cycle_template(&mut self, data: &Data, forward: bool) -> Outcome {
        let templates = data.templates();
        if templates.is_empty() {
            return Outcome::Stay;
        }
        let at = templates
            .iter()
            .position(|t| t.slug == self.template)
            .unwrap_or(0);
        let next = if forward {
            (at + 1) % templates.len()
        } else {
            (at + templates.len() - 1) % templates.len()
        };
        self.template = templates[next].slug.clone();
        self.size = None;
        Outcome::TemplateChanged
    }

    fn cycle_size(&mut self, data: &Data, forward: bool) {
        let sizes = self.sizes(data);
        if sizes.is_empty() {
            return;
        }
        let current = self.size_label(data);
        let at = sizes
            .iter()
            .position(|(s, _)| Some(s) == current.as_ref())
            .unwrap_or(0);
        let next = if forward {
            (at + 1) % sizes.len()
        } else {
            (at + sizes.len() - 1) % sizes.len()
        };
        self.size = Some(sizes[next].0.clone());
    }

    /// Pastes into the focused text field; false when the focus is not on one.
    pub fn paste(&mut self, text: &str) -> bool {
        if self.pending.is_some() {
            return false;
        }
        let field = match self.focus {
            Field::Name => &mut self.name,
            Field::Region => &mut self.region,
            Field::Project => &mut self.project,
            _ => return false,
        };
        field.paste(text);
        self.error = None;
        true
    }

    pub fn handle_key(&mut self, key: &KeyEvent, data: &Data) -> Outcome {
        if self.pending.is_some() {
            return while_pending(key);
        }
        match key.code {
            KeyCode::Esc => return Outcome::Close,
            KeyCode::Tab | KeyCode::Down => {
                self.step_focus(true);
                return Outcome::Stay;
            }
            KeyCode::BackTab | KeyCode::Up => {
                self.step_focus(false);
                return Outcome::Stay;
            }
            KeyCode::Enter => {
                return match self.request(data) {
                    Ok(request) => {
                        let mutation = Mutation::Launch(request);
                        self.pending = Some(mutation.clone());
                        self.error = None;
                        Outcome::Submit(mutation)
                    }
                    Err((field, problem)) => {
                        self.focus = field;
                        self.error = Some(problem);
                        Outcome::Stay
                    }
                };
            }
            _ => {}
        }
        // Any edit makes an earlier complaint stale.
        self.error = None;
        match self.focus {
            Field::Template => match key.code {
                KeyCode::Left => return self.cycle_template(data, false),
                KeyCode::Right | KeyCode::Char(' ') => return self.cycle_template(data, true),
                _ => {}
            },
            Field::Size => match key.code {
                KeyCode::Left => self.cycle_size(data, false),
                KeyCode::Right | KeyCode::Char(' ') => self.cycle_size(data, true),
                _ => {}
            },
            Field::Spot => {
                if matches!(
                    key.code,
                    KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right
                ) {
                    self.spot = !self.spot;
                }
            }
            Field::Name => {
                self.name.handle(key);
            }
            Field::Region => {
                self.region.handle(key);
            }
            Field::Project => {
                self.project.handle(key);
            }
            Field::Submit => {}
        }
        Outcome::Stay
    }

    fn label(&self, field: Field, text: &str, theme: &Theme) -> Span<'static> {
        let marker = if self.focus == field { "› " } else { "  " };
        let style = if self.focus == field {
            theme.key
        } else {
            theme.muted
        };
        Span::styled(format!("{marker}{text:<9}"), style)
    }

    pub fn lines(&self, app: &App, theme: &Theme) -> Vec<Line<'static>> {
        let data = &app.data;
        let summary = self.summary(data);
        let region_default = data
            .status
            .as_ref()
            .map_or("the daemon's default".to_string(), |s| s.region.clone());
        let region = if self.region.value().is_empty() {
            region_default.clone()
        } else {
            self.region.value().to_string()
        };
        let mut lines = Vec::new();

        let template_name = summary.map_or(self.template.clone(), |t| t.name.clone());
        lines.push(Line::from(vec![
            self.label(Field::Template, "Template", theme),
            Span::styled(format!("‹ {template_name} ›"), theme.text),
        ]));
        if let Some(summary) = summary {
            lines.push(Line::styled(
                format!("             {}", fit(&summary.description, 60)),
                theme.muted,
            ));
        }

        let mut name_line = vec![self.label(Field::Name, "Name", theme)];
        name_line.extend(self.name.spans(self.focus == Field::Name, theme));
        match self.name_problem(data) {
            Some(_) if self.name.value().is_empty() => {
                name_line.push(Span::styled("  (lowercase, digits, -)", theme.muted))
            }
            Some(problem) => name_line.push(Span::styled(format!("  ! {problem}"), theme.warn)),
            None => name_line.push(Span::styled("  ok", theme.ok)),
        }
        lines.push(Line::from(name_line));

        let size = self.size_label(data).unwrap_or_else(|| "?".into());
        let sizes = self.sizes(data);
        let size_detail = match sizes.iter().find(|(s, _)| *s == size) {
            Some((_, kind)) => match pricing::instance_hourly(kind, &region) {
                Some(quote) => format!(
                    "{kind} · ${}/h {}{}",
                    quote.hourly.to_decimal_string(),
                    if self.spot {
                        "on demand; spot usually costs less"
                    } else {
                        "on demand"
                    },
                    if quote.exact_for_region {
                        ""
                    } else {
                        " (estimate)"
                    }
                ),
                None => format!("{kind} · price unknown"),
            },
            None if data.template_info.contains_key(&self.template) => {
                "no instance type for this size".to_string()
            }
            None => "loading sizes…".to_string(),
        };
        lines.push(Line::from(vec![
            self.label(Field::Size, "Size", theme),
            Span::styled(format!("‹ {size} ›  "), theme.text),
            Span::styled(size_detail, theme.muted),
        ]));

        lines.push(Line::from(vec![
            self.label(Field::Spot, "Spot", theme),
            Span::styled(
                format!("[{}] ", if self.spot { "x" } else { " " }),
                theme.text,
            ),
            Span::styled(
                "spot capacity: cheaper, but AWS can reclaim it",
                theme.muted,
            ),
        ]));

        let mut region_line = vec![self.label(Field::Region, "Region", theme)];
        region_line.extend(self.region.spans(self.focus == Field::Region, theme));
        if self.region.value().is_empty() {
            region_line.push(Span::styled(
                format!("  (empty: {region_default})"),
                theme.muted,
            ));
        } else if !region_ok(self.region.value()) {
            region_line.push(Span::styled("  ! e.g. us-west-2", theme.warn));
        }
        lines.push(Line::from(region_line));

        let mut project_line = vec![self.label(Field::Project, "Project", theme)];
        project_line.extend(self.project.spans(self.focus == Field::Project, theme));
        if self.project.value().is_empty() {
            project_line.push(Span::styled("  (optional)", theme.muted));
        } else if !project_ok(self.project.value()) {
            project_line.push(Span::styled(
                "  ! letters, digits, spaces, _.:/=+-@",
                theme.warn,
            ));
        }
        lines.push(Line::from(project_line));
        lines
    }

    pub fn render(&self, frame: &mut Frame, app: &App, theme: &Theme) {
        let area = frame.area();
        let inner = frame_box(
            frame,
            area.width.saturating_sub(4).min(92),
            15,
            "Launch a workspace",
            theme,
        );
        let [body, status, buttons] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(inner);
        frame.render_widget(
            Paragraph::new(self.lines(app, theme)).wrap(Wrap { trim: false }),
            body,
        );
        let status_line = if self.pending.is_some() {
            Line::styled("launching: asking the daemon…", theme.muted)
        } else if let Some(error) = &self.error {
            Line::styled(format!("error: {error}"), theme.danger)
        } else {
            Line::default()
        };
        frame.render_widget(
            Paragraph::new(status_line).wrap(Wrap { trim: true }),
            status,
        );
        let focused = self.focus == Field::Submit;
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(
                    button("Launch", focused),
                    if focused { theme.selected } else { theme.key },
                ),
                Span::styled("  Enter launches from any field · Esc cancels", theme.muted),
            ])),
            buttons,
        );
    }
}
