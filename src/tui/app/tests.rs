//! The update rule, action in and state out, with no terminal and no daemon.

use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::model::workspace::WorkspaceState;
use crate::tui::popups::Popup;
use crate::tui::snapshots::{app_with, full_data, key, now, type_text, workspace};

/// The live fixture workspace of that name, as a change names it.
fn target(name: &str) -> Target {
    Target::of(full_data().workspace(name).expect("a fixture workspace"))
}

fn unreachable() -> FetchError {
    FetchError {
        unreachable: true,
        code: None,
        message: "cannot reach the prism daemon at http://127.0.0.1:8947/".into(),
        remediation: "Start the daemon".into(),
    }
}

fn refused(code: &str, message: &str) -> FetchError {
    FetchError {
        unreachable: false,
        code: Some(code.into()),
        message: message.into(),
        remediation: "do something else".into(),
    }
}

fn poll_ok(app: &mut App, list: Vec<Workspace>) -> Vec<Effect> {
    let status = full_data().status.expect("fixture status");
    app.update(Msg::reply(Reply::Poll {
        url: "http://127.0.0.1:8947".into(),
        status: Ok(status),
        workspaces: Ok(list),
    }))
}

fn poll_down(app: &mut App) -> Vec<Effect> {
    app.update(Msg::reply(Reply::Poll {
        url: "http://127.0.0.1:8947".into(),
        status: Err(unreachable()),
        workspaces: Err(unreachable()),
    }))
}

fn polls(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| **e == Effect::Fetch(Fetch::Poll))
        .count()
}

fn mutations(effects: &[Effect]) -> Vec<Mutation> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Mutate(m) => Some(m.clone()),
            Effect::Fetch(_) => None,
        })
        .collect()
}

#[test]
fn the_first_tick_polls_and_asks_for_everything_once() {
    let mut app = app_with(Data::new("http://127.0.0.1:8947"));
    let effects = app.update(Msg::Tick(now()));
    assert_eq!(polls(&effects), 1);
    assert!(effects.contains(&Effect::Fetch(Fetch::Templates)));
    assert!(effects.contains(&Effect::Fetch(Fetch::Costs)));
    for area in Area::ALL {
        assert!(effects.contains(&Effect::Fetch(Fetch::Probe(area))));
    }
    // The next tick while everything is in flight starts nothing new.
    assert!(
        app.update(Msg::Tick(now() + Duration::seconds(1)))
            .is_empty()
    );
}

#[test]
fn polls_never_overlap_even_when_one_is_slow() {
    let mut app = app_with(full_data());
    assert_eq!(polls(&app.update(Msg::Tick(now()))), 1);
    // The poll has not answered; many intervals pass.
    for seconds in [31, 62, 93, 300] {
        assert_eq!(
            polls(&app.update(Msg::Tick(now() + Duration::seconds(seconds)))),
            0
        );
    }
    // A refresh key while it is still out does not start a second one either.
    assert_eq!(polls(&app.update(key(KeyCode::Char('r')))), 0);
    assert!(app.is_fetching(&Fetch::Poll));
}

#[test]
fn the_next_poll_comes_one_interval_after_an_answer() {
    let mut app = app_with(full_data());
    app.update(Msg::Tick(now()));
    let settled: Vec<Workspace> = workspaces_fixture()
        .into_iter()
        .filter(|w| w.state != WorkspaceState::Launching)
        .collect();
    poll_ok(&mut app, settled);
    assert_eq!(
        polls(&app.update(Msg::Tick(now() + Duration::seconds(29)))),
        0
    );
    app.now = now();
    assert_eq!(
        polls(&app.update(Msg::Tick(now() + Duration::seconds(30)))),
        1
    );
}

fn workspaces_fixture() -> Vec<Workspace> {
    crate::tui::snapshots::workspaces()
}

#[test]
fn an_unreachable_daemon_keeps_the_last_data_marks_it_stale_and_retries_sooner() {
    let mut app = app_with(full_data());
    app.update(Msg::Tick(now()));
    poll_ok(&mut app, workspaces_fixture());
    let listed = app.data.workspaces().len();

    app.now = now() + Duration::seconds(30);
    app.update(Msg::Tick(app.now));
    poll_down(&mut app);
    assert!(app.data.is_stale());
    assert_eq!(
        app.data.workspaces().len(),
        listed,
        "the last good list stays"
    );
    // While it is down, retries come every 5 s rather than every 30 s.
    assert_eq!(
        polls(&app.update(Msg::Tick(app.now + Duration::seconds(5)))),
        1
    );
}

