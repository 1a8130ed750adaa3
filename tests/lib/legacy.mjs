// Databases as older servers left them, to test the migrations (server/src/db.c) from real
// shapes: the schema of versions 2 and 3 exactly as those servers created it, filled by the
// caller with sqlite3.
import { execFileSync } from 'node:child_process';

/** Runs SQL on the database file db with the sqlite3 shell; returns its output, trimmed. */
export const sql = (db, q) => execFileSync('sqlite3', [db, q]).toString().trim();

// Migrations 0 -> 1 and 1 -> 2 of server/src/db.c, as they were.
const V1 = `
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  pwhash TEXT NOT NULL,
  token_gen INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE identities (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  identity_key BLOB NOT NULL CHECK (length(identity_key) = 32),
  identity_counter INTEGER NOT NULL,
  identity_changed_at INTEGER NOT NULL,
  spk_id INTEGER NOT NULL,
  spk_public BLOB NOT NULL CHECK (length(spk_public) = 32),
  spk_signature BLOB NOT NULL CHECK (length(spk_signature) = 64)
);
CREATE TABLE one_time_prekeys (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL CHECK (length(public_key) = 32),
  PRIMARY KEY (user_id, key_id)
) WITHOUT ROWID;`;

const V2 = `
CREATE TABLE mailbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL,
  envelope BLOB NOT NULL
);
CREATE INDEX mailbox_by_recipient ON mailbox (recipient_id, id);
CREATE INDEX mailbox_by_expiry ON mailbox (expires_at);
CREATE TABLE mailbox_usage (
  recipient_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  count INTEGER NOT NULL CHECK (count >= 0),
  bytes INTEGER NOT NULL CHECK (bytes >= 0)
);
ALTER TABLE users ADD COLUMN contact_cap_hash BLOB
  CHECK (contact_cap_hash IS NULL OR length(contact_cap_hash) = 32);
ALTER TABLE users ADD COLUMN show_presence INTEGER NOT NULL DEFAULT 1;
CREATE INDEX identities_by_key ON identities (identity_key);`;

// 2 -> 3 computed each skeleton with a function of the server's; here the caller sets them
// (NULL is what the server gives a younger look-alike, and the UNIQUE index lets it repeat).
const V3 = `
ALTER TABLE users ADD COLUMN skeleton TEXT;
CREATE UNIQUE INDEX users_by_skeleton ON users (skeleton);`;

/** Creates db (a new file) at schema version 2 or 3, in WAL mode like the server's. */
export function legacyDatabase(db, version) {
  const parts = [V1, V2, V3].slice(0, version);
  sql(db, `PRAGMA journal_mode = WAL; ${parts.join('\n')} PRAGMA user_version = ${version};`);
}
