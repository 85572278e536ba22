// SignallingClient over a libsoup 3 WebSocket, speaking protocol/PROTOCOL.md
// through the shared protocol module.
#include "signalling.h"

#include "protocol.h"

#include <gst/gst.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>

GST_DEBUG_CATEGORY_STATIC (p2pcall_signalling_debug);
#define GST_CAT_DEFAULT p2pcall_signalling_debug

namespace p2pcall {

namespace proto = protocol;

namespace {

// Reconnection backoff: first retry quickly (a restarting server is usually
// back within a second), then double up to the cap.
constexpr guint kFirstRetryMs = 200;
constexpr guint kMaxRetryMs = 5000;

std::atomic<SignallingFactory> signalling_factory { nullptr };

std::string
string_or_empty (JsonObject *obj, const char *member)
{
  const char *s = proto::get_string (obj, member);
  return s ? s : "";
}

std::string
client_id_of_state (JsonObject *state)
{
  return string_or_empty (state, proto::kStateClientId);
}

bool
receive_only_of_state (JsonObject *state)
{
  return proto::get_true (state, proto::kStateReceiveOnly);
}

// Why a server certificate was refused, in words a user can act on.
std::string
describe_certificate_errors (GTlsCertificateFlags errors)
{
  static const struct {
    GTlsCertificateFlags flag;
    const char *text;
  } reasons[] = {
    {G_TLS_CERTIFICATE_UNKNOWN_CA, "its certificate is not signed by a "
          "trusted authority (give the CA's certificate in ca-file)"},
    {G_TLS_CERTIFICATE_BAD_IDENTITY, "its certificate is for another host "
          "name"},
    {G_TLS_CERTIFICATE_NOT_ACTIVATED, "its certificate is not valid yet"},
    {G_TLS_CERTIFICATE_EXPIRED, "its certificate has expired"},
    {G_TLS_CERTIFICATE_REVOKED, "its certificate was revoked"},
    {G_TLS_CERTIFICATE_INSECURE, "its certificate uses an insecure "
          "algorithm"},
    {G_TLS_CERTIFICATE_GENERIC_ERROR, "its certificate is invalid"},
  };
  std::string text;
  for (auto &r : reasons)
    if (errors & r.flag)
      text += (text.empty () ? "" : "; ") + std::string (r.text);
  return text.empty () ? "its certificate was refused" : text;
}

class WebSocketSignalling final : public SignallingClient {
public:
  WebSocketSignalling ()
  {
    static gsize init = 0;
    if (g_once_init_enter (&init)) {
      GST_DEBUG_CATEGORY_INIT (p2pcall_signalling_debug, "p2pcallsignalling",
          0, "p2pcall room signalling client");
      g_once_init_leave (&init, 1);
    }
  }

  ~WebSocketSignalling () override { close_connection (); }

  void start (const SignallingConfig & config, GMainContext * context,
      SignallingEvents events) override
  {
    config_ = config;
    context_ = context;
    events_ = std::move (events);
    stopped_ = false;
    connect ();
  }