#[test]
fn the_daemon_coming_back_clears_the_banner_and_asks_again() {
    let mut app = app_with(full_data());
    app.update(Msg::Tick(now()));
    app.update(Msg::reply(Reply::Templates(
        Err(unreachable()),
        Err(unreachable()),
    )));
    poll_down(&mut app);
    assert!(app.data.is_stale());
    let effects = poll_ok(&mut app, workspaces_fixture());
    assert_eq!(app.data.link, Link::Up);
    assert!(effects.contains(&Effect::Fetch(Fetch::Templates)));
    assert_eq!(
        app.message.as_ref().map(|m| m.text.as_str()),
        Some("daemon reachable again")
    );
}

#[test]
fn losing_the_event_stream_checks_the_daemon_at_once() {
    let mut app = app_with(full_data());
    app.update(Msg::Tick(now()));
    poll_ok(&mut app, workspaces_fixture());
    app.update(Msg::Stream(Stream::Connected));
    let effects = app.update(Msg::Stream(Stream::Lost("connection reset".into())));
    assert_eq!(
        polls(&effects),
        1,
        "a lost stream is the fastest sign of a dead daemon"
    );
    assert!(!app.data.streaming);
    // Repeated failures to reconnect do not start more polls.
    assert_eq!(
        polls(&app.update(Msg::Stream(Stream::Lost("refused".into())))),
        0
    );
}

#[test]
fn a_state_event_updates_the_list_before_the_next_poll() {
    let mut app = app_with(full_data());
    let event = crate::model::api::StateChangedEvent {
        name: "ml-research".into(),
        instance_id: None,
        previous_state: Some(WorkspaceState::Running),
        new_state: WorkspaceState::Stopping,
        reason: "stop request".into(),
        timestamp: now(),
    };
    app.update(Msg::Stream(Stream::Event(
        DaemonEvent::InstanceStateChanged(event),
    )));
    assert_eq!(
        app.data.workspace("ml-research").map(|w| w.state),
        Some(WorkspaceState::Stopping)
    );
    assert_eq!(
        app.data.events.front().map(|e| e.name.as_str()),
        Some("ml-research")
    );
    // And the list is re-read soon, for addresses and spend.
    assert_eq!(
        polls(&app.update(Msg::Tick(now() + Duration::seconds(2)))),
        1
    );
}

#[test]
fn an_old_event_does_not_undo_a_newer_state() {
    let mut data = full_data();
    if let Some(list) = data.workspaces.as_mut() {
        list[0].state_since = now();
    }
    let mut app = app_with(data);
    let stale = crate::model::api::StateChangedEvent {
        name: "ml-research".into(),
        instance_id: None,
        previous_state: None,
        new_state: WorkspaceState::Launching,
        reason: "launch request".into(),
        timestamp: now() - Duration::hours(1),
    };
    app.update(Msg::Stream(Stream::Event(
        DaemonEvent::InstanceStateChanged(stale),
    )));
    assert_eq!(
        app.data.workspace("ml-research").map(|w| w.state),
        Some(WorkspaceState::Running)
    );
}

#[test]
fn number_keys_and_tab_switch_tabs() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char('2')));
    assert_eq!(app.tab, Tab::Workspaces);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::Templates);
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    assert_eq!(app.tab, Tab::Dashboard);
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    assert_eq!(app.tab, Tab::Idle, "wraps around");
}

#[test]
fn a_text_field_owns_every_key_while_focused() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char('n')));
    // Focus starts on the template; move to the name field.
    app.update(key(KeyCode::Down));
    type_text(&mut app, "q2?/:rh");
    assert!(!app.quit, "q typed into a name must not quit");
    assert_eq!(
        app.tab,
        Tab::Dashboard,
        "2 typed into a name must not switch tabs"
    );
    match &app.popup {
        Some(Popup::Launch(form)) => assert_eq!(form.name.value(), "q2?/:rh"),
        other => panic!("the launch form should still be open: {other:?}"),
    }
}

#[test]
fn ctrl_c_quits_even_from_a_text_field() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char(':')));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.quit);
}

