#include "signalling_server.h"
#include "metrics.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace p2pcall::server {

struct SignallingServer::Connection {
  SignallingServer *server;
  ConnectionId id;
  SoupWebsocketConnection *ws;
  std::string remote;
  gint64 last_seen_us;
  bool dead = false;
  bool ping_pending = false;    // libsoup's keep-alive timer is running

  Connection (SignallingServer *s, ConnectionId i,
      SoupWebsocketConnection *w, std::string r)
    : server (s), id (i), ws (SOUP_WEBSOCKET_CONNECTION (g_object_ref (w))),
      remote (std::move (r)), last_seen_us (g_get_monotonic_time ()) {}

  ~Connection ()
  {
    g_signal_handlers_disconnect_by_data (ws, this);
    g_object_unref (ws);
  }
};

SignallingServer::SignallingServer (ServerOptions options)
  : options_ (std::move (options)),
    registry_ (options_.registry),
    files_ (options_.web_root)
{
}

SignallingServer::~SignallingServer ()
{
  if (keepalive_source_)
    g_source_remove (keepalive_source_);
  connections_.clear ();
  if (soup_) {
    soup_server_disconnect (soup_);
    g_object_unref (soup_);
  }
}

// soup_server_listen() leaves GLib's listen backlog of 10: a burst of
// clients (every member reconnecting after a restart) then sees dropped SYNs
// and waits seconds for retransmits. So the server makes its own sockets.
bool
SignallingServer::listen_on (GInetAddress *inet, guint16 port,
    SoupServerListenOptions options, GError **error)
{
  GSocketFamily family = g_inet_address_get_family (inet);
  g_autoptr (GSocket) socket = g_socket_new (family, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  if (!socket)
    return false;
  if (family == G_SOCKET_FAMILY_IPV6 && g_inet_address_get_is_any (inet)
      && !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, error))
    return false;
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (inet, port);
  g_socket_set_listen_backlog (socket, kListenBacklog);
  if (!g_socket_bind (socket, addr, TRUE, error)
      || !g_socket_listen (socket, error))
    return false;
  return soup_server_listen_socket (soup_, socket, options, error);
}

guint16
SignallingServer::bound_port () const
{
  GSList *uris = soup_server_get_uris (soup_);
  guint16 port = uris ? g_uri_get_port ((GUri *) uris->data) : 0;
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return port;
}

bool
SignallingServer::start (GError **error)
{
  soup_ = soup_server_new ("server-header", "p2pcall-server ",
      "tls-certificate", options_.tls_certificate, nullptr);
  SoupServerListenOptions listen = options_.tls_certificate ?
      SOUP_SERVER_LISTEN_HTTPS : (SoupServerListenOptions) 0;
  soup_server_add_handler (soup_, "/", on_http, this, nullptr);
  soup_server_add_handler (soup_, "/healthz", on_http, this, nullptr);
  soup_server_add_handler (soup_, "/ws", on_http, this, nullptr);
  // The original app's client connects to ws://HOST:8080, so "/" upgrades too.
  soup_server_add_websocket_handler (soup_, "/ws", nullptr, nullptr,
      on_websocket, this, nullptr);
  soup_server_add_websocket_handler (soup_, "/", nullptr, nullptr,
      on_websocket, this, nullptr);

  bool ok;
  if (options_.address.empty ()) {
    // Every interface, IPv4 and (where the system has it) IPv6, one port.
    g_autoptr (GInetAddress) any4 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
    guint16 port = options_.port;
    ok = listen_on (any4, port, listen, error);
    if (ok) {
      port = bound_port ();
      g_autoptr (GInetAddress) any6 =
          g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
      g_autoptr (GError) v6_error = nullptr;
      if (!listen_on (any6, port, listen, &v6_error))
        g_debug ("not listening on IPv6: %s", v6_error->message);
    }
  } else {
    g_autoptr (GInetAddress) inet =
        g_inet_address_new_from_string (options_.address.c_str ());
    if (!inet) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "--address \"%s\" is not an IP address", options_.address.c_str ());
      return false;
    }
    ok = listen_on (inet, options_.port, listen, error);
  }
  if (!ok)
    return false;

  keepalive_source_ = g_timeout_add (options_.keepalive_seconds * 1000 / 4,
      on_keepalive_check, this);
  return true;
}

