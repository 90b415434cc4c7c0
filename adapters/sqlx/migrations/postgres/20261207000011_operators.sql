-- Operators: the people who use the console. Their password is an argon2
-- hash; their TOTP secret is sealed with the histories keyring (re-sealed by
-- `keys rotate`); totp_last_step is the last accepted code's step, so a
-- code is accepted once on any instance.
CREATE TABLE payment_operators (
    id UUID NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'support', 'admin')),
    password TEXT NOT NULL,
    totp_secret TEXT,
    totp_last_step BIGINT,
    created_at TIMESTAMPTZ(3) NOT NULL,
    disabled_at TIMESTAMPTZ(3),
    CONSTRAINT payment_operators_name UNIQUE (name)
);

-- Sessions live in the database so any instance serves them; the cookie's
-- token is kept as its SHA-256 digest only.
CREATE TABLE payment_operator_sessions (
    token_digest TEXT NOT NULL PRIMARY KEY,
    operator_id UUID NOT NULL REFERENCES payment_operators (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ(3) NOT NULL,
    last_seen_at TIMESTAMPTZ(3) NOT NULL
);
CREATE INDEX payment_operator_sessions_operator ON payment_operator_sessions (operator_id);
CREATE INDEX payment_operator_sessions_last_seen ON payment_operator_sessions (last_seen_at);

-- The audit trail: appended, never updated or deleted by the server.
-- operator_id has no foreign key: the trail outlives anything it names.
CREATE TABLE payment_operator_audit (
    id UUID NOT NULL PRIMARY KEY,
    at TIMESTAMPTZ(3) NOT NULL,
    operator_id UUID,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    record TEXT,
    outcome TEXT NOT NULL,
    request_id TEXT,
    address TEXT
);
CREATE INDEX payment_operator_audit_record ON payment_operator_audit (record);
