#include "call_history.h"

#include <json-glib/json-glib.h>

#include <cstring>

namespace p2pcall::server {

namespace {

// One prepared statement, finalized when it goes out of scope.
class Statement {
public:
  Statement (sqlite3 * db, const char *sql)
  {
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      g_warning ("call history: cannot prepare \"%s\": %s", sql,
          sqlite3_errmsg (db));
  }
  ~Statement () { sqlite3_finalize (stmt_); }
  Statement (const Statement &) = delete;
  Statement & operator= (const Statement &) = delete;

  Statement & bind (int index, std::int64_t value)
  {
    sqlite3_bind_int64 (stmt_, index, value);
    return *this;
  }
  Statement & bind (int index, const std::string & value)
  {
    sqlite3_bind_text (stmt_, index, value.c_str (), (int) value.size (),
        SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW while there are rows; SQLITE_DONE at the end.
  int step () { return stmt_ ? sqlite3_step (stmt_) : SQLITE_ERROR; }
  std::int64_t integer (int column) { return sqlite3_column_int64 (stmt_, column); }
  std::string text (int column)
  {
    const unsigned char *value = sqlite3_column_text (stmt_, column);
    return value ? reinterpret_cast<const char *> (value) : "";
  }

private:
  sqlite3_stmt *stmt_ = nullptr;
};

constexpr const char *kSchema = R"sql(
CREATE TABLE IF NOT EXISTS calls (
  id INTEGER PRIMARY KEY,
  room TEXT NOT NULL,
  started INTEGER NOT NULL,
  ended INTEGER,
  ended_by_restart INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS calls_by_start ON calls (started);
CREATE TABLE IF NOT EXISTS members (
  call_id INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  peer_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  address TEXT NOT NULL,
  joined INTEGER NOT NULL,
  left_at INTEGER
);
CREATE INDEX IF NOT EXISTS members_by_call ON members (call_id);
CREATE TABLE IF NOT EXISTS server (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
)sql";

std::string
format_time (std::int64_t unix_seconds)
{
  if (!unix_seconds)
    return "";
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (unix_seconds);
  g_autofree char *text = g_date_time_format_iso8601 (time);
  return text;
}

}  // namespace

CallHistory::CallHistory (sqlite3 * db, guint retention_days,
    bool keep_addresses)
  : db_ (db), retention_days_ (retention_days), keep_addresses_ (keep_addresses)
{
}

CallHistory::~CallHistory ()
{
  sqlite3_close (db_);
}

bool
CallHistory::exec (const char *sql)
{
  char *message = nullptr;
  if (sqlite3_exec (db_, sql, nullptr, nullptr, &message) == SQLITE_OK)
    return true;
  g_warning ("call history: %s", message ? message : sqlite3_errmsg (db_));
  sqlite3_free (message);
  return false;
}

std::unique_ptr<CallHistory>
CallHistory::open (const std::string & path, guint retention_days,
    bool keep_addresses, std::int64_t now, std::string & error)
{
  g_autofree char *folder = g_path_get_dirname (path.c_str ());
  if (g_mkdir_with_parents (folder, 0750) != 0) {
    error = "cannot create the folder of the call history " + path + ": " +
        g_strerror (errno);
    return nullptr;
  }
  sqlite3 *db = nullptr;
  if (sqlite3_open (path.c_str (), &db) != SQLITE_OK) {
    error = "cannot open the call history " + path + ": " +
        (db ? sqlite3_errmsg (db) : "out of memory");
    sqlite3_close (db);
    return nullptr;
  }
  std::unique_ptr<CallHistory> history (new CallHistory (db, retention_days,
          keep_addresses));
  // A second server on the same file waits for the other's write instead
  // of failing it.
  sqlite3_busy_timeout (db, 2000);
  // Every join and leave is a write on the server's one thread: with WAL,
  // synchronous=NORMAL syncs at checkpoints instead of on each of them (a
  // crash of the process loses nothing; a power loss at most the last
  // writes, which the next start closes like any open call).
  if (!history->exec ("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
          "PRAGMA foreign_keys = ON;") ||
      !history->exec (kSchema)) {
    error = "cannot use " + path + " as the call history: " +
        sqlite3_errmsg (db);
    return nullptr;
  }
  // Calls a previous run left open end when it was last seen alive.
  std::int64_t last_seen = now;
  {
    Statement seen (db, "SELECT value FROM server WHERE key = 'last_seen'");
    if (seen.step () == SQLITE_ROW)
      last_seen = seen.integer (0);
  }
  Statement close_calls (db, "UPDATE calls SET ended = MAX(started, ?1), "
      "ended_by_restart = 1 WHERE ended IS NULL");
  close_calls.bind (1, last_seen).step ();
  Statement close_members (db, "UPDATE members SET left_at = MAX(joined, ?1) "
      "WHERE left_at IS NULL");
  close_members.bind (1, last_seen).step ();
  history->heartbeat (now);
  return history;
}

std::unique_ptr<CallHistory>
CallHistory::open_read_only (const std::string & path, std::string & error)
{
  sqlite3 *db = nullptr;
  if (sqlite3_open_v2 (path.c_str (), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    error = "cannot read the call history " + path + ": " +
        (db ? sqlite3_errmsg (db) : "out of memory");
    sqlite3_close (db);
    return nullptr;
  }
  sqlite3_busy_timeout (db, 2000);
  std::unique_ptr<CallHistory> history (new CallHistory (db, 0, false));
  Statement probe (db, "SELECT 1 FROM calls LIMIT 1");
  if (probe.step () == SQLITE_ERROR) {
    error = path + " is not a p2pcall call history: " + sqlite3_errmsg (db);
    return nullptr;
  }
  return history;
}

void
CallHistory::member_joined (const std::string & room,
    const std::string & peer_id, const std::string & name,
    const std::string & kind, const std::string & address, std::int64_t now)
{
  auto call = open_calls_.find (room);
  if (call == open_calls_.end ()) {
    Statement insert (db_, "INSERT INTO calls (room, started) VALUES (?1, ?2)");
    if (insert.bind (1, room).bind (2, now).step () != SQLITE_DONE)
      return;
    call = open_calls_.emplace (room, sqlite3_last_insert_rowid (db_)).first;
  }
  open_members_[room]++;
  Statement insert (db_, "INSERT INTO members (call_id, peer_id, name, kind, "
      "address, joined) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  insert.bind (1, call->second).bind (2, peer_id).bind (3, name)
      .bind (4, kind).bind (5, keep_addresses_ ? address : std::string ())
      .bind (6, now).step ();
}

void
CallHistory::member_left (const std::string & room,
    const std::string & peer_id, std::int64_t now)
{
  auto call = open_calls_.find (room);
  if (call == open_calls_.end ())
    return;
  Statement left (db_, "UPDATE members SET left_at = ?1 WHERE call_id = ?2 "
      "AND peer_id = ?3 AND left_at IS NULL");
  left.bind (1, now).bind (2, call->second).bind (3, peer_id).step ();
  if (--open_members_[room] > 0)
    return;
  Statement ended (db_, "UPDATE calls SET ended = ?1 WHERE id = ?2");
  ended.bind (1, now).bind (2, call->second).step ();
  open_calls_.erase (call);
  open_members_.erase (room);
}

void
CallHistory::heartbeat (std::int64_t now)
{
  Statement seen (db_, "INSERT INTO server (key, value) VALUES "
      "('last_seen', ?1) ON CONFLICT (key) DO UPDATE SET value = ?1");
  seen.bind (1, now).step ();
  Statement forget (db_, "DELETE FROM calls WHERE ended IS NOT NULL AND "
      "ended < ?1");
  forget.bind (1, now - (std::int64_t) retention_days_ * 86400).step ();
}

std::vector<HistoryCall>
CallHistory::calls (const HistoryQuery & query)
{
  std::vector<HistoryCall> calls;
  Statement select (db_, "SELECT id, room, started, ended, ended_by_restart "
      "FROM calls WHERE (?1 = '' OR room = ?1) AND started >= ?2 "
      "ORDER BY started DESC, id DESC LIMIT ?3 OFFSET ?4");
  select.bind (1, query.room).bind (2, query.since)
      .bind (3, (std::int64_t) query.limit).bind (4, (std::int64_t) query.offset);
  while (select.step () == SQLITE_ROW) {
    HistoryCall call;
    call.id = select.integer (0);
    call.room = select.text (1);
    call.started = select.integer (2);
    call.ended = select.integer (3);
    call.ended_by_restart = select.integer (4) != 0;
    calls.push_back (std::move (call));
  }
  for (HistoryCall &call : calls) {
    Statement members (db_, "SELECT peer_id, name, kind, address, joined, "
        "left_at FROM members WHERE call_id = ?1 ORDER BY joined, rowid");
    members.bind (1, call.id);
    while (members.step () == SQLITE_ROW)
      call.members.push_back (HistoryMember {members.text (0), members.text (1),
              members.text (2), members.text (3), members.integer (4),
              members.integer (5)});
  }
  return calls;
}

const char *
client_kind_from_user_agent (const char *user_agent)
{
  if (!user_agent)
    return "plain";
  if (g_str_has_prefix (user_agent, "Mozilla/"))
    return "page";
  if (strstr (user_agent, "libsoup"))
    return "gstreamer";
  return "plain";
}

std::string
history_to_json (const std::vector<HistoryCall> & calls)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (const HistoryCall &call : calls) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "room");
    json_builder_add_string_value (b, call.room.c_str ());
    json_builder_set_member_name (b, "started");
    json_builder_add_string_value (b, format_time (call.started).c_str ());
    json_builder_set_member_name (b, "ended");
    if (call.ended)
      json_builder_add_string_value (b, format_time (call.ended).c_str ());
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "endedByRestart");
    json_builder_add_boolean_value (b, call.ended_by_restart);
    json_builder_set_member_name (b, "members");
    json_builder_begin_array (b);
    for (const HistoryMember &m : call.members) {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "peerId");
      json_builder_add_string_value (b, m.peer_id.c_str ());
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, m.name.c_str ());
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, m.kind.c_str ());
      if (!m.address.empty ()) {
        json_builder_set_member_name (b, "address");
        json_builder_add_string_value (b, m.address.c_str ());
      }
      json_builder_set_member_name (b, "joined");
      json_builder_add_string_value (b, format_time (m.joined).c_str ());
      json_builder_set_member_name (b, "left");
      if (m.left)
        json_builder_add_string_value (b, format_time (m.left).c_str ());
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, FALSE);
  return text;
}