#[test]
fn launch_form_submits_what_was_chosen_and_closes_on_success() {
    let mut app = app_with(full_data());
    app.tab = Tab::Templates;
    app.update(key(KeyCode::Char('n')));
    type_text(&mut app, "new-analysis");
    app.update(key(KeyCode::Down)); // size
    app.update(key(KeyCode::Right)); // M → L
    app.update(key(KeyCode::Down)); // spot
    app.update(key(KeyCode::Char(' ')));
    let effects = app.update(key(KeyCode::Enter));
    let sent = mutations(&effects);
    let Some(Mutation::Launch(request)) = sent.first() else {
        panic!("expected a launch, got {effects:?}");
    };
    assert_eq!(request.name, "new-analysis");
    assert_eq!(request.template, "python-ml");
    assert_eq!(request.size.as_deref(), Some("L"));
    assert_eq!(request.spot, Some(true));
    assert_eq!(request.region, None);
    // The form waits for the daemon, then closes and the list is re-read.
    assert!(matches!(app.popup, Some(Popup::Launch(_))));
    let effects = app.update(Msg::reply(Reply::Mutated(
        sent[0].clone(),
        Ok("Launching 'new-analysis'".into()),
    )));
    assert!(app.popup.is_none());
    assert!(effects.contains(&Effect::Fetch(Fetch::Poll)));
}

#[test]
fn launch_form_refuses_a_duplicate_or_bad_name_without_asking_the_daemon() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char('n')));
    app.update(key(KeyCode::Down));
    type_text(&mut app, "ml-research");
    assert!(mutations(&app.update(key(KeyCode::Enter))).is_empty());
    let Some(Popup::Launch(form)) = &app.popup else {
        panic!("form closed");
    };
    assert!(
        form.error
            .as_deref()
            .unwrap_or("")
            .contains("already exists")
    );
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    type_text(&mut app, "Bad Name");
    assert!(mutations(&app.update(key(KeyCode::Enter))).is_empty());
}

#[test]
fn a_refused_launch_stays_in_the_form_with_the_daemons_reason() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char('n')));
    app.update(key(KeyCode::Down));
    type_text(&mut app, "fresh");
    let sent = mutations(&app.update(key(KeyCode::Enter)));
    app.update(Msg::reply(Reply::Mutated(
        sent[0].clone(),
        Err(refused("INVALID_REGION", "'mars-1' is not an AWS region")),
    )));
    let Some(Popup::Launch(form)) = &app.popup else {
        panic!("the form should stay open to fix the problem");
    };
    assert!(form.error.as_deref().unwrap_or("").contains("mars-1"));
    assert!(form.pending.is_none(), "it can be sent again");
}

#[test]
fn hibernate_confirms_and_a_workspace_that_cannot_hibernate_is_offered_a_stop() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "ml-research");
    app.update(key(KeyCode::Char('h')));
    let sent = mutations(&app.update(key(KeyCode::Enter)));
    assert_eq!(sent, vec![Mutation::Hibernate(target("ml-research"))]);

    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "gpu-training");
    app.update(key(KeyCode::Char('h')));
    // Cancel is focused: Enter alone does nothing harmful.
    assert!(mutations(&app.update(key(KeyCode::Enter))).is_empty());
    assert!(app.popup.is_none());
    app.update(key(KeyCode::Char('h')));
    app.update(key(KeyCode::Left));
    let sent = mutations(&app.update(key(KeyCode::Enter)));
    assert_eq!(sent, vec![Mutation::Stop(target("gpu-training"))]);
}

#[test]
fn terminate_needs_the_name_typed() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "rocky-build");
    app.update(key(KeyCode::Char('x')));
    type_text(&mut app, "rocky");
    assert!(mutations(&app.update(key(KeyCode::Enter))).is_empty());
    type_text(&mut app, "-build");
    let sent = mutations(&app.update(key(KeyCode::Enter)));
    assert_eq!(
        sent,
        vec![Mutation::Terminate {
            target: target("rocky-build"),
            backup: false
        }]
    );
}

#[test]
fn start_resumes_a_hibernated_workspace_and_starts_a_stopped_one() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "r-stats");
    assert_eq!(
        mutations(&app.update(key(KeyCode::Char('S')))),
        vec![Mutation::Resume(target("r-stats"))]
    );
    app.workspaces.select_name(&app.data, "rocky-build");
    assert_eq!(
        mutations(&app.update(key(KeyCode::Char('S')))),
        vec![Mutation::Start(target("rocky-build"))]
    );
}