std::string
SignallingServer::url () const
{
  GSList *uris = soup_server_get_uris (soup_);
  std::string result;
  if (uris) {
    GUri *uri = (GUri *) uris->data;
    std::string host = options_.address.empty () ? "localhost" :
        g_uri_get_host (uri);
    if (host.find (':') != std::string::npos)
      host = "[" + host + "]";
    result = std::string (options_.tls_certificate ? "https://" : "http://") +
        host + ":" + std::to_string (g_uri_get_port (uri)) +
        "/";
  }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return result;
}

void
SignallingServer::set_tls_certificate (GTlsCertificate *certificate)
{
  soup_server_set_tls_certificate (soup_, certificate);
}

void
SignallingServer::shutdown ()
{
  for (auto &entry : connections_) {
    SoupWebsocketConnection *ws = entry.second->ws;
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ws, protocol::kCloseGoingAway,
          "server shutting down");
  }
}

void
SignallingServer::on_http (SoupServer *, SoupServerMessage *msg,
    const char *path, GHashTable *, gpointer user_data)
{
  auto *self = static_cast<SignallingServer *> (user_data);
  // libsoup calls this handler for WebSocket upgrades too, before it looks
  // at the handshake; setting no status lets the upgrade go ahead.
  if (soup_message_headers_header_contains (
          soup_server_message_get_request_headers (msg), "Upgrade",
          "websocket")) {
    self->admit_upgrade (msg);
    return;
  }
  if (strcmp (path, "/healthz") == 0)
    self->serve_health (msg);
  else
    self->files_.handle (msg, path);
}

namespace {

std::string
remote_address (SoupServerMessage *msg)
{
  GSocketAddress *addr = soup_server_message_get_remote_address (msg);
  if (!addr || !G_IS_INET_SOCKET_ADDRESS (addr))
    return "?";
  g_autofree char *text = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
  return text;
}

// "scheme://host[:port]" in lower case, without a default port.
std::string
normalise_origin (const char *origin)
{
  g_autoptr (GUri) uri = g_uri_parse (origin, G_URI_FLAGS_NONE, nullptr);
  if (!uri || !g_uri_get_host (uri))
    return {};
  g_autofree char *scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  g_autofree char *host = g_ascii_strdown (g_uri_get_host (uri), -1);
  std::string result = std::string (scheme) + "://" + host;
  int port = g_uri_get_port (uri);
  bool default_port = port < 0 || (port == 80 && !g_strcmp0 (scheme, "http"))
      || (port == 443 && !g_strcmp0 (scheme, "https"));
  if (!default_port)
    result += ":" + std::to_string (port);
  return result;
}

}  // namespace

bool
SignallingServer::origin_allowed (SoupServerMessage *msg) const
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (headers, "Origin");
  if (!origin)
    return true;
  std::string wanted = normalise_origin (origin);
  if (wanted.empty ())
    return false;
  if (options_.allowed_origins.empty ()) {
    // Same origin as the page: the Origin's host and port are the Host the
    // request was sent to.
    const char *host = soup_message_headers_get_one (headers, "Host");
    std::string scheme = options_.tls_certificate ? "https://" : "http://";
    return host && wanted == normalise_origin ((scheme + host).c_str ());
  }
  for (const std::string &allowed : options_.allowed_origins)
    if (allowed == "*" || normalise_origin (allowed.c_str ()) == wanted)
      return true;
  return false;
}

bool
SignallingServer::admit_upgrade (SoupServerMessage *msg)
{
  std::string remote = remote_address (msg);
  if (!origin_allowed (msg)) {
    const char *origin = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Origin");
    g_message ("refused WebSocket from %s: origin %s is not allowed (see "
        "--allowed-origin)", remote.c_str (), origin);
    soup_server_message_set_status (msg, SOUP_STATUS_FORBIDDEN, nullptr);
    return false;
  }
  auto count = connections_per_address_.find (remote);
  if (count != connections_per_address_.end () &&
      count->second >= options_.max_connections_per_address) {
    g_message ("refused WebSocket from %s: it has %u connections open",
        remote.c_str (), count->second);
    soup_server_message_set_status (msg, 429, "Too Many Requests");
    return false;
  }
  return true;
}

