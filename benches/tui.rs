//! Benchmarks of the dashboard's hot path: what happens between a key press and the next frame
//! (the update rule, then drawing the whole screen), with a large list. No network is ever on
//! this path; these figures are the whole cost of answering a key.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use prism::model::api::Workspace;
use prism::model::money::Money;
use prism::model::workspace::WorkspaceState;
use prism::tui::app::{App, Msg, Settings, Tab};
use prism::tui::data::{Data, Link};
use prism::tui::keymap::Keymap;
use prism::tui::theme::{ColorMode, Theme};
use prism::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn workspace(i: usize) -> Workspace {
    let now = Utc::now();
    let state = match i % 4 {
        0 | 1 => WorkspaceState::Running,
        2 => WorkspaceState::Stopped,
        _ => WorkspaceState::Hibernated,
    };
    Workspace {
        name: format!("bench-workspace-{i:03}"),
        id: Some(format!("i-{i:017x}")),
        state,
        public_ip: Some("54.1.2.3".into()),
        private_ip: Some("172.31.1.2".into()),
        instance_type: "t3.large".into(),
        region: "us-east-1".into(),
        template: "Python Machine Learning (Simplified)".into(),
        size: Some("M".into()),
        launch_time: Some(now),
        hourly_rate: Some(Money::from_micros(83_200)),
        current_spend: Some(Money::from_micros(1_234_567)),
        current_hourly_cost: Some(Money::from_micros(86_900)),
        price_source: Some("bundled".into()),
        hibernation_capable: i.is_multiple_of(2),
        spot: false,
        attached_volumes: Vec::new(),
        attached_ebs_volumes: Vec::new(),
        tags: BTreeMap::new(),
        project: Some("bench".into()),
        budget: None,
        ttl: Some(now + Duration::hours(3)),
        launch_progress: None,
        launch_error: None,
        created_at: now - Duration::days(2),
        state_since: now - Duration::hours(1),
        refreshed_at: Some(now),
    }
}

fn app(count: usize) -> App {
    let mut data = Data::new("http://127.0.0.1:8947");
    data.link = Link::Up;
    data.polled_at = Some(Utc::now());
    data.workspaces = Some((0..count).map(workspace).collect());
    App::new(
        data,
        Keymap::bundled("default").expect("keymap"),
        Settings {
            refresh_every: Duration::seconds(30),
            readonly: false,
        },
        Utc::now(),
    )
}

fn benches(c: &mut Criterion) {
    let theme = Theme::new(ColorMode::Ansi);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");

    for tab in [Tab::Dashboard, Tab::Workspaces, Tab::Costs] {
        let mut app = app(500);
        app.tab = tab;
        c.bench_function(
            &format!("tui: draw {} at 120x40, 500 workspaces", tab.title()),
            |b| {
                b.iter(|| {
                    terminal
                        .draw(|frame| ui::draw(frame, black_box(&app), &theme))
                        .expect("draw");
                })
            },
        );
    }

    let mut app = app(500);
    app.tab = Tab::Workspaces;
    let down = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    c.bench_function("tui: key j (move) then redraw, 500 workspaces", |b| {
        b.iter(|| {
            let effects = app.update(Msg::Key(black_box(down)));
            terminal
                .draw(|frame| ui::draw(frame, &app, &theme))
                .expect("draw");
            effects
        })
    });
}

criterion_group!(tui, benches);
criterion_main!(tui);