#[test]
fn actions_the_state_forbids_are_refused_before_any_call() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "rocky-build");
    assert!(mutations(&app.update(key(KeyCode::Char('s')))).is_empty());
    let message = app.message.clone().expect("a message");
    assert!(message.error);
    assert!(
        message
            .text
            .contains("cannot stop a workspace that is stopped"),
        "{}",
        message.text
    );
}

#[test]
fn extend_sends_the_hours_typed() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "ml-research");
    app.update(key(KeyCode::Char('e')));
    app.update(key(KeyCode::Backspace));
    type_text(&mut app, "12");
    let sent = mutations(&app.update(key(KeyCode::Enter)));
    assert_eq!(
        sent,
        vec![Mutation::Extend {
            target: target("ml-research"),
            hours: 12
        }]
    );
}

#[test]
fn command_line_runs_actions_by_name() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "stop ml-research");
    let sent = mutations(&app.update(key(KeyCode::Enter)));
    assert_eq!(sent, vec![Mutation::Stop(target("ml-research"))]);
    assert!(app.prompt.is_none());

    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "hibernate r-stats");
    app.update(key(KeyCode::Enter));
    let message = app.message.clone().expect("a message");
    assert!(message.text.contains("hibernated"), "{}", message.text);

    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "launch rocky-9-base");
    app.update(key(KeyCode::Enter));
    assert!(matches!(app.popup, Some(Popup::Launch(ref form)) if form.template == "rocky-9-base"));
}

#[test]
fn filter_applies_as_typed_and_esc_clears_it() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "gpu");
    assert_eq!(app.workspaces.filter, "gpu");
    assert_eq!(app.workspaces.shown(&app.data).len(), 1);
    app.update(key(KeyCode::Enter));
    assert_eq!(app.workspaces.filter, "gpu", "Enter keeps the filter");
    app.update(key(KeyCode::Esc));
    assert_eq!(
        app.workspaces.filter, "",
        "Esc outside the prompt clears it"
    );
}

#[test]
fn readonly_refuses_every_change() {
    let mut app = app_with(full_data());
    app.settings.readonly = true;
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "ml-research");
    for c in ['n', 's', 'h', 'x', 'e', 'S'] {
        assert!(mutations(&app.update(key(KeyCode::Char(c)))).is_empty());
        assert!(
            app.popup.is_none(),
            "{c} opened a form in a read-only session"
        );
    }
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "stop ml-research");
    assert!(mutations(&app.update(key(KeyCode::Enter))).is_empty());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("read-only"))
    );
}

#[test]
fn a_not_served_area_is_reported_as_such() {
    let mut app = app_with(Data::new("http://127.0.0.1:8947"));
    app.update(Msg::reply(Reply::Probe(
        Area::Budgets,
        Err(refused(
            "NOT_IMPLEMENTED",
            "The budgets API is not available",
        )),
    )));
    assert_eq!(
        app.data.areas.get(&Area::Budgets),
        Some(&Availability::NotServed(
            "The budgets API is not available".into()
        ))
    );
}

#[test]
fn a_failed_cost_refresh_keeps_the_last_figures() {
    let mut app = app_with(full_data());
    let before = app.data.costs.loaded().map(|c| c.month_to_date);
    app.update(Msg::reply(Reply::Costs(
        Err(unreachable()),
        Err(unreachable()),
    )));
    assert_eq!(app.data.costs.loaded().map(|c| c.month_to_date), before);
}

#[test]
fn the_selection_follows_the_name_when_the_list_reorders() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    let chosen = app.selected_workspace().expect("selected");
    let mut reordered = workspaces_fixture();
    reordered.reverse();
    reordered.insert(
        0,
        workspace("brand-new", WorkspaceState::Launching, "t3.micro"),
    );
    poll_ok(&mut app, reordered);
    assert_eq!(app.selected_workspace(), Some(chosen));
}

