//! Snapshots of every screen and popup, drawn on ratatui's test terminal at 80×24 and 120×40
//! from plain data built here (no daemon). `cargo insta review` shows what changed.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rstest::rstest;

use super::app::{App, Msg, Settings, Tab};
use super::data::{Area, Availability, Data, Link};
use super::keymap::Keymap;
use super::popups::Popup;
use super::theme::{ColorMode, Theme};
use super::ui;
use crate::model::api::{
    ConnectInfo, CostBreakdown, CostDriver, CostHistory, CostTrend, CurrentCosts, DaemonStatus,
    FileErrorInfo, HibernationSavings, PeriodCost, ServiceConnect, ServiceInfo, SshInfo,
    StateChangedEvent, TemplateInfo, TemplateSummary, ValidationResult, ValidationSummary,
    Workspace,
};
use crate::model::money::Money;
use crate::model::workspace::WorkspaceState;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 15, 0, 0)
        .single()
        .expect("a valid time")
}

fn dollars(micros: i64) -> Option<Money> {
    Some(Money::from_micros(micros))
}

/// One workspace with plausible defaults; tests change what they need.
pub fn workspace(name: &str, state: WorkspaceState, instance_type: &str) -> Workspace {
    Workspace {
        name: name.to_string(),
        id: Some(format!("i-0{:0>16}", name.len() * 7919)),
        state,
        public_ip: (state == WorkspaceState::Running).then(|| "54.210.3.17".to_string()),
        private_ip: Some("172.31.4.20".into()),
        instance_type: instance_type.to_string(),
        region: "us-east-1".into(),
        template: "Python Machine Learning (Simplified)".into(),
        size: Some("M".into()),
        launch_time: Some(now() - Duration::hours(30)),
        hourly_rate: dollars(83_200),
        current_spend: dollars(2_496_000),
        current_hourly_cost: dollars(if state == WorkspaceState::Running {
            86_900
        } else {
            3_700
        }),
        price_source: Some("bundled AWS list prices (us-east-1 on-demand Linux, 2024-2025)".into()),
        hibernation_capable: false,
        spot: false,
        attached_volumes: Vec::new(),
        attached_ebs_volumes: Vec::new(),
        tags: BTreeMap::new(),
        project: None,
        budget: None,
        ttl: None,
        launch_progress: None,
        launch_error: None,
        created_at: now() - Duration::hours(30),
        state_since: now() - Duration::minutes(95),
        refreshed_at: Some(now() - Duration::seconds(12)),
    }
}

pub fn workspaces() -> Vec<Workspace> {
    let mut ml = workspace("ml-research", WorkspaceState::Running, "t3.large");
    ml.hibernation_capable = true;
    ml.project = Some("cancer-research".into());
    ml.budget = Some("grant-nih-2024".into());
    ml.ttl = Some(now() + Duration::minutes(190));
    let mut gpu = workspace("gpu-training", WorkspaceState::Running, "g4dn.xlarge");
    gpu.template = "GPU Deep Learning (PyTorch)".into();
    gpu.size = Some("GPU-S".into());
    gpu.hourly_rate = dollars(526_000);
    gpu.current_hourly_cost = dollars(532_600);
    gpu.current_spend = dollars(40_120_000);
    gpu.spot = true;
    let mut r = workspace("r-stats", WorkspaceState::Hibernated, "t3.medium");
    r.template = "R Research Environment (Simplified)".into();
    r.hibernation_capable = true;
    r.hourly_rate = dollars(41_600);
    r.current_spend = dollars(1_310_000);
    r.ttl = Some(now() - Duration::hours(2));
    let mut rocky = workspace("rocky-build", WorkspaceState::Stopped, "t3.small");
    rocky.template = "Rocky Linux 9 Base".into();
    rocky.hourly_rate = dollars(20_800);
    rocky.current_spend = dollars(400_000);
    let mut fresh = workspace("new-box", WorkspaceState::Launching, "t3.xlarge");
    fresh.id = None;
    fresh.launch_progress = Some(40);
    fresh.current_spend = dollars(0);
    fresh.current_hourly_cost = dollars(0);
    fresh.state_since = now() - Duration::seconds(20);
    let mut broken = workspace("broken", WorkspaceState::Failed, "p3.2xlarge");
    broken.id = None;
    broken.launch_error =
        Some("InsufficientInstanceCapacity (try another size, type or region)".into());
    broken.hourly_rate = dollars(3_060_000);
    broken.current_spend = dollars(0);
    broken.current_hourly_cost = dollars(0);
    vec![ml, gpu, r, rocky, fresh, broken]
}

