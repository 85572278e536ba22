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
#include <vector>

namespace p2pcall::server {

inline constexpr guint kDefaultPort = 8080;
inline constexpr guint kDefaultKeepaliveSeconds = 10;
inline constexpr guint64 kDefaultMaxMessageSize = 64 * 1024;
inline constexpr guint kDefaultMaxConnectionsPerAddress = 64;
// Pending connections the kernel queues before accept(); it caps this at
// net.core.somaxconn.
inline constexpr int kListenBacklog = 4096;

struct ServerOptions {
  std::string address;          // empty: every interface
  guint port = kDefaultPort;
  std::string web_root;
  guint keepalive_seconds = kDefaultKeepaliveSeconds;
  guint64 max_message_size = kDefaultMaxMessageSize;
  guint max_connections_per_address = kDefaultMaxConnectionsPerAddress;
  // Origins a browser page may open the WebSocket from ("*": any). Empty:
  // the page's own origin only. Clients that send no Origin (the elements,
  // command-line tools) are not browsers and are let through.
  std::vector<std::string> allowed_origins;
  // With a certificate the server speaks https and wss only.
  GTlsCertificate *tls_certificate = nullptr;
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
  // New TLS connections use @certificate (a reload); open ones keep theirs.
  void set_tls_certificate (GTlsCertificate * certificate);
  // http://ADDRESS:PORT/ of the first listener.
  std::string url () const;

private:
  bool listen_on (GInetAddress * inet, guint16 port,
      SoupServerListenOptions options, GError ** error);
  guint16 bound_port () const;

  struct Connection;

  static void on_http (SoupServer * server, SoupServerMessage * msg,
      const char *path, GHashTable * query, gpointer user_data);
  static void on_websocket (SoupServer * server, SoupServerMessage * msg,
      const char *path, SoupWebsocketConnection * ws, gpointer user_data);
  static gboolean on_keepalive_check (gpointer user_data);

  void add_connection (SoupServerMessage * msg, SoupWebsocketConnection * ws);
  void on_message (ConnectionId id, SoupWebsocketDataType type, GBytes * data);
  void on_closing (ConnectionId id);
  void on_closed (ConnectionId id);
  void dispatch (std::vector<Outgoing> & out);
  void serve_health (SoupServerMessage * msg);
  // Checks an upgrade request before libsoup accepts it; sets a refusal
  // status and returns false when it may not go ahead.
  bool admit_upgrade (SoupServerMessage * msg);
  bool origin_allowed (SoupServerMessage * msg) const;

  ServerOptions options_;
  RoomRegistry registry_;
  StaticFiles files_;
  SoupServer *soup_ = nullptr;
  guint keepalive_source_ = 0;
  ConnectionId next_id_ = 1;
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> connections_;
  std::unordered_map<std::string, guint> connections_per_address_;
};

}  // namespace p2pcall::server