std::string
history_to_table (const std::vector<HistoryCall> & calls)
{
  std::string out = "started               ended                 room                 members\n";
  for (const HistoryCall &call : calls) {
    std::string members;
    for (const HistoryMember &m : call.members)
      members += (members.empty () ? "" : ", ") + (m.name.empty () ?
          m.peer_id : m.name) + " (" + m.kind + ")";
    std::string ended = call.ended ? format_time (call.ended) : "(going on)";
    if (call.ended_by_restart)
      ended += "*";
    g_autofree char *line = g_strdup_printf ("%-21s %-21s %-20s %s\n",
        format_time (call.started).c_str (), ended.c_str (), call.room.c_str (),
        members.c_str ());
    out += line;
  }
  if (calls.empty ())
    out += "(no calls)\n";
  else
    out += "* ended when the server stopped: the time it was last seen\n";
  return out;
}

std::int64_t
parse_history_date (const char *text)
{
  if (!text)
    return -1;
  g_autoptr (GDateTime) time = nullptr;
  if (strlen (text) == 10) {
    g_autofree char *midnight = g_strconcat (text, "T00:00:00Z", nullptr);
    time = g_date_time_new_from_iso8601 (midnight, nullptr);
  } else {
    g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
    time = g_date_time_new_from_iso8601 (text, utc);
  }
  return time ? g_date_time_to_unix (time) : -1;
}

}  // namespace p2pcall::server