fn summary(name: &str, slug: &str, description: &str, manager: &str) -> TemplateSummary {
    TemplateSummary {
        name: name.into(),
        slug: slug.into(),
        description: description.into(),
        package_manager: manager.into(),
        packages: vec!["jupyter".into(), "pandas".into()],
        users: vec!["datascientist".into()],
        services: vec!["jupyter".into()],
        ports: vec![22, 8888],
        inherits: Vec::new(),
        default_size: "M".into(),
        hibernation: true,
        source: "bundled".into(),
        validation_status: "validated".into(),
    }
}

pub fn templates() -> Vec<TemplateSummary> {
    let mut genome = summary(
        "ゲノム解析 🧬 Stack",
        "genome-stack",
        "ゲノム解析用の conda 環境 (a user template with wide characters)",
        "conda",
    );
    genome.source = "user".into();
    vec![
        summary(
            "Python Machine Learning (Simplified)",
            "python-ml",
            "Conda + Jupyter + ML packages (scikit-learn, pandas, matplotlib)",
            "conda",
        ),
        summary(
            "R Research Environment (Simplified)",
            "r-research",
            "Conda + RStudio + tidyverse packages for statistical analysis",
            "conda",
        ),
        summary(
            "Rocky Linux 9 Base",
            "rocky-9-base",
            "Rocky Linux 9 with build tools",
            "dnf",
        ),
        genome,
    ]
}

