-- What a workspace rebuilt from EC2 tags (after its database was lost) does not know.
-- Whether service_secret is the secret the instance booted with. Tags never carry secrets, so
-- an adopted workspace's is unknown, and `connect` must not show one.
ALTER TABLE workspaces ADD COLUMN service_secret_known INTEGER NOT NULL DEFAULT 1;
-- Where `services` came from: 'launch' (recorded at launch), 'tags' (the prism:services tag),
-- 'template' (the named template as it was at adoption), or 'unknown'.
ALTER TABLE workspaces ADD COLUMN services_source TEXT NOT NULL DEFAULT 'launch';
