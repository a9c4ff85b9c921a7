-- Workspaces and their recorded state transitions (the cost ledger's raw material).
-- Times are RFC 3339 UTC text.

CREATE TABLE workspaces (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    name                    TEXT    NOT NULL,
    region                  TEXT    NOT NULL,
    template                TEXT    NOT NULL,
    size                    TEXT,
    instance_type           TEXT    NOT NULL,
    spot                    INTEGER NOT NULL DEFAULT 0,
    project                 TEXT,
    budget                  TEXT,
    root_volume_gb          INTEGER NOT NULL,
    root_volume_type        TEXT    NOT NULL,
    -- Hibernation asked for at launch (the template wants it and the type supports it).
    hibernation_requested   INTEGER NOT NULL DEFAULT 0,
    -- HibernationOptions.Configured as EC2 reports it.
    hibernation_configured  INTEGER NOT NULL DEFAULT 0,
    instance_id             TEXT UNIQUE,
    -- Sent as RunInstances' ClientToken and as the prism:launch-token tag.
    launch_token            TEXT    NOT NULL UNIQUE,
    -- Set just before RunInstances is sent: from then on EC2 may hold an instance for us.
    run_requested_at        TEXT,
    state                   TEXT    NOT NULL,
    state_since             TEXT    NOT NULL,
    last_action             TEXT    NOT NULL,
    -- An action accepted but not yet confirmed by EC2; re-applied after a crash.
    pending_action          TEXT,
    launch_progress         INTEGER,
    launch_error            TEXT,
    public_ip               TEXT,
    private_ip              TEXT,
    availability_zone       TEXT,
    launch_time             TEXT,
    ttl                     TEXT,
    service_secret          TEXT    NOT NULL,
    key_name                TEXT,
    -- The private key that opens this workspace, when this machine has it.
    key_path                TEXT,
    tags                    TEXT    NOT NULL DEFAULT '{}',
    volume_ids              TEXT    NOT NULL DEFAULT '[]',
    created_at              TEXT    NOT NULL,
    refreshed_at            TEXT,
    -- Set when the workspace is terminated or its launch failed; frees the name.
    ended_at                TEXT
);

-- A name is unique among workspaces that still exist; this index is what makes concurrent
-- launches of one name produce one workspace.
CREATE UNIQUE INDEX workspaces_live_name ON workspaces(name) WHERE ended_at IS NULL;
CREATE INDEX workspaces_region ON workspaces(region) WHERE ended_at IS NULL;

CREATE TABLE transitions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    at            TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    -- Who or what caused it: "launch request", "observed in EC2", "stop request" …
    reason        TEXT    NOT NULL
);

CREATE INDEX transitions_by_workspace ON transitions(workspace_id, at);