pub fn template_info() -> TemplateInfo {
    TemplateInfo {
        name: "Python Machine Learning (Simplified)".into(),
        slug: "python-ml".into(),
        description: "Conda + Jupyter + ML packages (scikit-learn, pandas, matplotlib)".into(),
        inherits: vec!["Amazon Linux 2023 Base".into()],
        resolved_packages: [
            "git",
            "jupyter",
            "scikit-learn",
            "pandas",
            "matplotlib",
            "numpy",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        resolved_users: vec!["ec2-user".into(), "datascientist".into()],
        resolved_ports: vec![22, 8888],
        dependency_chain: vec![
            "Amazon Linux 2023 Base → Python Machine Learning (Simplified)".into(),
        ],
        resolution_order: vec!["Amazon Linux 2023 Base".into()],
        validation_status: "validated".into(),
        troubleshooting_guide: Some(
            "If Jupyter does not answer, check `systemctl status jupyter`".into(),
        ),
        package_manager: "conda".into(),
        packages_by_source: BTreeMap::new(),
        services: vec![ServiceInfo {
            name: "jupyter".into(),
            port: Some(8888),
            auth: "token".into(),
        }],
        os: Some("amazon-linux".into()),
        ssh_user: Some("ec2-user".into()),
        family: "general".into(),
        architecture: "x86_64".into(),
        default_size: "M".into(),
        sizes: [
            ("S", "t3.medium"),
            ("M", "t3.large"),
            ("L", "t3.xlarge"),
            ("XL", "t3.2xlarge"),
            ("XS", "t3.small"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect(),
        root_volume_gb: 30,
        root_volume_type: "gp3".into(),
        hibernation: true,
        idle_profile: Some("standard".into()),
        idle_minutes: Some(30),
        idle_action: "hibernate".into(),
        source: "bundled".into(),
        file: "python-ml.yml".into(),
    }
}

fn validation() -> ValidationSummary {
    ValidationSummary {
        total_templates: 5,
        validated: 4,
        errors: vec![FileErrorInfo {
            file: "broken.yml".into(),
            message: "unknown field `pakages` at line 4 column 1".into(),
        }],
        validation_results: vec![ValidationResult {
            template: "Python Machine Learning (Simplified)".into(),
            file: "python-ml.yml".into(),
            status: "valid".into(),
            checks_passed: 8,
            checks_total: 8,
            issues: Vec::new(),
        }],
    }
}

fn costs() -> CurrentCosts {
    CurrentCosts {
        total_current_hourly: Money::from_micros(629_200),
        total_daily_projection: Money::from_micros(15_100_800),
        total_monthly_projection: Money::from_micros(459_316_000),
        cost_breakdown: CostBreakdown {
            instances: Money::from_micros(609_200),
            ebs_storage: Money::from_micros(20_000),
            efs_storage: Money::ZERO,
        },
        hibernation_savings: HibernationSavings {
            current_month: Money::from_micros(1_830_000),
            projected_monthly: Money::from_micros(18_300_000),
        },
        top_cost_drivers: vec![CostDriver {
            resource: "gpu-training".into(),
            hourly_cost: Money::from_micros(532_600),
            percentage: 84.6,
        }],
        month_to_date: Money::from_micros(31_420_000),
        today: Money::from_micros(9_150_000),
        month: "2026-12".into(),
        unpriced_workspaces: Vec::new(),
        price_source: "bundled AWS list prices (us-east-1 on-demand Linux, 2024-2025)".into(),
        as_of: now(),
    }
}

fn history() -> CostHistory {
    let start = NaiveDate::from_ymd_opt(2026, 11, 4).expect("date");
    let daily_costs: Vec<PeriodCost> = (0..30)
        .map(|i| PeriodCost {
            date: start + Duration::days(i),
            // A shape with quiet weekends and a busier last week.
            cost: Money::from_micros(if i % 7 >= 5 {
                400_000
            } else {
                2_000_000 + i * 180_000
            }),
            instances: 3,
            hibernation_savings: Money::from_micros(60_000),
        })
        .collect();
    let total_cost = daily_costs.iter().map(|d| d.cost).sum();
    CostHistory {
        period: "30_days".into(),
        start_date: start,
        end_date: start + Duration::days(29),
        granularity: "daily".into(),
        total_cost,
        daily_costs,
        unpriced_workspaces: Vec::new(),
        cost_trends: CostTrend {
            trend_direction: "increasing".into(),
            percentage_change: Some(38.2),
            primary_driver: Some("gpu-training".into()),
        },
    }
}

fn events() -> VecDeque<StateChangedEvent> {
    let event = |minutes: i64, name: &str, state, reason: &str| StateChangedEvent {
        name: name.into(),
        instance_id: None,
        previous_state: None,
        new_state: state,
        reason: reason.into(),
        timestamp: now() - Duration::minutes(minutes),
    };
    VecDeque::from(vec![
        event(1, "new-box", WorkspaceState::Launching, "launch request"),
        event(42, "r-stats", WorkspaceState::Hibernated, "observed in EC2"),
        event(
            43,
            "r-stats",
            WorkspaceState::Hibernating,
            "hibernate request",
        ),
        event(
            95,
            "ml-research",
            WorkspaceState::Running,
            "observed in EC2",
        ),
    ])
}

/// Everything the daemon could serve today, as of [`now`].
pub fn full_data() -> Data {
    let mut data = Data::new("http://127.0.0.1:8947");
    data.link = Link::Up;
    data.polled_at = Some(now() - Duration::seconds(12));
    data.status = Some(DaemonStatus {
        status: "healthy".into(),
        version: "0.1.0".into(),
        uptime: "2h 45m 30s".into(),
        uptime_seconds: 9930,
        api_version: "v1".into(),
        aws_connectivity: "connected".into(),
        aws_account: Some("123456789012".into()),
        aws_error: None,
        active_profiles: 1,
        total_instances: 6,
        active_instances: 3,
        region: "us-east-1".into(),
        owner: "ada".into(),
        started_at: now() - Duration::seconds(9930),
        last_refresh: Some(now() - Duration::seconds(12)),
        refresh_error: None,
        socket: Some("/run/user/1000/prism/daemon.sock".into()),
        tcp_address: Some("127.0.0.1:8947".into()),
        tcp_note: None,
        data_age_seconds: Some(12),
        data_stale: false,
    });
    data.workspaces = Some(workspaces());
    data.templates = Some(templates());
    data.validation = Some(validation());
    data.template_info
        .insert("python-ml".into(), template_info());
    data.costs = Availability::Loaded(costs());
    data.history = Availability::Loaded(history());
    for area in Area::ALL {
        let name = match area {
            Area::Storage => "storage",
            Area::Budgets => "budgets",
            Area::Projects => "projects",
            Area::Idle => "idle",
        };
        data.areas.insert(
            area,
            Availability::NotServed(format!(
                "The {name} API is not available in this version of Prism"
            )),
        );
    }
    data.events = events();
    data.streaming = true;
    data.connect.insert(
        "ml-research".into(),
        ConnectInfo {
            ssh: SshInfo {
                command: "ssh -i ~/.config/prism/keys/prism-ada.pem ec2-user@54.210.3.17".into(),
                host: "54.210.3.17".into(),
                user: "ec2-user".into(),
                port: 22,
                key_path: Some("~/.config/prism/keys/prism-ada.pem".into()),
            },
            services: BTreeMap::from([(
                "jupyter".to_string(),
                ServiceConnect {
                    url: "http://localhost:8888".into(),
                    local_forward: "ssh -N -L 8888:localhost:8888 -i \
                                    ~/.config/prism/keys/prism-ada.pem ec2-user@54.210.3.17"
                        .into(),
                    token: Some("k3Yp9TqLm2Vx8RbN4cWz7HdA".into()),
                    username: None,
                    password: None,
                    secret_unknown: false,
                    note: None,
                },
            )]),
            notes: Vec::new(),
        },
    );
    data
}

pub fn app_with(data: Data) -> App {
    App::new(
        data,
        Keymap::bundled("default").expect("default keymap"),
        Settings {
            refresh_every: Duration::seconds(30),
            readonly: false,
        },
        now(),
    )
}

pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(key(KeyCode::Char(c)));
    }
}

fn draw(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    let theme = Theme::new(ColorMode::Ansi);
    terminal
        .draw(|frame| ui::draw(frame, app, &theme))
        .expect("draw");
    terminal.backend().to_string()
}

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn snapshot(name: &str, app: &App) {
    for (width, height) in SIZES {
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), draw(app, width, height));
    }
}