  void stop () override
  {
    stopped_ = true;
    if (retry_source_) {
      g_source_destroy (retry_source_);
      g_source_unref (retry_source_);
      retry_source_ = nullptr;
    }
    if (cancellable_)
      g_cancellable_cancel (cancellable_);
    if (ws_ && soup_websocket_connection_get_state (ws_) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (ws_, proto::build_leave ().c_str ());
    close_connection ();
  }

  void send_description (const std::string & peer_id, const std::string & type,
      const std::string & sdp) override
  {
    send (proto::build_description (type == proto::kOffer ? proto::kOffer :
            proto::kAnswer, sdp, peer_id));
  }

  void send_candidate (const std::string & peer_id, unsigned mline_index,
      const std::string & candidate) override
  {
    send (proto::build_candidate (mline_index, {}, candidate, peer_id));
  }

  void send_peer_state (bool audio, bool video,
      const std::string & client_id, bool receive_only) override
  {
    send (proto::build_peer_state (audio, video, config_.name, client_id,
            receive_only));
  }

private:
  void send (const std::string & text)
  {
    if (!joined_ || !ws_ || soup_websocket_connection_get_state (ws_) !=
        SOUP_WEBSOCKET_STATE_OPEN) {
      GST_DEBUG ("not connected, dropping %.40s", text.c_str ());
      return;
    }
    soup_websocket_connection_send_text (ws_, text.c_str ());
  }

  void connect ()
  {
    GST_INFO ("connecting to %s", config_.server_url.c_str ());
    g_autoptr (SoupMessage) msg = soup_message_new ("GET",
        config_.server_url.c_str ());
    if (!msg) {
      events_.error (true, "bad-url", "Invalid signalling server URL " +
          config_.server_url);
      return;
    }
    g_clear_object (&cancellable_);
    cancellable_ = g_cancellable_new ();
    // Certificate problems are only told to this handler: keep them for
    // the error the connection then fails with.
    tls_errors_ = (GTlsCertificateFlags) 0;
    forget_message ();
    message_ = SOUP_MESSAGE (g_object_ref (msg));
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (+[] (
                SoupMessage *, GTlsCertificate *, GTlsCertificateFlags errors,
                gpointer data) -> gboolean {
              static_cast<WebSocketSignalling *> (data)->tls_errors_ = errors;
              return FALSE;
            }), this);
    // A SoupSession and its operations belong to the thread-default context
    // they were made on.
    g_main_context_push_thread_default (context_);
    if (!session_) {
      session_ = soup_session_new_with_options ("timeout", 10, nullptr);
      if (!config_.ca_file.empty ()) {
        g_autoptr (GError) err = nullptr;
        g_autoptr (GTlsDatabase) cas = g_tls_file_database_new (
            config_.ca_file.c_str (), &err);
        if (!cas) {
          g_main_context_pop_thread_default (context_);
          g_clear_object (&session_);
          events_.error (true, "tls", "cannot read ca-file '" +
              config_.ca_file + "': " + err->message);
          return;
        }
        soup_session_set_tls_database (session_, cas);
      }
    }
    soup_session_websocket_connect_async (session_, msg, nullptr, nullptr,
        G_PRIORITY_DEFAULT, cancellable_, on_connected, this);
    g_main_context_pop_thread_default (context_);
  }

  static void on_connected (GObject * source, GAsyncResult * res,
      gpointer data)
  {
    g_autoptr (GError) err = nullptr;
    SoupWebsocketConnection *ws =
        soup_session_websocket_connect_finish (SOUP_SESSION (source), res,
        &err);
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      return;                   // stopped; @data may be gone
    auto self = static_cast<WebSocketSignalling *> (data);
    self->forget_message ();
    if (!ws) {
      if (self->tls_errors_ || err->domain == G_TLS_ERROR)
        self->tls_failed (err->message);
      else
        self->connection_failed (err->message);
      return;
    }
    GST_INFO ("connected to %s", self->config_.server_url.c_str ());
    self->ws_ = ws;
    self->retry_ms_ = kFirstRetryMs;
    soup_websocket_connection_set_max_incoming_payload_size (ws, 0);
    g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
    g_signal_connect (ws, "closed", G_CALLBACK (on_closed), self);
    soup_websocket_connection_send_text (ws, proto::build_join (
            self->config_.room, self->config_.name,
            self->config_.token).c_str ());
  }

  void connection_failed (const char *reason)
  {
    if (!ever_joined_) {
      events_.error (true, "unreachable", "Could not connect to the "
          "signalling server " + config_.server_url + ": " + reason);
      return;
    }
    GST_WARNING ("reconnecting to %s failed: %s", config_.server_url.c_str (),
        reason);
    schedule_retry ();
  }