#[test]
fn polls_come_sooner_while_a_workspace_is_between_states() {
    let mut app = app_with(full_data());
    app.update(Msg::Tick(now()));
    // The fixture has a workspace launching.
    poll_ok(&mut app, workspaces_fixture());
    assert_eq!(
        polls(&app.update(Msg::Tick(now() + Duration::seconds(5)))),
        1
    );
    let settled: Vec<Workspace> = workspaces_fixture()
        .into_iter()
        .filter(|w| w.state != WorkspaceState::Launching)
        .collect();
    app.now = now() + Duration::seconds(5);
    poll_ok(&mut app, settled);
    assert_eq!(
        polls(&app.update(Msg::Tick(app.now + Duration::seconds(5)))),
        0
    );
    assert_eq!(
        polls(&app.update(Msg::Tick(app.now + Duration::seconds(30)))),
        1
    );
}

/// Regression: with a name reused after a terminate, `:hibernate NAME` found the terminated
/// workspace and refused.
#[test]
fn commands_act_on_the_live_workspace_when_a_name_was_reused() {
    let mut data = full_data();
    let mut old = workspace("ml-research", WorkspaceState::Terminated, "t3.large");
    old.created_at = now() - Duration::days(3);
    old.id = Some("i-0000000000000old1".into());
    if let Some(list) = data.workspaces.as_mut() {
        list.insert(0, old);
    }
    let mut app = app_with(data);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "stop ml-research");
    let sent = mutations(&app.update(key(KeyCode::Enter)));
    assert_eq!(sent, vec![Mutation::Stop(target("ml-research"))]);

    // An event for the new one moves the new one, not the terminated row.
    let event = crate::model::api::StateChangedEvent {
        name: "ml-research".into(),
        instance_id: None,
        previous_state: Some(WorkspaceState::Running),
        new_state: WorkspaceState::Stopping,
        reason: "stop request".into(),
        timestamp: now(),
    };
    app.update(Msg::Stream(Stream::Event(
        DaemonEvent::InstanceStateChanged(event),
    )));
    let states: Vec<WorkspaceState> = app
        .data
        .workspaces()
        .iter()
        .filter(|w| w.name == "ml-research")
        .map(|w| w.state)
        .collect();
    assert_eq!(
        states,
        vec![WorkspaceState::Terminated, WorkspaceState::Stopping]
    );
}

/// Regression: a paste with newlines into the filter ran `h` and confirmed a hibernation.
#[test]
fn a_paste_never_runs_keys_or_confirms_a_dialog() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Char('/')));
    assert!(app.update(Msg::Paste("ml\nh\n".into())).is_empty());
    assert_eq!(app.workspaces.filter, "mlh");
    assert!(app.popup.is_none());
    // Outside any text field a paste does nothing at all.
    app.update(key(KeyCode::Esc));
    assert!(app.update(Msg::Paste("x\nDELETE\n".into())).is_empty());
    assert!(app.popup.is_none());
    // Into the launch form's name: text only, nothing submitted.
    app.update(key(KeyCode::Char('n')));
    app.update(key(KeyCode::Down));
    assert!(app.update(Msg::Paste("paste-q\nx".into())).is_empty());
    match &app.popup {
        Some(Popup::Launch(form)) => {
            assert_eq!(form.name.value(), "paste-qx");
            assert!(form.pending.is_none());
        }
        other => panic!("the form should be open: {other:?}"),
    }
}

/// Regression: a terminate dialog left open while its workspace was terminated and a new one
/// launched under the same name destroyed the new one, because changes went by name.
#[test]
fn a_dialog_acts_on_the_instance_it_was_opened_for() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "rocky-build");
    app.update(key(KeyCode::Char('x')));
    let opened_for = app
        .data
        .workspace("rocky-build")
        .and_then(|w| w.id.clone())
        .expect("an instance id");
    // Meanwhile the list changes: that workspace is gone and a new one has its name.
    let mut list: Vec<Workspace> = workspaces_fixture()
        .into_iter()
        .filter(|w| w.name != "rocky-build")
        .collect();
    let mut newer = workspace("rocky-build", WorkspaceState::Running, "t3.large");
    newer.id = Some("i-0000000000000new1".into());
    list.push(newer);
    poll_ok(&mut app, list);
    type_text(&mut app, "rocky-build");
    let sent = mutations(&app.update(key(KeyCode::Enter)));
    let [Mutation::Terminate { target, .. }] = sent.as_slice() else {
        panic!("expected a terminate: {sent:?}");
    };
    assert_eq!(
        target.key(),
        opened_for,
        "sent for the instance the dialog showed"
    );
}
