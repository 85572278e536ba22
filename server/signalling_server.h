// p2pcall-server's network side: one SoupServer serving the page and the
// WebSocket endpoint, a table of connections, keep-alive. Message handling
// itself is RoomRegistry's.
#pragma once

#include "room_registry.h"
#include "static_files.h"

#include <libsoup/soup.h>

#include <memory>
#include <string>
#include <unordered_map>

namespace p2pcall::server {

inline constexpr guint kDefaultPort = 8080;
inline constexpr guint kDefaultKeepaliveSeconds = 10;
inline constexpr guint64 kDefaultMaxMessageSize = 64 * 1024;

struct ServerOptions {
  std::string address;          // empty: every interface
  guint port = kDefaultPort;
  std::string web_root;
  guint keepalive_seconds = kDefaultKeepaliveSeconds;
  guint64 max_message_size = kDefaultMaxMessageSize;
  RegistryConfig registry;
};

class SignallingServer {
public:
  explicit SignallingServer (ServerOptions options);
  ~SignallingServer ();
  SignallingServer (const SignallingServer &) = delete;
  SignallingServer & operator= (const SignallingServer &) = delete;

  bool start (GError ** error);
  // Closes every connection with 1001 (going away).
  void shutdown ();
  // http://ADDRESS:PORT/ of the first listener.
  std::string url () const;

private:
  struct Connection;

  static void on_http (SoupServer * server, SoupServerMessage * msg,
      const char *path, GHashTable * query, gpointer user_data);
  static void on_websocket (SoupServer * server, SoupServerMessage * msg,
      const char *path, SoupWebsocketConnection * ws, gpointer user_data);
  static gboolean on_keepalive_check (gpointer user_data);

  void add_connection (SoupServerMessage * msg, SoupWebsocketConnection * ws);
  void on_message (ConnectionId id, SoupWebsocketDataType type, GBytes * data);
  void on_closed (ConnectionId id);
  void dispatch (std::vector<Outgoing> & out);
  void serve_health (SoupServerMessage * msg);

  ServerOptions options_;
  RoomRegistry registry_;
  StaticFiles files_;
  SoupServer *soup_ = nullptr;
  guint keepalive_source_ = 0;
  ConnectionId next_id_ = 1;
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> connections_;
};

}  // namespace p2pcall::server