  // Retrying cannot make an untrusted certificate trusted: a first
  // connection fails for good; after a join, the server may get its proper
  // certificate back, so keep trying.
  void tls_failed (const char *reason)
  {
    std::string why = tls_errors_ ? describe_certificate_errors (tls_errors_) :
        std::string ("TLS failed: ") + reason;
    if (!ever_joined_) {
      fatal_ = true;
      events_.error (true, "tls", why);
      return;
    }
    GST_WARNING ("reconnecting to %s failed: %s", config_.server_url.c_str (),
        why.c_str ());
    schedule_retry ();
  }

  void forget_message ()
  {
    if (message_)
      g_signal_handlers_disconnect_by_data (message_, this);
    g_clear_object (&message_);
  }

  void schedule_retry ()
  {
    if (stopped_ || retry_source_)
      return;
    GST_INFO ("reconnecting in %u ms", retry_ms_);
    retry_source_ = g_timeout_source_new (retry_ms_);
    retry_ms_ = std::min (retry_ms_ * 2, kMaxRetryMs);
    g_source_set_callback (retry_source_, +[] (gpointer data) -> gboolean {
          auto self = static_cast<WebSocketSignalling *> (data);
          g_source_unref (self->retry_source_);
          self->retry_source_ = nullptr;
          self->connect ();
          return G_SOURCE_REMOVE;
        }, this, nullptr);
    g_source_attach (retry_source_, context_);
  }

  void close_connection ()
  {
    if (ws_) {
      g_signal_handlers_disconnect_by_data (ws_, this);
      if (soup_websocket_connection_get_state (ws_) ==
          SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (ws_, proto::kCloseNormal, nullptr);
      g_clear_object (&ws_);
    }
    forget_message ();
    g_clear_object (&cancellable_);
    g_clear_object (&session_);
    joined_ = false;
  }

  static void on_closed (SoupWebsocketConnection * ws, gpointer data)
  {
    auto self = static_cast<WebSocketSignalling *> (data);
    GST_WARNING ("connection to %s closed (code %u)",
        self->config_.server_url.c_str (),
        soup_websocket_connection_get_close_code (ws));
    g_signal_handlers_disconnect_by_data (ws, self);
    g_clear_object (&self->ws_);
    bool was_joined = self->joined_;
    self->joined_ = false;
    if (self->stopped_ || self->fatal_)
      return;
    if (!self->ever_joined_) {
      self->events_.error (true, "unreachable", "The signalling server " +
          self->config_.server_url + " closed the connection before the "
          "room was joined");
      return;
    }
    if (was_joined)
      self->events_.connection_lost ();
    self->schedule_retry ();
  }

  static void on_message (SoupWebsocketConnection *, SoupWebsocketDataType,
      GBytes * bytes, gpointer data)
  {
    gsize size;
    auto text = static_cast<const char *> (g_bytes_get_data (bytes, &size));
    proto::ParseError perr;
    proto::JsonObjectPtr msg = proto::parse_message ({text, size}, perr);
    if (!msg) {
      GST_WARNING ("unparsable message from server: %s",
          perr.message.c_str ());
      return;
    }
    static_cast<WebSocketSignalling *> (data)->dispatch (msg.get ());
  }

  static std::vector<RemotePeer> peers_of_joined (JsonObject * msg)
  {
    std::vector<RemotePeer> peers;
    JsonNode *node = json_object_get_member (msg, "peers");
    if (!node || !JSON_NODE_HOLDS_ARRAY (node))
      return peers;
    JsonArray *arr = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (arr); i++) {
      JsonNode *item = json_array_get_element (arr, i);
      if (!JSON_NODE_HOLDS_OBJECT (item))
        continue;
      JsonObject *p = json_node_get_object (item);
      JsonObject *state = proto::get_object (p, "state");
      RemotePeer peer { string_or_empty (p, "id"), string_or_empty (p, "name"),
        client_id_of_state (state), receive_only_of_state (state) };
      if (!peer.id.empty ())
        peers.push_back (std::move (peer));
    }
    return peers;
  }

