//! What keys, commands and actions do: the half of [`App::update`] that starts from the
//! user. Keys go to an open popup first, then to the input line, and only then through the
//! keymap, so a text field always owns what is typed into it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Effect, Fetch, Mutation, Prompt, PromptKind, Tab, Target};
use crate::model::api::Workspace;
use crate::model::workspace::{self, WorkspaceState};
use crate::tui::action::{Action, TAB_COUNT};
use crate::tui::command::{self, Command};
use crate::tui::data::Availability;
use crate::tui::popups::{Outcome, Popup};
use crate::tui::widgets::text_input::{Edit, TextInput};

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        // Ctrl-C is never text: it quits from anywhere.
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return;
        }
        if let Some(mut popup) = self.popup.take() {
            let outcome = popup.handle_key(&key, &self.data, self.now);
            self.popup = Some(popup);
            self.on_outcome(outcome, effects);
            return;
        }
        if let Some(mut prompt) = self.prompt.take() {
            self.on_prompt_key(&mut prompt, &key, effects);
            return;
        }
        if let Some(action) = self.keymap.action_for(&key) {
            self.on_action(action, effects);
        }
    }

    /// A paste lands in the text field that has focus, if any; anywhere else it is ignored, so
    /// pasted text can never run shortcuts or confirm a dialog.
    pub(super) fn on_paste(&mut self, text: &str) {
        if let Some(popup) = self.popup.as_mut() {
            popup.paste(text);
            return;
        }
        if let Some(prompt) = self.prompt.as_mut() {
            prompt.input.paste(text);
            if prompt.kind == PromptKind::Filter {
                let value = prompt.input.value().to_string();
                self.set_filter(value);
            }
        }
    }

    fn on_outcome(&mut self, outcome: Outcome, effects: &mut Vec<Effect>) {
        match outcome {
            Outcome::Stay => {}
            Outcome::Close => self.popup = None,
            Outcome::Submit(mutation) => {
                if self.settings.readonly {
                    self.popup = None;
                    self.error(
                        "read-only session: nothing can be changed (started with --readonly)",
                    );
                    return;
                }
                self.info(mutation.doing());
                effects.push(Effect::Mutate(mutation));
            }
            Outcome::Fetch(fetch) => self.fetch(fetch, effects),
            Outcome::TemplateChanged => self.want_template_info(effects),
        }
    }

    fn on_prompt_key(&mut self, prompt: &mut Prompt, key: &KeyEvent, effects: &mut Vec<Effect>) {
        match key.code {
            KeyCode::Esc => {
                if prompt.kind == PromptKind::Filter {
                    self.set_filter(String::new());
                }
                return;
            }
            KeyCode::Enter => {
                let text = prompt.input.value().trim().to_string();
                match prompt.kind {
                    PromptKind::Filter => self.set_filter(text),
                    PromptKind::Command => match command::parse(&text) {
                        Ok(command) => self.run_command(command, effects),
                        Err(error) => self.error(error),
                    },
                }
                return;
            }
            _ => {}
        }
        if prompt.input.handle(key) == Edit::Handled && prompt.kind == PromptKind::Filter {
            // The filter applies as it is typed.
            self.set_filter(prompt.input.value().to_string());
        }
        self.prompt = Some(prompt.clone());
    }

    fn set_filter(&mut self, text: String) {
        match self.tab {
            Tab::Templates => self.templates.filter = text,
            _ => self.workspaces.filter = text,
        }
    }

    fn run_command(&mut self, command: Command, effects: &mut Vec<Effect>) {
        match command {
            Command::Act(action, name) => {
                if let Some(target) = self.target(name.as_deref(), action) {
                    self.workspace_action(action, target, effects);
                }
            }
            Command::Launch(template) => {
                if self.refuse_if_readonly(Action::Launch) {
                    return;
                }
                self.open_launch(template.as_deref(), effects);
            }
            Command::Extend(name, hours) => {
                if let Some(target) = self.target(name.as_deref(), Action::Extend) {
                    self.workspace_action(Action::Extend, target, effects);
                    if let (Some(hours), Some(Popup::Extend(form))) = (hours, self.popup.as_mut()) {
                        form.hours.set(&hours.to_string());
                    }
                }
            }
            Command::Tab(tab) => self.switch_tab(tab, effects),
            Command::Filter(text) => {
                if self.tab != Tab::Templates {
                    self.switch_tab(Tab::Workspaces, effects);
                }
                self.set_filter(text);
            }
            Command::Refresh => self.on_action(Action::Refresh, effects),
            Command::Help => self.on_action(Action::Help, effects),
            Command::Quit => self.quit = true,
            Command::Panic => self.panic_requested = true,
        }
    }

    fn refuse_if_readonly(&mut self, action: Action) -> bool {
        if self.settings.readonly && action.changes_things() {
            self.error(format!(
                "read-only session: '{action}' is disabled (started with --readonly)"
            ));
            true
        } else {
            false
        }
    }

    /// The workspace the current tab has selected.
    pub fn selected_workspace(&self) -> Option<Workspace> {
        match self.tab {
            Tab::Dashboard => {
                let running = crate::tui::screens::dashboard::running(&self.data);
                self.dashboard_selected
                    .as_deref()
                    .and_then(|name| running.iter().find(|w| w.name == name))
                    .or_else(|| running.first())
                    .map(|w| (*w).clone())
            }
            Tab::Workspaces => self.workspaces.selected(&self.data).cloned(),
            _ => None,
        }
    }

    /// The workspace a command names (the live one when a name was reused), or the selected
    /// one; says what is wrong when there is none.
    fn target(&mut self, name: Option<&str>, action: Action) -> Option<Workspace> {
        let found = match name {
            Some(name) => self.data.workspace(name).cloned(),
            None => self.selected_workspace(),
        };
        if found.is_none() {
            self.error(match name {
                Some(name) => {
                    format!(
                        "no workspace named '{name}' (the list may be out of date: r refreshes)"
                    )
                }
                None => format!(":{action} needs a workspace name"),
            });
        }
        found
    }

    fn switch_tab(&mut self, tab: Tab, effects: &mut Vec<Effect>) {
        self.tab = tab;
        if tab == Tab::Templates {
            if self.data.templates.is_none() {
                self.fetch(Fetch::Templates, effects);
            }
            self.want_template_info(effects);
        }
        if let Some(area) = tab.area()
            && !matches!(
                self.data.areas.get(&area),
                Some(Availability::Loaded(_) | Availability::NotServed(_))
            )
        {
            self.fetch(Fetch::Probe(area), effects);
        }
    }

    fn on_action(&mut self, action: Action, effects: &mut Vec<Effect>) {
        if self.refuse_if_readonly(action) {
            return;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.popup = Some(Popup::help()),
            Action::Refresh => {
                self.refresh_all(effects);
                self.info(super::REFRESHING);
            }
            Action::NextTab | Action::PrevTab => {
                let n = i16::from(self.tab.number()) - 1;
                let step = if action == Action::NextTab { 1 } else { -1 };
                let next = (n + step).rem_euclid(i16::from(TAB_COUNT)) as u8 + 1;
                if let Some(tab) = Tab::from_number(next) {
                    self.switch_tab(tab, effects);
                }
            }
            Action::Tab(n) => {
                if let Some(tab) = Tab::from_number(n) {
                    self.switch_tab(tab, effects);
                }
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => self.move_selection(action, effects),
            Action::Open => self.open_selected(effects),
            Action::Back => {
                let filter = match self.tab {
                    Tab::Templates => &mut self.templates.filter,
                    _ => &mut self.workspaces.filter,
                };
                if filter.is_empty() {
                    self.message = None;
                } else {
                    filter.clear();
                }
            }
            Action::Filter => match self.tab {
                Tab::Workspaces | Tab::Templates => {
                    let current = match self.tab {
                        Tab::Templates => self.templates.filter.clone(),
                        _ => self.workspaces.filter.clone(),
                    };
                    self.prompt = Some(Prompt {
                        kind: PromptKind::Filter,
                        input: TextInput::new(64).with_value(&current),
                    });
                }
                _ => self.error(
                    "nothing to filter on this tab; the Workspaces and Templates tabs have lists",
                ),
            },
            Action::Command => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Command,
                    input: TextInput::new(200),
                })
            }
            Action::Launch => {
                let template = match self.tab {
                    Tab::Templates => self.templates.selected_slug(&self.data),
                    _ => None,
                };
                self.open_launch(template.as_deref(), effects);
            }
            Action::Stop
            | Action::Start
            | Action::Resume
            | Action::Hibernate
            | Action::Terminate
            | Action::Extend
            | Action::Connect => match self.selected_workspace() {
                Some(target) => self.workspace_action(action, target, effects),
                None => self.error(match self.tab {
                    Tab::Dashboard | Tab::Workspaces => "no workspace selected".to_string(),
                    _ => format!(
                        "'{action}' works on a workspace: select one on the Workspaces tab, or \
                         type :{action} NAME"
                    ),
                }),
            },
        }
    }

    fn move_selection(&mut self, action: Action, effects: &mut Vec<Effect>) {
        match self.tab {
            Tab::Workspaces => self.workspaces.move_selection(action, &self.data),
            Tab::Templates => {
                self.templates.move_selection(action, &self.data);
                self.want_template_info(effects);
            }
            Tab::Dashboard => {
                let running = crate::tui::screens::dashboard::running(&self.data);
                let names: Vec<String> = running.iter().map(|w| w.name.clone()).collect();
                let current = self.selected_workspace().map(|w| w.name);
                self.dashboard_selected =
                    crate::tui::screens::step(&names, current.as_deref(), action);
            }
            _ => {}
        }
    }

    fn open_selected(&mut self, effects: &mut Vec<Effect>) {
        let tab = self.tab;
        match tab {
            Tab::Dashboard => {
                if let Some(target) = self.selected_workspace() {
                    self.workspaces.select(&target);
                    self.workspaces.filter.clear();
                    self.switch_tab(Tab::Workspaces, effects);
                }
            }
            Tab::Workspaces => {
                if let Some(target) = self.selected_workspace() {
                    self.workspace_action(Action::Connect, target, effects);
                }
            }
            Tab::Templates if !self.refuse_if_readonly(Action::Launch) => {
                let slug = self.templates.selected_slug(&self.data);
                self.open_launch(slug.as_deref(), effects);
            }
            _ => {}
        }
    }

    fn open_launch(&mut self, template: Option<&str>, effects: &mut Vec<Effect>) {
        if self.data.templates().is_empty() {
            self.fetch(Fetch::Templates, effects);
            self.error("no templates loaded yet from the daemon; try again in a moment");
            return;
        }
        match crate::tui::popups::launch::LaunchForm::open(&self.data, template) {
            Ok(form) => {
                self.popup = Some(Popup::Launch(Box::new(form)));
                self.want_template_info(effects);
            }
            Err(error) => self.error(error),
        }
    }

    /// Carries out an action on one workspace, from a key or a command.
    fn workspace_action(&mut self, action: Action, found: Workspace, effects: &mut Vec<Effect>) {
        if self.refuse_if_readonly(action) {
            return;
        }
        let name = found.name.as_str();
        let state = found.state;
        let model_action = match action {
            Action::Stop => Some(workspace::Action::Stop),
            Action::Start if state == WorkspaceState::Hibernated => Some(workspace::Action::Resume),
            Action::Start => Some(workspace::Action::Start),
            Action::Resume if state == WorkspaceState::Stopped => Some(workspace::Action::Start),
            Action::Resume => Some(workspace::Action::Resume),
            Action::Hibernate => Some(workspace::Action::Hibernate),
            Action::Terminate => Some(workspace::Action::Terminate),
            _ => None,
        };
        if let Some(model_action) = model_action
            && let Err(refused) = workspace::check_transition(state, model_action)
        {
            self.error(format!("'{name}': {refused}"));
            return;
        }
        match (action, model_action) {
            (Action::Stop, _) => self.submit(Mutation::Stop(Target::of(&found)), effects),
            (_, Some(workspace::Action::Resume)) => {
                self.submit(Mutation::Resume(Target::of(&found)), effects)
            }
            (_, Some(workspace::Action::Start)) => {
                self.submit(Mutation::Start(Target::of(&found)), effects)
            }
            (Action::Hibernate, _) => {
                self.popup = Some(Popup::Hibernate(
                    crate::tui::popups::hibernate::HibernateConfirm::new(&found),
                ))
            }
            (Action::Terminate, _) => {
                self.popup = Some(Popup::Terminate(
                    crate::tui::popups::terminate::TerminateConfirm::new(&found),
                ))
            }
            (Action::Extend, _) => {
                if state.is_final() {
                    self.error(format!("'{name}' is {state}; there is nothing to extend"));
                } else {
                    self.popup = Some(Popup::Extend(crate::tui::popups::extend::ExtendForm::new(
                        &found,
                    )));
                }
            }
            (Action::Connect, _) => {
                self.popup = Some(Popup::Connect(
                    crate::tui::popups::connect::ConnectView::new(name),
                ));
                self.data.connect.remove(name);
                self.fetch(Fetch::Connect(name.to_string()), effects);
            }
            _ => {}
        }
    }

    fn submit(&mut self, mutation: Mutation, effects: &mut Vec<Effect>) {
        self.info(mutation.doing());
        effects.push(Effect::Mutate(mutation));
    }
}
