//! Benchmarks of the pure rules on the daemon's hot paths: building the template catalog
//! (every reload), pricing a workspace from its history (every list), rendering the list, and
//! rendering user data (every launch).

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use prism::daemon::catalog::bundled_files;
use prism::daemon::store::WorkspaceRow;
use prism::daemon::workspaces::view;
use prism::model::ledger::{BilledVolume, Transition, spend_between};
use prism::model::money::Money;
use prism::model::template::Catalog;
use prism::model::userdata::{WorkspaceSetup, render};
use prism::model::workspace::WorkspaceState;

fn history(changes: usize) -> Vec<Transition> {
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    (0..changes)
        .map(|i| Transition {
            at: start + Duration::minutes(i as i64 * 37),
            state: if i % 2 == 0 {
                WorkspaceState::Running
            } else {
                WorkspaceState::Stopped
            },
        })
        .collect()
}

fn row(i: i64) -> WorkspaceRow {
    let now = Utc::now();
    WorkspaceRow {
        id: i,
        name: format!("bench-{i}"),
        region: "us-east-1".into(),
        template: "Rocky Linux 9 Base".into(),
        size: Some("M".into()),
        instance_type: "t3.large".into(),
        spot: false,
        project: Some("bench".into()),
        budget: None,
        root_volume_gb: 20,
        root_volume_type: "gp3".into(),
        hibernation_requested: true,
        hibernation_configured: true,
        instance_id: Some(format!("i-{i:017x}")),
        launch_token: format!("token-{i}"),
        run_requested_at: Some(now),
        state: "running".into(),
        state_since: now,
        last_action: "launch".into(),
        pending_action: None,
        launch_progress: None,
        launch_error: None,
        public_ip: Some("54.1.2.3".into()),
        private_ip: Some("172.31.1.2".into()),
        availability_zone: Some("us-east-1a".into()),
        launch_time: Some(now),
        ttl: None,
        service_secret: "secret".into(),
        service_secret_known: true,
        key_name: Some("prism-bench".into()),
        key_path: None,
        ssh_user: Some("rocky".into()),
        services: "[]".into(),
        services_source: "launch".into(),
        tags: r#"{"prism:managed":"true","prism:name":"x","Name":"x"}"#.into(),
        volume_ids: r#"["vol-1"]"#.into(),
        created_at: now - Duration::days(30),
        refreshed_at: Some(now),
        ended_at: None,
    }
}

fn benches(c: &mut Criterion) {
    let files = bundled_files();
    c.bench_function("catalog: build the bundled templates", |b| {
        b.iter(|| Catalog::build(black_box(files.clone())))
    });

    let catalog = Catalog::build(files);
    let template = catalog.find("python-ml").expect("bundled").clone();
    let setup = WorkspaceSetup {
        workspace: "bench-box",
        service_secret: "0123456789abcdefghijklmn",
    };
    c.bench_function("user data: render python-ml", |b| {
        b.iter(|| render(black_box(&template), &setup))
    });

    let transitions = history(1_000);
    let volumes = [BilledVolume {
        size_gb: 100,
        gb_month: Money::from_micros(80_000),
    }];
    let end = Utc
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("time");
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    c.bench_function("ledger: spend over 1,000 transitions", |b| {
        b.iter(|| {
            spend_between(
                black_box(&transitions),
                Money::from_micros(83_200),
                &volumes,
                start,
                end,
            )
        })
    });

    let rows: Vec<WorkspaceRow> = (0..500).map(row).collect();
    let per_row = history(20);
    c.bench_function("list: view and serialize 500 workspaces", |b| {
        b.iter(|| {
            let now = Utc::now();
            let views: Vec<_> = rows.iter().map(|r| view(r, &per_row, now)).collect();
            serde_json::to_vec(&views).expect("json")
        })
    });
}

criterion_group!(model, benches);
criterion_main!(model);