  static std::vector<IceServer> ice_servers_of_joined (JsonObject * msg)
  {
    std::vector<IceServer> servers;
    JsonNode *node = json_object_get_member (msg, "iceServers");
    if (!node || !JSON_NODE_HOLDS_ARRAY (node))
      return servers;
    JsonArray *arr = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (arr); i++) {
      JsonNode *item = json_array_get_element (arr, i);
      if (!JSON_NODE_HOLDS_OBJECT (item))
        continue;
      JsonObject *o = json_node_get_object (item);
      IceServer server { {}, string_or_empty (o, "username"),
        string_or_empty (o, "credential") };
      JsonNode *urls = json_object_get_member (o, "urls");
      if (urls && JSON_NODE_HOLDS_ARRAY (urls)) {
        JsonArray *ua = json_node_get_array (urls);
        for (guint j = 0; j < json_array_get_length (ua); j++)
          if (const char *u = json_array_get_string_element (ua, j))
            server.urls.push_back (u);
      } else if (const char *u = proto::get_string (o, "urls")) {
        server.urls.push_back (u);
      }
      servers.push_back (std::move (server));
    }
    return servers;
  }

  void dispatch (JsonObject * msg)
  {
    std::string type = proto::get_string (msg, "type");
    std::string from = string_or_empty (msg, "from");
    GST_LOG ("received %s from '%s'", type.c_str (), from.c_str ());

    if (type == proto::kJoined) {
      joined_ = ever_joined_ = true;
      events_.joined (string_or_empty (msg, "id"), peers_of_joined (msg),
          ice_servers_of_joined (msg));
    } else if (type == proto::kUserJoined) {
      events_.peer_joined ({from, string_or_empty (msg, "name"), {}});
    } else if (type == proto::kUserDisconnected) {
      events_.peer_left (from);
    } else if (type == proto::kPeerState) {
      JsonObject *state = proto::get_object (msg, "state");
      events_.peer_state (from, client_id_of_state (state),
          receive_only_of_state (state));
    } else if (type == proto::kOffer || type == proto::kAnswer) {
      JsonObject *desc = proto::get_object (msg, type.c_str ());
      const char *sdp = proto::get_string (desc, "sdp");
      if (sdp)
        events_.description (from, type, sdp);
    } else if (type == proto::kIceCandidate) {
      JsonObject *cand = proto::get_object (msg, "candidate");
      std::string text = string_or_empty (cand, "candidate");
      guint mline = cand && json_object_has_member (cand, "sdpMLineIndex") ?
          (guint) json_object_get_int_member (cand, "sdpMLineIndex") : 0;
      events_.candidate (from, mline, text);
    } else if (type == proto::kError) {
      std::string code = string_or_empty (msg, "code");
      std::string in_reply_to = string_or_empty (msg, "inReplyTo");
      // A refused join ends the session: retrying cannot help.
      bool fatal = in_reply_to == proto::kJoinRoom || code == proto::kErrBadRoom
          || code == proto::kErrUnauthorized || code == proto::kErrRoomFull;
      if (fatal)
        fatal_ = true;
      events_.error (fatal, code, string_or_empty (msg, "message"));
    }
  }

  SignallingConfig config_;
  GMainContext *context_ = nullptr;
  SignallingEvents events_;
  SoupSession *session_ = nullptr;
  SoupWebsocketConnection *ws_ = nullptr;
  GCancellable *cancellable_ = nullptr;
  SoupMessage *message_ = nullptr;      // the handshake under way
  GTlsCertificateFlags tls_errors_ = (GTlsCertificateFlags) 0;
  GSource *retry_source_ = nullptr;
  guint retry_ms_ = kFirstRetryMs;
  bool joined_ = false;
  bool ever_joined_ = false;
  bool stopped_ = false;
  bool fatal_ = false;
};

}  // namespace

std::unique_ptr<SignallingClient>
make_websocket_signalling ()
{
  return std::make_unique<WebSocketSignalling> ();
}

void
set_signalling_factory (SignallingFactory factory)
{
  signalling_factory = factory;
}

std::unique_ptr<SignallingClient>
make_signalling ()
{
  SignallingFactory factory = signalling_factory;
  return factory ? factory () : make_websocket_signalling ();
}

}  // namespace p2pcall
