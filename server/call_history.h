// The call log (issue 20): per call, that is a room from its first join to
// its last leave, the room, when it started and ended, and each member's
// display name, kind of client, join and leave times (its address only when
// the host asks for it). Never SDP, candidates or chat. Kept in SQLite, so
// it survives restarts; a call still open when the server died is closed
// at the next start with the time the server was last seen alive.
#pragma once

#include <glib.h>
#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace p2pcall::server {

inline constexpr guint kDefaultHistoryDays = 30;
// How often the server notes it is alive, for closing calls after a crash.
inline constexpr guint kHistoryHeartbeatSeconds = 10;

struct HistoryMember {
  std::string peer_id;
  std::string name;
  std::string kind;             // "page", "gstreamer" or "plain"
  std::string address;          // empty unless addresses are kept
  std::int64_t joined = 0;      // Unix seconds
  std::int64_t left = 0;        // 0 while in the call
};

struct HistoryCall {
  std::int64_t id = 0;
  std::string room;
  std::int64_t started = 0;
  std::int64_t ended = 0;       // 0 while the call goes on
  // Ended by the next start of the server, not by its last member leaving
  // (the server had stopped or crashed): `ended` is when it was last seen.
  bool ended_by_restart = false;
  std::vector<HistoryMember> members;
};

struct HistoryQuery {
  std::string room;             // empty: every room
  std::int64_t since = 0;       // calls that started at or after this
  guint limit = 50;
  guint offset = 0;
};

class CallHistory {
public:
  // Opens (or creates) the log at @path, closes the calls a previous run
  // left open, and forgets calls older than @retention_days. nullptr and
  // @error naming the file when it cannot.
  static std::unique_ptr<CallHistory> open (const std::string & path,
      guint retention_days, bool keep_addresses, std::int64_t now,
      std::string & error);
  // Opens the log for reading only (`p2pcall-server history`, beside a
  // running server): no recovery, no retention, no writes.
  static std::unique_ptr<CallHistory> open_read_only (const std::string & path,
      std::string & error);
  ~CallHistory ();
  CallHistory (const CallHistory &) = delete;
  CallHistory & operator= (const CallHistory &) = delete;

  void member_joined (const std::string & room, const std::string & peer_id,
      const std::string & name, const std::string & kind,
      const std::string & address, std::int64_t now);
  // The call ends with its last member.
  void member_left (const std::string & room, const std::string & peer_id,
      std::int64_t now);
  // Notes the server alive at @now and forgets calls past retention.
  void heartbeat (std::int64_t now);

  // Newest first.
  std::vector<HistoryCall> calls (const HistoryQuery & query);

private:
  CallHistory (sqlite3 * db, guint retention_days, bool keep_addresses);
  bool exec (const char *sql);

  sqlite3 *db_;
  guint retention_days_;
  bool keep_addresses_;
  // Rooms with a call going on: room -> call id, and its members in it.
  std::map<std::string, std::int64_t> open_calls_;
  std::map<std::string, guint> open_members_;
};

// What kind of client a WebSocket handshake's User-Agent says it is: a
// browser ("page"), the GStreamer elements, which speak through libsoup
// ("gstreamer"), or anything else, such as the original app's clients
// ("plain").
const char *client_kind_from_user_agent (const char *user_agent);

// The calls as a JSON array text (the /api/history answer), and as the
// table `p2pcall-server history` prints.
std::string history_to_json (const std::vector<HistoryCall> & calls);
std::string history_to_table (const std::vector<HistoryCall> & calls);

// "2026-12-01", "2026-12-01T10:00:00Z" (or with an offset): Unix seconds,
// or -1 when it is neither.
std::int64_t parse_history_date (const char *text);

}  // namespace p2pcall::server