void
SignallingServer::serve_health (SoupServerMessage *msg)
{
  std::string body = "{\"status\":\"ok\",\"connections\":" +
      std::to_string (connections_.size ()) + ",\"rooms\":" +
      std::to_string (registry_.room_count ()) + ",\"members\":" +
      std::to_string (registry_.member_count ()) + "}";
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
      body.data (), body.size ());
}

void
SignallingServer::on_websocket (SoupServer *, SoupServerMessage *msg,
    const char *, SoupWebsocketConnection *ws, gpointer user_data)
{
  static_cast<SignallingServer *> (user_data)->add_connection (msg, ws);
}

void
SignallingServer::add_connection (SoupServerMessage *msg,
    SoupWebsocketConnection *ws)
{
  std::string remote = remote_address (msg);
  connections_per_address_[remote]++;
  ConnectionId id = next_id_++;
  auto conn = std::make_unique<Connection> (this, id, ws, remote);
  // Messages over the limit are refused here with a clean 1009 close;
  // libsoup's own cap, far above, only stops a flood of one huge frame
  // (it drops the socket without a close handshake).
  soup_websocket_connection_set_max_incoming_payload_size (ws,
      std::max<guint64> (4 * options_.max_message_size, 1024 * 1024));
  // No keep-alive timer of libsoup's here: pings are asked for from one
  // server-wide timer (see on_keepalive_check).

  g_signal_connect (ws, "message", G_CALLBACK (+[] (SoupWebsocketConnection *,
              gint type, GBytes *data, Connection *c) {
        c->server->on_message (c->id, (SoupWebsocketDataType) type, data);
      }), conn.get ());
  g_signal_connect (ws, "pong", G_CALLBACK (+[] (SoupWebsocketConnection *ws,
              GBytes *, Connection *c) {
        c->last_seen_us = g_get_monotonic_time ();
        if (c->ping_pending) {
          soup_websocket_connection_set_keepalive_interval (ws, 0);
          c->ping_pending = false;
        }
      }), conn.get ());
  // A member that says goodbye is announced gone at once, not when the
  // close handshake and the socket are done with.
  g_signal_connect (ws, "closing", G_CALLBACK (+[] (SoupWebsocketConnection *,
              Connection *c) {
        c->server->on_closing (c->id);
      }), conn.get ());
  g_signal_connect (ws, "closed", G_CALLBACK (+[] (SoupWebsocketConnection *,
              Connection *c) {
        c->server->on_closed (c->id);
      }), conn.get ());

  g_debug ("connection %" G_GUINT64_FORMAT " from %s", id, remote.c_str ());
  connections_[id] = std::move (conn);
  metrics::connection_opened ();
}

void
SignallingServer::on_message (ConnectionId id, SoupWebsocketDataType type,
    GBytes *data)
{
  auto it = connections_.find (id);
  if (it == connections_.end () || it->second->dead)
    return;
  it->second->last_seen_us = g_get_monotonic_time ();
  metrics::HandlingTimer timer;

  std::vector<Outgoing> out;
  gsize size = 0;
  const char *payload = (const char *) g_bytes_get_data (data, &size);
  if (size > options_.max_message_size) {
    Connection &c = *it->second;
    c.dead = true;
    g_message ("message of %" G_GSIZE_FORMAT " bytes from %s (peer=%s) is "
        "over the %" G_GUINT64_FORMAT "-byte limit: closing", size,
        c.remote.c_str (), registry_.peer_id (id).c_str (),
        options_.max_message_size);
    registry_.disconnect (id, out);
    soup_websocket_connection_close (c.ws, protocol::kCloseTooBig,
        "message too big");
  } else if (type == SOUP_WEBSOCKET_DATA_TEXT) {
    registry_.handle_text (id, std::string_view (payload, size), out);
  } else {
    registry_.handle_binary (id, out);
  }
  dispatch (out);
}