#[rstest]
#[case(Tab::Dashboard)]
#[case(Tab::Workspaces)]
#[case(Tab::Templates)]
#[case(Tab::Storage)]
#[case(Tab::Costs)]
#[case(Tab::Budgets)]
#[case(Tab::Projects)]
#[case(Tab::Idle)]
fn every_tab(#[case] tab: Tab) {
    let mut app = app_with(full_data());
    app.tab = tab;
    snapshot(&format!("tab_{}", tab.title().to_lowercase()), &app);
}

#[test]
fn workspaces_filtered_with_a_selection() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.filter = "running".into();
    app.workspaces.select_name(&app.data, "gpu-training");
    snapshot("workspaces_filtered", &app);
}

#[test]
fn first_start_with_no_workspaces() {
    let mut data = full_data();
    data.workspaces = Some(Vec::new());
    data.events.clear();
    data.costs = Availability::NotServed("The costs API is not available".into());
    data.history = Availability::NotServed("The costs API is not available".into());
    let mut app = app_with(data);
    snapshot("empty_dashboard", &app);
    app.tab = Tab::Workspaces;
    snapshot("empty_workspaces", &app);
}

#[test]
fn daemon_unreachable_keeps_the_last_data_marked_stale() {
    let mut data = full_data();
    data.link = Link::Down {
        reason: "connection refused".into(),
        since: now() - Duration::seconds(40),
    };
    data.polled_at = Some(now() - Duration::seconds(70));
    data.streaming = false;
    let app = app_with(data);
    snapshot("unreachable", &app);
}

#[test]
fn connecting_before_the_first_answer() {
    let app = app_with(Data::new("http://127.0.0.1:8947"));
    snapshot("connecting", &app);
}

#[test]
fn too_small_says_what_it_needs() {
    let app = app_with(full_data());
    insta::assert_snapshot!("too_small", draw(&app, 50, 12));
}

#[test]
fn help_popup() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char('?')));
    assert!(matches!(app.popup, Some(Popup::Help(_))));
    snapshot("popup_help", &app);
}

#[test]
fn launch_popup_with_live_validation() {
    let mut app = app_with(full_data());
    app.tab = Tab::Templates;
    app.update(key(KeyCode::Char('n')));
    assert!(matches!(app.popup, Some(Popup::Launch(_))));
    type_text(&mut app, "ml-research");
    snapshot("popup_launch_duplicate_name", &app);
    app.update(key(KeyCode::Backspace));
    type_text(&mut app, "2");
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Right));
    snapshot("popup_launch_valid", &app);
}

#[test]
fn hibernate_popups() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "ml-research");
    app.update(key(KeyCode::Char('h')));
    assert!(matches!(app.popup, Some(Popup::Hibernate(_))));
    snapshot("popup_hibernate", &app);
    app.update(key(KeyCode::Esc));
    app.workspaces.select_name(&app.data, "gpu-training");
    app.update(key(KeyCode::Char('h')));
    snapshot("popup_hibernate_would_stop", &app);
}

#[test]
fn terminate_popup() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "rocky-build");
    app.update(key(KeyCode::Char('x')));
    type_text(&mut app, "rocky");
    snapshot("popup_terminate", &app);
}

#[test]
fn extend_popup() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "ml-research");
    app.update(key(KeyCode::Char('e')));
    type_text(&mut app, "8");
    snapshot("popup_extend", &app);
}

#[test]
fn connect_popup() {
    let mut app = app_with(full_data());
    app.tab = Tab::Workspaces;
    app.workspaces.select_name(&app.data, "ml-research");
    app.update(key(KeyCode::Char('c')));
    // Opening asks the daemon afresh; the answer arrives as a reply.
    let info = full_data().connect.remove("ml-research").expect("fixture");
    app.update(Msg::reply(super::app::Reply::Connect(
        "ml-research".into(),
        Ok(info),
    )));
    snapshot("popup_connect", &app);
}

#[test]
fn command_line_and_error_message() {
    let mut app = app_with(full_data());
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "hibernate r-st");
    snapshot("command_line", &app);
    type_text(&mut app, "ats");
    app.update(key(KeyCode::Enter));
    snapshot("command_error", &app);
}

#[test]
fn readonly_hides_actions() {
    let mut app = app_with(full_data());
    app.settings.readonly = true;
    app.tab = Tab::Workspaces;
    snapshot("readonly_workspaces", &app);
}
