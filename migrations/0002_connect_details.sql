-- What `connect` needs, fixed at launch so that later template edits (or a template's removal)
-- do not change how an existing workspace is reached.
ALTER TABLE workspaces ADD COLUMN ssh_user TEXT;
-- The template's services with their accounts resolved, as JSON.
ALTER TABLE workspaces ADD COLUMN services TEXT NOT NULL DEFAULT '[]';