void
SignallingServer::on_closing (ConnectionId id)
{
  auto it = connections_.find (id);
  if (it == connections_.end () || it->second->dead)
    return;     // we closed it, and announced it then
  it->second->dead = true;
  std::vector<Outgoing> out;
  registry_.disconnect (id, out);
  dispatch (out);
}

void
SignallingServer::on_closed (ConnectionId id)
{
  auto it = connections_.find (id);
  if (it == connections_.end ())
    return;
  std::vector<Outgoing> out;
  registry_.disconnect (id, out);
  SoupWebsocketConnection *ws = it->second->ws;
  g_debug ("connection %" G_GUINT64_FORMAT " closed (code %u)", id,
      soup_websocket_connection_get_close_code (ws));
  // Dropping the Connection drops our reference; do it after this signal
  // handler returns so libsoup is not left holding a finalized object.
  std::unique_ptr<Connection> conn = std::move (it->second);
  connections_.erase (it);
  metrics::connection_closed ();
  auto count = connections_per_address_.find (conn->remote);
  if (count != connections_per_address_.end () && --count->second == 0)
    connections_per_address_.erase (count);
  g_idle_add_full (G_PRIORITY_DEFAULT, +[] (gpointer p) -> gboolean {
        delete static_cast<Connection *> (p);
        return G_SOURCE_REMOVE;
      }, conn.release (), nullptr);
  dispatch (out);
}

void
SignallingServer::dispatch (std::vector<Outgoing> &out)
{
  for (Outgoing &o : out) {
    auto it = connections_.find (o.to);
    if (it == connections_.end () || it->second->dead)
      continue;
    SoupWebsocketConnection *ws = it->second->ws;
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (ws, o.text.c_str ());
  }
  out.clear ();
}

gboolean
SignallingServer::on_keepalive_check (gpointer user_data)
{
  auto *self = static_cast<SignallingServer *> (user_data);
  // libsoup 3.2 can only ping from a timer of each connection's own, and a
  // GMainContext looks at every source on every iteration: thousands of
  // timers made each message and each new connection slower. So this one
  // timer, every quarter interval, asks for a ping (libsoup's keep-alive at
  // its shortest, one second) from members silent for a quarter interval,
  // and the pong turns it off again. A live member is then never silent for
  // more than half an interval plus that second (plus its round trip); one
  // silent for an interval plus a second is dropped, within two intervals
  // (from 2 s up).
  const gint64 interval_us = (gint64) self->options_.keepalive_seconds *
      G_USEC_PER_SEC;
  const gint64 limit_us = interval_us + G_USEC_PER_SEC;
  gint64 now = g_get_monotonic_time ();
  std::vector<Outgoing> out;
  std::vector<SoupWebsocketConnection *> to_close;
  for (auto &entry : self->connections_) {
    Connection &c = *entry.second;
    if (c.dead)
      continue;
    if (now - c.last_seen_us <= limit_us) {
      if (!c.ping_pending && now - c.last_seen_us >= interval_us / 4 &&
          soup_websocket_connection_get_state (c.ws) ==
          SOUP_WEBSOCKET_STATE_OPEN) {
        soup_websocket_connection_set_keepalive_interval (c.ws, 1);
        c.ping_pending = true;
      }
      continue;
    }
    c.dead = true;
    std::string peer = self->registry_.peer_id (c.id);
    g_message ("no pong from %s (peer=%s): dropping it", c.remote.c_str (),
        peer.empty () ? "-" : peer.c_str ());
    self->registry_.disconnect (c.id, out);
    to_close.push_back (SOUP_WEBSOCKET_CONNECTION (g_object_ref (c.ws)));
  }
  // Closed outside the loop: "closed" may change the table. A dead peer
  // cannot finish the close handshake; libsoup gives up on it after its own
  // timeout and then emits "closed".
  for (SoupWebsocketConnection *ws : to_close) {
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ws, protocol::kCloseGoingAway,
          "no pong");
    g_object_unref (ws);
  }
  self->dispatch (out);
  return G_SOURCE_CONTINUE;
}

}  // namespace p2pcall::server
